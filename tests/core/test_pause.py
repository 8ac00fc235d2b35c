"""The kill switch: who pulls it (the permission table: managers, site admins on any persona), and a
resume that never flushes — each overdue held delivery needs a choice, applied with the resume or not at all."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.audit import Actor
from core.db.enums import DeliveryState, Role
from core.db.models import Account, AuditEvent, Delivery, DeliveryEvent, Persona, Staff
from core.db.types import utcnow
from core.errors import Conflict
from core.people.permissions import NotAllowed
from core.people.staff import assign, create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import ComposeRequest, PublishingError, StaffActor, compose
from core.publishing.pause import (
    Choice,
    OverdueChoice,
    OverdueWithoutChoice,
    PauseActor,
    overdue_deliveries,
    pause_persona,
    personas_without_manager,
    resume_persona,
)
from core.runtime import Runtime
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio
TEXT = "Les marchés de producteurs reviennent ce week-end."


class World:
    def __init__(self, runtime: Runtime, region: Persona, president: Persona, people: dict[str, Staff]) -> None:
        self.runtime, self.region, self.president, self.people = runtime, region, president, people

    def actor(self, name: str, role: Role) -> StaffActor:
        return StaffActor(id=self.people[name].id, label=name, role=role)

    def admin(self, role: Role | None = None) -> PauseActor:
        return PauseActor(id=self.people["admin"].id, label="admin", role=role, site_admin=True)

    async def scheduled(self, channel: str, hours: float) -> uuid.UUID:
        """A delivery scheduled by a manager ``hours`` from now on the Région's account on ``channel``."""
        async with self.runtime.session() as session:
            account = await session.scalar(
                select(Account).where(Account.persona_id == self.region.id, Account.channel == channel)
            )
            assert account is not None
            result = await compose(
                session,
                self.runtime.channels,
                self.actor("dircom", Role.MANAGER),
                ComposeRequest(
                    persona_id=self.region.id,
                    account_ids=(account.id,),
                    text=f"{TEXT} ({channel}, {hours})",
                    scheduled_at=utcnow() + timedelta(hours=hours),
                ),
            )
            assert result.deliveries[0].state == DeliveryState.SCHEDULED
            return result.deliveries[0].id

    async def falls_due(self, *ids: uuid.UUID, state: DeliveryState = DeliveryState.SCHEDULED) -> None:
        """Time passes during the pause: the deliveries' time is now behind us (in the order given)."""
        async with self.runtime.session() as session:
            for minutes, delivery_id in enumerate(ids):
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id)
                    .values(scheduled_at=utcnow() - timedelta(hours=1) + timedelta(minutes=minutes), state=state)
                )

    async def delivery(self, delivery_id: uuid.UUID) -> Delivery:
        async with self.runtime.sessions() as session:
            delivery = await session.get(Delivery, delivery_id)
            assert delivery is not None
            return delivery

    async def paused(self) -> bool:
        async with self.runtime.sessions() as session:
            return bool(await session.scalar(select(Persona.paused).where(Persona.id == self.region.id)))


@pytest.fixture
async def world(runtime: Runtime) -> World:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        people = {
            name: await create_staff(
                session,
                email=f"{name}@pause.fr",
                display_name=name,
                password="long enough pw",
                actor=Actor.system("t"),
                is_admin=name == "admin",
            )
            for name in ("dircom", "cm", "admin")
        }
        personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        await assign(session, people["dircom"], personas["region-occitanie"], Role.MANAGER, Actor.system("t"))
        await assign(session, people["cm"], personas["region-occitanie"], Role.EDITOR, Actor.system("t"))
    return World(runtime, personas["region-occitanie"], personas["presidente-region"], people)


async def test_a_resume_lists_the_overdue_and_applies_each_choice_with_the_resume(world: World) -> None:
    runtime = world.runtime
    send, move_it, drop, later = (
        await world.scheduled("x", 1),
        await world.scheduled("facebook", 1.5),
        await world.scheduled("x", 2),
        await world.scheduled("facebook", 30),
    )
    manager = world.actor("dircom", Role.MANAGER)
    async with runtime.session() as session:
        await pause_persona(session, manager, world.region.id, reason="Deuil régional")
    await world.falls_due(send, move_it, drop)
    async with runtime.sessions() as session:
        overdue = [d.id for d in await overdue_deliveries(session, world.region.id)]
    assert overdue == [send, move_it, drop]  # by time; the one due tomorrow is not overdue

    # no choice, or a choice missing: refused, and nothing changes
    for choices in ([], [OverdueChoice(delivery_id=send, choice=Choice.SEND_NOW)]):
        with pytest.raises(OverdueWithoutChoice) as refused:
            async with runtime.session() as session:
                await resume_persona(session, manager, world.region.id, choices=choices, registry=runtime.channels)
        assert refused.value.status == 409 and refused.value.code == "overdue_without_choice"
        chosen = {c.delivery_id for c in choices}
        assert refused.value.extra["overdue"] == [str(d) for d in overdue if d not in chosen]
        assert await world.paused()
    # a choice about a delivery the pause does not hold overdue: refused
    with pytest.raises(Conflict, match="not overdue"):
        async with runtime.session() as session:
            await resume_persona(
                session,
                manager,
                world.region.id,
                choices=[OverdueChoice(delivery_id=d, choice=Choice.SEND_NOW) for d in (*overdue, later)],
                registry=runtime.channels,
            )

    new_time = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    async with runtime.session() as session:
        await resume_persona(
            session,
            manager,
            world.region.id,
            choices=[
                OverdueChoice(delivery_id=send, choice=Choice.SEND_NOW),
                OverdueChoice(delivery_id=move_it, choice=Choice.RESCHEDULE, when=new_time),
                OverdueChoice(delivery_id=drop, choice=Choice.CANCEL, reason="plus d'actualité"),
            ],
            registry=runtime.channels,
        )
    assert not await world.paused()
    sent = await world.delivery(send)
    assert sent.state == DeliveryState.SCHEDULED and sent.scheduled_at is not None and sent.scheduled_at < utcnow()
    moved = await world.delivery(move_it)
    assert moved.state == DeliveryState.SCHEDULED and moved.scheduled_at == new_time
    assert (await world.delivery(drop)).state == DeliveryState.CANCELED
    assert (await world.delivery(later)).state == DeliveryState.SCHEDULED
    async with runtime.sessions() as session:
        kinds = (await session.scalars(select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == send))).all()
        resumed = await session.scalar(select(AuditEvent).where(AuditEvent.action == "persona.resumed"))
    assert "released" in kinds
    assert resumed is not None and resumed.after == {"overdue": {"send_now": 1, "reschedule": 1, "cancel": 1}}


async def test_one_refused_choice_refuses_the_whole_resume(world: World) -> None:
    runtime = world.runtime
    first, second = await world.scheduled("x", 1), await world.scheduled("facebook", 1)
    manager = world.actor("dircom", Role.MANAGER)
    async with runtime.session() as session:
        await pause_persona(session, manager, world.region.id, reason="Silence électoral")
    await world.falls_due(first, second, state=DeliveryState.QUEUED)  # one handed to the queue before the pause
    with pytest.raises(PublishingError, match="in the past"):
        async with runtime.session() as session:
            await resume_persona(
                session,
                manager,
                world.region.id,
                choices=[
                    OverdueChoice(delivery_id=first, choice=Choice.CANCEL),
                    OverdueChoice(delivery_id=second, choice=Choice.RESCHEDULE, when=utcnow() - timedelta(days=1)),
                ],
                registry=runtime.channels,
            )
    assert await world.paused()
    assert (await world.delivery(first)).state == DeliveryState.QUEUED  # the cancel went with the refusal
    async with runtime.session() as session:
        await resume_persona(
            session,
            manager,
            world.region.id,
            choices=[OverdueChoice(delivery_id=d, choice=Choice.CANCEL) for d in (first, second)],
            registry=runtime.channels,
        )
    assert [(await world.delivery(d)).state for d in (first, second)] == [DeliveryState.CANCELED] * 2


async def test_without_overdue_a_resume_is_direct(world: World) -> None:
    later = await world.scheduled("x", 5)
    manager = world.actor("dircom", Role.MANAGER)
    async with world.runtime.session() as session:
        await pause_persona(session, manager, world.region.id, reason="Crise")
    async with world.runtime.session() as session:
        await resume_persona(session, manager, world.region.id)
    assert not await world.paused() and (await world.delivery(later)).state == DeliveryState.SCHEDULED


async def test_the_permission_table_says_who_pulls_the_switch(world: World) -> None:
    runtime = world.runtime
    with pytest.raises(NotAllowed, match="manager"):
        async with runtime.session() as session:
            await pause_persona(session, world.actor("cm", Role.EDITOR), world.region.id, reason="non")
    with pytest.raises(NotAllowed):
        async with runtime.session() as session:
            await pause_persona(
                session, PauseActor(id=world.people["cm"].id, label="cm", role=None), world.region.id, reason="non"
            )
    # a site administrator pauses any persona: the president's has no manager at all
    for role in (None, Role.VIEWER):
        async with runtime.session() as session:
            await pause_persona(session, world.admin(role), world.president.id, reason="Deuil régional")
        async with runtime.session() as session:
            await resume_persona(session, world.admin(role), world.president.id)
    async with runtime.sessions() as session:
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.persona_id == world.president.id))
        ).all()
    assert sorted(a for a in actions if a.startswith("persona.p") or a.startswith("persona.r")) == [
        "persona.paused",
        "persona.paused",
        "persona.resumed",
        "persona.resumed",
    ]
    assert not await world.paused()


async def test_a_persona_without_an_active_manager_is_flagged(world: World) -> None:
    ids = [world.region.id, world.president.id]
    async with world.runtime.sessions() as session:
        assert await personas_without_manager(session, ids) == {world.president.id}
    async with world.runtime.session() as session:
        dircom = await session.get(Staff, world.people["dircom"].id)
        assert dircom is not None
        dircom.is_active = False
    async with world.runtime.sessions() as session:
        assert await personas_without_manager(session, ids) == set(ids)
        assert await personas_without_manager(session, []) == set()
