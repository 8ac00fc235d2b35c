"""What the media API and the composer share: the upload form, the service call, rows → structures."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import MediaOrigin
from core.db.models import Media, Staff
from core.media import service as service
from core.runtime import Runtime
from web.auth import StaffUser
from web.schemas import MediaOut

#: the request body limit of the upload routes: the service's limit, plus the form around the file
UPLOAD_BODY_LIMIT = service.MAX_BYTES + 1024 * 1024


@dataclass
class MediaUploadForm:
    """multipart/form-data: ``file``, its ``alt_text``, ``has_captions`` (videos), ``origin``
    (region_dam, personal, campaign; default from the uploader's employer)."""

    file: UploadFile
    alt_text: str = ""
    has_captions: bool = False
    origin: str = ""


def file_url(media: Media) -> str:
    return f"/api/v1/personas/{media.persona_id}/media/{media.id}/file"


def media_out(media: Media) -> MediaOut:
    return MediaOut(
        id=media.id,
        persona_id=media.persona_id,
        kind=media.kind,  # type: ignore[arg-type]
        content_type=media.content_type,
        filename=media.filename,
        size_bytes=media.size_bytes,
        sha256=media.sha256,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        alt_text=media.alt_text,
        has_captions=media.has_captions,
        origin=media.origin.value,  # type: ignore[arg-type]
        post_id=media.post_id,
        url=file_url(media),
        created_at=media.created_at,
    )


async def upload(
    request: Request[StaffUser, Any, Any], db: AsyncSession, persona_id: uuid.UUID, form: MediaUploadForm
) -> Media:
    """Store the uploaded file through the service; a refusal is a 400 that says why."""
    runtime: Runtime = request.app.state.runtime
    if form.origin and form.origin not in {o.value for o in MediaOrigin}:
        raise ClientException(
            f"origin must be one of {', '.join(o.value for o in MediaOrigin)}",
            extra=[{"key": "origin", "message": "unknown origin", "source": "body"}],
        )
    staff = await db.get(Staff, request.user.id)
    origin = (
        MediaOrigin(form.origin)
        if form.origin
        else service.default_origin(staff.employer)
        if staff
        else MediaOrigin.REGION_DAM
    )
    data = await form.file.read()
    try:
        return await service.store_upload(
            db,
            runtime.settings.data_path,
            persona_id=persona_id,
            data=data,
            filename=form.file.filename or "",
            content_type=form.file.content_type or "",
            alt_text=form.alt_text,
            origin=origin,
            actor=request.user.actor,
            has_captions=form.has_captions,
        )
    except service.MediaRefused as exc:
        field = "alt_text" if exc.code == "alt_text_too_long" else "file"
        raise ClientException(exc.message, extra=[{"key": field, "message": exc.message, "source": "body"}]) from None
