"""Composing and approving without the queue: ownership of accounts, roles, DST, slots, pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.enums import DeliveryKind, DeliveryState, InboxKind, Role
from core.db.models import Account, AuditEvent, Delivery, InboxItem, Persona, Post, PostingSlot
from core.db.types import utcnow
from core.people.permissions import NotAllowed
from core.people.staff import create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.policy import day_counts
from core.publishing import compose as compose_module
from core.publishing import queries
from core.publishing.compose import (
    ComposeRequest,
    PolicyBlocked,
    PublishingError,
    StaffActor,
    approve,
    cancel,
    compose,
    compose_reply,
    local_to_utc,
    next_free_slot,
    reschedule,
    send_back,
)
from core.runtime import Runtime
from personas import SEED_DIR, load_dir
from personas.policy import Override

pytestmark = pytest.mark.anyio
PARIS = "Europe/Paris"


@pytest.fixture
async def seeded(runtime: Runtime) -> dict[str, object]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        people = {}
        for name in ("apprentie", "cm", "dircom", "other"):
            people[name] = await create_staff(
                session, email=f"{name}@t.fr", display_name=name, password="long enough pw", actor=Actor.system("t")
            )
        personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        accounts = {(a.persona_id, a.channel): a for a in (await session.scalars(select(Account))).all()}
    region, president = personas["region-occitanie"], personas["presidente-region"]
    return {
        "region": region,
        "president": president,
        "people": people,
        "region_x": accounts[(region.id, "x")],
        "president_x": accounts[(president.id, "x")],
        "region_fb": accounts[(region.id, "facebook")],
    }


def actor(seeded: dict[str, object], name: str, role: Role) -> StaffActor:
    staff = seeded["people"][name]  # type: ignore[index]
    return StaffActor(id=staff.id, label=staff.email, role=role)


def request(seeded: dict[str, object], *accounts: str, **fields: object) -> ComposeRequest:
    region = seeded["region"]
    return ComposeRequest(
        persona_id=region.id,  # type: ignore[attr-defined]
        account_ids=tuple(seeded[a].id for a in accounts),  # type: ignore[attr-defined]
        **{"text": "Les marchés de producteurs reviennent ce week-end.", **fields},  # type: ignore[arg-type]
    )


async def test_a_post_cannot_target_another_personas_account(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    with pytest.raises(PublishingError, match=r"no account .* for this persona") as caught:
        async with runtime.session() as session:
            await compose(
                session,
                runtime.channels,
                actor(seeded, "cm", Role.EDITOR),
                request(seeded, "region_x", "president_x", publish_now=True),
            )
    assert caught.value.field == "account_ids"
    assert (await db.scalars(select(AuditEvent.action).where(AuditEvent.action == "post.created"))).all() == []
    from core.db.models import Post

    assert (await db.scalars(select(Post))).all() == []


async def test_contributor_posts_wait_for_approval_and_nobody_approves_their_own(
    runtime: Runtime, seeded: dict[str, object]
) -> None:
    when = datetime.now(UTC) + timedelta(days=1)
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            actor(seeded, "apprentie", Role.CONTRIBUTOR),
            request(seeded, "region_x", scheduled_at=when),
        )
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING_APPROVAL]
    post_id = result.post.id
    async with runtime.session() as session:
        with pytest.raises(PublishingError, match="own post"):
            await approve(session, runtime.channels, actor(seeded, "apprentie", Role.EDITOR), post_id)
        with pytest.raises(PublishingError, match="editor or manager"):
            await approve(session, runtime.channels, actor(seeded, "other", Role.CONTRIBUTOR), post_id)
    async with runtime.session() as session:
        (approved,) = await approve(
            session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), post_id, reason="ok"
        )
    assert approved.state == DeliveryState.SCHEDULED and approved.approved_by_id == seeded["people"]["dircom"].id  # type: ignore[index]


async def test_send_back_returns_a_draft_with_the_comment(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            actor(seeded, "apprentie", Role.CONTRIBUTOR),
            request(seeded, "region_x", publish_now=True),
        )
    async with runtime.session() as session:
        with pytest.raises(PublishingError, match="say what"):
            await send_back(session, actor(seeded, "cm", Role.EDITOR), result.post.id, comment="")
        await send_back(
            session, actor(seeded, "cm", Role.EDITOR), result.post.id, comment="Ajoute le lien vers l'agenda."
        )
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "post.sent_back"))
    assert event is not None and event.reason == "Ajoute le lien vers l'agenda."


async def test_review_findings_need_a_reason_and_blocks_stop(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            actor(seeded, "cm", Role.EDITOR),
            request(seeded, "region_x", text="Je suis fière de nos lycéens.", publish_now=True),
        )
    assert (
        result.deliveries[0].state == DeliveryState.PENDING_APPROVAL
    )  # first person on a persona that does not embody
    assert any(f.rule == "first_person" for f in result.findings[seeded["region_x"].id])  # type: ignore[attr-defined]
    async with runtime.session() as session:
        with pytest.raises(PublishingError, match="written reason"):
            await approve(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), result.post.id)
    async with runtime.session() as session:
        await approve(
            session,
            runtime.channels,
            actor(seeded, "dircom", Role.MANAGER),
            result.post.id,
            reason="Citation de la lauréate, validée.",
        )
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "post.approved"))
    assert event is not None and event.reason == "Citation de la lauréate, validée."


async def test_tiktok_is_refused_on_the_institution(runtime: Runtime, seeded: dict[str, object]) -> None:
    async with runtime.session() as session:
        tiktok = Account(persona_id=seeded["region"].id, channel="tiktok", handle="occitanie", external_id="t1")  # type: ignore[attr-defined]
        session.add(tiktok)
    with pytest.raises(PolicyBlocked) as caught:
        async with runtime.session() as session:
            await compose(
                session,
                runtime.channels,
                actor(seeded, "dircom", Role.MANAGER),
                ComposeRequest(
                    persona_id=seeded["region"].id,
                    account_ids=(tiktok.id,),
                    text="Vidéo",
                    publish_now=True,  # type: ignore[attr-defined]
                    overrides=(Override(rule="channel_refused", reason="on essaie"),),
                ),
            )
    messages = [f.message_fr for fs in caught.value.findings.values() for f in fs]
    assert any("incarnation" in m for m in messages)


def test_local_times_across_both_dst_changes() -> None:
    # Last Sunday of March 2027: 02:00 → 03:00 in Paris. 02:30 does not exist.
    with pytest.raises(PublishingError, match="does not exist"):
        local_to_utc(datetime(2027, 3, 28, 2, 30), PARIS)
    assert local_to_utc(datetime(2027, 3, 27, 9, 0), PARIS) == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2027, 3, 28, 9, 0), PARIS) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    # Last Sunday of October 2027: 03:00 → 02:00. 02:30 happens twice: the first one is meant.
    assert local_to_utc(datetime(2027, 10, 31, 2, 30), PARIS) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert local_to_utc(datetime(2027, 10, 30, 9, 0), PARIS) == datetime(2027, 10, 30, 7, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2027, 10, 31, 9, 0), PARIS) == datetime(2027, 10, 31, 8, 0, tzinfo=UTC)


async def test_posting_slots_fill_the_queue_in_local_time_across_dst(
    runtime: Runtime, seeded: dict[str, object]
) -> None:
    account = seeded["region_fb"]
    async with runtime.session() as session:
        await session.execute(delete(PostingSlot).where(PostingSlot.account_id == account.id))  # type: ignore[attr-defined]
        for weekday in range(7):
            session.add(PostingSlot(account_id=account.id, weekday=weekday, local_time="09:00"))  # type: ignore[attr-defined]
            session.add(PostingSlot(account_id=account.id, weekday=weekday, local_time="02:30"))  # type: ignore[attr-defined]
    async with runtime.sessions() as session:
        # Saturday 27 March 2027, 10:00 in Paris: next slots are Sunday 02:30 (skipped: does not exist), Sunday 09:00
        after = datetime(2027, 3, 27, 10, 0, tzinfo=ZoneInfo(PARIS))
        first = await next_free_slot(session, account, PARIS, after=after)  # type: ignore[arg-type]
        assert first == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)  # 09:00 CEST
        before_change = await next_free_slot(
            session, account, PARIS, after=datetime(2027, 3, 26, 10, 0, tzinfo=ZoneInfo(PARIS))
        )  # type: ignore[arg-type]
        assert before_change == datetime(2027, 3, 27, 1, 30, tzinfo=UTC)  # Saturday 02:30 CET


async def test_add_to_queue_puts_each_account_at_its_own_slot_and_checks_the_policy_once_there(
    runtime: Runtime, seeded: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, facebook = seeded["region_x"], seeded["region_fb"]
    async with runtime.session() as session:
        for weekday in range(7):
            session.add(PostingSlot(account_id=x.id, weekday=weekday, local_time="08:15"))  # type: ignore[attr-defined]
            session.add(PostingSlot(account_id=facebook.id, weekday=weekday, local_time="18:30"))  # type: ignore[attr-defined]
    async with runtime.sessions() as session:
        slots = {a.id: await next_free_slot(session, a, PARIS) for a in (x, facebook)}  # type: ignore[attr-defined,arg-type]
    assert len(set(slots.values())) == 2
    checked: list[tuple[str, datetime]] = []
    real_check = compose_module.check_post_on_account

    async def counting_check(*args: object, **kwargs: object) -> object:
        checked.append((kwargs["channel"], kwargs["moment"]))  # type: ignore[arg-type]
        return await real_check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compose_module, "check_post_on_account", counting_check)
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            actor(seeded, "cm", Role.EDITOR),
            request(seeded, "region_x", "region_fb", add_to_queue=True),
        )
    assert {d.account_id: d.scheduled_at for d in result.deliveries} == slots
    assert [d.state for d in result.deliveries] == [DeliveryState.SCHEDULED] * 2
    assert sorted(checked) == sorted([("x", slots[x.id]), ("facebook", slots[facebook.id])])  # type: ignore[attr-defined]
    with pytest.raises(PublishingError, match="choose one of"):
        async with runtime.session() as session:
            await compose(
                session,
                runtime.channels,
                actor(seeded, "cm", Role.EDITOR),
                request(seeded, "region_x", add_to_queue=True, publish_now=True),
            )


async def test_reschedule_and_cancel_until_queued(runtime: Runtime, seeded: dict[str, object]) -> None:
    when = datetime.now(UTC) + timedelta(days=2)
    async with runtime.session() as session:
        result = await compose(
            session, runtime.channels, actor(seeded, "cm", Role.EDITOR), request(seeded, "region_x", scheduled_at=when)
        )
    delivery_id = result.deliveries[0].id
    async with runtime.session() as session:
        moved = await reschedule(
            session, runtime.channels, actor(seeded, "cm", Role.EDITOR), delivery_id, when + timedelta(hours=3)
        )
        assert moved.scheduled_at == when + timedelta(hours=3)
    async with runtime.session() as session:
        from core.db.models import Delivery

        delivery = await session.get(Delivery, delivery_id)
        delivery.state = DeliveryState.QUEUED  # type: ignore[union-attr]
    async with runtime.session() as session:
        with pytest.raises(PublishingError, match="no longer be rescheduled"):
            await reschedule(session, runtime.channels, actor(seeded, "cm", Role.EDITOR), delivery_id, when)
        with pytest.raises(PublishingError, match="no longer be canceled"):
            await cancel(session, actor(seeded, "cm", Role.EDITOR), delivery_id)


async def test_keyset_pagination_walks_every_delivery_once(runtime: Runtime, seeded: dict[str, object]) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    async with runtime.session() as session:
        for i in range(7):
            await compose(
                session,
                runtime.channels,
                actor(seeded, "cm", Role.EDITOR),
                request(seeded, "region_x", "region_fb", scheduled_at=start + timedelta(hours=i % 3)),
            )
    seen: list[object] = []
    cursor = None
    async with runtime.sessions() as session:
        while True:
            page = await queries.deliveries(
                session, queries.DeliveryFilter(persona_id=seeded["region"].id), cursor=cursor, limit=4
            )  # type: ignore[attr-defined]
            seen += [d.id for d in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 14 == len(set(seen))
        other = await queries.deliveries(session, queries.DeliveryFilter(persona_id=seeded["president"].id))  # type: ignore[attr-defined]
        assert other.items == [] and other.next_cursor is None


async def test_a_manager_override_of_a_block_is_audited_with_its_reason(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    from core.db.models import Media

    async with runtime.session() as session:
        image = Media(
            persona_id=seeded["region"].id,
            kind="image",
            content_type="image/jpeg",
            filename="capitole.jpg",  # type: ignore[attr-defined]
            storage_path="/nonexistent/capitole.jpg",
            sha256="0" * 64,
            size_bytes=1000,
            width=1200,
            height=800,
            alt_text="",
        )
        session.add(image)
    req = request(seeded, "region_fb", media_ids=(image.id,), publish_now=True)
    with pytest.raises(PolicyBlocked) as caught:  # an image without alt text on the institution
        async with runtime.session() as session:
            await compose(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), req)
    assert any(f.rule == "alt_text" for fs in caught.value.findings.values() for f in fs)
    overridden = ComposeRequest(
        **{
            **{f: getattr(req, f) for f in req.__struct_fields__},
            "overrides": (Override(rule="alt_text", reason="Image décorative, décrite dans le texte."),),
        }
    )
    async with runtime.session() as session:
        result = await compose(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), overridden)
    assert (
        result.deliveries[0].state == DeliveryState.PENDING_APPROVAL
    )  # a lifted block still needs a second pair of eyes
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "policy.override"))
    assert (
        event is not None
        and event.reason == "Image décorative, décrite dans le texte."
        and event.after == {"rule": "alt_text"}
    )


# ------------------------------------------------------------------ replies

ANSWER = "Merci pour votre message, nous le transmettons au service concerné."


async def _item(runtime: Runtime, account: object, kind: InboxKind = InboxKind.COMMENT) -> InboxItem:
    async with runtime.session() as session:
        item = InboxItem(
            account_id=account.id,  # type: ignore[attr-defined]
            persona_id=account.persona_id,  # type: ignore[attr-defined]
            remote_id=f"remote-{kind.value}",
            kind=kind,
            author_remote_id="42",
            text="Où trouver le programme ?",
            received_at=datetime.now(UTC),
        )
        session.add(item)
    return item


async def test_a_contributors_reply_waits_for_approval_and_a_moderators_goes_out(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    item = await _item(runtime, seeded["region_x"])
    async with runtime.session() as session:
        waiting = await compose_reply(
            session, runtime.channels, actor(seeded, "apprentie", Role.CONTRIBUTOR), item.id, ANSWER
        )
    assert [d.state for d in waiting.deliveries] == [DeliveryState.PENDING_APPROVAL]
    assert waiting.deliveries[0].kind == DeliveryKind.REPLY and waiting.deliveries[0].in_reply_to_id == item.id
    async with runtime.session() as session:
        (approved,) = await approve(session, runtime.channels, actor(seeded, "cm", Role.EDITOR), waiting.post.id)
    assert approved.state == DeliveryState.SCHEDULED
    async with runtime.session() as session:
        direct = await compose_reply(session, runtime.channels, actor(seeded, "cm", Role.MODERATOR), item.id, ANSWER)
    assert [d.state for d in direct.deliveries] == [DeliveryState.SCHEDULED]
    post = await db.get(Post, direct.post.id)
    assert post is not None and post.kind == DeliveryKind.REPLY and post.text == ANSWER
    audited = (await db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(post.id)))).all()
    assert audited == ["post.created"]


async def test_a_reply_needs_the_role_a_text_and_the_items_own_account(
    runtime: Runtime, seeded: dict[str, object]
) -> None:
    item = await _item(runtime, seeded["region_x"], InboxKind.MESSAGE)
    with pytest.raises(NotAllowed):
        async with runtime.session() as session:
            await compose_reply(session, runtime.channels, actor(seeded, "other", Role.VIEWER), item.id, ANSWER)
    with pytest.raises(PublishingError, match="needs a text"):
        async with runtime.session() as session:
            await compose_reply(session, runtime.channels, actor(seeded, "cm", Role.EDITOR), item.id, "  ")
    on_facebook = ComposeRequest(
        persona_id=seeded["region"].id,  # type: ignore[attr-defined]
        account_ids=(seeded["region_fb"].id,),  # type: ignore[attr-defined]
        text=ANSWER,
        publish_now=True,
        in_reply_to_id=item.id,
    )
    with pytest.raises(PublishingError, match="account that received the item") as caught:
        async with runtime.session() as session:
            await compose(session, runtime.channels, actor(seeded, "cm", Role.EDITOR), on_facebook)
    assert caught.value.field == "in_reply_to_id"


async def test_a_time_in_the_past_is_refused_not_published_at_once(runtime: Runtime, seeded: dict[str, object]) -> None:
    cm = actor(seeded, "cm", Role.EDITOR)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(PublishingError) as refused:
        async with runtime.session() as session:
            await compose(session, runtime.channels, cm, request(seeded, "region_x", scheduled_at=yesterday))
    assert refused.value.code == "time_in_past" and refused.value.field == "scheduled_at"
    async with runtime.session() as session:  # a draft may keep any date: it goes nowhere
        draft = await compose(
            session, runtime.channels, cm, request(seeded, "region_x", scheduled_at=yesterday, save_as_draft=True)
        )
    assert draft.deliveries[0].state == DeliveryState.DRAFT
    async with runtime.session() as session:
        later = await compose(
            session,
            runtime.channels,
            cm,
            request(seeded, "region_x", scheduled_at=datetime.now(UTC) + timedelta(days=2)),
        )
    with pytest.raises(PublishingError) as moved:
        async with runtime.session() as session:
            await reschedule(session, runtime.channels, cm, later.deliveries[0].id, yesterday)
    assert moved.value.code == "time_in_past"


async def test_a_dry_run_is_counted_in_no_days_cadence(runtime: Runtime, seeded: dict[str, object]) -> None:
    cm = actor(seeded, "cm", Role.EDITOR)
    async with runtime.session() as session:
        sent = await compose(session, runtime.channels, cm, request(seeded, "region_x", publish_now=True))
        rehearsed = await compose(
            session, runtime.channels, cm, request(seeded, "region_x", text="Une répétition.", publish_now=True)
        )
        now = utcnow()
        for result, remote_id in ((sent, "1790000000000000042"), (rehearsed, "dry-run:abc")):
            await session.execute(
                update(Delivery)
                .where(Delivery.id == result.deliveries[0].id)
                .values(state=DeliveryState.PUBLISHED, remote_id=remote_id, published_at=now)
            )
    async with runtime.sessions() as session:
        counts = await day_counts(session, seeded["region"], now)  # type: ignore[arg-type]
    assert counts["x"].posts == 1
