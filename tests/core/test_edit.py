"""Editing a saved post (core.publishing.edit): until a delivery is queued, through the policy
engine and the one state machine, with its history; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryState, Role
from core.db.models import Account, AuditEvent, Delivery, DeliveryEvent, Post
from core.people.permissions import NotAllowed
from core.publishing import queries
from core.publishing.compose import PolicyBlocked, PublishingError, approve, compose, send_back, submit
from core.publishing.edit import PostChanges, edit_post
from core.runtime import Runtime
from tests.core.test_publishing import actor, request, seeded

__all__ = ["seeded"]  # the fixture, shared with the composing tests

pytestmark = pytest.mark.anyio
S = DeliveryState
FIXED = "Les marchés de producteurs reviennent ce week-end, place du Capitole."


def _later(days: int = 3) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def _compose(runtime: Runtime, seeded: dict[str, object], who: str, role: Role, *accounts: str, **fields: object):
    async with runtime.session() as session:
        result = await compose(
            session, runtime.channels, actor(seeded, who, role), request(seeded, *accounts, **fields)
        )
    return result.post.id


async def _edit(runtime: Runtime, seeded: dict[str, object], who: str, role: Role, post_id, **changes: object):
    async with runtime.session() as session:
        return await edit_post(session, runtime.channels, actor(seeded, who, role), post_id, PostChanges(**changes))


async def _states(db: AsyncSession, post_id) -> dict[str, str]:
    rows = (
        await db.execute(
            select(Account.channel, Delivery.state)
            .join(Account)
            .where(Delivery.post_id == post_id)
            .order_by(Delivery.created_at)
        )
    ).all()
    return {channel: state.value for channel, state in rows if state != S.CANCELED} | {
        f"{channel}:canceled": "canceled" for channel, state in rows if state == S.CANCELED
    }


async def test_a_sent_back_post_is_fixed_by_its_author_then_approved(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    when = _later()
    post_id = await _compose(runtime, seeded, "apprentie", Role.CONTRIBUTOR, "region_x", scheduled_at=when)
    async with runtime.session() as session:
        await send_back(session, actor(seeded, "dircom", Role.MANAGER), post_id, comment="Précise le lieu.")
    result = await _edit(runtime, seeded, "apprentie", Role.CONTRIBUTOR, post_id, text=FIXED)
    assert result.changed == ("text",)
    assert [d.state for d in result.deliveries] == [S.DRAFT]  # still hers to submit
    async with runtime.session() as session:
        await submit(
            session, runtime.channels, actor(seeded, "apprentie", Role.CONTRIBUTOR), post_id, scheduled_at=when
        )
    async with runtime.session() as session:
        (approved,) = await approve(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), post_id)
    assert approved.state == S.SCHEDULED
    post = await db.get(Post, post_id)
    assert post is not None and post.text == FIXED
    async with runtime.session() as session:
        history = await queries.history(session, approved.id)
    assert [e.kind for e in history] == ["created", "sent_back", "edited", "submitted", "approved"]
    edited = history[2].detail
    assert edited["changed"] == ["text"] and edited["state"] == "draft"
    assert edited["text_after"] == FIXED and edited["text_before"].startswith(
        "Les marchés de producteurs reviennent ce"
    )
    audit = await db.scalar(select(AuditEvent).where(AuditEvent.action == "post.edited"))
    assert audit is not None and audit.before is not None and audit.after is not None
    assert audit.after["text"] == FIXED and audit.before["text"] != FIXED
    assert audit.actor_id == seeded["people"]["apprentie"].id  # type: ignore[index]


async def test_new_words_on_an_approved_post_go_back_to_approval(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    post_id = await _compose(runtime, seeded, "apprentie", Role.CONTRIBUTOR, "region_x", scheduled_at=_later())
    async with runtime.session() as session:
        await approve(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), post_id, reason="ok")
    # even an editor's words: the approval signed the old ones
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, link="https://www.laregion.fr/marches")
    (delivery,) = result.deliveries
    assert delivery.state == S.PENDING_APPROVAL
    assert delivery.approved_by_id is None and delivery.approval_reason is None and delivery.approved_rules == []
    # nothing changed: nothing moves, nothing is written
    again = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, link="https://www.laregion.fr/marches")
    assert again.changed == ()
    assert len((await db.scalars(select(AuditEvent).where(AuditEvent.action == "post.edited"))).all()) == 1


async def test_an_editor_own_scheduled_post_stays_scheduled_unless_the_engine_asks(
    runtime: Runtime, seeded: dict[str, object]
) -> None:
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", scheduled_at=_later())
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text=FIXED)
    assert [d.state for d in result.deliveries] == [S.SCHEDULED]
    # first person on a persona that does not embody: a review, so approval
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text="Je suis fière de nos marchés.")
    assert [d.state for d in result.deliveries] == [S.PENDING_APPROVAL]
    assert any(f.rule == "first_person" for f in result.findings[seeded["region_x"].id])  # type: ignore[attr-defined]


async def test_only_the_author_or_an_editor_edits(runtime: Runtime, seeded: dict[str, object]) -> None:
    post_id = await _compose(runtime, seeded, "apprentie", Role.CONTRIBUTOR, "region_x", scheduled_at=_later())
    with pytest.raises(PublishingError, match="own posts"):
        await _edit(runtime, seeded, "other", Role.CONTRIBUTOR, post_id, text=FIXED)
    with pytest.raises(NotAllowed, match="compose"):
        await _edit(runtime, seeded, "other", Role.VIEWER, post_id, text=FIXED)
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text=FIXED)
    assert [d.state for d in result.deliveries] == [S.PENDING_APPROVAL]


@pytest.mark.parametrize("state", [S.QUEUED, S.PUBLISHING, S.PUBLISHED, S.UNCERTAIN])
async def test_no_edit_once_a_delivery_may_be_on_its_way(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession, state: DeliveryState
) -> None:
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", "region_fb", scheduled_at=_later())
    first = await db.scalar(
        select(Delivery.id).where(Delivery.post_id == post_id, Delivery.account_id == seeded["region_x"].id)
    )  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    await db.execute(
        update(Delivery)
        .where(Delivery.id == first)
        .values(state=state, remote_id="1", lease_until=now + timedelta(minutes=1))
    )
    await db.commit()
    with pytest.raises(PublishingError, match=f"no longer be edited: a delivery is {state.value}"):
        await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text=FIXED)
    post = await db.get(Post, post_id, populate_existing=True)
    assert post is not None and post.text != FIXED


async def test_accounts_taken_off_are_canceled_and_accounts_added_get_a_delivery(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    when = _later()
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", "region_fb", scheduled_at=when)
    x, fb = seeded["region_x"].id, seeded["region_fb"].id  # type: ignore[attr-defined]
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, account_ids=(x,))
    assert result.changed == ("accounts",)
    assert await _states(db, post_id) == {"x": "scheduled", "facebook:canceled": "canceled"}
    canceled = await db.scalar(select(Delivery).where(Delivery.post_id == post_id, Delivery.account_id == fb))
    assert canceled is not None  # kept, with its history
    kinds = (await db.scalars(select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == canceled.id))).all()
    assert list(kinds) == ["created", "canceled"]
    # the contributor's own post: an added account waits for approval, at the post's time
    post_id = await _compose(runtime, seeded, "apprentie", Role.CONTRIBUTOR, "region_x", scheduled_at=when)
    async with runtime.session() as session:
        await approve(session, runtime.channels, actor(seeded, "dircom", Role.MANAGER), post_id, reason="ok")
    result = await _edit(runtime, seeded, "apprentie", Role.CONTRIBUTOR, post_id, account_ids=(x, fb))
    assert await _states(db, post_id) == {"x": "scheduled", "facebook": "pending_approval"}
    added = next(d for d in result.deliveries if d.account_id == fb)
    assert added.scheduled_at == when


async def test_a_block_refuses_the_edit_and_changes_nothing(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    async with runtime.session() as session:
        tiktok = Account(persona_id=seeded["region"].id, channel="tiktok", handle="occitanie", external_id="t1")  # type: ignore[attr-defined]
        session.add(tiktok)
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", scheduled_at=_later())
    with pytest.raises(PolicyBlocked) as caught:
        await _edit(
            runtime,
            seeded,
            "cm",
            Role.EDITOR,
            post_id,
            text=FIXED,
            account_ids=(seeded["region_x"].id, tiktok.id),  # type: ignore[attr-defined]
        )
    assert list(caught.value.findings) == [tiktok.id]
    assert await _states(db, post_id) == {"x": "scheduled"}
    post = await db.get(Post, post_id)
    assert post is not None and post.text != FIXED
    assert (await db.scalars(select(AuditEvent).where(AuditEvent.action == "post.edited"))).all() == []


async def test_a_failed_delivery_with_new_words_becomes_a_new_draft(
    runtime: Runtime, seeded: dict[str, object], db: AsyncSession
) -> None:
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", scheduled_at=_later())
    await db.execute(update(Delivery).where(Delivery.post_id == post_id).values(state=S.FAILED, last_error="too long"))
    await db.commit()
    failed = await db.scalar(select(Delivery).where(Delivery.post_id == post_id))
    assert failed is not None
    # the same words (a media list unchanged): the failed delivery is left for a retry
    assert (await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, media_ids=())).changed == ()
    result = await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text=FIXED)
    (draft,) = result.deliveries
    assert draft.id != failed.id and draft.state == S.DRAFT and draft.scheduled_at is None
    assert draft.client_ref != failed.client_ref  # a new delivery, a new reference for the network
    assert await _states(db, post_id) == {"x": "draft", "x:canceled": "canceled"}
    async with runtime.session() as session:
        history = await queries.history(session, failed.id)
    assert history[-1].kind == "canceled" and history[-1].detail["replaced_by"] == str(draft.id)


async def test_the_words_are_checked_as_composing_checks_them(runtime: Runtime, seeded: dict[str, object]) -> None:
    post_id = await _compose(runtime, seeded, "cm", Role.EDITOR, "region_x", scheduled_at=_later())
    with pytest.raises(PublishingError, match="needs a text") as caught:
        await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, text="  ")
    assert caught.value.field == "text"
    with pytest.raises(PublishingError, match="at least one account"):
        await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, account_ids=())
    with pytest.raises(PublishingError, match="for this persona"):
        await _edit(runtime, seeded, "cm", Role.EDITOR, post_id, account_ids=(seeded["president_x"].id,))  # type: ignore[attr-defined]
