"""/api/v1/personas/{persona_id}/media: upload a persona's media (multipart, with alt text), list
them, fetch a file. Only the persona's staff: another persona's media answers 404."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, FromPath
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Role
from core.media import service as service
from web import access
from web.auth import StaffUser
from web.media import UPLOAD_BODY_LIMIT, MediaUploadForm, media_out, upload
from web.schemas import MediaOut, MediaPage

_NOT_MODERATOR = (Role.MODERATOR,)
Multipart = Body(media_type=RequestEncodingType.MULTI_PART)


class MediaApiController(Controller):
    path = "/api/v1/personas/{persona_id:uuid}/media"
    tags = ["media"]

    @post(
        "/",
        summary="Upload an image or a video with its alt text (multipart/form-data)",
        status_code=201,
        request_max_body_size=UPLOAD_BODY_LIMIT,
        **access.persona(Role.CONTRIBUTOR, errors=[ClientException]),
    )
    async def upload_media(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: Annotated[MediaUploadForm, Multipart],
    ) -> MediaOut:
        """Images are checked with Pillow (JPEG, PNG, GIF, WebP); videos by type (MP4, MOV, WebM).
        50 MB at most. Pass the returned id in ``mediaIds`` when composing."""
        return media_out(await upload(request, db_session, persona_id, data))

    @get("/", summary="The persona's media, newest first", **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def list_media(self, db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID]) -> MediaPage:
        return MediaPage(items=[media_out(m) for m in await service.list_media(db_session, persona_id)])

    @get(
        "/{media_id:uuid}/file",
        summary="The media file itself",
        media_type="application/octet-stream",
        **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR),
    )
    async def media_file(
        self, db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID], media_id: FromPath[uuid.UUID]
    ) -> File:
        media = await service.persona_media(db_session, persona_id, media_id)
        if media is None or not Path(media.storage_path).is_file():
            raise NotFoundException("no such media")
        return File(
            path=media.storage_path,
            filename=media.filename,
            media_type=media.content_type,
            content_disposition_type="inline",
            headers={"cache-control": "private, max-age=3600", "content-security-policy": "default-src 'none'"},
        )
