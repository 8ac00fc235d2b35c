"""Every read of the inbox (nothing here writes): the list with its filters, one item with its
thread and history, the saved replies, who may be assigned, the health of each account's sync,
what is new since a moment (the live update), the counts per status.

Private messages (kind ``message``) are the persona's business only: every function that can
return one takes ``see_messages``, and leaves them out unless it is True.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.channels.contract import InboxKind
from core.db.enums import AccountStatus, DeliveryKind, InboxStatus, Role
from core.db.models import (
    Account,
    Assignment,
    Delivery,
    InboxEvent,
    InboxItem,
    InboxNote,
    ModerationAction,
    Post,
    SavedReply,
    Staff,
)
from core.db.types import utcnow
from core.errors import N_, Refusal
from core.inbox.targets import AT_RISK_SECONDS
from core.pagination import Page, keyset
from core.people.staff import display_names

#: what an answered or closed item no longer owes anybody
_SETTLED = (InboxStatus.ANSWERED, InboxStatus.CLOSED)
#: the assignee filter's two words besides a staff id
ME, NOBODY = "me", "none"


class InboxFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The inbox screen's filters; every one is optional (an empty filter lists everything visible)."""

    channel: str | None = None
    kind: InboxKind | None = None
    status: InboxStatus | None = None
    #: a staff id, ``"me"`` (then ``me`` says who asks) or ``"none"`` (nobody assigned)
    assignee: str | None = None
    me: uuid.UUID | None = None
    #: days in the persona's time zone (``timezone``), both included
    date_from: date | None = None
    date_to: date | None = None
    timezone: str = "Europe/Paris"
    overdue: bool = False
    flagged: bool = False


class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the inbox: the item, its account, who it is assigned to."""

    id: uuid.UUID
    persona_id: uuid.UUID
    account_id: uuid.UUID
    channel: str
    account_handle: str
    kind: InboxKind
    remote_id: str
    parent_id: uuid.UUID | None
    delivery_id: uuid.UUID | None
    author_handle: str
    author_name: str
    text: str
    url: str | None
    received_at: datetime
    status: InboxStatus
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    flags: list[str]
    response_due_at: datetime | None
    legal_due_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    hidden: bool
    deleted_at: datetime | None


class Note(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    text: str
    created_at: datetime
    author_id: uuid.UUID | None
    author_name: str | None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    kind: str
    at: datetime
    staff_id: uuid.UUID | None
    staff_name: str | None
    seconds: float | None
    business_seconds: float | None
    detail: dict[str, Any]


class Moderation(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    action: str
    state: str
    reason_code: str
    reason: str
    requested_by_id: uuid.UUID | None
    requested_by_name: str | None
    reviewed_by_id: uuid.UUID | None
    reviewed_by_name: str | None
    created_at: datetime
    done_at: datetime | None
    error: str | None


class ReplyDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A reply of ours to the item, as the outbox sees it."""

    id: uuid.UUID
    post_id: uuid.UUID
    state: str
    text: str
    author_id: uuid.UUID | None
    author_name: str | None
    created_at: datetime
    published_at: datetime | None
    remote_url: str | None
    last_error: str | None


class OurPost(msgspec.Struct, frozen=True, kw_only=True):
    """Our post the item answers (a comment under it)."""

    delivery_id: uuid.UUID
    post_id: uuid.UUID
    text: str
    published_at: datetime | None
    remote_url: str | None


class ItemDetail(msgspec.Struct, frozen=True, kw_only=True):
    item: ItemRow
    parent: ItemRow | None
    siblings: list[ItemRow]
    children: list[ItemRow]
    our_post: OurPost | None
    notes: list[Note]
    events: list[Event]
    moderation: list[Moderation]
    replies: list[ReplyDelivery]
    #: someone opened the reply box and has not let go yet (``replying_until`` still ahead)
    replying_id: uuid.UUID | None
    replying_name: str | None
    replying_until: datetime | None


class StaffChoice(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    display_name: str
    role: Role


class AccountHealth(msgspec.Struct, frozen=True, kw_only=True):
    """How an account's inbox sync is doing: ``failing`` is what the banner says."""

    account_id: uuid.UUID
    channel: str
    handle: str
    synced_at: datetime | None
    failing_since: datetime | None
    error: str | None
    unavailable: dict[str, Any]
    needs_reauth: bool

    @property
    def failing(self) -> bool:
        return self.failing_since is not None or self.needs_reauth


class NewSince(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    ids: list[uuid.UUID]


# ------------------------------------------------------------------ the list
_Assignee = aliased(Staff)


def _rows_query() -> Select[Any]:
    return (
        select(InboxItem, Account.channel, Account.handle, _Assignee.display_name)
        .join(Account, Account.id == InboxItem.account_id)
        .outerjoin(_Assignee, _Assignee.id == InboxItem.assignee_id)
    )


def _row(item: InboxItem, channel: str, handle: str, assignee_name: str | None) -> ItemRow:
    return ItemRow(
        id=item.id,
        persona_id=item.persona_id,
        account_id=item.account_id,
        channel=channel,
        account_handle=handle,
        kind=InboxKind(item.kind),
        remote_id=item.remote_id,
        parent_id=item.parent_id,
        delivery_id=item.delivery_id,
        author_handle=item.author_handle,
        author_name=item.author_name,
        text=item.text,
        url=item.url,
        received_at=item.received_at,
        status=InboxStatus(item.status),
        assignee_id=item.assignee_id,
        assignee_name=assignee_name,
        flags=[str(f) for f in item.flags or ()],
        response_due_at=item.response_due_at,
        legal_due_at=item.legal_due_at,
        first_response_at=item.first_response_at,
        closed_at=item.closed_at,
        hidden=item.hidden,
        deleted_at=item.deleted_at,
    )


def _rows(result: Sequence[Any]) -> list[ItemRow]:
    return [_row(*r) for r in result]


def _visible(query: Select[Any], persona_id: uuid.UUID, see_messages: bool) -> Select[Any]:
    query = query.where(InboxItem.persona_id == persona_id)
    return query if see_messages else query.where(InboxItem.kind != InboxKind.MESSAGE)


def _local_bound(day: date, timezone: str, *, end: bool) -> datetime:
    """Midnight starting ``day`` (or the next day, for an ``end``) in the persona's zone."""
    return datetime.combine(day + timedelta(days=1) if end else day, time.min, tzinfo=ZoneInfo(timezone))


def _assignee_clause(filters: InboxFilter) -> sa.ColumnElement[bool] | None:
    if not filters.assignee:
        return None
    if filters.assignee == NOBODY:
        return InboxItem.assignee_id.is_(None)
    if filters.assignee == ME:
        if filters.me is None:
            raise Refusal(N_("“me” needs to know who asks"), field="assignee")
        return InboxItem.assignee_id == filters.me
    try:
        return InboxItem.assignee_id == uuid.UUID(filters.assignee)
    except ValueError:
        raise Refusal(N_("assignee is a staff id, “me” or “none”"), field="assignee") from None


def _filtered(query: Select[Any], filters: InboxFilter, now: datetime) -> Select[Any]:
    if filters.channel:
        query = query.where(Account.channel == filters.channel)
    if filters.kind is not None:
        query = query.where(InboxItem.kind == filters.kind)
    if filters.status is not None:
        query = query.where(InboxItem.status == filters.status)
    if (clause := _assignee_clause(filters)) is not None:
        query = query.where(clause)
    if filters.date_from is not None:
        query = query.where(InboxItem.received_at >= _local_bound(filters.date_from, filters.timezone, end=False))
    if filters.date_to is not None:
        query = query.where(InboxItem.received_at < _local_bound(filters.date_to, filters.timezone, end=True))
    if filters.overdue:
        query = query.where(InboxItem.response_due_at < now, InboxItem.status.not_in(_SETTLED))
    if filters.flagged:
        # an empty JSON list reads "[]" as text on both databases
        query = query.where(sa.cast(InboxItem.flags, sa.Text) != "[]")
    return query


async def list_items(
    session: AsyncSession,
    persona_id: uuid.UUID,
    filters: InboxFilter,
    *,
    see_messages: bool,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ItemRow]:
    """The persona's items, newest first by (received_at, id), one keyset page at a time
    (``ix_inbox_items_persona_received`` walked backwards)."""
    query = _filtered(_visible(_rows_query(), persona_id, see_messages), filters, utcnow())
    return await keyset(
        session,
        query,
        (InboxItem.received_at, InboxItem.id),
        cursor=cursor,
        limit=limit,
        descending=True,
        rows=_rows,
    )


async def counts(session: AsyncSession, persona_id: uuid.UUID, *, see_messages: bool) -> dict[InboxStatus, int]:
    """How many items per status (the tabs), private messages counted only for those who see them."""
    query = _visible(select(InboxItem.status, func.count()).select_from(InboxItem), persona_id, see_messages)
    found = {InboxStatus(s): n for s, n in (await session.execute(query.group_by(InboxItem.status))).all()}
    return {status: found.get(status, 0) for status in InboxStatus}


async def deadlines(
    session: AsyncSession, persona_id: uuid.UUID, *, see_messages: bool, now: datetime | None = None
) -> dict[str, int]:
    """Open items past their answer's due time (``breached``), within the last hour of it
    (``at_risk``), and past or near a legal deadline (``legal``): what the dashboard warns of."""
    now = now or utcnow()
    soon = now + timedelta(seconds=AT_RISK_SECONDS)
    open_ = InboxItem.status.in_((InboxStatus.NEW, InboxStatus.ASSIGNED))
    query = _visible(
        select(
            func.count().filter(InboxItem.response_due_at <= now),
            func.count().filter(InboxItem.response_due_at > now, InboxItem.response_due_at <= soon),
            func.count().filter(InboxItem.legal_due_at <= soon),
        ).select_from(InboxItem),
        persona_id,
        see_messages,
    ).where(open_)
    breached, at_risk, legal = (await session.execute(query)).one()
    return {"breached": int(breached), "at_risk": int(at_risk), "legal": int(legal)}


#: the period of the response times shown with the inbox
RESPONSE_TIMES_PERIOD = timedelta(days=30)


class ResponseTimes(msgspec.Struct, frozen=True, kw_only=True):
    """Response events of a period: how many, and their mean delay in business seconds."""

    staff_id: uuid.UUID | None  # None: the whole persona
    staff_name: str | None
    first_responses: int
    first_response_mean_s: float | None
    responses: int
    response_mean_s: float | None
    resolved: int
    resolution_mean_s: float | None


async def response_times(
    session: AsyncSession, persona_id: uuid.UUID, *, since: datetime | None = None
) -> list[ResponseTimes]:
    """First-response, next-response and resolution times since ``since``, in the persona's
    business hours as recorded when they happened: the persona first, then each staff member
    (Porte-voix's own automatic answers and answers from the network's app under ``None``)."""

    since = since or utcnow() - RESPONSE_TIMES_PERIOD

    def measured(kind: str) -> tuple[Any, Any]:
        chosen = InboxEvent.kind == kind
        return func.count().filter(chosen), func.avg(InboxEvent.business_seconds).filter(chosen)

    columns = (*measured("first_response"), *measured("response"), *measured("resolved"))
    base = select(*columns).where(
        InboxEvent.persona_id == persona_id,
        InboxEvent.at >= since,
        InboxEvent.kind.in_(("first_response", "response", "resolved")),
    )
    persona_row = (await session.execute(base)).one()
    staff_rows = (await session.execute(base.add_columns(InboxEvent.staff_id).group_by(InboxEvent.staff_id))).all()
    names = await display_names(session, {row[-1] for row in staff_rows if row[-1]})

    def times(row: Sequence[Any], staff_id: uuid.UUID | None) -> ResponseTimes:
        first, first_mean, nxt, nxt_mean, resolved, resolved_mean = row[:6]
        return ResponseTimes(
            staff_id=staff_id,
            staff_name=names.get(staff_id) if staff_id else None,
            first_responses=int(first),
            first_response_mean_s=_seconds(first_mean),
            responses=int(nxt),
            response_mean_s=_seconds(nxt_mean),
            resolved=int(resolved),
            resolution_mean_s=_seconds(resolved_mean),
        )

    people = sorted(
        (times(row, row[-1]) for row in staff_rows), key=lambda t: (t.staff_name is None, t.staff_name or "")
    )
    return [times(persona_row, None), *people]


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


async def new_since(
    session: AsyncSession, persona_id: uuid.UUID, since: datetime, *, see_messages: bool, limit: int = 20
) -> NewSince:
    """What arrived after ``since`` (received or stored): the count and the newest ids."""
    query = _visible(select(InboxItem.id).select_from(InboxItem), persona_id, see_messages).where(
        InboxItem.created_at > since
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    ids = (await session.scalars(query.order_by(InboxItem.received_at.desc()).limit(limit))).all()
    return NewSince(count=int(total or 0), ids=list(ids))


async def new_counts(
    session: AsyncSession, persona_ids: Sequence[uuid.UUID], see: set[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Items with status ``new`` per persona (the dashboard's links); private messages only where ``see``."""
    if not persona_ids:
        return {}
    visible = sa.or_(InboxItem.kind != InboxKind.MESSAGE, InboxItem.persona_id.in_(see or {uuid.UUID(int=0)}))
    query = (
        select(InboxItem.persona_id, func.count())
        .where(InboxItem.persona_id.in_(persona_ids), InboxItem.status == InboxStatus.NEW, visible)
        .group_by(InboxItem.persona_id)
    )
    found = dict((await session.execute(query)).all())
    return {pid: int(found.get(pid, 0)) for pid in persona_ids}


# ------------------------------------------------------------------ one item
async def item_of(
    session: AsyncSession, persona_id: uuid.UUID, item_id: uuid.UUID, *, see_messages: bool
) -> ItemRow | None:
    """One item of THIS persona, or None (another persona's item, or a private message the caller
    may not see, does not exist for them)."""
    query = _visible(_rows_query(), persona_id, see_messages).where(InboxItem.id == item_id)
    found = (await session.execute(query)).first()
    return None if found is None else _row(*found)


async def item_detail(session: AsyncSession, item_id: uuid.UUID, *, see_messages: bool = True) -> ItemDetail:
    """The item with its thread, our post it answers, notes, events, moderation and our replies.

    The caller has found the item through :func:`item_of` (its persona, its visibility); the
    thread around it keeps the same visibility rule.
    """
    found = (await session.execute(_rows_query().where(InboxItem.id == item_id))).first()
    if found is None:
        raise Refusal(N_("no such item"), code="not_found")
    item = _row(*found)
    replying = await session.execute(
        select(InboxItem.replying_id, InboxItem.replying_until).where(InboxItem.id == item_id)
    )
    replying_id, replying_until = replying.one()
    now = utcnow()
    if replying_until is None or replying_until <= now:
        replying_id = replying_until = None
    parent, siblings, children = await _thread(session, item, see_messages)
    notes = await _notes(session, item_id)
    events = [_received(found[0]), *await _events(session, item_id)]
    moderation = await _moderation(session, item_id)
    replies = await _replies(session, item_id)
    names = await display_names(session, {replying_id} if replying_id else set())
    return ItemDetail(
        item=item,
        parent=parent,
        siblings=siblings,
        children=children,
        our_post=await _our_post(session, item.delivery_id),
        notes=notes,
        events=events,
        moderation=moderation,
        replies=replies,
        replying_id=replying_id,
        replying_name=names.get(replying_id) if replying_id else None,
        replying_until=replying_until,
    )


async def _thread(
    session: AsyncSession, item: ItemRow, see_messages: bool
) -> tuple[ItemRow | None, list[ItemRow], list[ItemRow]]:
    base = _visible(_rows_query(), item.persona_id, see_messages)
    parent = None
    if item.parent_id is not None:
        found = (await session.execute(base.where(InboxItem.id == item.parent_id))).first()
        parent = None if found is None else _row(*found)
    siblings: list[ItemRow] = []
    if item.parent_id is not None:
        query = base.where(InboxItem.parent_id == item.parent_id, InboxItem.id != item.id)
        siblings = _rows((await session.execute(query.order_by(InboxItem.received_at).limit(100))).all())
    children_query = base.where(InboxItem.parent_id == item.id).order_by(InboxItem.received_at).limit(200)
    children = _rows((await session.execute(children_query)).all())
    return parent, siblings, children


async def _our_post(session: AsyncSession, delivery_id: uuid.UUID | None) -> OurPost | None:
    if delivery_id is None:
        return None
    found = (
        await session.execute(
            select(Delivery.id, Post.id, Post.text, Delivery.published_at, Delivery.remote_url)
            .join(Post, Post.id == Delivery.post_id)
            .where(Delivery.id == delivery_id)
        )
    ).first()
    if found is None:
        return None
    return OurPost(delivery_id=found[0], post_id=found[1], text=found[2], published_at=found[3], remote_url=found[4])


async def _notes(session: AsyncSession, item_id: uuid.UUID) -> list[Note]:
    rows = (
        await session.execute(
            select(InboxNote, Staff.display_name)
            .outerjoin(Staff, Staff.id == InboxNote.author_id)
            .where(InboxNote.item_id == item_id)
            .order_by(InboxNote.created_at, InboxNote.id)
        )
    ).all()
    return [
        Note(id=n.id, text=n.text, created_at=n.created_at, author_id=n.author_id, author_name=name) for n, name in rows
    ]


def _received(item: InboxItem) -> Event:
    """The item's first entry in its history, read from the row itself (no event row is written
    for it: the ingestion of a hundred thousand items writes a hundred thousand rows, not twice)."""
    return Event(
        id=item.id,
        kind="received",
        at=item.received_at,
        staff_id=None,
        staff_name=None,
        seconds=None,
        business_seconds=None,
        detail={"via": item.first_seen_via},
    )


async def _events(session: AsyncSession, item_id: uuid.UUID) -> list[Event]:
    rows = (
        await session.scalars(select(InboxEvent).where(InboxEvent.item_id == item_id).order_by(InboxEvent.at))
    ).all()
    names = await display_names(session, {e.staff_id for e in rows if e.staff_id})
    return [
        Event(
            id=e.id,
            kind=e.kind,
            at=e.at,
            staff_id=e.staff_id,
            staff_name=names.get(e.staff_id) if e.staff_id else None,
            seconds=e.seconds,
            business_seconds=e.business_seconds,
            detail=dict(e.detail or {}),
        )
        for e in rows
    ]


async def _moderation(session: AsyncSession, item_id: uuid.UUID) -> list[Moderation]:
    rows = (
        await session.scalars(
            select(ModerationAction).where(ModerationAction.item_id == item_id).order_by(ModerationAction.created_at)
        )
    ).all()
    ids = {i for m in rows for i in (m.requested_by_id, m.reviewed_by_id) if i}
    names = await display_names(session, ids)
    return [
        Moderation(
            id=m.id,
            action=m.action,
            state=m.state,
            reason_code=m.reason_code,
            reason=m.reason,
            requested_by_id=m.requested_by_id,
            requested_by_name=names.get(m.requested_by_id) if m.requested_by_id else None,
            reviewed_by_id=m.reviewed_by_id,
            reviewed_by_name=names.get(m.reviewed_by_id) if m.reviewed_by_id else None,
            created_at=m.created_at,
            done_at=m.done_at,
            error=m.error,
        )
        for m in rows
    ]


async def _replies(session: AsyncSession, item_id: uuid.UUID) -> list[ReplyDelivery]:
    rows = (
        await session.execute(
            select(Delivery, Post.text, Post.author_id, Staff.display_name)
            .join(Post, Post.id == Delivery.post_id)
            .outerjoin(Staff, Staff.id == Post.author_id)
            .where(Delivery.in_reply_to_id == item_id, Delivery.kind == DeliveryKind.REPLY)
            .order_by(Delivery.created_at, Delivery.id)
        )
    ).all()
    return [
        ReplyDelivery(
            id=d.id,
            post_id=d.post_id,
            state=d.state.value,
            text=text,
            author_id=author_id,
            author_name=name,
            created_at=d.created_at,
            published_at=d.published_at,
            remote_url=d.remote_url,
            last_error=d.last_error,
        )
        for d, text, author_id, name in rows
    ]


async def moderation_action_of(
    session: AsyncSession, persona_id: uuid.UUID, action_id: uuid.UUID
) -> ModerationAction | None:
    """A moderation action of THIS persona, or None."""
    return await session.scalar(
        select(ModerationAction).where(ModerationAction.id == action_id, ModerationAction.persona_id == persona_id)
    )


# ------------------------------------------------------------------ around the list
async def saved_replies(session: AsyncSession, persona_id: uuid.UUID) -> list[SavedReply]:
    """The persona's saved replies, by short code."""
    query = select(SavedReply).where(SavedReply.persona_id == persona_id).order_by(SavedReply.short_code)
    return list((await session.scalars(query)).all())


async def saved_reply_of(session: AsyncSession, persona_id: uuid.UUID, saved_reply_id: uuid.UUID) -> SavedReply | None:
    return await session.scalar(
        select(SavedReply).where(SavedReply.id == saved_reply_id, SavedReply.persona_id == persona_id)
    )


#: the roles an item may be assigned to: moderator and up (viewers only look)
_ASSIGNABLE = tuple(r for r in Role if r.at_least(Role.MODERATOR))


async def assignable_staff(session: AsyncSession, persona_id: uuid.UUID) -> list[StaffChoice]:
    """The persona's active team members with a role of moderator or more, by name."""
    rows = (
        await session.execute(
            select(Staff.id, Staff.display_name, Assignment.role)
            .join(Assignment, Assignment.staff_id == Staff.id)
            .where(Assignment.persona_id == persona_id, Assignment.role.in_(_ASSIGNABLE), Staff.is_active.is_(True))
            .order_by(Staff.display_name, Staff.id)
        )
    ).all()
    return [StaffChoice(id=i, display_name=n, role=Role(r)) for i, n, r in rows]


async def inbox_health(
    session: AsyncSession, persona_id: uuid.UUID, channels: set[str] | None = None
) -> list[AccountHealth]:
    """Per account of the persona (of ``channels``: those whose plugin reads an inbox), how its
    inbox sync is doing."""
    query = select(Account).where(Account.persona_id == persona_id, Account.status != AccountStatus.DISABLED)
    if channels is not None:
        query = query.where(Account.channel.in_(channels or {""}))
    accounts = (await session.scalars(query.order_by(Account.channel, Account.handle))).all()
    return [
        AccountHealth(
            account_id=a.id,
            channel=a.channel,
            handle=a.handle,
            synced_at=a.inbox_synced_at,
            # an expired token stops the messages at the last sync that worked
            failing_since=a.inbox_failing_since
            or (a.inbox_synced_at if a.status == AccountStatus.NEEDS_REAUTH else None),
            error=a.inbox_error,
            unavailable=dict(a.inbox_unavailable or {}),
            needs_reauth=a.status == AccountStatus.NEEDS_REAUTH,
        )
        for a in accounts
    ]
