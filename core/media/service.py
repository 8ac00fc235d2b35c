"""A persona's media: uploaded images and videos, with their alt text and origin, audited.

Files live under ``<data_dir>/media/<persona id>/<sha256>.<ext>`` (the same bytes uploaded twice
are stored once). Images are opened with Pillow: what is not an image Pillow can decode (nor
a video PyAV can open) is refused. A still PNG or WebP is stored as a JPEG when one of the
persona's networks takes JPEG and not its type (Instagram); the upload says so. A video is
probed with PyAV: its duration, its size, and its first frame as a cover (a JPEG beside the file).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import av
import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.channels.contract import MediaKind
from core.channels.registry import ChannelRegistry
from core.db.enums import AccountStatus, Employer, MediaOrigin
from core.db.models import Account, Media
from core.errors import N_, Refusal

MAX_BYTES = 50 * 1024 * 1024
#: the most pixels an image may declare: the largest any network takes (X: 8192 × 8192). Checked
#: before anything decodes it — a few hundred bytes can declare 144 megapixels (a decompression bomb).
MAX_PIXELS = 8192 * 8192
MAX_ALT_TEXT = 1500
#: Pillow's format name -> (content type, file extension)
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
#: accepted video content types -> (file extension, how the container starts)
VIDEO_TYPES = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
JPEG = "image/jpeg"
#: still images converted to JPEG when a network of the persona needs it
CONVERTIBLE = frozenset({"image/png", "image/webp"})
JPEG_QUALITY = 90
#: a video's cover is at most this wide (its first frame, scaled down)
COVER_WIDTH = 640


class MediaRefused(Refusal):
    """An upload that cannot be kept; ``message`` says why, for the author.

    ``code``: "empty", "too_large", "not_media", "alt_text_too_long"…
    """


class Inspected(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # image, gif, video
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    #: an animated PNG or WebP (never converted: the JPEG would lose the animation)
    animated: bool = False


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    """An upload as kept: its media, and the networks it was converted to JPEG for (and from what)."""

    media: Media
    converted_for: tuple[str, ...] = ()
    converted_from: str | None = None


class Probed(msgspec.Struct, frozen=True, kw_only=True):
    """What PyAV read of a video: its duration, size and first frame (a JPEG)."""

    duration_s: float | None
    width: int | None
    height: int | None
    cover: bytes | None


def inspect(data: bytes, content_type: str) -> Inspected:
    """What an uploaded file is, from its bytes (images) or its declared type and signature (videos)."""
    if not data:
        raise MediaRefused(N_("the file is empty"), field="file", code="empty")
    if len(data) > MAX_BYTES:
        raise MediaRefused(
            N_("the file is larger than %(mb)s MB"),
            params={"mb": MAX_BYTES // (1024 * 1024)},
            field="file",
            code="too_large",
        )
    declared = content_type.split(";")[0].strip().lower()
    if declared in VIDEO_TYPES:
        if not _looks_like_video(data, declared):
            raise MediaRefused(
                N_("the file is not a %(type)s video"), params={"type": declared}, field="file", code="not_media"
            )
        return Inspected(kind="video", content_type=declared, extension=VIDEO_TYPES[declared])
    try:
        with _quiet_bombs(), Image.open(io.BytesIO(data)) as probe:
            _check_pixels(probe.width, probe.height)
            probe.verify()
        with _quiet_bombs(), Image.open(io.BytesIO(data)) as image:
            found = IMAGE_FORMATS.get(image.format or "")
            if found is None:
                raise MediaRefused(
                    N_("%(format)s images are not accepted (JPEG, PNG, GIF or WebP)"),
                    params={"format": image.format},
                    field="file",
                    code="not_media",
                )
            animated = bool(getattr(image, "is_animated", False))
            return Inspected(
                kind="gif" if image.format == "GIF" and animated else "image",
                content_type=found[0],
                extension=found[1],
                width=image.width,
                height=image.height,
                animated=animated,
            )
    except MediaRefused:
        raise  # a Refusal is a ValueError: not to be taken for Pillow's
    except Image.DecompressionBombError:  # more than twice Pillow's own limit: it refuses to open it
        raise _too_many_pixels(None, None) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise MediaRefused(
            N_("this file is neither an image (JPEG, PNG, GIF, WebP) nor a video (MP4, MOV, WebM)"),
            field="file",
            code="not_media",
        ) from None


@contextlib.contextmanager
def _quiet_bombs() -> Iterator[None]:
    """Pillow warns of an image above its own limit; ours is lower, and refuses it anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(width, height)


def _too_many_pixels(width: int | None, height: int | None) -> MediaRefused:
    limit = f"{MAX_PIXELS / 1e6:.0f}"
    if width and height:
        return MediaRefused(
            N_(
                "the image is %(width)s × %(height)s pixels (%(megapixels)s megapixels): at most %(limit)s megapixels "
                "(8192 × 8192) are accepted"
            ),
            params={"width": width, "height": height, "megapixels": f"{width * height / 1e6:.0f}", "limit": limit},
            field="file",
            code="too_many_pixels",
        )
    return MediaRefused(
        N_("the image is too large: at most %(limit)s megapixels (8192 × 8192) are accepted"),
        params={"limit": limit},
        field="file",
        code="too_many_pixels",
    )


def _looks_like_video(data: bytes, content_type: str) -> bool:
    if content_type in ("video/mp4", "video/quicktime"):
        return data[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
    return data[:4] == b"\x1a\x45\xdf\xa3"  # WebM (Matroska/EBML)


async def needed_image_types(
    session: AsyncSession, registry: ChannelRegistry, persona_id: uuid.UUID
) -> dict[str, frozenset[str]]:
    """The image types each network of the persona's accounts takes (not disabled): channel ->
    types. A network whose image rules name no type (it takes any) is left out."""
    channels = await session.scalars(
        select(Account.channel)
        .where(Account.persona_id == persona_id, Account.status != AccountStatus.DISABLED)
        .distinct()
    )
    needed: dict[str, frozenset[str]] = {}
    for channel in sorted(set(channels.all())):
        if channel not in registry:
            continue
        rules = [
            r for fmt in registry.get(channel).capabilities.formats for r in fmt.media if r.kind == MediaKind.IMAGE
        ]
        if rules and all(r.content_types for r in rules):
            needed[channel] = frozenset().union(*(r.content_types for r in rules))
    return needed


def jpeg_needed_by(found: Inspected, image_types: Mapping[str, frozenset[str]]) -> tuple[str, ...]:
    """The networks that take a JPEG but not this still PNG or WebP (empty: kept as it is)."""
    if found.kind != "image" or found.animated or found.content_type not in CONVERTIBLE:
        return ()
    return tuple(
        sorted(
            channel
            for channel, types in image_types.items()
            if types and found.content_type not in types and JPEG in types
        )
    )


def to_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """The image as a JPEG (quality 90, same size, turned as its EXIF says, transparency on white)."""
    with _quiet_bombs(), Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
        else:
            flat = image.convert("RGB")
        out = io.BytesIO()
        flat.save(out, "JPEG", quality=JPEG_QUALITY)
        return out.getvalue(), flat.width, flat.height


#: how much of a video the probe reads looking for its first picture: a hostile file (endless
#: packets that decode to nothing, a codec made slow on purpose) is refused, not decoded forever
PROBE_PACKETS = 500
PROBE_SECONDS = 5.0


def _first_frame(container: Any, stream: Any) -> Any | None:
    """The first decoded picture of ``stream``, or None past the probe's packet or time budget."""
    deadline = time.monotonic() + PROBE_SECONDS
    for count, packet in enumerate(container.demux(stream)):
        if count >= PROBE_PACKETS or time.monotonic() > deadline:
            return None
        for frame in packet.decode():
            return frame
    return None


def probe_video(data: bytes, content_type: str) -> Probed:
    """A video's duration, size and first frame (a JPEG at most 640 px wide), read by PyAV;
    a file PyAV cannot open, or without a picture, is refused."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width or None, stream.codec_context.height or None
            if width and height:
                _check_pixels(width, height)
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            frame = _first_frame(container, stream)
            cover = None
            if frame is not None:
                picture = frame.to_image()
                if picture.width > COVER_WIDTH:
                    picture = picture.resize((COVER_WIDTH, max(1, round(picture.height * COVER_WIDTH / picture.width))))
                out = io.BytesIO()
                picture.convert("RGB").save(out, "JPEG", quality=85)
                cover = out.getvalue()
                width, height = width or frame.width, height or frame.height
            if cover is None:
                raise ValueError("no frame")
            return Probed(duration_s=duration, width=width, height=height, cover=cover)
    except MediaRefused:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError, EOFError):
        raise MediaRefused(
            N_("the file is not a %(type)s video"), params={"type": content_type}, field="file", code="not_media"
        ) from None


def default_origin(employer: Employer) -> MediaOrigin:
    """The institution's staff bring the institution's media; the official's cabinet, personal ones."""
    return {Employer.CABINET: MediaOrigin.PERSONAL, Employer.CAMPAIGN: MediaOrigin.CAMPAIGN}.get(
        employer, MediaOrigin.REGION_DAM
    )


def origin_of(value: str, employer: Employer | None) -> MediaOrigin:
    """The origin an uploader names (region_dam, personal, campaign), else their employer's default."""
    if not value:
        return default_origin(employer) if employer is not None else MediaOrigin.REGION_DAM
    try:
        return MediaOrigin(value)
    except ValueError:
        names = ", ".join(o.value for o in MediaOrigin)
        raise MediaRefused(
            N_("origin must be one of %(names)s"), params={"names": names}, field="origin", code="origin"
        ) from None


def media_dir(data_dir: Path, persona_id: uuid.UUID) -> Path:
    return data_dir / "media" / str(persona_id)


def _keep(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    if not path.exists():
        partial = folder / f".{name}.{uuid.uuid4().hex}.part"
        partial.write_bytes(data)
        os.replace(partial, path)  # atomic: a reader never sees half a file
    return path


async def store_upload(
    session: AsyncSession,
    data_dir: Path,
    *,
    persona_id: uuid.UUID,
    data: bytes,
    filename: str,
    content_type: str,
    alt_text: str,
    origin: MediaOrigin,
    actor: Actor,
    has_captions: bool = False,
    image_types: Mapping[str, frozenset[str]] | None = None,
    uploaded_by: uuid.UUID | None = None,
) -> Stored:
    """Check, store and record one uploaded file of a persona.

    ``image_types``: the image types each of the persona's networks takes (:func:`needed_image_types`);
    a still PNG or WebP one of them refuses while it takes JPEG is stored as a JPEG, and
    :attr:`Stored.converted_for` names those networks. ``uploaded_by``: the uploader's staff id
    (default: the actor's).
    """
    alt_text = alt_text.strip()
    if len(alt_text) > MAX_ALT_TEXT:
        raise MediaRefused(
            N_("the alt text is longer than %(limit)s characters"),
            params={"limit": MAX_ALT_TEXT},
            field="alt_text",
            code="alt_text_too_long",
        )
    found = inspect(data, content_type)
    name = Path(filename or f"upload.{found.extension}").name
    converted_for = jpeg_needed_by(found, image_types or {})
    converted_from: str | None = None
    if converted_for:
        try:
            data, width, height = await asyncio.to_thread(to_jpeg, data)
        except (OSError, ValueError):  # a file Pillow verifies but cannot decode: kept as it came
            converted_for = ()
        else:
            converted_from = found.content_type
            found = Inspected(kind="image", content_type=JPEG, extension="jpg", width=width, height=height)
            name = f"{Path(name).stem or 'upload'}.jpg"
    probed = await asyncio.to_thread(probe_video, data, found.content_type) if found.kind == "video" else None
    digest = hashlib.sha256(data).hexdigest()
    folder = media_dir(data_dir, persona_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = _keep(folder, f"{digest}.{found.extension}", data)
    cover = _keep(folder, f"{digest}.cover.jpg", probed.cover) if probed and probed.cover else None
    media = Media(
        persona_id=persona_id,
        kind=found.kind,
        content_type=found.content_type,
        filename=name[:255],
        storage_path=str(path.resolve()),
        sha256=digest,
        size_bytes=len(data),
        width=probed.width if probed else found.width,
        height=probed.height if probed else found.height,
        duration_s=probed.duration_s if probed else None,
        alt_text=alt_text,
        has_captions=has_captions and found.kind == "video",
        origin=origin,
        cover_path=str(cover.resolve()) if cover else None,
        uploaded_by_id=uploaded_by if uploaded_by is not None else actor.id,
    )
    session.add(media)
    await session.flush()
    record(
        session,
        actor,
        "media.uploaded",
        "media",
        media.id,
        persona_id=persona_id,
        after={
            "filename": media.filename,
            "kind": media.kind,
            "size_bytes": media.size_bytes,
            "sha256": digest,
            "alt_text": alt_text,
            "origin": origin.value,
            **({"converted_from": converted_from, "converted_for": list(converted_for)} if converted_from else {}),
            **({"duration_s": media.duration_s} if media.kind == "video" else {}),
        },
    )
    return Stored(media=media, converted_for=converted_for, converted_from=converted_from)


async def list_media(
    session: AsyncSession,
    persona_id: uuid.UUID,
    *,
    unattached: bool = False,
    uploaded_by: uuid.UUID | None = None,
    limit: int = 100,
) -> list[Media]:
    """The persona's media, newest first; ``unattached``: those no post uses yet;
    ``uploaded_by`` (a staff id): only that author's uploads."""
    query = select(Media).where(Media.persona_id == persona_id)
    if unattached:
        query = query.where(Media.post_id.is_(None))
    if uploaded_by is not None:
        query = query.where(Media.uploaded_by_id == uploaded_by)
    return list((await session.scalars(query.order_by(Media.created_at.desc(), Media.id).limit(limit))).all())


async def get_media(session: AsyncSession, media_id: uuid.UUID) -> Media | None:
    return await session.get(Media, media_id)


async def persona_media(session: AsyncSession, persona_id: uuid.UUID, media_id: uuid.UUID) -> Media | None:
    """A media of THIS persona (another persona's id finds nothing)."""
    return await session.scalar(select(Media).where(Media.id == media_id, Media.persona_id == persona_id))


async def own_media(session: AsyncSession, persona_id: uuid.UUID, ids: list[uuid.UUID]) -> list[Media]:
    """The persona's media among ``ids``, in their order; others are left out."""
    if not ids:
        return []
    found = {
        m.id: m
        for m in (await session.scalars(select(Media).where(Media.id.in_(ids), Media.persona_id == persona_id))).all()
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


async def for_a_new_post(
    session: AsyncSession, persona_id: uuid.UUID, ids: Sequence[uuid.UUID], actor: Actor
) -> tuple[uuid.UUID, ...]:
    """The media ids a new post may take as its own: a media another post already uses is copied.

    A media row belongs to one post (its position, its alt text there). Handing it to a second post
    would take it off the first — an already scheduled post would go out without its image. The
    copy shares the stored file (files are kept by content), and is audited. Ids that are not the
    persona's stay as they are: composing refuses them with its own message.
    """
    found = {m.id: m for m in await own_media(session, persona_id, list(ids))}
    chosen: list[uuid.UUID] = []
    for media_id in ids:
        media = found.get(media_id)
        if media is None or media.post_id is None:
            chosen.append(media_id)
            continue
        copy = Media(**{name: getattr(media, name) for name in _COPIED}, persona_id=persona_id)
        session.add(copy)
        await session.flush()
        after = {"from_media": str(media.id), "from_post": str(media.post_id), "sha256": media.sha256}
        record(session, actor, "media.copied", "media", copy.id, persona_id=persona_id, after=after)
        chosen.append(copy.id)
    return tuple(chosen)


#: what a copy of a media keeps (not its id, post, position or timestamps)
_COPIED = (
    "kind",
    "content_type",
    "filename",
    "storage_path",
    "sha256",
    "size_bytes",
    "width",
    "height",
    "duration_s",
    "alt_text",
    "has_captions",
    "origin",
    "cover_path",
    "uploaded_by_id",
)
