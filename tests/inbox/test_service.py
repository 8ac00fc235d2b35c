"""The inbox's write side on both databases: assignment, notes, replies (windows, two people at
once, the answer recorded once), saved replies, and moderation with a public body's duties —
against the simulated networks on 127.0.0.1 where the network acts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core.audit import Actor
from core.db.enums import DeliveryState, InboxKind, InboxStatus, Role
from core.db.models import (
    Account,
    AuditEvent,
    Delivery,
    InboxArchive,
    InboxEvent,
    InboxItem,
    InboxNote,
    ModerationAction,
    Persona,
)
from core.errors import Conflict, Refusal
from core.inbox import service
from core.inbox.responses import record_response
from core.people.permissions import NotAllowed
from core.people.staff import assign as assign_role
from core.people.staff import create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import StaffActor
from core.runtime import Runtime
from personas import SEED_DIR, load_dir
from web.simulated import SimulatedNetworks

pytestmark = pytest.mark.anyio


class World:
    """The seed personas, a few staff members, the simulated networks and their accounts."""

    def __init__(self, runtime: Runtime, simulated: SimulatedNetworks) -> None:
        self.runtime, self.simulated = runtime, simulated
        self.personas: dict[str, Persona] = {}
        self.accounts: dict[tuple[str, str], Account] = {}
        self.staff: dict[str, uuid.UUID] = {}

    def actor(self, name: str, role: Role) -> StaffActor:
        return StaffActor(id=self.staff[name], label=name, role=role)

    async def item(
        self,
        persona: str,
        channel: str,
        *,
        kind: InboxKind = InboxKind.COMMENT,
        remote_id: str | None = None,
        received_at: datetime | None = None,
        thread: str | None = "post-1",
        author: str = "citizen-1",
        text: str = "Bonjour, quand ouvre le lycée ?",
    ) -> InboxItem:
        account = self.accounts[(persona, channel)]
        async with self.runtime.session() as session:
            item = InboxItem(
                account_id=account.id,
                persona_id=account.persona_id,
                remote_id=remote_id or uuid.uuid4().hex,
                kind=kind,
                thread_remote_id=thread,
                author_remote_id=author,
                author_handle="camille",
                text=text,
                received_at=received_at or datetime.now(UTC),
            )
            session.add(item)
        return item


@pytest.fixture
async def world(runtime: Runtime) -> AsyncIterator[World]:
    simulated = SimulatedNetworks()
    runtime.base_url_overrides.update(simulated.start())
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    w = World(runtime, simulated)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        w.personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        roles = {
            "cm": ("region-occitanie", Role.EDITOR),
            "moderator": ("region-occitanie", Role.MODERATOR),
            "dircom": ("region-occitanie", Role.MANAGER),
            "dgs": ("region-occitanie", Role.MANAGER),
            "contributor": ("region-occitanie", Role.CONTRIBUTOR),
            "cabinet": ("presidente-region", Role.MANAGER),
        }
        for name, (slug, role) in roles.items():
            staff = await create_staff(
                session,
                email=f"{name}@t.fr",
                display_name=name.title(),
                password="long enough pw",
                actor=Actor.system("t"),
            )
            await assign_role(session, staff, w.personas[slug], role, Actor.system("t"))
            w.staff[name] = staff.id
    await simulated.connect_accounts(runtime)
    async with runtime.sessions() as session:
        for account in (await session.scalars(select(Account))).all():
            slug = next(s for s, p in w.personas.items() if p.id == account.persona_id)
            w.accounts[(slug, account.channel)] = account
    yield w
    simulated.stop()


async def _count(runtime: Runtime, model: Any, *where: Any) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# ------------------------------------------------------------------ assignment and notes


async def test_an_item_is_assigned_to_a_team_member_with_a_note_and_audited(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    async with world.runtime.session() as session:
        await service.assign(
            session, world.actor("cm", Role.EDITOR), item.id, world.staff["moderator"], note="Voir avec le service"
        )
    async with world.runtime.sessions() as session:
        stored = await session.get(InboxItem, item.id)
        note = await session.scalar(select(InboxNote).where(InboxNote.item_id == item.id))
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "inbox.assigned"))
    assert stored is not None and stored.status == InboxStatus.ASSIGNED
    assert stored.assignee_id == world.staff["moderator"]
    assert note is not None and note.text == "Voir avec le service"
    assert audit is not None and audit.entity_id == str(item.id)


async def test_nobody_outside_the_personas_team_can_be_assigned(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    with pytest.raises(service.InboxRefusal) as refused:
        async with world.runtime.session() as session:
            await service.assign(session, world.actor("cm", Role.EDITOR), item.id, world.staff["cabinet"])
    assert refused.value.code == "assignee_not_in_team" and refused.value.field == "assignee_id"


async def test_a_viewer_cannot_assign_and_an_empty_note_is_refused(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    with pytest.raises(NotAllowed):
        async with world.runtime.session() as session:
            await service.assign(session, world.actor("cm", Role.VIEWER), item.id, None)
    with pytest.raises(service.InboxRefusal) as refused:
        async with world.runtime.session() as session:
            await service.add_note(session, world.actor("cm", Role.EDITOR), item.id, "   ")
    assert refused.value.code == "note_empty"


async def test_closing_measures_the_resolution_and_reopening_goes_back(world: World) -> None:
    item = await world.item("region-occitanie", "facebook", received_at=datetime.now(UTC) - timedelta(hours=2))
    cm = world.actor("cm", Role.EDITOR)
    async with world.runtime.session() as session:
        await service.close(session, cm, item.id)
    async with world.runtime.sessions() as session:
        event = await session.scalar(
            select(InboxEvent).where(InboxEvent.item_id == item.id, InboxEvent.kind == "resolved")
        )
    assert event is not None and event.seconds is not None and 7100 < event.seconds < 7300
    async with world.runtime.session() as session:
        reopened = await service.reopen(session, cm, item.id)
    assert reopened.status == InboxStatus.NEW and reopened.closed_at is None


# ------------------------------------------------------------------ replies


async def test_a_private_message_past_the_24_hour_window_is_refused_before_any_request(world: World) -> None:
    fake = world.simulated.fakes["facebook"]
    before = len(fake.received)
    item = await world.item(
        "region-occitanie",
        "facebook",
        kind=InboxKind.MESSAGE,
        thread="t_1",
        received_at=datetime.now(UTC) - timedelta(hours=25),
    )
    with pytest.raises(service.ReplyWindowClosed) as refused:
        async with world.runtime.session() as session:
            await service.reply(
                session, world.runtime.channels, world.actor("cm", Role.EDITOR), item.id, "Bonjour, voici…"
            )
    assert refused.value.code == "reply_window_closed" and refused.value.extra["window_hours"] == 24
    assert await _count(world.runtime, Delivery) == 0
    assert len(fake.received) == before


async def test_the_window_counts_from_the_persons_last_message_in_the_conversation(world: World) -> None:
    old = await world.item(
        "region-occitanie",
        "facebook",
        kind=InboxKind.MESSAGE,
        thread="t_2",
        received_at=datetime.now(UTC) - timedelta(hours=30),
    )
    await world.item(
        "region-occitanie",
        "facebook",
        kind=InboxKind.MESSAGE,
        thread="t_2",
        received_at=datetime.now(UTC) - timedelta(hours=2),
    )
    async with world.runtime.session() as session:
        result = await service.reply(
            session, world.runtime.channels, world.actor("cm", Role.EDITOR), old.id, "Bonjour, voici la réponse."
        )
    assert len(result.deliveries) == 1


async def test_two_people_answering_see_each_other_and_the_second_must_confirm(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    cm, moderator = world.actor("cm", Role.EDITOR), world.actor("moderator", Role.MODERATOR)
    async with world.runtime.session() as session:
        assert await service.start_replying(session, cm, item.id) is None
    async with world.runtime.session() as session:
        assert await service.start_replying(session, moderator, item.id) == "Cm"
    with pytest.raises(service.ReplyConflict) as conflict:
        async with world.runtime.session() as session:
            await service.reply(session, world.runtime.channels, moderator, item.id, "Merci de votre message.")
    assert conflict.value.code == "someone_replying" and conflict.value.extra == {"who": "Cm"}
    async with world.runtime.session() as session:
        await service.reply(session, world.runtime.channels, cm, item.id, "Le lycée ouvre en septembre.")
    # The first answer exists now: a second one is refused, then sent when confirmed.
    with pytest.raises(service.ReplyConflict) as again:
        async with world.runtime.session() as session:
            await service.reply(session, world.runtime.channels, moderator, item.id, "Merci de votre message.")
    assert again.value.code == "already_answered"
    async with world.runtime.session() as session:
        await service.reply(session, world.runtime.channels, moderator, item.id, "Merci.", confirm=True)
    assert await _count(world.runtime, Delivery, Delivery.in_reply_to_id == item.id) == 2


async def test_an_answer_is_recorded_once_with_its_business_hours_delay(world: World) -> None:
    received = datetime(2026, 11, 27, 15, 45, tzinfo=UTC)  # a Friday, 16:45 in Paris
    item = await world.item("region-occitanie", "facebook", received_at=received)
    answered = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)  # Monday 09:15 in Paris
    async with world.runtime.session() as session:
        assert await record_response(session, item.id, at=answered, staff_id=None, source="native_app")
        assert await record_response(session, item.id, at=answered + timedelta(hours=1), staff_id=None, source="x")
    async with world.runtime.sessions() as session:
        events = (
            await session.scalars(select(InboxEvent).where(InboxEvent.item_id == item.id).order_by(InboxEvent.at))
        ).all()
        stored = await session.get(InboxItem, item.id)
    assert [e.kind for e in events] == ["first_response", "response"]
    assert stored is not None and stored.status == InboxStatus.ANSWERED and stored.first_response_at == answered
    first = events[0]
    assert first.seconds == (answered - received).total_seconds()
    # The Région's hours (Mon–Fri 08:30–17:30): 45 min on Friday, 45 min on Monday.
    assert first.business_seconds == pytest.approx(90 * 60)


async def test_a_contributors_reply_waits_for_approval(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    async with world.runtime.session() as session:
        result = await service.reply(
            session, world.runtime.channels, world.actor("contributor", Role.CONTRIBUTOR), item.id, "Merci !"
        )
    assert result.deliveries[0].state == DeliveryState.PENDING_APPROVAL


# ------------------------------------------------------------------ saved replies


async def test_saved_replies_have_unique_short_codes_per_persona(world: World) -> None:
    region, president = world.personas["region-occitanie"].id, world.personas["presidente-region"].id
    cm = world.actor("cm", Role.EDITOR)
    async with world.runtime.session() as session:
        saved = await service.create_saved_reply(
            session, cm, region, short_code="/Horaires", title="Horaires", text="Du lundi au vendredi."
        )
    assert saved.short_code == "horaires"
    with pytest.raises(Conflict) as taken:
        async with world.runtime.session() as session:
            await service.create_saved_reply(session, cm, region, short_code="horaires", title="Bis", text="…")
    assert taken.value.code == "short_code_taken"
    async with world.runtime.session() as session:  # the same code on another persona is another reply
        await service.create_saved_reply(
            session, world.actor("cabinet", Role.MANAGER), president, short_code="horaires", title="H", text="…"
        )
    with pytest.raises(NotAllowed):
        async with world.runtime.session() as session:
            await service.create_saved_reply(
                session, world.actor("moderator", Role.MODERATOR), region, short_code="x", title="X", text="…"
            )
    with pytest.raises(service.InboxRefusal) as bad:
        async with world.runtime.session() as session:
            await service.create_saved_reply(session, cm, region, short_code="a b", title="X", text="…")
    assert bad.value.code == "short_code_invalid"


# ------------------------------------------------------------------ moderation


async def test_an_institutional_item_is_archived_before_it_is_deleted(world: World) -> None:
    fake = world.simulated.fakes["facebook"]
    post = fake.seed_post("Le budget 2027 est voté.")
    comment = fake.seed_comment(post, "Vous êtes des incapables !")
    item = await world.item(
        "region-occitanie", "facebook", remote_id=comment, thread=post, text="Vous êtes des incapables !"
    )
    async with world.runtime.session() as session:
        done = await service.moderate(
            session, world.runtime.host, world.actor("cm", Role.EDITOR), item.id, action="delete", reason_code="insult"
        )
    assert done.state == "done", done.error
    assert comment not in fake.comments  # deleted on the simulated network
    async with world.runtime.sessions() as session:
        copy = await session.scalar(select(InboxArchive).where(InboxArchive.item_id == item.id))
        stored = await session.get(InboxItem, item.id)
    assert copy is not None and copy.content["text"] == "Vous êtes des incapables !" and len(copy.content_hash) == 64
    assert copy.at <= done.done_at  # type: ignore[operator]
    assert stored is not None and stored.deleted_at is not None and stored.status == InboxStatus.CLOSED
    # Write-once: the database itself refuses to change or remove the copy.
    with pytest.raises(DBAPIError):
        async with world.runtime.session() as session:
            await session.execute(text("UPDATE inbox_archives SET reason = 'x'"))
    with pytest.raises(DBAPIError):
        async with world.runtime.session() as session:
            await session.execute(text("DELETE FROM inbox_archives"))


async def test_a_hide_acts_on_the_network(world: World) -> None:
    fake = world.simulated.fakes["facebook"]
    post = fake.seed_post("Nouvelle ligne de car.")
    comment = fake.seed_comment(post, "Appelez-moi au 06 12 34 56 78")
    item = await world.item("region-occitanie", "facebook", remote_id=comment, thread=post)
    async with world.runtime.session() as session:
        done = await service.moderate(
            session,
            world.runtime.host,
            world.actor("moderator", Role.MODERATOR),
            item.id,
            action="hide",
            reason_code="personal_data",
        )
    assert done.state == "done", done.error
    assert fake.comments[comment].get("is_hidden") is True
    assert await _count(world.runtime, InboxArchive, InboxArchive.item_id == item.id) == 1


async def test_a_ban_needs_a_reason_and_a_manager(world: World) -> None:
    item = await world.item("region-occitanie", "facebook")
    with pytest.raises(service.InboxRefusal) as no_reason:
        async with world.runtime.session() as session:
            await service.moderate(
                session, world.runtime.host, world.actor("dircom", Role.MANAGER), item.id, action="ban", reason_code=""
            )
    assert no_reason.value.code == "reason_required"
    with pytest.raises(NotAllowed):
        async with world.runtime.session() as session:
            await service.moderate(
                session,
                world.runtime.host,
                world.actor("contributor", Role.CONTRIBUTOR),
                item.id,
                action="ban",
                reason_code="harassment",
            )
    assert await _count(world.runtime, ModerationAction) == 0


async def test_an_institutions_ban_waits_for_another_managers_review(world: World) -> None:
    fake = world.simulated.fakes["facebook"]
    post = fake.seed_post("Conseil régional ce jeudi.")
    comment = fake.seed_comment(post, "Message de harcèlement", author=("6200000000000077", "Troll"))
    item = await world.item("region-occitanie", "facebook", remote_id=comment, thread=post, author="6200000000000077")
    dircom, dgs = world.actor("dircom", Role.MANAGER), world.actor("dgs", Role.MANAGER)
    async with world.runtime.session() as session:
        asked = await service.moderate(
            session, world.runtime.host, dircom, item.id, action="ban", reason_code="harassment", reason="3e fois"
        )
    assert asked.state == "pending_review"
    with pytest.raises(service.InboxRefusal) as own:
        async with world.runtime.session() as session:
            await service.review(session, world.runtime.host, dircom, asked.id, approve=True)
    assert own.value.code == "own_request"
    async with world.runtime.session() as session:
        reviewed = await service.review(session, world.runtime.host, dgs, asked.id, approve=True)
    assert reviewed.state == "done", reviewed.error
    assert "6200000000000077" in fake.blocked


async def test_a_manual_action_is_recorded_where_the_network_has_no_api(world: World) -> None:
    item = await world.item("presidente-region", "instagram")
    cabinet = world.actor("cabinet", Role.MANAGER)
    with pytest.raises(service.ManualOnly) as manual_only:
        async with world.runtime.session() as session:
            await service.moderate(
                session, world.runtime.host, cabinet, item.id, action="ban", reason_code="harassment"
            )
    assert manual_only.value.code == "manual_only" and manual_only.value.extra["channel"] == "instagram"
    async with world.runtime.session() as session:
        done = await service.moderate(
            session,
            world.runtime.host,
            cabinet,
            item.id,
            action="ban",
            reason_code="harassment",
            reason="bloqué dans l'application Instagram",
            manual=True,
        )
    assert done.state == "manual" and done.done_at is not None
    assert await _count(world.runtime, InboxEvent, InboxEvent.item_id == item.id, InboxEvent.kind == "ban") == 1


async def test_private_messages_are_refused_to_roles_without_them(world: World) -> None:
    item = await world.item("region-occitanie", "facebook", kind=InboxKind.MESSAGE, thread="t_9")
    with pytest.raises(NotAllowed):
        async with world.runtime.session() as session:
            await service.add_note(session, world.actor("cm", Role.VIEWER), item.id, "note")


async def test_a_reply_on_instagram_is_judged_on_its_words_not_on_the_lines_formats(world: World) -> None:
    """The president's Instagram line is photo, carousel, story, reel, and a post there needs a media:
    an answer to a comment has neither, and goes out; its words are still checked."""
    item = await world.item("presidente-region", "instagram")
    async with world.runtime.session() as session:
        result = await service.reply(
            session, world.runtime.channels, world.actor("cabinet", Role.MANAGER), item.id, "Merci beaucoup !"
        )
    assert result.deliveries[0].state == DeliveryState.SCHEDULED
    with pytest.raises(Refusal):
        async with world.runtime.session() as session:
            await service.reply(
                session,
                world.runtime.channels,
                world.actor("cabinet", Role.MANAGER),
                item.id,
                "x" * 2300,
                confirm=True,
            )


async def test_the_dashboard_counts_overdue_and_at_risk_answers_and_legal_deadlines(world: World) -> None:
    from core.inbox.queries import deadlines

    now = datetime.now(UTC)
    overdue = await world.item("region-occitanie", "facebook")
    soon = await world.item("region-occitanie", "facebook")
    legal = await world.item("region-occitanie", "facebook", kind=InboxKind.MESSAGE, thread="t_5")
    answered = await world.item("region-occitanie", "facebook")
    async with world.runtime.session() as session:
        for item, values in (
            (overdue, {"response_due_at": now - timedelta(minutes=5)}),
            (soon, {"response_due_at": now + timedelta(minutes=20)}),
            (legal, {"response_due_at": now + timedelta(days=2), "legal_due_at": now - timedelta(hours=1)}),
            (answered, {"response_due_at": now - timedelta(hours=5), "status": InboxStatus.ANSWERED}),
        ):
            stored = await session.get(InboxItem, item.id)
            for name, value in values.items():
                setattr(stored, name, value)
    region = world.personas["region-occitanie"].id
    async with world.runtime.sessions() as session:
        assert await deadlines(session, region, see_messages=True) == {"breached": 1, "at_risk": 1, "legal": 1}
        assert await deadlines(session, region, see_messages=False) == {"breached": 1, "at_risk": 1, "legal": 0}


async def test_an_answer_in_a_conversation_answers_the_persons_earlier_messages(world: World) -> None:
    now = datetime.now(UTC)
    first = await world.item(
        "region-occitanie", "facebook", kind=InboxKind.MESSAGE, thread="t_7", received_at=now - timedelta(minutes=9)
    )
    second = await world.item(
        "region-occitanie", "facebook", kind=InboxKind.MESSAGE, thread="t_7", received_at=now - timedelta(minutes=8)
    )
    other = await world.item(
        "region-occitanie", "facebook", kind=InboxKind.MESSAGE, thread="t_8", received_at=now - timedelta(minutes=9)
    )
    async with world.runtime.session() as session:
        await record_response(session, second.id, at=now, staff_id=None, source="native_app")
    async with world.runtime.sessions() as session:
        states = {i: (await session.get(InboxItem, i.id)).status for i in (first, second, other)}  # type: ignore[union-attr]
        kinds = (await session.scalars(select(InboxEvent.kind).where(InboxEvent.item_id == first.id))).all()
    assert states == {first: InboxStatus.ANSWERED, second: InboxStatus.ANSWERED, other: InboxStatus.NEW}
    assert list(kinds) == ["first_response"]


async def _arrived_with_personal_data(world: World) -> tuple[str, InboxItem, ModerationAction]:
    from core.channels.contract import RemoteItem
    from core.inbox.duties import act_on_arrival
    from core.inbox.ingest import ingest

    fake = world.simulated.fakes["facebook"]
    post = fake.seed_post("Les inscriptions au transport scolaire sont ouvertes.")
    text = "Mon fils n'a pas reçu sa carte, appelez-moi au 06 12 34 56 78"
    comment = fake.seed_comment(post, text)
    account = world.accounts[("region-occitanie", "facebook")]
    remote = RemoteItem(
        remote_id=comment,
        kind=InboxKind.COMMENT,
        text=text,
        author_id="6200000000000001",
        created_at=datetime.now(UTC),
        thread_id=post,
    )
    async with world.runtime.session() as session:
        result = await ingest(session, await session.get(Account, account.id), [remote], via="poll")
        await act_on_arrival(session, world.runtime.channels, result.new)
    async with world.runtime.sessions() as session:
        item = await session.get(InboxItem, result.new[0])
        proposal = await session.scalar(select(ModerationAction).where(ModerationAction.item_id == result.new[0]))
    assert item is not None and proposal is not None and proposal.state == "proposed"
    return comment, item, proposal


async def test_a_proposed_hide_is_carried_out_with_the_standard_answer(world: World) -> None:
    comment, item, proposal = await _arrived_with_personal_data(world)
    async with world.runtime.session() as session:
        done = await service.accept_proposal(
            session, world.runtime.host, world.actor("moderator", Role.MODERATOR), proposal.id
        )
    assert done.state == "done", done.error
    fake = world.simulated.fakes["facebook"]
    assert fake.comments[comment].get("is_hidden") is True
    async with world.runtime.sessions() as session:
        reply = await session.scalar(select(Delivery).where(Delivery.in_reply_to_id == item.id))
        persona = world.personas["region-occitanie"]
        archived = await session.scalar(select(InboxArchive).where(InboxArchive.item_id == item.id))
    assert reply is not None and archived is not None
    from core.db.models import Post
    from core.inbox.targets import inbox_settings

    async with world.runtime.sessions() as session:
        post = await session.get(Post, reply.post_id)
    assert post is not None and post.text == inbox_settings(persona.definition).personal_data_answer.strip()
    assert "06 12" not in post.text  # the answer never repeats the personal data


async def test_a_dismissed_proposal_leaves_the_item_visible_on_the_record(world: World) -> None:
    comment, item, proposal = await _arrived_with_personal_data(world)
    async with world.runtime.session() as session:
        dismissed = await service.dismiss_proposal(session, world.actor("cm", Role.EDITOR), proposal.id)
    assert dismissed.state == "refused"
    assert world.simulated.fakes["facebook"].comments[comment].get("is_hidden") is not True
    with pytest.raises(Conflict):
        async with world.runtime.session() as session:
            await service.accept_proposal(session, world.runtime.host, world.actor("cm", Role.EDITOR), proposal.id)
    assert await _count(world.runtime, AuditEvent, AuditEvent.action == "inbox.proposal_dismissed") == 1


async def test_response_times_per_persona_and_per_staff_member(world: World) -> None:
    from core.inbox.queries import response_times

    received = datetime(2026, 11, 27, 15, 45, tzinfo=UTC)  # Friday 16:45 in Paris
    first = await world.item("region-occitanie", "facebook", received_at=received)
    second = await world.item("region-occitanie", "facebook", received_at=received)
    async with world.runtime.session() as session:
        await record_response(
            session, first.id, at=datetime(2026, 11, 30, 8, 15, tzinfo=UTC), staff_id=world.staff["cm"], source="x"
        )  # 90 business minutes
        await record_response(
            session, second.id, at=datetime(2026, 11, 27, 16, 15, tzinfo=UTC), staff_id=None, source="native_app"
        )  # 30 business minutes
    region = world.personas["region-occitanie"].id
    async with world.runtime.sessions() as session:
        persona, *people = await response_times(session, region, since=received - timedelta(days=1))
    assert persona.staff_id is None and persona.first_responses == 2
    assert persona.first_response_mean_s == pytest.approx(60 * 60)
    by_name = {p.staff_name: p for p in people}
    assert by_name["Cm"].first_responses == 1 and by_name["Cm"].first_response_mean_s == pytest.approx(90 * 60)
    assert by_name[None].first_response_mean_s == pytest.approx(30 * 60)
