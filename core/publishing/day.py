"""A persona's day: what a team sees first — what goes out today and when (local times), today
against the cadence, what waits for approval, what failed, what needs an answer in the inbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, Persona
from core.db.types import utcnow
from core.inbox.queries import deadlines
from core.policy import day_counts, local_day_bounds

#: what is on its way or gone today (a draft or a post waiting for approval is not going out)
GOING = (DeliveryState.SCHEDULED, DeliveryState.QUEUED, DeliveryState.PUBLISHING, DeliveryState.PUBLISHED)


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery of today, at its local time in the persona's time zone."""

    delivery: Delivery
    local_time: str  # "HH:MM"


class PersonaDay(msgspec.Struct, frozen=True, kw_only=True):
    """What a team sees first: today's deliveries per network against the cadence, and what waits."""

    counts: dict[str, tuple[int, int]]  # channel -> (posts, reposts) today, local day
    going_out: list[Outgoing]  # today's, by time: scheduled, on their way, published
    waiting_approval: int
    needing_attention: list[Delivery]  # failed or uncertain
    #: open inbox items past their answer's due time, within its last hour, near a legal deadline
    needs_answer: dict[str, int]


async def persona_day(
    session: AsyncSession, persona: Persona, *, now: datetime | None = None, see_messages: bool = False
) -> PersonaDay:
    now = now or utcnow()
    counts = await day_counts(session, persona, now)
    start, end = local_day_bounds(now, persona.timezone)
    when = func.coalesce(Delivery.published_at, Delivery.scheduled_at)
    today = (
        await session.scalars(
            select(Delivery)
            .join(Account)
            .where(
                Account.persona_id == persona.id,
                Delivery.kind != DeliveryKind.REPLY,  # answers are the inbox's
                Delivery.state.in_(GOING),
                when >= start,
                when < end,
            )
            .order_by(when, Delivery.id)
            .limit(100)
            .options(selectinload(Delivery.account), selectinload(Delivery.post))
        )
    ).all()
    zone = ZoneInfo(persona.timezone)
    going_out = [
        Outgoing(delivery=d, local_time=(d.published_at or d.scheduled_at or now).astimezone(zone).strftime("%H:%M"))
        for d in today
    ]
    waiting = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(Account)
        .where(Account.persona_id == persona.id, Delivery.state == DeliveryState.PENDING_APPROVAL)
    )
    attention = (
        await session.scalars(
            select(Delivery)
            .join(Account)
            .where(
                Account.persona_id == persona.id, Delivery.state.in_((DeliveryState.FAILED, DeliveryState.UNCERTAIN))
            )
            .order_by(Delivery.updated_at.desc())
            .limit(20)
            .options(selectinload(Delivery.account), selectinload(Delivery.post))
        )
    ).all()
    return PersonaDay(
        counts={channel: (c.posts, c.reposts) for channel, c in counts.items()},
        going_out=going_out,
        waiting_approval=int(waiting or 0),
        needing_attention=list(attention),
        needs_answer=await deadlines(session, persona.id, see_messages=see_messages, now=now),
    )
