"""A persona's day: what a team sees first (today against the cadence, what waits, what failed)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.db.enums import DeliveryState
from core.db.models import Account, Delivery, Persona
from core.db.types import utcnow
from core.policy import day_counts


class PersonaDay(msgspec.Struct, frozen=True, kw_only=True):
    """What a team sees first: today's deliveries per network against the cadence, and what waits."""

    counts: dict[str, tuple[int, int]]  # channel -> (posts, reposts) today, local day
    waiting_approval: int
    needing_attention: list[Delivery]  # failed or uncertain


async def persona_day(session: AsyncSession, persona: Persona, *, now: datetime | None = None) -> PersonaDay:
    counts = await day_counts(session, persona, now or utcnow())
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
        waiting_approval=int(waiting or 0),
        needing_attention=list(attention),
    )
