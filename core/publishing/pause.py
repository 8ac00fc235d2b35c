"""The kill switch: a persona paused (crisis, mourning, election silence) sends nothing until resumed.

The dispatcher and the worker read ``Persona.paused`` (``core.publishing.outbox``); this module
holds the switch itself, what it holds back, and the way back:

- who may pull it is the permission table's ``Action.PAUSE`` (managers; site administrators on
  any persona, assigned or not — a persona without a manager would otherwise have nobody);
- a resume never flushes: the held deliveries whose time passed during the pause ("overdue")
  each need a choice — send now, reschedule, cancel — and the choices and the resume are applied
  together (the caller's one transaction), so nothing overdue goes out unchosen.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import Actor, record
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryState, Role
from core.db.models import Account, Assignment, Delivery, Persona, Staff
from core.db.types import utcnow
from core.errors import N_, Conflict
from core.people.permissions import PERMISSIONS, Action, allows, require
from core.publishing import compose
from core.publishing.compose import PublishingError, StaffActor, load_persona
from core.publishing.outbox import DISPATCH_HORIZON
from core.publishing.states import move, record_event

HELD = (DeliveryState.SCHEDULED, DeliveryState.QUEUED)


class PauseActor(msgspec.Struct, frozen=True, kw_only=True):
    """Who pulls the switch: a staff member, their role on the persona (None: not assigned) and
    whether they are a site administrator (``Action.PAUSE`` is open to them without an assignment)."""

    id: uuid.UUID
    label: str
    role: Role | None
    site_admin: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, label=self.label)


def may_pause(role: Role | None, *, site_admin: bool = False) -> bool:
    """What the permission table says of pausing or resuming (the pages ask it for their buttons)."""
    return allows(role, Action.PAUSE) or (site_admin and PERMISSIONS[Action.PAUSE].admin_without_assignment)


def _acting(actor: StaffActor | PauseActor) -> StaffActor:
    """Refuse unless the table allows it; the staff actor the resume's choices are made as (a site
    administrator without the role acts with the least role the table asks for the switch)."""
    site_admin = isinstance(actor, PauseActor) and actor.site_admin
    if not may_pause(actor.role, site_admin=site_admin):
        require(actor.role, Action.PAUSE)
    if actor.id is None:  # pragma: no cover - Porte-voix itself never pulls the switch
        raise PublishingError(N_("only a person pauses or resumes a persona"))
    role = actor.role if allows(actor.role, Action.PAUSE) else None
    return StaffActor(id=actor.id, label=actor.label, role=role or PERMISSIONS[Action.PAUSE].minimum)


async def pause_persona(
    session: AsyncSession, actor: StaffActor | PauseActor, persona_id: uuid.UUID, *, reason: str
) -> Persona:
    """Nothing of this persona goes out until resumed (crisis, mourning, election silence)."""
    _acting(actor)
    if not reason.strip():
        raise PublishingError(N_("say why the persona is paused"), field="reason")
    persona = await load_persona(session, persona_id)
    persona.paused, persona.pause_reason = True, reason
    record(session, actor.actor, "persona.paused", "persona", persona.id, persona_id=persona.id, reason=reason)
    return persona


# ------------------------------------------------------------------ what a pause holds
async def paused_deliveries(session: AsyncSession, persona_id: uuid.UUID) -> list[Delivery]:
    """Deliveries held by a pause: due, or becoming due, while the persona is paused."""
    query = (
        select(Delivery)
        .join(Account)
        .where(Account.persona_id == persona_id, Delivery.state.in_(HELD))
        .order_by(Delivery.scheduled_at)
        .options(selectinload(Delivery.account), selectinload(Delivery.post))
    )
    return list((await session.scalars(query)).all())


def _due_at(delivery: Delivery) -> datetime | None:
    """When the dispatcher would hand the delivery over (its next attempt, else its time)."""
    return delivery.next_attempt_at or delivery.scheduled_at


async def overdue_deliveries(
    session: AsyncSession, persona_id: uuid.UUID, *, now: datetime | None = None
) -> list[Delivery]:
    """The held deliveries that a resume would send at once: their time passed during the pause
    (a "publish now" made while paused included). The same horizon as the dispatcher's."""
    horizon = (now or utcnow()) + DISPATCH_HORIZON
    held = await paused_deliveries(session, persona_id)
    return [d for d in held if (due := _due_at(d)) is not None and due <= horizon]


# ------------------------------------------------------------------ the way back
class Choice(enum.StrEnum):
    """What becomes of one overdue delivery when the persona resumes."""

    SEND_NOW = "send_now"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"


class OverdueChoice(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: uuid.UUID
    choice: Choice
    #: the new time (aware) when rescheduling
    when: datetime | None = None
    #: why, when canceling (kept in the delivery's history)
    reason: str = ""


class OverdueWithoutChoice(Conflict):
    """A resume refused: overdue deliveries wait for a choice (``overdue``, by time)."""

    def __init__(self, overdue: list[Delivery]) -> None:
        super().__init__(
            N_("%(count)s overdue deliveries wait for a choice: send now, reschedule or cancel"),
            params={"count": len(overdue)},
            code="overdue_without_choice",
            extra={"overdue": [str(d.id) for d in overdue]},
        )
        self.overdue = overdue


async def resume_persona(
    session: AsyncSession,
    actor: StaffActor | PauseActor,
    persona_id: uuid.UUID,
    *,
    choices: Sequence[OverdueChoice] = (),
    registry: ChannelRegistry | None = None,
    now: datetime | None = None,
) -> Persona:
    """Publishing goes on, each overdue delivery as chosen (all in the caller's transaction).

    Refused (409, :class:`OverdueWithoutChoice`) while an overdue delivery has no choice, and when
    a choice names a delivery that is not overdue in this pause. Rescheduling checks the policy
    at the new time (``compose.reschedule``, hence ``registry``); canceling is ``compose.cancel``.
    Resuming a persona that is not paused changes nothing.
    """
    staff = _acting(actor)
    persona = await load_persona(session, persona_id)
    if not persona.paused:
        return persona
    overdue = await overdue_deliveries(session, persona.id, now=now)
    chosen = {c.delivery_id: c for c in choices}
    if set(chosen) - {d.id for d in overdue}:
        raise Conflict(
            N_("a choice names a delivery that is not overdue in this pause: reload the page"), code="not_overdue"
        )
    if missing := [d for d in overdue if d.id not in chosen]:
        raise OverdueWithoutChoice(missing)
    counts = dict.fromkeys(Choice, 0)
    for delivery in overdue:
        choice = chosen[delivery.id]
        await _apply(session, registry, staff, persona, delivery, choice)
        counts[choice.choice] += 1
    reason = persona.pause_reason
    persona.paused, persona.pause_reason = False, None
    record(
        session,
        actor.actor,
        "persona.resumed",
        "persona",
        persona.id,
        persona_id=persona.id,
        before={"reason": reason},
        after={"overdue": {choice.value: n for choice, n in counts.items()}} if overdue else None,
    )
    return persona


async def _apply(
    session: AsyncSession,
    registry: ChannelRegistry | None,
    staff: StaffActor,
    persona: Persona,
    delivery: Delivery,
    choice: OverdueChoice,
) -> None:
    if choice.choice == Choice.SEND_NOW:
        # it is due: the dispatcher takes it as soon as the resume is committed
        record_event(session, delivery.id, "released", actor=staff.id, reason="persona_resumed")
        record(session, staff.actor, "delivery.released", "delivery", delivery.id, persona_id=persona.id)
        return
    if choice.choice == Choice.RESCHEDULE and choice.when is None:
        raise PublishingError(N_("choose the new date and time of each post to reschedule"), field="scheduled_at")
    if delivery.state == DeliveryState.QUEUED:
        # handed to the queue just before the pause: taken back, as the worker would have held it
        if not await move(
            session,
            delivery,
            to=DeliveryState.SCHEDULED,
            from_=(DeliveryState.QUEUED,),
            event="held",
            detail={"reason": "persona_paused"},
        ):
            raise PublishingError(N_("the delivery changed meanwhile; reload"))
    if choice.choice == Choice.RESCHEDULE:
        if registry is None:  # pragma: no cover - a caller's mistake
            raise TypeError("rescheduling needs the channel registry")
        assert choice.when is not None
        await compose.reschedule(session, registry, staff, delivery.id, choice.when)
    else:
        await compose.cancel(session, staff, delivery.id, reason=choice.reason)


# ------------------------------------------------------------------ who can pull the switch
async def personas_without_manager(session: AsyncSession, persona_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The personas nobody active manages: only a site administrator can pause them (flagged on the pages)."""
    wanted = set(persona_ids)
    if not wanted:
        return set()
    managed = await session.scalars(
        select(Assignment.persona_id)
        .join(Staff, Staff.id == Assignment.staff_id)
        .where(Assignment.persona_id.in_(wanted), Assignment.role == Role.MANAGER, Staff.is_active.is_(True))
    )
    return wanted - set(managed.all())
