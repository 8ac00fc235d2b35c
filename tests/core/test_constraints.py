"""Every model constraint is enforced by the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from core.audit import Actor, record
from core.db.enums import Role
from core.db.models import Account, Assignment, AuditEvent, Delivery, InboxItem, Persona, Post
from core.db.types import utcnow
from tests.factories import (
    AccountFactory,
    ChannelPolicyFactory,
    DeliveryFactory,
    PersonaFactory,
    PostFactory,
    StaffFactory,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def persona(db: AsyncSession) -> Persona:
    for factory in (PersonaFactory, AccountFactory, ChannelPolicyFactory, StaffFactory, PostFactory, DeliveryFactory):
        factory.__async_session__ = db
    return await PersonaFactory.create_async()


def _sql(statement: str) -> TextClause:
    # Raw SQL on purpose: the checks must hold in the database, past any Python validation.
    return text(statement).bindparams(bindparam("id", type_=sa.Uuid())) if ":id" in statement else text(statement)


async def _fails(db: AsyncSession, statement: str, params: dict[str, object] | None = None) -> None:
    with pytest.raises((IntegrityError, DBAPIError)):
        async with db.begin_nested():
            await db.execute(_sql(statement), params or {})


async def test_account_unique_per_persona_channel_external_id(db: AsyncSession, persona: Persona) -> None:
    await AccountFactory.create_async(persona_id=persona.id, channel="x", external_id="42")
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await AccountFactory.create_async(persona_id=persona.id, channel="x", external_id="42")
    # the same external id on another channel is another account
    await AccountFactory.create_async(persona_id=persona.id, channel="mastodon", external_id="42")


async def test_state_columns_accept_only_known_states(db: AsyncSession, persona: Persona) -> None:
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id)
    delivery = await DeliveryFactory.create_async(post_id=post.id, account_id=account.id)
    await _fails(db, "UPDATE deliveries SET state = 'lost' WHERE id = :id", {"id": delivery.id})
    await _fails(db, "UPDATE accounts SET status = 'sleeping' WHERE id = :id", {"id": account.id})
    await _fails(db, "UPDATE personas SET kind = 'company' WHERE id = :id", {"id": persona.id})


async def test_published_delivery_needs_remote_id_and_publishing_needs_lease(
    db: AsyncSession, persona: Persona
) -> None:
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id)
    delivery = await DeliveryFactory.create_async(post_id=post.id, account_id=account.id)
    await _fails(db, "UPDATE deliveries SET state = 'published' WHERE id = :id", {"id": delivery.id})
    await _fails(db, "UPDATE deliveries SET state = 'publishing' WHERE id = :id", {"id": delivery.id})
    await _fails(db, "UPDATE deliveries SET attempts = -1 WHERE id = :id", {"id": delivery.id})


async def test_client_ref_unique_per_account(db: AsyncSession, persona: Persona) -> None:
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id)
    await DeliveryFactory.create_async(post_id=post.id, account_id=account.id, client_ref="same")
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await DeliveryFactory.create_async(post_id=post.id, account_id=account.id, client_ref="same")


async def test_refused_channel_needs_reason_and_cadence_not_negative(db: AsyncSession, persona: Persona) -> None:
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await ChannelPolicyFactory.create_async(
                persona_id=persona.id, channel="tiktok", allowed=False, refusal_reason=None
            )
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await ChannelPolicyFactory.create_async(persona_id=persona.id, channel="x", posts_per_day=-1)


async def test_repost_needs_target(db: AsyncSession, persona: Persona) -> None:
    with pytest.raises(IntegrityError):
        async with db.begin_nested():
            await PostFactory.create_async(persona_id=persona.id, kind="repost", repost_of=None)


async def test_a_reply_delivery_answers_an_item_and_error_kinds_are_known(db: AsyncSession, persona: Persona) -> None:
    account = await AccountFactory.create_async(persona_id=persona.id)
    item = InboxItem(
        account_id=account.id,
        persona_id=persona.id,
        remote_id="c1",
        kind="comment",
        author_remote_id="7",
        text="?",
        received_at=utcnow(),
    )
    db.add(item)
    post = await PostFactory.create_async(persona_id=persona.id, kind="reply", text="Merci.")
    reply = await DeliveryFactory.create_async(
        post_id=post.id, account_id=account.id, kind="reply", in_reply_to_id=item.id
    )
    other = await DeliveryFactory.create_async(post_id=post.id, account_id=account.id)
    await _fails(db, "UPDATE deliveries SET in_reply_to_id = NULL WHERE id = :id", {"id": reply.id})
    await _fails(db, "UPDATE deliveries SET kind = 'reply' WHERE id = :id", {"id": other.id})
    await _fails(db, "UPDATE deliveries SET error_kind = 'gremlins' WHERE id = :id", {"id": other.id})
    await db.execute(_sql("UPDATE deliveries SET error_kind = 'transient' WHERE id = :id"), {"id": other.id})
    # what went out stays on record with what it answered: RESTRICT
    await _fails(db, "DELETE FROM inbox_items WHERE id = :id", {"id": item.id})


async def test_foreign_keys_delete_behaviour(db: AsyncSession, persona: Persona) -> None:
    staff = await StaffFactory.create_async()
    db.add(Assignment(staff_id=staff.id, persona_id=persona.id, role=Role.EDITOR))
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id, author_id=staff.id)
    delivery = await DeliveryFactory.create_async(post_id=post.id, account_id=account.id)
    await db.flush()
    # an account with deliveries cannot vanish: RESTRICT
    await _fails(db, "DELETE FROM accounts WHERE id = :id", {"id": account.id})
    # deleting a staff member removes their assignments and keeps their posts, without author
    await db.execute(_sql("DELETE FROM staff WHERE id = :id"), {"id": staff.id})
    assert await db.scalar(select(Assignment).where(Assignment.staff_id == staff.id)) is None
    assert (await db.scalar(select(Post.author_id).where(Post.id == post.id))) is None
    # deleting a post deletes its deliveries
    await db.execute(_sql("DELETE FROM posts WHERE id = :id"), {"id": post.id})
    assert (
        await db.scalar(select(Delivery).where(Delivery.id == delivery.id).execution_options(populate_existing=True))
        is None
    )


async def test_audit_log_is_append_only(db: AsyncSession) -> None:
    event = record(db, Actor.system("test"), "thing.done", "thing", "1")
    await db.flush()
    await _fails(db, "UPDATE audit_events SET action = 'rewritten' WHERE id = :id", {"id": event.id})
    await _fails(db, "DELETE FROM audit_events WHERE id = :id", {"id": event.id})
    assert await db.scalar(select(AuditEvent.action).where(AuditEvent.id == event.id)) == "thing.done"


async def test_naive_datetimes_are_refused_and_values_come_back_in_utc(db: AsyncSession, persona: Persona) -> None:
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id)
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.begin_nested():
            await DeliveryFactory.create_async(
                post_id=post.id, account_id=account.id, scheduled_at=datetime(2027, 3, 28, 9)
            )
    from zoneinfo import ZoneInfo

    paris = datetime(2027, 3, 28, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))  # after the spring change: UTC+2
    delivery = await DeliveryFactory.create_async(post_id=post.id, account_id=account.id, scheduled_at=paris)
    await db.commit()
    db.expunge_all()
    stored = await db.scalar(select(Delivery.scheduled_at).where(Delivery.id == delivery.id))
    assert stored is not None and stored.utcoffset().total_seconds() == 0
    assert stored.hour == 7 and stored == paris
    assert (await db.get(Account, account.id)) is not None
