"""The one writer of new inbox rows: an idempotent upsert keyed by (account, network id).

A webhook and a poll may deliver the same comment, Meta retries a webhook for 36 hours, a
poll resumed after a crash reads a page twice, and a poll and a webhook may run at the same
moment: every way in goes through :func:`ingest`, whose ``INSERT … ON CONFLICT DO NOTHING``
makes one row of all of them and raises for none. What follows for the rows actually created
is set-based (a few statements per batch, never a query per item): threading both ways, the
link to our post. No event row is written for the arrival: the row's ``received_at`` and
``first_seen_via`` are that record (the item's history reads them). Triage (flags, deadlines)
is computed before the insert so the row is complete the moment it exists.

Our own items echoed back (our replies read by a poll, or sent from the network's own app)
are stored closed — never work to do — so that the same upsert deduplicates them and a
citizen's answer to them finds its parent; an echo answering a stored item that Porte-voix
did not send records that item's response (``source="native_app"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.channels import RemoteItem
from core.db.enums import InboxKind, InboxStatus
from core.db.models import Account, Delivery, InboxItem, Persona
from core.db.types import utcnow
from core.inbox import responses
from core.inbox.targets import Assessor
from core.veille.posture import crisis_inbox_targets

log = structlog.get_logger(__name__)

#: rows per INSERT: ~25 parameters a row stays far below SQLite's and asyncpg's 32,767
BATCH = 500
#: a text longer than this (UTF-8 bytes) is cut, with :data:`CUT_MARKER` at its end
MAX_TEXT_BYTES = 64 * 1024
CUT_MARKER = " […] (texte tronqué par Porte-voix)"
MAX_URL = 2048
#: the columns' sizes (``String(200)``)
ID_SIZE = 200
HANDLE_SIZE = 200
#: flag of an item written by our own account (not work: stored closed)
OWN_FLAG = "own"
VIAS = ("poll", "webhook")


class IngestResult(msgspec.Struct, kw_only=True):
    #: the items created by this call that need work (our own echoes not among them)
    new: list[uuid.UUID] = []
    #: items already stored (a webhook after the poll, a replay, a page read twice)
    duplicates: int = 0
    #: items written by our own account (echoes of our replies), new or not
    own: int = 0
    #: items that cannot be stored (no network id, or one longer than the column)
    skipped: int = 0


async def ingest(session: AsyncSession, account: Account, items: Sequence[RemoteItem], *, via: str) -> IngestResult:
    """Store the items of ``account`` not stored yet; returns what was new. Safe to run concurrently."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}, not {via!r}")
    result = IngestResult()
    unique: dict[str, RemoteItem] = {}
    for item in items:
        if not item.remote_id or len(item.remote_id) > ID_SIZE:
            result.skipped += 1
            log.warning("inbox item without a usable network id skipped", account=str(account.id))
        elif item.remote_id in unique:
            result.duplicates += 1
        else:
            unique[item.remote_id] = item
    if not unique:
        return result
    persona = await session.get(Persona, account.persona_id)
    assert persona is not None  # accounts.persona_id is a foreign key
    # an accepted crisis posture tightens the response targets of what arrives while it stands
    assessor = Assessor(persona, tighter=await crisis_inbox_targets(session, persona.id))
    now = utcnow()
    # Sorted: two transactions inserting overlapping rows take their locks in the same order (no deadlock).
    ordered = [unique[remote_id] for remote_id in sorted(unique)]
    for batch in _chunks(ordered, BATCH):
        await _ingest_batch(session, account, assessor, batch, via, now, result)
    return result


async def _ingest_batch(
    session: AsyncSession,
    account: Account,
    assessor: Assessor,
    batch: list[RemoteItem],
    via: str,
    now: datetime,
    result: IngestResult,
) -> None:
    answered = await _answered_conversations(session, account.id, batch)
    rows = [_row(account, assessor, item, via, now, answered) for item in batch]
    inserted = set(await _insert(session, rows))
    result.duplicates += len(rows) - len(inserted)
    result.own += sum(1 for item in batch if item.author_id == account.external_id)
    if not inserted:
        return
    created = [row for row in rows if row["id"] in inserted]
    theirs = [row for row in created if row["status"] != InboxStatus.CLOSED]
    echoes = [row for row in created if row["status"] == InboxStatus.CLOSED]
    result.new.extend(row["id"] for row in theirs)
    replies = [row["id"] for row in created if row["parent_remote_id"]]
    await _link_parents(session, account.id, replies, [row["remote_id"] for row in created])
    await _link_deliveries(session, [row["id"] for row in created])
    await _record_native_answers(session, account, echoes)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------ rows


def _row(
    account: Account,
    assessor: Assessor,
    item: RemoteItem,
    via: str,
    now: datetime,
    answered: set[str],
) -> dict[str, Any]:
    received = _aware(item.created_at)
    # A clock ahead of ours (or a hostile date) must not push the item's deadlines into the future.
    received = min(received, now)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account.id,
        "persona_id": account.persona_id,
        "remote_id": item.remote_id,
        "kind": item.kind,
        "parent_remote_id": _network_id(item.parent_id),
        "thread_remote_id": _network_id(item.thread_id),
        "author_remote_id": _clip(item.author_id, ID_SIZE),
        "author_handle": _clip(item.author_handle, HANDLE_SIZE),
        "author_name": _clip(item.author_name, HANDLE_SIZE),
        "text": capped_text(item.text),
        "url": item.url if item.url and len(item.url) <= MAX_URL else None,
        "received_at": received,
        "first_seen_via": via,
        "hidden": False,
        "created_at": now,
        "updated_at": now,
    }
    if item.author_id == account.external_id:
        row.update(status=InboxStatus.CLOSED, closed_at=received, flags=[OWN_FLAG])
        row.update(response_due_at=None, legal_due_at=None)
        return row
    first = _conversation_key(item) not in answered
    assessment = assessor(item.kind, row["text"], received, first=first)
    row.update(
        status=InboxStatus.NEW,
        closed_at=None,
        flags=list(assessment.flags),
        response_due_at=assessment.response_due_at,
        legal_due_at=assessment.legal_due_at,
    )
    return row


def capped_text(text: str) -> str:
    """The text as given (plain text, never rendered), made storable: at most 64 KB, no NUL
    (PostgreSQL refuses it in TEXT), no lone surrogate (not UTF-8)."""
    raw = (text or "").replace("\x00", "\ufffd").encode("utf-8", errors="replace")
    if len(raw) <= MAX_TEXT_BYTES:
        return raw.decode("utf-8")
    return raw[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore") + CUT_MARKER


def _clip(value: str | None, size: int) -> str:
    clean = (value or "").replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")
    return clean[:size]


def _network_id(value: str | None) -> str | None:
    # An id longer than the column matches nothing we store: dropped rather than cut into another's.
    return value if value and len(value) <= ID_SIZE else None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _conversation_key(item: RemoteItem) -> str | None:
    """What makes a later item a *next* response rather than a first: the private conversation,
    or the comment a reply answers."""
    if item.kind == InboxKind.MESSAGE:
        return _network_id(item.thread_id)
    return _network_id(item.parent_id)


async def _answered_conversations(session: AsyncSession, account_id: uuid.UUID, batch: list[RemoteItem]) -> set[str]:
    """The conversations (message threads) and answered comments of ``batch`` we already answered."""
    threads = {key for item in batch if item.kind == InboxKind.MESSAGE and (key := _conversation_key(item))}
    parents = {key for item in batch if item.kind != InboxKind.MESSAGE and (key := _conversation_key(item))}
    if not threads and not parents:
        return set()
    # Two index-friendly reads (an OR of both would scan the account's items): the answered
    # comments by their network id, the answered conversations by their thread.
    answered = InboxItem.first_response_at.is_not(None)
    found_rows: list[Any] = []
    if parents:
        found_rows += (
            await session.execute(
                select(InboxItem.thread_remote_id, InboxItem.remote_id, InboxItem.kind).where(
                    InboxItem.account_id == account_id, InboxItem.remote_id.in_(parents), answered
                )
            )
        ).all()
    if threads:
        found_rows += (
            await session.execute(
                select(InboxItem.thread_remote_id, InboxItem.remote_id, InboxItem.kind).where(
                    InboxItem.account_id == account_id,
                    InboxItem.thread_remote_id.in_(threads),
                    InboxItem.kind == InboxKind.MESSAGE,
                    answered,
                )
            )
        ).all()
    found: set[str] = set()
    for thread, remote_id, kind in found_rows:
        if kind == InboxKind.MESSAGE and thread in threads:
            found.add(thread)
        if remote_id in parents:
            found.add(remote_id)
    return found


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """``INSERT … ON CONFLICT (account_id, remote_id) DO NOTHING RETURNING id``: the ids created.

    One statement for all the rows (SQLAlchemy's "insertmanyvalues" sends them in batches, with
    a statement compiled once and cached), not a statement per item.
    """
    table = InboxItem.__table__
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["account_id", "remote_id"]).returning(table.c.id)
    return list((await session.execute(statement, rows)).scalars().all())


# ------------------------------------------------------------------ links, set-based


async def _link_parents(
    session: AsyncSession, account_id: uuid.UUID, created: list[uuid.UUID], remote_ids: list[str]
) -> None:
    """Both ways: a new reply under its stored parent, and stored replies that came before their
    parent under the parent just created. Two UPDATEs, each on an index (by id; by the account's
    parent_remote_id)."""
    parent = aliased(InboxItem)
    parent_id = (
        select(parent.id)
        .where(parent.account_id == InboxItem.account_id, parent.remote_id == InboxItem.parent_remote_id)
        .limit(1)
        .scalar_subquery()
    )
    scopes = (
        (InboxItem.id.in_(created),),  # the new replies: by primary key
        (InboxItem.account_id == account_id, InboxItem.parent_remote_id.in_(remote_ids)),  # the orphans
    )
    for scope in scopes:
        await session.execute(
            update(InboxItem)
            .where(*scope, InboxItem.parent_id.is_(None), InboxItem.parent_remote_id.is_not(None))
            .values(parent_id=parent_id)
            .execution_options(synchronize_session=False)
        )


async def _link_deliveries(session: AsyncSession, created: list[uuid.UUID]) -> None:
    """The item answers our post: our delivery on the same account whose network id is the
    item's thread (the post commented) or, failing that, its parent (our reply answered)."""

    def ours(remote_id: Any) -> Any:
        return (
            select(Delivery.id)
            .where(Delivery.account_id == InboxItem.account_id, Delivery.remote_id == remote_id)
            .limit(1)
            .scalar_subquery()
        )

    delivery_id = func.coalesce(ours(InboxItem.thread_remote_id), ours(InboxItem.parent_remote_id))
    await session.execute(
        update(InboxItem)
        .where(
            InboxItem.id.in_(created),
            InboxItem.delivery_id.is_(None),
            or_(InboxItem.thread_remote_id.is_not(None), InboxItem.parent_remote_id.is_not(None)),
        )
        .values(delivery_id=delivery_id)
        .execution_options(synchronize_session=False)
    )


async def _record_native_answers(session: AsyncSession, account: Account, echoes: list[dict[str, Any]]) -> None:
    """An echo of ours answering a stored item, that Porte-voix did not send (the network's own
    app): the item is answered. Replies Porte-voix sent are recorded by the outbox already."""
    answering = [row for row in echoes if row["parent_remote_id"]]
    if not answering:
        return
    sent = set(
        (
            await session.scalars(
                select(Delivery.remote_id).where(
                    Delivery.account_id == account.id, Delivery.remote_id.in_([row["remote_id"] for row in answering])
                )
            )
        ).all()
    )
    parents = dict(
        (
            await session.execute(
                select(InboxItem.remote_id, InboxItem.id).where(
                    InboxItem.account_id == account.id,
                    InboxItem.remote_id.in_({row["parent_remote_id"] for row in answering}),
                    InboxItem.author_remote_id != account.external_id,  # not one of our own echoes
                )
            )
        ).all()
    )
    for row in answering:
        parent_id = parents.get(row["parent_remote_id"])
        if parent_id is not None and row["remote_id"] not in sent:
            await responses.record_response(
                session, parent_id, at=row["received_at"], staff_id=None, source="native_app"
            )
