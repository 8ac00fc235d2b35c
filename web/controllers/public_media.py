"""Media files for the networks: Instagram and TikTok fetch images and videos by URL.

No session here — the URL carries an expiring HMAC signature (``Runtime.media_url``); a wrong
or expired signature is a 404, so the URL reveals nothing about which files exist.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Media
from core.runtime import Runtime
from web import access


class PublicMediaController(Controller):
    path = "/media"
    include_in_schema = False

    @get("/{media_id:uuid}", **access.public(errors=[NotFoundException]))
    async def media_file(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        media_id: FromPath[uuid.UUID],
        expires: FromQuery[int] = 0,
        signature: FromQuery[str] = "",
    ) -> File:
        runtime: Runtime = request.app.state.runtime
        if not runtime.media_signer.verify(str(media_id), expires, signature, now=time.time()):
            raise NotFoundException()
        media = await db_session.get(Media, media_id)
        if media is None:
            raise NotFoundException()
        return File(
            path=media.storage_path,
            media_type=media.content_type,
            filename=media.filename,
            content_disposition_type="inline",
        )
