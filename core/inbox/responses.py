"""Responses: the one place an item becomes answered, and its response time is measured.

A response is a reply of ours on the network: a reply delivery of Porte-voix once published
(whichever path proved it: the worker, reconcile, or a person's "it was published"), or an
answer written in the network's own app that the poll brings back. Each is recorded once, as an
:class:`InboxEvent` whose delay is kept in seconds and in the persona's business hours at the
time it happens (the usage screens read these rows; nothing recomputes them later).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import InboxKind, InboxStatus
from core.db.models import Delivery, InboxEvent, InboxItem, Persona, Post
from core.inbox.targets import business_seconds


async def record_response(
    session: AsyncSession,
    item_id: uuid.UUID,
    *,
    at: datetime,
    staff_id: uuid.UUID | None,
    source: str,
    delivery_id: uuid.UUID | None = None,
) -> bool:
    """Mark the item answered at ``at`` and record the response event; False when there is no such item.

    The first response is set by a compare-and-set (``first_response_at IS NULL``): two
    responses recorded at once make one first response and one next response, never two firsts.
    """
    row = (
        await session.execute(
            select(InboxItem, Persona).join(Persona, Persona.id == InboxItem.persona_id).where(InboxItem.id == item_id)
        )
    ).first()
    if row is None:
        return False
    item, persona = row
    # An answer in a private conversation answers the person's earlier messages there too.
    for earlier in await _unanswered_before(session, item):
        await _answer(session, earlier, persona, at=at, staff_id=staff_id, source=source, delivery_id=delivery_id)
    await _answer(session, item, persona, at=at, staff_id=staff_id, source=source, delivery_id=delivery_id)
    return True


async def _unanswered_before(session: AsyncSession, item: InboxItem) -> list[InboxItem]:
    if item.kind != InboxKind.MESSAGE or item.thread_remote_id is None:
        return []
    found = await session.scalars(
        select(InboxItem).where(
            InboxItem.account_id == item.account_id,
            InboxItem.kind == InboxKind.MESSAGE,
            InboxItem.thread_remote_id == item.thread_remote_id,
            InboxItem.received_at <= item.received_at,
            InboxItem.id != item.id,
            InboxItem.first_response_at.is_(None),
        )
    )
    return list(found.all())


async def _answer(
    session: AsyncSession,
    item: InboxItem,
    persona: Persona,
    *,
    at: datetime,
    staff_id: uuid.UUID | None,
    source: str,
    delivery_id: uuid.UUID | None,
) -> None:
    item_id, received_at, status = item.id, item.received_at, item.status
    first = await _set_first_response(session, item_id, at)
    status_after = InboxStatus.CLOSED if status == InboxStatus.CLOSED else InboxStatus.ANSWERED
    await session.execute(
        update(InboxItem)
        .where(InboxItem.id == item_id)
        .values(status=status_after, last_response_at=at, response_due_at=None, replying_id=None, replying_until=None)
        .execution_options(synchronize_session=False)
    )
    session.add(
        InboxEvent(
            item_id=item_id,
            persona_id=persona.id,
            staff_id=staff_id,
            kind="first_response" if first else "response",
            at=at,
            seconds=max(0.0, (at - received_at).total_seconds()),
            business_seconds=business_seconds(persona, received_at, at),
            detail={"source": source, **({"delivery_id": str(delivery_id)} if delivery_id else {})},
        )
    )


async def _set_first_response(session: AsyncSession, item_id: uuid.UUID, at: datetime) -> bool:
    result = await session.execute(
        update(InboxItem)
        .where(InboxItem.id == item_id, InboxItem.first_response_at.is_(None))
        .values(first_response_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def reply_published(session: AsyncSession, delivery_id: uuid.UUID, at: datetime) -> bool:
    """A delivery went to ``published``: when it is a reply, its item is answered (by the post's author)."""
    row = (
        await session.execute(
            select(Delivery.in_reply_to_id, Post.author_id)
            .join(Post, Post.id == Delivery.post_id)
            .where(Delivery.id == delivery_id)
        )
    ).first()
    if row is None or row.in_reply_to_id is None:
        return False
    return await record_response(
        session, row.in_reply_to_id, at=at, staff_id=row.author_id, source="porte-voix", delivery_id=delivery_id
    )
