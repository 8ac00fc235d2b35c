"""The kill switch: a persona paused (crisis, mourning, election silence) sends nothing until resumed.

The dispatcher and the worker read ``Persona.paused`` (``core.publishing.outbox``); this module
holds the switch itself and what it holds back.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import record
from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Persona
from core.errors import N_
from core.publishing.compose import PublishingError, StaffActor, load_persona


async def pause_persona(session: AsyncSession, actor: StaffActor, persona_id: uuid.UUID, *, reason: str) -> Persona:
    """Nothing of this persona goes out until resumed (crisis, mourning, election silence)."""
    if actor.role != Role.MANAGER:
        raise PublishingError(N_("pausing a persona needs the manager role"))
    if not reason.strip():
        raise PublishingError(N_("say why the persona is paused"), field="reason")
    persona = await load_persona(session, persona_id)
    persona.paused, persona.pause_reason = True, reason
    record(session, actor.actor, "persona.paused", "persona", persona.id, persona_id=persona.id, reason=reason)
    return persona


async def resume_persona(session: AsyncSession, actor: StaffActor, persona_id: uuid.UUID) -> Persona:
    if actor.role != Role.MANAGER:
        raise PublishingError(N_("resuming a persona needs the manager role"))
    persona = await load_persona(session, persona_id)
    reason = persona.pause_reason
    persona.paused, persona.pause_reason = False, None
    record(
        session, actor.actor, "persona.resumed", "persona", persona.id, persona_id=persona.id, before={"reason": reason}
    )
    return persona


async def paused_deliveries(session: AsyncSession, persona_id: uuid.UUID) -> list[Delivery]:
    """Deliveries held by a pause: due, or becoming due, while the persona is paused."""
    query = (
        select(Delivery)
        .join(Account)
        .where(Account.persona_id == persona_id, Delivery.state.in_((DeliveryState.SCHEDULED, DeliveryState.QUEUED)))
        .order_by(Delivery.scheduled_at)
        .options(selectinload(Delivery.account), selectinload(Delivery.post))
    )
    return list((await session.scalars(query)).all())
