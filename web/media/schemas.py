"""The media API's structures: an uploaded image or video with its alt text, and the upload form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.datastructures import UploadFile

from core.db.models import Media
from web.structs import ApiStruct, Items, out


class MediaOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    kind: Literal["image", "gif", "video"]
    content_type: str
    filename: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    #: a video's duration in seconds (read from the file at upload); None for an image
    duration_s: float | None
    alt_text: str
    has_captions: bool
    origin: Literal["region_dam", "personal", "campaign"]
    #: the post using it, once composed
    post_id: uuid.UUID | None
    #: the file, for the persona's staff only (session or API token)
    url: str
    #: a video's first frame (a JPEG at most 640 px wide), served like the file; None for an image
    cover_url: str | None
    #: who uploaded it (a staff id); None when unknown (uploaded before 0008, or the member deleted)
    uploaded_by_id: uuid.UUID | None
    created_at: datetime
    #: the upload's answer only: the networks the image was converted to JPEG for (Instagram takes
    #: no PNG nor WebP); empty otherwise
    converted_for: list[str] = []


class MediaDescriptionIn(ApiStruct):
    """What can still change on a media until its post is queued."""

    alt_text: Annotated[str, msgspec.Meta(max_length=1500)]
    #: a video's captions (ignored on images); left out: unchanged
    has_captions: bool | None = None


class MediaPage(Items[MediaOut]):
    items: list[MediaOut]  # named again: OpenAPI does not read a generic base


@dataclass
class MediaUploadForm:
    """multipart/form-data: ``file``, its ``alt_text``, ``has_captions`` (videos), ``origin``
    (region_dam, personal, campaign; default from the uploader's employer)."""

    file: UploadFile
    alt_text: str = ""
    has_captions: bool = False
    origin: str = ""


def media_out(media: Media, *, converted_for: tuple[str, ...] = ()) -> MediaOut:
    base = f"/api/v1/personas/{media.persona_id}/media/{media.id}"
    return out(
        media,
        MediaOut,
        url=f"{base}/file",
        cover_url=f"{base}/file?cover=true" if media.cover_path else None,
        converted_for=list(converted_for),
    )
