"""Notifications from what is recorded, their recipients, the list, read and unread.

Who is told:

- ``sent_back``: the post's author (a delivery's ``sent_back`` event);
- ``waiting_approval``: the persona's approvers (:data:`Action.APPROVE` in the one permission
  table), when a delivery is created or submitted into ``pending_approval`` or held at publish time;
- ``failed``: the post's author, or the persona's settlers (:data:`Action.SETTLE`) when it has none;
- ``needs_reauth``: the persona's account managers (:data:`Action.MANAGE_ACCOUNTS`), from the
  audit event ``account.needs_reauth``;
- ``usage_alert``: the persona's managers and the site admins, given by ``core.usage.alerts``
  when it raises an alert (no event row to derive it from: the alert row is the record).

Nobody is told of what they did themselves. One unread notification per recipient, kind and
subject (a partial unique index): a new event on it brings it up (``event_at``) and counts it
(``times``) instead of adding a row; once read, the next event starts a new one.

The derivation runs in the flush that writes the event (:func:`_before_flush`, a SQLAlchemy
``before_flush`` listener), in a savepoint: a notification never blocks the action it tells of.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.db.enums import Role
from core.db.models import Account, Assignment, AuditEvent, Delivery, DeliveryEvent, Notification, Persona, Post, Staff
from core.db.types import utcnow
from core.errors import N_, NotFound
from core.pagination import Page, keyset
from core.people.permissions import Action, allows

log = structlog.get_logger(__name__)

EXCERPT = 80


class Kind(enum.StrEnum):
    SENT_BACK = "sent_back"
    WAITING_APPROVAL = "waiting_approval"
    FAILED = "failed"
    NEEDS_REAUTH = "needs_reauth"
    USAGE_ALERT = "usage_alert"


#: a delivery's history event → the notification it gives (created/submitted only into approval)
_DELIVERY_KINDS = {"sent_back": Kind.SENT_BACK, "failed": Kind.FAILED, "held": Kind.WAITING_APPROVAL}
_INTO_APPROVAL = {"created", "submitted"}


class UnknownNotification(NotFound):
    """No such notification among the caller's own."""


class Notice:
    """One notification to give: its kind, subject and the text's names, before its recipients."""

    __slots__ = ("kind", "subject_type", "subject_id", "persona_id", "actor_id", "detail", "author_id", "at")

    def __init__(
        self,
        kind: Kind,
        subject_type: str,
        subject_id: uuid.UUID,
        persona_id: uuid.UUID,
        *,
        actor_id: uuid.UUID | None,
        detail: dict[str, Any],
        author_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> None:
        self.kind, self.subject_type, self.subject_id, self.persona_id = kind, subject_type, subject_id, persona_id
        self.actor_id, self.detail, self.author_id, self.at = actor_id, detail, author_id, at or utcnow()


# ------------------------------------------------------------------ from what is recorded


def is_notable(kind: str, detail: dict[str, Any] | None) -> bool:
    """Whether a delivery history row of this kind tells someone something (most do not: "published")."""
    return kind in _DELIVERY_KINDS or (kind in _INTO_APPROVAL and (detail or {}).get("state") == "pending_approval")


def _wanted(row: object) -> bool:
    if isinstance(row, DeliveryEvent):
        return is_notable(row.kind, row.detail)
    return isinstance(row, AuditEvent) and row.action == "account.needs_reauth"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _notices(connection: sa.Connection, rows: list[object]) -> list[Notice]:
    """What the new event rows of one flush tell, one notice per kind and subject."""
    deliveries = [r for r in rows if isinstance(r, DeliveryEvent)]
    audits = [r for r in rows if isinstance(r, AuditEvent)]
    notices: dict[tuple[str, uuid.UUID], Notice] = {}
    actors = {r.actor_id for r in deliveries if r.actor_id} | {r.actor_id for r in audits if r.actor_id}
    names = dict(connection.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(actors))).all())
    if deliveries:
        found = connection.execute(
            select(Delivery.id, Delivery.post_id, Delivery.last_error, Post.author_id, Post.persona_id, Post.text)
            .add_columns(Account.channel, Account.handle, Persona.name)
            .join(Post, Post.id == Delivery.post_id)
            .join(Account, Account.id == Delivery.account_id)
            .join(Persona, Persona.id == Post.persona_id)
            .where(Delivery.id.in_({r.delivery_id for r in deliveries}))
        ).all()
        by_id = {row.id: row for row in found}
        for row in deliveries:
            d = by_id.get(row.delivery_id)
            if d is None:
                continue
            kind = _DELIVERY_KINDS.get(row.kind, Kind.WAITING_APPROVAL)
            detail = {"excerpt": _excerpt(d.text or ""), "persona": d.name, "channel": d.channel, "handle": d.handle}
            if kind == Kind.FAILED:
                detail["error"] = (row.detail or {}).get("error") or d.last_error or ""
                subject: tuple[str, uuid.UUID] = ("delivery", d.id)
                detail["post_id"] = str(d.post_id)
            else:
                subject = ("post", d.post_id)
            if kind == Kind.SENT_BACK:
                detail["comment"] = (row.detail or {}).get("comment", "")
                detail["who"] = names.get(row.actor_id, "")
            notices.setdefault(
                (kind, subject[1]),
                Notice(kind, *subject, d.persona_id, actor_id=row.actor_id, detail=detail, author_id=d.author_id),
            )
    for audit in audits:
        account_id = uuid.UUID(str(audit.entity_id))
        a = connection.execute(
            select(Account.channel, Account.handle, Account.persona_id, Persona.name)
            .join(Persona, Persona.id == Account.persona_id)
            .where(Account.id == account_id)
        ).first()
        if a is None:
            continue
        detail = {"channel": a.channel, "handle": a.handle, "persona": a.name, "error": audit.reason or ""}
        notices.setdefault(
            (Kind.NEEDS_REAUTH, account_id),
            Notice(Kind.NEEDS_REAUTH, "account", account_id, a.persona_id, actor_id=audit.actor_id, detail=detail),
        )
    return list(notices.values())


def _team(connection: sa.Connection, persona_id: uuid.UUID, action: Action) -> set[uuid.UUID]:
    rows = connection.execute(
        select(Assignment.staff_id, Assignment.role)
        .join(Staff, Staff.id == Assignment.staff_id)
        .where(Assignment.persona_id == persona_id, Staff.is_active.is_(True))
    ).all()
    return {row.staff_id for row in rows if allows(Role(row.role), action)}


def _active(connection: sa.Connection, staff_id: uuid.UUID | None) -> bool:
    if staff_id is None:
        return False
    return bool(connection.scalar(select(Staff.is_active).where(Staff.id == staff_id)))


def recipients(connection: sa.Connection, notice: Notice) -> set[uuid.UUID]:
    """Who is concerned by ``notice`` (never the one who did it)."""
    if notice.kind == Kind.SENT_BACK:
        found = {notice.author_id} if _active(connection, notice.author_id) else set()
    elif notice.kind == Kind.WAITING_APPROVAL:
        found = _team(connection, notice.persona_id, Action.APPROVE)
    elif notice.kind == Kind.FAILED:
        found = (
            {notice.author_id}
            if _active(connection, notice.author_id)
            else _team(connection, notice.persona_id, Action.SETTLE)
        )
    elif notice.kind == Kind.USAGE_ALERT:
        admins = connection.scalars(select(Staff.id).where(Staff.is_admin.is_(True), Staff.is_active.is_(True)))
        found = _team(connection, notice.persona_id, Action.MANAGE_ACCOUNTS) | set(admins)
    else:
        found = _team(connection, notice.persona_id, Action.MANAGE_ACCOUNTS)
    return {s for s in found if s is not None and s != notice.actor_id}


def _insert(connection: sa.Connection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(Notification)


def give(connection: sa.Connection, notice: Notice) -> int:
    """Give ``notice`` to everyone concerned: bring up their unread one, or add one. How many told."""
    told = 0
    for staff_id in sorted(recipients(connection, notice)):
        key = (
            Notification.staff_id == staff_id,
            Notification.kind == notice.kind.value,
            Notification.subject_id == notice.subject_id,
            Notification.read_at.is_(None),
        )
        bumped = connection.execute(
            update(Notification)
            .where(*key)
            .values(times=Notification.times + 1, event_at=notice.at, detail=notice.detail)
        )
        if not bumped.rowcount:
            statement = _insert(connection).values(
                id=uuid.uuid4(),
                staff_id=staff_id,
                persona_id=notice.persona_id,
                kind=notice.kind.value,
                subject_type=notice.subject_type,
                subject_id=notice.subject_id,
                detail=notice.detail,
                times=1,
                created_at=notice.at,
                event_at=notice.at,
                email_state="pending",
                email_attempts=0,
            )
            # a concurrent transaction gave the same one: theirs stands
            connection.execute(
                statement.on_conflict_do_nothing(
                    index_elements=["staff_id", "kind", "subject_id"], index_where=sa.text("read_at IS NULL")
                )
            )
        told += 1
    return told


def derive(connection: sa.Connection, rows: Iterable[object]) -> int:
    """Notifications for the event rows ``rows`` (delivery events, audit events); how many given."""
    wanted = [r for r in rows if _wanted(r)]
    if not wanted:
        return 0
    return sum(give(connection, notice) for notice in _notices(connection, wanted))


def notify_written(session: Session, events: list[DeliveryEvent]) -> None:
    """The same derivation for history rows written with Core statements (the worker's hot path
    and the state machine's moves), which no flush sees. Call with the rows just inserted."""
    wanted = [row for row in events if _wanted(row)]
    if wanted:
        _derive_in_savepoint(session, wanted)


@sa_event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    wanted = [row for row in session.new if _wanted(row)]
    if wanted:
        _derive_in_savepoint(session, wanted)


def _derive_in_savepoint(session: Session, wanted: list[object]) -> None:
    connection = session.connection()
    try:
        with connection.begin_nested():
            derive(connection, wanted)
    except sa.exc.SQLAlchemyError:
        log.exception("notifications.derive_failed", events=len(wanted))


# ------------------------------------------------------------------ what the pages read


async def notification_page(
    session: AsyncSession, staff_id: uuid.UUID, *, cursor: str | None, limit: int, unread: bool = False
) -> Page[Notification]:
    """A staff member's notifications, the latest first (keyset pages)."""
    query = select(Notification).where(Notification.staff_id == staff_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return await keyset(
        session, query, (Notification.event_at, Notification.id), cursor=cursor, limit=limit, descending=True
    )


async def unread_count(session: AsyncSession, staff_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.staff_id == staff_id, Notification.read_at.is_(None))
    )
    return int(found or 0)


async def mark_read(session: AsyncSession, staff_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    """Mark one of ``staff_id``'s notifications read; another person's is as good as absent."""
    found = await session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.staff_id == staff_id)
    )
    if found is None:
        raise UnknownNotification(N_("no such notification"))
    if found.read_at is None:
        found.read_at = utcnow()
        await session.flush()
    return found


async def mark_all_read(session: AsyncSession, staff_id: uuid.UUID) -> int:
    done = await session.execute(
        update(Notification)
        .where(Notification.staff_id == staff_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)
