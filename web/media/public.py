"""Media files for the networks: Instagram and TikTok fetch images and videos by URL.

No session here — the URL carries an expiring HMAC signature (``Runtime.media_url``); a wrong
or expired signature is a 404, so the URL reveals nothing about which files exist.
"""

from __future__ import annotations

import time
import uuid
from string import hexdigits

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from core.media.service import get_media
from core.runtime import Runtime
from web import access

SIGNATURE_LENGTH = 64  # hex of an HMAC-SHA256


class PublicMediaController(Controller):
    path = "/media"
    include_in_schema = False

    @get("/{media_id:uuid}", **access.public(errors=[NotFoundException]))
    async def media_file(
        self,
        runtime: NamedDependency[Runtime],
        db_session: NamedDependency[AsyncSession],
        media_id: FromPath[uuid.UUID],
        expires: FromQuery[int] = 0,
        signature: FromQuery[str] = "",
    ) -> File:
        # a signature we made is 64 hex digits: anything else (non-ASCII included, which the
        # constant-time comparison cannot take) is simply wrong
        well_formed = len(signature) == SIGNATURE_LENGTH and all(c in hexdigits for c in signature)
        if not well_formed or not runtime.media_signer.verify(str(media_id), expires, signature, now=time.time()):
            raise NotFoundException()
        media = await get_media(db_session, media_id)
        if media is None:
            raise NotFoundException()
        return File(
            path=media.storage_path,
            media_type=media.content_type,
            filename=media.filename,
            content_disposition_type="inline",
        )
