"""A persona's media after upload: its alt text corrected, an unused one deleted, old unused ones
cleared away — until the network has it.

A medium belongs to at most one post. Once a delivery of that post may have reached its network
(queued and beyond), what the network holds is what was sent: the alt text there is the network's,
so it is no longer changed here, and the file stays (the archive, the reconcile).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.db.enums import DeliveryState
from core.db.models import Delivery, Media
from core.db.types import utcnow
from core.errors import N_, Conflict
from core.media.service import MAX_ALT_TEXT, MediaRefused

#: states in which a delivery has not left Porte-voix: its post's media may still change
_NOT_SENT = (DeliveryState.DRAFT, DeliveryState.PENDING_APPROVAL, DeliveryState.SCHEDULED, DeliveryState.CANCELED)
#: unused uploads older than this are cleared by :func:`clear_unused` (a composer abandoned)
UNUSED_KEPT = timedelta(days=30)


class MediaInUse(Conflict):
    """The medium is already on its way to a network (or there), or used by a post."""


async def _sent(session: AsyncSession, media: Media) -> bool:
    if media.post_id is None:
        return False
    query = select(exists().where(Delivery.post_id == media.post_id, Delivery.state.not_in(_NOT_SENT)))
    return bool(await session.scalar(query))


async def set_alt_text(
    session: AsyncSession, actor: Actor, media: Media, alt_text: str, *, has_captions: bool | None = None
) -> Media:
    """Correct the alt text (and, for a video, whether it is captioned) until the post is queued."""
    alt_text = alt_text.strip()
    if len(alt_text) > MAX_ALT_TEXT:
        raise MediaRefused(
            N_("the alt text is longer than %(limit)s characters"),
            params={"limit": MAX_ALT_TEXT},
            field="alt_text",
            code="alt_text_too_long",
        )
    if await _sent(session, media):
        raise MediaInUse(N_("the post has left for its network: its media can no longer change"), code="media_sent")
    before = {"alt_text": media.alt_text, "has_captions": media.has_captions}
    media.alt_text = alt_text
    if has_captions is not None and media.kind == "video":
        media.has_captions = has_captions
    after = {"alt_text": media.alt_text, "has_captions": media.has_captions}
    if before != after:
        record(
            session,
            actor,
            "media.described",
            "media",
            media.id,
            persona_id=media.persona_id,
            before=before,
            after=after,
        )
    return media


async def delete_unused(session: AsyncSession, actor: Actor, media: Media) -> None:
    """Delete a medium no post uses (its file too, when no other medium shares it)."""
    if media.post_id is not None:
        raise MediaInUse(N_("a post uses this media: take it off the post first"), code="media_in_use")
    await _forget(session, media)
    record(
        session,
        actor,
        "media.deleted",
        "media",
        media.id,
        persona_id=media.persona_id,
        before={"filename": media.filename, "sha256": media.sha256},
    )


async def clear_unused(session: AsyncSession, *, now: datetime | None = None, kept: timedelta = UNUSED_KEPT) -> int:
    """Delete the uploads no post took within ``kept`` (their files and covers): how many went."""
    cutoff = (now or utcnow()) - kept
    stale = (await session.scalars(select(Media).where(Media.post_id.is_(None), Media.created_at < cutoff))).all()
    for media in stale:
        await _forget(session, media)
    if stale:
        record(session, Actor.system("media-cleanup"), "media.cleared", "media", None, after={"count": len(stale)})
    return len(stale)


async def _forget(session: AsyncSession, media: Media) -> None:
    path, cover = media.storage_path, media.cover_path
    await session.delete(media)
    await session.flush()
    shared = await session.scalar(select(func.count()).select_from(Media).where(Media.storage_path == path))
    if not shared:
        # the row is gone first: a crash here leaves an orphan file (harmless), never a row without its file
        Path(path).unlink(missing_ok=True)
        if cover:  # a video's cover goes with its file (the same bytes, the same cover)
            Path(cover).unlink(missing_ok=True)
