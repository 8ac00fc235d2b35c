"""The watch board: a persona's stream of watch items, newest first, its filters, seen and dismissed,
and the draft a watch item starts (the composer's link, a suggested text and the post's origin).

Items are per persona: every read and every action looks the item up *in* the persona, so another
persona's item does not exist for the caller (the president's team never drafts from the Région's
watch). A dismissed item leaves a tombstone on its (source, dedup key): the collector never brings
it back. Dismissing and drafting are audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.db.enums import PersonaKind
from core.db.models import Persona, Post, VeilleItem, VeilleSource, VeilleTombstone
from core.db.types import utcnow
from core.errors import N_, NotFound, Refusal
from core.pagination import Page, keyset

STATUSES = ("new", "seen", "dismissed", "drafted")
#: the board's default view: what still asks for attention, and what became a draft
SHOWN_BY_DEFAULT = ("new", "seen", "drafted")
#: a suggested text stays short: the live check says what each network accepts
SUMMARY_CHARS = 280
#: the keys of a post's origin (``Post.origin``)
ORIGIN_KEYS = ("item_id", "source_url", "url", "captured_at", "content_hash")


class WatchRefusal(Refusal):
    """A board action that cannot be done (bad filter, an item already dismissed)."""


class NoSuchItem(NotFound):
    """No such watch item for this persona (another persona's item is not said to exist)."""


class BoardFilter(msgspec.Struct, frozen=True, kw_only=True):
    source_id: uuid.UUID | None = None
    #: one of the persona's crisis keywords found in the item
    keyword: str | None = None
    #: None: new, seen and drafted (the dismissed are asked for by name)
    status: str | None = None
    #: words in the title (case-insensitive)
    q: str | None = None


class DraftSuggestion(msgspec.Struct, frozen=True, kw_only=True):
    """What the composer needs to start a post from a watch item."""

    persona_id: uuid.UUID
    item_id: uuid.UUID
    link: str | None
    text: str
    origin: dict[str, Any]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_keyword(session: AsyncSession, keyword: str) -> sa.ColumnElement[bool]:
    """The JSON list of keywords holds ``keyword`` (JSONB containment, SQLite's json_each)."""
    if session.bind.dialect.name == "postgresql":
        return sa.type_coerce(VeilleItem.keywords, postgresql.JSONB).contains([keyword])
    found = sa.func.json_each(VeilleItem.keywords).table_valued("value")
    return sa.exists(sa.select(1).select_from(found).where(found.c.value == keyword))


def _where(session: AsyncSession, persona_id: uuid.UUID, filters: BoardFilter) -> list[sa.ColumnElement[bool]]:
    if filters.status is not None and filters.status not in STATUSES:
        raise WatchRefusal(
            N_("unknown status %(status)s: new, seen, dismissed or drafted"),
            params={"status": filters.status},
            field="status",
            code="bad_status",
        )
    where = [VeilleItem.persona_id == persona_id]
    where.append(VeilleItem.status == filters.status if filters.status else VeilleItem.status.in_(SHOWN_BY_DEFAULT))
    if filters.source_id is not None:
        where.append(VeilleItem.source_id == filters.source_id)
    if filters.keyword and filters.keyword.strip():
        where.append(_has_keyword(session, filters.keyword.strip().casefold()))
    if filters.q and filters.q.strip():
        where.append(VeilleItem.title.ilike(f"%{_escape_like(filters.q.strip())}%", escape="\\"))
    return where


async def stream(
    session: AsyncSession, persona_id: uuid.UUID, filters: BoardFilter, *, cursor: str | None, limit: int
) -> Page[VeilleItem]:
    """The persona's items, newest capture first (``ix_veille_items_persona_captured`` walked backwards)."""
    query = sa.select(VeilleItem).where(*_where(session, persona_id, filters))
    return await keyset(
        session, query, [VeilleItem.captured_at, VeilleItem.id], cursor=cursor, limit=limit, descending=True
    )


async def keywords_of(session: AsyncSession, persona_id: uuid.UUID) -> list[str]:
    """The crisis keywords found in the persona's items (the board's keyword filter)."""
    rows = await session.scalars(
        sa.select(VeilleItem.keywords).where(VeilleItem.persona_id == persona_id, VeilleItem.keywords != [])
    )
    return sorted({str(k) for keywords in rows.all() for k in keywords or ()})


async def item_of(session: AsyncSession, persona_id: uuid.UUID, item_id: uuid.UUID) -> VeilleItem | None:
    """An item of the persona (another persona's item is None, as if it did not exist)."""
    return await session.scalar(
        sa.select(VeilleItem).where(VeilleItem.id == item_id, VeilleItem.persona_id == persona_id)
    )


async def own_item(session: AsyncSession, persona_id: uuid.UUID, item_id: uuid.UUID) -> VeilleItem:
    item = await item_of(session, persona_id, item_id)
    if item is None:
        raise NoSuchItem(N_("no such watch item"), field="item_id", code="no_such_item")
    return item


def _set_status(item: VeilleItem, actor: Actor, status: str) -> None:
    item.status, item.status_by_id, item.status_at = status, actor.id, utcnow()


async def mark_seen(session: AsyncSession, actor: Actor, persona_id: uuid.UUID, item_id: uuid.UUID) -> VeilleItem:
    """A new item becomes seen; any other status stays (seen does not undo a dismissal or a draft)."""
    item = await own_item(session, persona_id, item_id)
    if item.status == "new":
        _set_status(item, actor, "seen")
    return item


async def dismiss(session: AsyncSession, actor: Actor, persona_id: uuid.UUID, item_id: uuid.UUID) -> VeilleItem:
    """Dismiss an item: out of the board, and a tombstone so that its source never brings it back."""
    item = await own_item(session, persona_id, item_id)
    if item.status == "dismissed":
        return item
    before = item.status
    _set_status(item, actor, "dismissed")
    if await session.get(VeilleTombstone, (item.source_id, item.dedup_key)) is None:
        session.add(VeilleTombstone(source_id=item.source_id, dedup_key=item.dedup_key))
    record(
        session,
        actor,
        "veille.dismissed",
        "veille_item",
        item.id,
        persona_id=persona_id,
        before={"status": before},
        after={"status": "dismissed", "title": item.title[:200]},
    )
    await session.flush()
    return item


# ------------------------------------------------------------------ from an item to a draft


def origin_of(item: VeilleItem, source: VeilleSource) -> dict[str, Any]:
    """What a post keeps of the item it came from, whatever becomes of the item."""
    return {
        "item_id": str(item.id),
        "source_url": source.target if source.kind == "feed" else None,
        "url": item.url,
        "captured_at": _iso(item.captured_at),
        "content_hash": item.content_hash,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def suggested_text(item: VeilleItem) -> str:
    """The title, then a short summary (cut at a word): a start, which the author rewrites."""
    title = " ".join(item.title.split())
    summary = " ".join(item.summary_text.split())
    if len(summary) > SUMMARY_CHARS:
        summary = summary[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
    if not summary or summary.casefold().startswith(title.casefold()):
        return summary or title
    return f"{title}\n\n{summary}" if title else summary


async def draft_from_item(session: AsyncSession, persona_id: uuid.UUID, item_id: uuid.UUID) -> DraftSuggestion:
    """What the composer opens with for an item of the persona: its link, a suggested text, its origin."""
    item = await own_item(session, persona_id, item_id)
    source = await session.get(VeilleSource, item.source_id)
    assert source is not None  # the item's foreign key
    return DraftSuggestion(
        persona_id=persona_id,
        item_id=item.id,
        link=item.url,
        text=suggested_text(item),
        origin=origin_of(item, source),
    )


async def origin_for_post(session: AsyncSession, persona_id: uuid.UUID, origin: dict[str, Any]) -> VeilleItem:
    """The persona's own item an origin names (``core.publishing.compose``): an origin is never taken
    on trust — another persona's item, or none, is refused as if it did not exist."""
    raw = origin.get("item_id") if isinstance(origin, dict) else None
    try:
        item_id = uuid.UUID(str(raw))
    except ValueError:
        raise NoSuchItem(N_("no such watch item"), field="origin", code="no_such_item") from None
    item = await item_of(session, persona_id, item_id)
    if item is None:
        raise NoSuchItem(N_("no such watch item"), field="origin", code="no_such_item")
    return item


async def canonical_origin(session: AsyncSession, item: VeilleItem) -> dict[str, Any]:
    source = await session.get(VeilleSource, item.source_id)
    assert source is not None
    return origin_of(item, source)


def mark_drafted(session: AsyncSession, actor: Actor, item: VeilleItem, post: Post) -> None:
    """The item became a draft: it says which post, and the audit log says who."""
    before = item.status
    _set_status(item, actor, "drafted")
    item.post_id = post.id
    record(
        session,
        actor,
        "veille.drafted",
        "veille_item",
        item.id,
        persona_id=item.persona_id,
        before={"status": before},
        after={"status": "drafted", "post_id": post.id},
    )


class OriginFacts(msgspec.Struct, frozen=True, kw_only=True):
    """Whose watch a post's origin comes from, for the policy engine."""

    persona: str
    #: an elected official's watch is personal or campaign monitoring
    campaign: bool


async def origin_facts(session: AsyncSession, origin: dict[str, Any] | None) -> OriginFacts | None:
    """The persona whose watch gave a post's origin (None: no origin, or the item is gone)."""
    if not origin:
        return None
    try:
        item_id = uuid.UUID(str(origin.get("item_id")))
    except ValueError:
        return None
    row = (
        await session.execute(
            sa.select(Persona.slug, Persona.kind)
            .join(VeilleItem, VeilleItem.persona_id == Persona.id)
            .where(VeilleItem.id == item_id)
        )
    ).first()
    if row is None:
        return None
    return OriginFacts(persona=row.slug, campaign=row.kind != PersonaKind.INSTITUTION)
