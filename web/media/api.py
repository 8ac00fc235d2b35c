"""/api/v1/personas/{persona_id}/media: upload a persona's media (multipart, with alt text), list
them, fetch a file or a video's cover (``?cover=true``). Only the persona's staff: another
persona's media answers 404."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Media, Staff
from core.media import library, service
from core.people.permissions import Action
from core.runtime import Runtime
from web import access
from web.auth import StaffUser
from web.forms import Multipart
from web.media.schemas import MediaDescriptionIn, MediaOut, MediaPage, MediaUploadForm, media_out
from web.openapi import SAME_PERSONA, linked

#: the request body limit of the upload routes: the service's limit, plus the form around the file
UPLOAD_BODY_LIMIT = service.MAX_BYTES + 1024 * 1024


async def upload(
    request: Request[StaffUser, Any, Any], db: AsyncSession, persona_id: uuid.UUID, me: Staff, form: MediaUploadForm
) -> service.Stored:
    """Store the uploaded file through the service (the API's upload and the composer's): a PNG
    or WebP one of the persona's networks refuses is stored as a JPEG (``converted_for``)."""
    runtime: Runtime = request.app.state.runtime
    origin = service.origin_of(form.origin, me.employer)
    image_types = await service.needed_image_types(db, runtime.channels, persona_id)
    return await service.store_upload(
        db,
        runtime.settings.data_path,
        persona_id=persona_id,
        data=await form.file.read(),
        filename=form.file.filename or "",
        content_type=form.file.content_type or "",
        alt_text=form.alt_text,
        origin=origin,
        actor=request.user.actor,
        has_captions=form.has_captions,
        image_types=image_types,
        uploaded_by=me.id,
    )


class MediaApiController(Controller):
    path = "/api/v1/personas/{persona_id:uuid}/media"
    tags = ["media"]

    @post(
        "/",
        summary="Upload an image or a video with its alt text (multipart/form-data)",
        status_code=201,
        request_max_body_size=UPLOAD_BODY_LIMIT,
        operation_class=linked(201, mediaFile={**SAME_PERSONA, "media_id": "$response.body#/id"}),
        **access.persona(Action.COMPOSE, errors=[ClientException]),
    )
    async def upload_media(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        me: NamedDependency[Staff],
        data: Annotated[MediaUploadForm, Multipart],
    ) -> MediaOut:
        """Images are checked with Pillow (JPEG, PNG, GIF, WebP); videos are opened with PyAV (MP4,
        MOV, WebM): their duration, size and first frame (``coverUrl``) are read at upload.
        A still PNG or WebP is stored as a JPEG when a network of the persona takes no other
        (Instagram): ``convertedFor`` names those networks. 50 MB at most. Pass the returned id
        in ``mediaIds`` when composing."""
        stored = await upload(request, db_session, persona_id, me, data)
        return media_out(stored.media, converted_for=stored.converted_for)

    @get("/", summary="The persona's media, newest first", **access.persona(Action.SEE_POSTS))
    async def list_media(self, db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID]) -> MediaPage:
        return MediaPage(items=[media_out(m) for m in await service.list_media(db_session, persona_id)])

    @get(
        "/{media_id:uuid}/file",
        summary="The media file itself (with cover=true: a video's cover, a JPEG at most 640 px wide)",
        media_type="application/octet-stream",
        **access.persona(Action.SEE_POSTS),
    )
    async def media_file(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        media_id: FromPath[uuid.UUID],
        cover: FromQuery[bool] = False,
    ) -> File:
        """The file, or with ``cover=true`` a video's first frame (``coverUrl``); an image has no cover (404)."""
        media = await service.persona_media(db_session, persona_id, media_id)
        path = (media.cover_path if cover else media.storage_path) if media is not None else None
        if media is None or not path or not Path(path).is_file():
            raise NotFoundException("no such media")
        return File(
            path=path,
            filename=f"{Path(media.filename).stem or 'cover'}.jpg" if cover else media.filename,
            media_type="image/jpeg" if cover else media.content_type,
            content_disposition_type="inline",
            headers={"cache-control": "private, max-age=3600", "content-security-policy": "default-src 'none'"},
        )

    @patch(
        "/{media_id:uuid}",
        summary="Correct a media's alt text (and whether a video is captioned), until its post is queued",
        **access.persona(Action.COMPOSE, errors=[ClientException, NotFoundException]),
    )
    async def describe_media(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        media_id: FromPath[uuid.UUID],
        data: JSONBody[MediaDescriptionIn],
    ) -> MediaOut:
        media = await _media_or_404(db_session, persona_id, media_id)
        await library.set_alt_text(db_session, request.user.actor, media, data.alt_text, has_captions=data.has_captions)
        return media_out(media)

    @delete(
        "/{media_id:uuid}",
        summary="Delete a media no post uses",
        status_code=204,
        **access.persona(Action.COMPOSE, errors=[ClientException, NotFoundException]),
    )
    async def delete_media(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        media_id: FromPath[uuid.UUID],
    ) -> None:
        media = await _media_or_404(db_session, persona_id, media_id)
        await library.delete_unused(db_session, request.user.actor, media)


async def _media_or_404(db: AsyncSession, persona_id: uuid.UUID, media_id: uuid.UUID) -> Media:
    media = await service.persona_media(db, persona_id, media_id)
    if media is None:
        raise NotFoundException("no such media")
    return media
