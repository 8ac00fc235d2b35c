"""The delivery state machine: one table of arrows, one way to follow them.

Every change of a delivery's state goes through :func:`move` (one row), :func:`move_many`
(the dispatcher's claim, the sweeper's expiry, a worker's claim of a group of jobs) or
:func:`move_each` (a worker's record of a group: values of each row's own). All check the arrow against
:data:`TRANSITIONS`, perform a compare-and-set (``UPDATE … WHERE state IN (…)``: two workers,
two dispatchers, a web request and a worker never both move the same row) and write the
delivery's history event in the same transaction. ``docs/publishing.md`` draws the same arrows;
a test keeps the drawing and the table equal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Row, case, insert, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryState
from core.db.models import Delivery, DeliveryEvent
from core.db.types import utcnow
from core.notifications import service as notifications

S = DeliveryState

#: from-state → the states a delivery may move to; a state moving to itself changes only its values
TRANSITIONS: Mapping[DeliveryState, frozenset[DeliveryState]] = MappingProxyType(
    {
        S.DRAFT: frozenset({S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.CANCELED}),
        S.PENDING_APPROVAL: frozenset({S.PENDING_APPROVAL, S.SCHEDULED, S.DRAFT, S.CANCELED}),
        S.SCHEDULED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL, S.QUEUED, S.CANCELED}),
        S.QUEUED: frozenset({S.QUEUED, S.SCHEDULED, S.PENDING_APPROVAL, S.PUBLISHING}),
        S.PUBLISHING: frozenset({S.PUBLISHED, S.SCHEDULED, S.FAILED, S.UNCERTAIN}),
        S.UNCERTAIN: frozenset({S.UNCERTAIN, S.PUBLISHED, S.SCHEDULED, S.FAILED, S.CANCELED}),
        S.FAILED: frozenset({S.SCHEDULED, S.CANCELED}),
        S.PUBLISHED: frozenset(),
        S.CANCELED: frozenset(),
    }
)
#: the states compose creates a delivery in
INITIAL: frozenset[DeliveryState] = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED})

Detail = Mapping[str, Any]


class ForbiddenMove(Exception):
    """An arrow the state machine does not have: a programming error, never a user's refusal."""


def check(from_: Sequence[DeliveryState], to: DeliveryState) -> None:
    """Refuse (before any SQL runs) a move that is not an arrow of :data:`TRANSITIONS`."""
    if isinstance(from_, str):  # a bare state would be iterated letter by letter
        raise TypeError("from_ takes a tuple of states")
    wrong = [state.value for state in from_ if to not in TRANSITIONS[state]]
    if wrong or not from_:
        raise ForbiddenMove(f"{'|'.join(wrong) or '()'} → {to.value} is not an arrow of the delivery state machine")


def record_event(
    session: AsyncSession, delivery_id: uuid.UUID, kind: str, *, actor: uuid.UUID | None = None, **detail: Any
) -> None:
    """The one writer of a delivery's history (``delivery_events``)."""
    session.add(DeliveryEvent(delivery_id=delivery_id, kind=kind, actor_id=actor, detail=msgspec.to_builtins(detail)))


async def move(
    session: AsyncSession,
    delivery: Delivery | uuid.UUID,
    *,
    to: DeliveryState,
    from_: Sequence[DeliveryState],
    event: str,
    actor: uuid.UUID | None = None,
    detail: Detail | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move one delivery if it is still in one of ``from_``; True when this call moved it.

    ``where`` adds conditions to the compare-and-set; ``values`` are the columns set with the
    state. Given the loaded row, it is refreshed so the caller reads what the database holds.
    """
    delivery_id = delivery.id if isinstance(delivery, Delivery) else delivery
    moved = await _update(session, from_, to, (Delivery.id == delivery_id, *where), values)
    if not moved:
        return False
    await _insert_events(session, [(delivery_id, event, actor, detail)])
    if isinstance(delivery, Delivery):
        await session.refresh(delivery)
    return True


async def move_many(
    session: AsyncSession,
    *,
    to: DeliveryState,
    from_: Sequence[DeliveryState],
    where: Sequence[ColumnElement[bool]],
    event: str,
    detail: Detail | Callable[[Row[Any]], Detail] | None = None,
    returning: Sequence[Any] = (),
    **values: Any,
) -> Sequence[Row[Any]]:
    """Move every delivery matching ``where`` still in one of ``from_``, in one statement.

    Returns the moved rows: ``Delivery.id`` first, then the ``returning`` columns; ``detail``
    may compute each row's event detail from its row.
    """
    rows = await _update(session, from_, to, tuple(where), values, returning)
    if rows:
        await _insert_events(
            session, [(row[0], event, None, detail(row) if callable(detail) else detail) for row in rows]
        )
    return rows


async def move_each(
    session: AsyncSession,
    changes: Mapping[uuid.UUID, Mapping[str, Any]],
    *,
    to: DeliveryState,
    from_: Sequence[DeliveryState],
    event: str,
    detail: Mapping[uuid.UUID, Detail],
    **values: Any,
) -> set[uuid.UUID]:
    """Move several deliveries, each with values of its own (``changes``: id → columns), in one
    compare-and-set statement; ``values`` are set on all of them. Returns the ids it moved.

    The worker records a group of outcomes this way: a value that differs between rows is a
    ``CASE`` on the row's id, one that does not is set plainly."""
    if not changes:
        return set()
    columns = Delivery.__table__.c
    for key in {key for row in changes.values() for key in row}:
        given = [row.get(key) for row in changes.values()]
        if all(value == given[0] for value in given):
            values[key] = given[0]
        else:
            values[key] = case(
                *(
                    (Delivery.id == delivery_id, literal(row.get(key), columns[key].type))
                    for delivery_id, row in changes.items()
                ),
                else_=columns[key],
            )
    rows = await _update(session, from_, to, (Delivery.id.in_(list(changes)),), values)
    moved = {row[0] for row in rows}
    await _insert_events(
        session,
        [(delivery_id, event, None, detail.get(delivery_id)) for delivery_id in changes if delivery_id in moved],
    )
    return moved


async def _insert_events(
    session: AsyncSession, events: Sequence[tuple[uuid.UUID, str, uuid.UUID | None, Detail | None]]
) -> None:
    if not events:
        return
    # One Core INSERT beside the compare-and-set (many rows: one executemany), not ORM objects
    # flushed at commit: the unit of work cost more than the move itself on the worker's hot path.
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "delivery_id": delivery_id,
            "at": now,
            "kind": kind,
            "actor_id": actor,
            "detail": msgspec.to_builtins(dict(detail or {})),
        }
        for delivery_id, kind, actor, detail in events
    ]
    await session.execute(insert(DeliveryEvent.__table__), rows)
    # No flush sees these rows: the notifications they tell (failed, sent back, waiting for
    # approval) are derived here, for the few rows that tell any.
    notable = [DeliveryEvent(**row) for row in rows if notifications.is_notable(row["kind"], row["detail"])]
    if notable:
        await session.run_sync(notifications.notify_written, notable)


async def renew_lease(session: AsyncSession, delivery_id: uuid.UUID, worker_id: str, until: datetime) -> bool:
    """Not a move: the worker holding a delivery's lease extends it while it sends."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == S.PUBLISHING, Delivery.leased_by == worker_id)
        .values(lease_until=until)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def _update(
    session: AsyncSession,
    from_: Sequence[DeliveryState],
    to: DeliveryState,
    where: tuple[ColumnElement[bool], ...],
    values: dict[str, Any],
    returning: Sequence[Any] = (),
) -> Sequence[Row[Any]]:
    check(from_, to)
    values.setdefault("updated_at", utcnow())
    result = await session.execute(
        update(Delivery)
        .where(Delivery.state.in_(from_), *where)
        .values(state=to, **values)
        .returning(Delivery.id, *returning)
        .execution_options(synchronize_session=False)
    )
    return result.all()
