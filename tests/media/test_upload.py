"""The upload, in core: a still PNG or WebP stored as JPEG when a network of the persona takes no
other, a video probed with PyAV (duration, size, cover), uploads per author, the clean-up of covers."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.enums import AccountStatus, MediaOrigin
from core.db.models import Account, AuditEvent, Media
from core.db.types import utcnow
from core.media import service as media_service
from core.media.library import clear_unused, delete_unused
from core.media.service import MediaRefused, Stored, list_media, needed_image_types, store_upload
from core.runtime import Runtime
from tests.media.helpers import half_transparent_png, mp4, not_a_video, persona_on, png, staff

pytestmark = pytest.mark.anyio
ACTOR = Actor.system("test")


async def _store(
    runtime: Runtime, db: AsyncSession, persona_id: uuid.UUID, data: bytes, content_type: str, **kw: Any
) -> Stored:
    return await store_upload(
        db,
        runtime.settings.data_path,
        persona_id=persona_id,
        data=data,
        filename=kw.pop("filename", "affiche.png"),
        content_type=content_type,
        alt_text="Une affiche",
        origin=MediaOrigin.REGION_DAM,
        actor=kw.pop("actor", ACTOR),
        **kw,
    )


async def test_the_networks_needs_are_read_from_the_plugins(runtime: Runtime, db: AsyncSession) -> None:
    region = await persona_on(db, "facebook", "instagram", "x")
    needed = await needed_image_types(db, runtime.channels, region.id)
    assert needed["instagram"] == frozenset({"image/jpeg"})
    assert "image/png" in needed["facebook"] and "image/png" in needed["x"]
    # a disabled account does not count
    await db.execute(update(Account).where(Account.channel == "instagram").values(status=AccountStatus.DISABLED))
    assert "instagram" not in await needed_image_types(db, runtime.channels, region.id)


async def test_a_png_is_stored_as_jpeg_for_instagram_and_audited(runtime: Runtime, db: AsyncSession) -> None:
    region = await persona_on(db, "facebook", "instagram")
    needed = await needed_image_types(db, runtime.channels, region.id)
    stored = await _store(runtime, db, region.id, png(), "image/png", image_types=needed)
    media = stored.media
    assert stored.converted_for == ("instagram",) and stored.converted_from == "image/png"
    assert (media.content_type, media.filename, media.width, media.height) == ("image/jpeg", "affiche.jpg", 64, 48)
    data = Path(media.storage_path).read_bytes()
    assert data.startswith(b"\xff\xd8") and media.storage_path.endswith(f"{media.sha256}.jpg")
    assert media.size_bytes == len(data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))
    assert event is not None and event.after is not None
    assert event.after["converted_from"] == "image/png" and event.after["converted_for"] == ["instagram"]


async def test_the_same_png_stays_png_without_such_a_network(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "facebook", "linkedin", "x")
    needed = await needed_image_types(db, runtime.channels, persona.id)
    stored = await _store(runtime, db, persona.id, png(), "image/png", image_types=needed)
    assert stored.converted_for == () and stored.converted_from is None
    assert stored.media.content_type == "image/png" and Path(stored.media.storage_path).read_bytes() == png()
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))
    assert event is not None and event.after is not None and "converted_from" not in event.after


async def test_a_transparent_png_is_flattened_on_white(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "instagram")
    stored = await _store(
        runtime,
        db,
        persona.id,
        half_transparent_png(),
        "image/png",
        image_types={"instagram": frozenset({"image/jpeg"})},
    )
    with Image.open(stored.media.storage_path) as image:
        rgb = image.convert("RGB")
        transparent, opaque = rgb.getpixel((35, 10)), rgb.getpixel((5, 10))
    assert all(channel >= 245 for channel in transparent), transparent  # white, not black
    assert opaque[2] > 150 and opaque[0] < 60, opaque  # the blue stays blue


async def test_webp_is_converted_too_but_not_an_animated_one(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "instagram")
    jpeg_only = {"instagram": frozenset({"image/jpeg"})}
    still = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 200, 0)).save(still, "WEBP")
    stored = await _store(runtime, db, persona.id, still.getvalue(), "image/webp", image_types=jpeg_only)
    assert stored.media.content_type == "image/jpeg" and stored.converted_from == "image/webp"
    animated = io.BytesIO()
    frames = [Image.new("RGB", (30, 30), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(animated, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    kept = await _store(runtime, db, persona.id, animated.getvalue(), "image/webp", image_types=jpeg_only)
    assert kept.media.content_type == "image/webp" and kept.converted_for == ()


async def test_a_video_gets_its_duration_size_and_cover(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "tiktok")
    video = mp4(seconds=0.4)
    stored = await _store(runtime, db, persona.id, video, "video/mp4", filename="clip.mp4")
    media = stored.media
    assert media.kind == "video" and media.duration_s == pytest.approx(0.4, abs=0.05)
    assert (media.width, media.height, media.size_bytes) == (800, 448, len(video))
    assert media.cover_path is not None
    with Image.open(media.cover_path) as cover:
        assert cover.format == "JPEG" and cover.size == (640, 358)  # at most 640 px wide, same ratio
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))
    assert event is not None and event.after is not None
    assert event.after["duration_s"] == pytest.approx(0.4, abs=0.05)


async def test_a_file_pyav_cannot_open_is_refused_as_a_video(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "tiktok")
    with pytest.raises(MediaRefused) as refused:
        await _store(runtime, db, persona.id, not_a_video(), "video/mp4", filename="clip.mp4")
    assert refused.value.code == "not_media" and refused.value.params == {"type": "video/mp4"}
    assert (await db.scalars(select(Media))).all() == []


async def test_each_author_sees_their_own_unattached_uploads(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "x")
    alice, bob = await staff(db), await staff(db)
    mine = await _store(runtime, db, persona.id, png(colour=(1, 1, 1)), "image/png", uploaded_by=alice.id)
    # the uploader defaults to the acting staff member
    theirs = await _store(
        runtime, db, persona.id, png(colour=(2, 2, 2)), "image/png", actor=Actor(id=bob.id, label=bob.email)
    )
    assert theirs.media.uploaded_by_id == bob.id
    assert [m.id for m in await list_media(db, persona.id, unattached=True, uploaded_by=alice.id)] == [mine.media.id]
    assert [m.id for m in await list_media(db, persona.id, unattached=True, uploaded_by=bob.id)] == [theirs.media.id]
    assert len(await list_media(db, persona.id, unattached=True)) == 2  # without it: everyone's


async def test_the_clean_up_deletes_a_video_with_its_cover(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "tiktok")
    stored = await _store(runtime, db, persona.id, mp4(seconds=0.4), "video/mp4", filename="clip.mp4")
    file, cover = Path(stored.media.storage_path), Path(stored.media.cover_path or "")
    assert file.is_file() and cover.is_file()
    await db.execute(update(Media).values(created_at=utcnow() - timedelta(days=31)))
    assert await clear_unused(db) == 1
    assert not file.exists() and not cover.exists()


async def test_a_cover_shared_by_two_uploads_stays_until_the_last_goes(runtime: Runtime, db: AsyncSession) -> None:
    persona = await persona_on(db, "tiktok")
    video = mp4(seconds=0.4)
    first = await _store(runtime, db, persona.id, video, "video/mp4", filename="a.mp4")
    second = await _store(runtime, db, persona.id, video, "video/mp4", filename="b.mp4")
    assert first.media.cover_path == second.media.cover_path
    cover = Path(first.media.cover_path or "")
    await delete_unused(db, ACTOR, first.media)
    assert cover.is_file()
    await delete_unused(db, ACTOR, second.media)
    assert not cover.exists()


async def test_a_video_whose_first_picture_lies_past_the_probe_s_budget_is_refused(
    runtime: Runtime, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a hostile file can make the decoder read packet after packet without a picture: the probe
    # stops at its budget and refuses, here with a budget a real 10-frame MP4 cannot meet
    persona = await persona_on(db, "tiktok")
    monkeypatch.setattr(media_service, "PROBE_PACKETS", 0)
    with pytest.raises(MediaRefused) as refused:
        await _store(runtime, db, persona.id, mp4(seconds=0.4), "video/mp4", filename="clip.mp4")
    assert refused.value.code == "not_media"
    monkeypatch.setattr(media_service, "PROBE_PACKETS", 500)
    stored = await _store(runtime, db, persona.id, mp4(seconds=0.4), "video/mp4", filename="clip.mp4")
    assert stored.media.cover_path is not None
