"""Crisis posture on both databases: keywords, vigilance for the persona's départements and volume
spikes raise their alert and propose one posture; a manager accepts (the promotional posts held by
the kill switch, the safety templates offered), declines or ends it (the pause's resume), audited."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from core.audit import Actor
from core.db.enums import DeliveryState, Role
from core.db.models import (
    Account,
    AuditEvent,
    CrisisPosture,
    Notification,
    Persona,
    Post,
    Staff,
    UsageAlert,
    VeilleItem,
    VeilleSource,
)
from core.db.types import utcnow
from core.errors import Conflict
from core.notifications import texts
from core.people.permissions import NotAllowed
from core.people.staff import assign, create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.publishing.pause import Choice, OverdueChoice, OverdueWithoutChoice, PauseActor
from core.runtime import Runtime
from core.veille import crisis, departements
from core.veille.posture import SAFETY
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio
REGION = "region-occitanie"
#: Friday 4 December 2026, 11:00 in Paris
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


class World:
    def __init__(self, runtime: Runtime, region: Persona, people: dict[str, Staff], source: uuid.UUID) -> None:
        self.runtime, self.region, self.people, self.source = runtime, region, people, source

    def actor(self, name: str, role: Role | None) -> PauseActor:
        return PauseActor(id=self.people[name].id, label=name, role=role, site_admin=name == "admin")

    async def item(self, title: str, *, at: datetime = NOW, **values: Any) -> VeilleItem:
        async with self.runtime.session() as session:
            item = VeilleItem(
                source_id=self.source,
                persona_id=self.region.id,
                dedup_key=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                url=values.pop("url", f"https://presse.example/{uuid.uuid4().hex[:6]}"),
                title=title,
                summary_text=values.pop("summary_text", ""),
                captured_at=at,
                published_at=values.pop("published_at", None),
                content_hash=hashlib.sha256(title.encode()).hexdigest(),
                **values,
            )
            session.add(item)
        return item

    async def assess(self, *items: VeilleItem, now: datetime = NOW) -> crisis.CrisisRun:
        async with self.runtime.session() as session:
            persona = await session.get(Persona, self.region.id)
            assert persona is not None
            rows = [await session.get(VeilleItem, i.id) for i in items]
            return await crisis.assess_items(session, persona, rows, settings=self.runtime.settings, now=now)

    async def spike(self, now: datetime) -> crisis.CrisisRun:
        run = crisis.CrisisRun()
        async with self.runtime.session() as session:
            persona = await session.get(Persona, self.region.id)
            assert persona is not None
            await crisis.check_spike(session, persona, settings=self.runtime.settings, now=now, run=run)
        return run

    async def alerts(self, kind: str) -> list[UsageAlert]:
        async with self.runtime.sessions() as session:
            query = select(UsageAlert).where(UsageAlert.kind == kind).order_by(UsageAlert.raised_at)
            return list((await session.scalars(query)).all())

    async def postures(self) -> list[CrisisPosture]:
        async with self.runtime.sessions() as session:
            return list((await session.scalars(select(CrisisPosture).order_by(CrisisPosture.proposed_at))).all())

    async def scheduled(self, text: str, hours: float) -> uuid.UUID:
        async with self.runtime.session() as session:
            account = await session.scalar(
                select(Account).where(Account.persona_id == self.region.id, Account.channel == "facebook")
            )
            assert account is not None
            manager = StaffActor(id=self.people["dircom"].id, label="dircom", role=Role.MANAGER)
            result = await compose(
                session,
                self.runtime.channels,
                manager,
                ComposeRequest(
                    persona_id=self.region.id,
                    account_ids=(account.id,),
                    text=text,
                    scheduled_at=utcnow() + timedelta(hours=hours),
                ),
            )
            assert result.deliveries[0].state == DeliveryState.SCHEDULED
            return result.deliveries[0].id


@pytest.fixture
async def world(runtime: Runtime) -> AsyncIterator[World]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        people = {}
        for name, role in (("dircom", Role.MANAGER), ("cm", Role.EDITOR), ("admin", None)):
            people[name] = await create_staff(
                session,
                email=f"{name}@crise.fr",
                display_name=name.title(),
                password="long enough pw",
                actor=Actor.system("t"),
                is_admin=name == "admin",
            )
            if role is not None:
                await assign(session, people[name], personas[REGION], role, Actor.system("t"))
        source = VeilleSource(
            persona_id=personas[REGION].id,
            kind="feed",
            plugin="rss",
            target="https://presse.example/rss",
            label="Presse régionale",
        )
        session.add(source)
        await session.flush()
        source_id = source.id
    yield World(runtime, personas[REGION], people, source_id)


# ------------------------------------------------------------------ signals


def test_departements_by_code_and_by_name() -> None:
    listed = ["11", "34", "43"]
    assert departements.match("Hérault", listed) == "34"
    assert departements.match("herault", listed) == "34"
    assert departements.match("FR-34", listed) == "34"
    assert departements.match("Aude amont", listed) == "11"
    assert departements.match("Haute-Loire", listed) == "43"
    assert departements.match("Loire-Atlantique", ["42"]) is None  # "Loire" inside a longer name
    assert departements.match("Gironde", listed) is None
    assert departements.match("134 route de Lodève", listed) is None
    assert departements.match(None, listed) is None


async def test_a_crisis_keyword_raises_an_alert_and_proposes_a_posture_once(world: World) -> None:
    item = await world.item("Inondations à Béziers : routes coupées", summary_text="La crue de l'Orb…")
    run = await world.assess(item)
    assert (run.raised, run.proposed) == (2, 1)  # "inondation" and "crue", one posture
    alerts = await world.alerts("crisis_keyword")
    assert sorted(a.subject for a in alerts) == ["crue", "inondation"]
    assert alerts[0].detail["title"].startswith("Inondations")
    [posture] = await world.postures()
    assert (posture.state, posture.trigger, posture.item_id) == ("proposed", "keyword", item.id)
    assert [s["keyword"] for s in posture.detail["signals"]] == ["inondation", "crue"]
    assert posture.detail["inbox_targets"]["first_response_minutes"] < 240
    async with world.runtime.sessions() as session:
        stored = await session.get(VeilleItem, item.id)
        assert stored is not None and stored.keywords == ["inondation", "crue"]  # for the board's filter
        told = (await session.scalars(select(Notification).where(Notification.kind == "usage_alert"))).all()
        assert {n.staff_id for n in told} == {world.people["dircom"].id, world.people["admin"].id}
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "crisis.posture_proposed"))
        assert event is not None and event.entity_id == str(posture.id)
    # the notification leads to the posture and reads as a sentence
    detail = {**alerts[0].detail, "alert": "crisis_keyword"}
    assert texts.path("usage_alert", alerts[0].id, world.region.id, detail).endswith("/veille/crisis")
    assert "Inondations à Béziers" in texts.body("usage_alert", detail, "en")

    # the collector, then the cron, on the same item: nothing more
    again = await world.assess(item, now=NOW + timedelta(minutes=5))
    assert (again.raised, again.proposed) == (0, 0)
    assert len(await world.postures()) == 1


async def test_the_collector_s_keywords_are_taken_as_given(world: World) -> None:
    item = await world.item("Un titre sans le mot", keywords=["évacuation"])
    await world.assess(item)
    [alert] = await world.alerts("crisis_keyword")
    assert alert.detail["keyword"] == "évacuation"


async def test_what_a_collection_stored_is_assessed_at_once(world: World) -> None:
    calm = await world.item("Fête de la musique à Albi")
    orange = await world.item("Vigilance orange orages", severity="orange", area="Aude")
    run = await crisis.assess_collected(world.runtime, [calm.id, orange.id], now=NOW)
    assert (run.raised, run.proposed) == (1, 1)
    [alert] = await world.alerts("vigilance")
    assert alert.subject == "11:orange"
    assert (await crisis.assess_collected(world.runtime, [], now=NOW)).signals == 0


async def test_an_orange_vigilance_for_a_listed_departement_raises(world: World) -> None:
    yellow = await world.item("Vigilance jaune orages", severity="yellow", area="Hérault")
    elsewhere = await world.item("Vigilance orange vent violent", severity="orange", area="Gironde")
    assert (await world.assess(yellow, elsewhere)).raised == 0
    assert await world.alerts("vigilance") == []
    assert await world.postures() == []

    orange = await world.item(
        "Vigilance orange pluie-inondation", severity="orange", area="Hérault", url="https://meteoalarm.example/34"
    )
    run = await world.assess(orange)
    assert (run.raised, run.proposed) == (1, 1)
    [alert] = await world.alerts("vigilance")
    assert alert.subject == "34:orange"
    assert (alert.detail["level"], alert.detail["departement_name"]) == ("orange", "Hérault")
    assert texts.body("usage_alert", {**alert.detail, "alert": "vigilance"}, "en").startswith("Orange vigilance")

    # red for the same département: a new alert, the same open posture
    red = await world.item("Vigilance rouge crues", severity="red", area="Hérault aval")
    run = await world.assess(red)
    assert (run.raised, run.proposed, run.joined) == (2, 0, 2)  # the red vigilance, and the keyword "crue"
    [posture] = await world.postures()
    assert posture.trigger == "vigilance"
    assert [s["kind"] for s in posture.detail["signals"]] == ["vigilance", "vigilance", "crisis_keyword"]
    assert texts.body("usage_alert", {**posture.detail["signals"][1], "alert": "vigilance"}, "en").startswith("Red")


async def test_a_spike_raises_once_within_the_cool_down(world: World) -> None:
    for day in range(1, 8):
        for n in range(3):
            await world.item(f"Actualité {day}-{n}", at=NOW - timedelta(days=day, hours=n + 1))
    assert (await world.spike(NOW)).raised == 0  # a quiet day is no spike
    burst = [await world.item(f"Rumeur {n}", at=NOW - timedelta(minutes=5 * n + 1)) for n in range(30)]

    first = await world.spike(NOW)
    assert (first.raised, first.proposed) == (1, 1)
    [alert] = await world.alerts("volume_spike")
    assert (alert.detail["last24"], alert.detail["mean"]) == (30, 3.0)
    assert (await world.spike(NOW + timedelta(minutes=30))).raised == 0  # still the same spike: kept

    # the burst goes (dismissed items purged), the alert resolves; it comes back within the hour
    async with world.runtime.session() as session:
        await session.execute(delete(VeilleItem).where(VeilleItem.id.in_([i.id for i in burst])))
    assert (await world.spike(NOW + timedelta(minutes=40))).resolved == 1
    for n in range(30):
        await world.item(f"Rumeur bis {n}", at=NOW + timedelta(minutes=41))
    assert (await world.spike(NOW + timedelta(minutes=50))).raised == 0  # cool-down: 60 min after the first
    later = await world.spike(NOW + timedelta(minutes=61))
    assert (later.raised, later.proposed, later.joined) == (1, 0, 1)
    [alert] = await world.alerts("volume_spike")  # the day's one row, opened again
    assert alert.resolved_at is None
    assert len(await world.postures()) == 1


async def test_a_flat_week_raises_no_spike(world: World) -> None:
    for day in range(0, 8):
        for n in range(10):
            await world.item(f"Actualité {day}-{n}", at=NOW - timedelta(days=day, hours=n, minutes=1))
    assert (await world.spike(NOW)).raised == 0
    assert await world.alerts("volume_spike") == []


async def test_usage_alerts_leave_the_watch_s_alerts_alone(world: World) -> None:
    from core.usage import alerts as usage

    await world.assess(await world.item("Incendie à Nîmes"))
    await usage.raise_usage_alerts(world.runtime, NOW + timedelta(minutes=15))
    [alert] = await world.alerts("crisis_keyword")
    assert alert.resolved_at is None


# ------------------------------------------------------------------ decisions


async def _proposed(world: World) -> CrisisPosture:
    item = await world.item("Vigilance orange crues", severity="orange", area="Aude", url="https://vigicrues.example/")
    await world.assess(item, now=utcnow())
    [posture] = await world.postures()
    return posture


async def test_accepting_holds_the_promotional_posts_with_the_kill_switch(world: World) -> None:
    promo = await world.scheduled("Venez découvrir les marchés de Noël de la Région !", hours=5)
    posture = await _proposed(world)
    async with world.runtime.session() as session:
        with pytest.raises(NotAllowed):
            await crisis.accept(session, world.actor("cm", Role.EDITOR), world.region.id, posture.id)
    async with world.runtime.session() as session:
        accepted = await crisis.accept(session, world.actor("dircom", Role.MANAGER), world.region.id, posture.id)
        assert accepted.held_delivery_ids == [str(promo)]
    async with world.runtime.sessions() as session:
        persona = await session.get(Persona, world.region.id)
        assert persona is not None and persona.paused
        assert persona.pause_reason == "crisis posture: orange vigilance, Aude (11)"
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.at))).all()
        assert "persona.paused" in actions and "crisis.posture_accepted" in actions
    async with world.runtime.session() as session:
        with pytest.raises(Conflict):  # already decided
            await crisis.decline(session, world.actor("dircom", Role.MANAGER), world.region.id, posture.id)

    # the safety template, drafted in one click: it cites the official source and is marked safety
    async with world.runtime.session() as session:
        actor = StaffActor(id=world.people["dircom"].id, label="dircom", role=Role.MANAGER)
        post = await crisis.draft_safety_message(
            session, world.runtime.channels, actor, world.region.id, posture.id, "crue"
        )
        post_id = post.id
    async with world.runtime.sessions() as session:
        stored = await session.get(Post, post_id)
        assert stored is not None and stored.origin is not None
        assert (stored.origin["kind"], stored.origin["template"]) == (SAFETY, "crue")
        assert "Source officielle : https://vigicrues.example/" in stored.text
        assert stored.link == "https://vigicrues.example/"

    # ending gives the held post back through the pause's resume
    async with world.runtime.session() as session:
        await crisis.end(session, world.actor("admin", None), world.region.id, posture.id)
    async with world.runtime.sessions() as session:
        persona = await session.get(Persona, world.region.id)
        assert persona is not None and not persona.paused
        ended = await session.get(CrisisPosture, posture.id)
        assert ended is not None and ended.state == "ended"
        alerts = (await session.scalars(select(UsageAlert).where(UsageAlert.kind == "vigilance"))).all()
        assert all(a.resolved_at is not None for a in alerts)


async def test_ending_asks_what_becomes_of_each_overdue_post(world: World) -> None:
    promo = await world.scheduled("La Région vous invite au salon du chocolat.", hours=1)
    posture = await _proposed(world)
    manager = world.actor("dircom", Role.MANAGER)
    async with world.runtime.session() as session:
        await crisis.accept(session, manager, world.region.id, posture.id)
    async with world.runtime.session() as session:  # its time passes during the crisis
        from core.db.models import Delivery

        delivery = await session.get(Delivery, promo)
        assert delivery is not None
        delivery.scheduled_at = utcnow() - timedelta(minutes=30)
    async with world.runtime.session() as session:
        with pytest.raises(OverdueWithoutChoice):
            await crisis.end(session, manager, world.region.id, posture.id)
    async with world.runtime.session() as session:
        choice = OverdueChoice(delivery_id=promo, choice=Choice.CANCEL, reason="hors de propos après la crue")
        await crisis.end(session, manager, world.region.id, posture.id, choices=[choice])
    async with world.runtime.sessions() as session:
        delivery = await session.get(Delivery, promo)
        assert delivery is not None and delivery.state == DeliveryState.CANCELED


async def test_declining_pauses_nothing_and_is_not_proposed_again_today(world: World) -> None:
    await world.scheduled("Le budget participatif est ouvert.", hours=3)
    posture = await _proposed(world)
    async with world.runtime.session() as session:
        await crisis.decline(
            session, world.actor("dircom", Role.MANAGER), world.region.id, posture.id, reason="vigilance levée"
        )
    async with world.runtime.sessions() as session:
        persona = await session.get(Persona, world.region.id)
        assert persona is not None and not persona.paused
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "crisis.posture_declined"))
        assert event is not None and event.reason == "vigilance levée"
    # the same vigilance again today: not proposed again
    again = await world.item("Vigilance orange crues (mise à jour)", severity="orange", area="Aude")
    assert (await world.assess(again, now=utcnow())).proposed == 0
    assert [p.state for p in await world.postures()] == ["declined"]


async def test_a_posture_resumed_by_hand_is_ended_by_the_cron(world: World) -> None:
    from core.publishing.pause import resume_persona

    posture = await _proposed(world)
    manager = world.actor("dircom", Role.MANAGER)
    async with world.runtime.session() as session:
        await crisis.accept(session, manager, world.region.id, posture.id)
    async with world.runtime.session() as session:
        await resume_persona(session, manager, world.region.id)
    run = await crisis.watch_crisis(world.runtime, now=utcnow())
    assert run.ended == 1
    [ended] = await world.postures()
    assert ended.state == "ended"


async def test_an_accepted_posture_tightens_the_inbox_s_response_targets(world: World) -> None:
    from core.channels import InboxKind, RemoteItem
    from core.db.models import InboxItem
    from core.inbox.ingest import ingest

    received = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, within business hours

    async def arrives(remote_id: str) -> datetime:
        async with world.runtime.session() as session:
            account = await session.scalar(
                select(Account).where(Account.persona_id == world.region.id, Account.channel == "facebook")
            )
            assert account is not None
            item = RemoteItem(
                remote_id=remote_id,
                kind=InboxKind.COMMENT,
                text="Les routes sont-elles coupées vers Carcassonne ?",
                author_id="6200000000000009",
                author_handle="riverain",
                author_name="Un riverain",
                created_at=received,
            )
            await ingest(session, account, [item], via="poll")
        async with world.runtime.sessions() as session:
            stored = await session.scalar(select(InboxItem).where(InboxItem.remote_id == remote_id))
            assert stored is not None and stored.response_due_at is not None
            return stored.response_due_at

    usual = await arrives("before_1")
    posture = await _proposed(world)
    async with world.runtime.session() as session:
        await crisis.accept(session, world.actor("dircom", Role.MANAGER), world.region.id, posture.id)
    during = await arrives("during_1")
    targets = posture.detail["inbox_targets"]
    assert targets["first_response_minutes"] < targets["usual_first_response_minutes"]
    # a quarter of the file's target (both shortened alike when an election window binds the persona)
    assert (usual - received) / (during - received) == 4
    async with world.runtime.session() as session:
        await crisis.end(session, world.actor("admin", None), world.region.id, posture.id)
    assert await arrives("after_1") == usual  # ended: the file's targets again
