"""A reply is a delivery: a worker killed with SIGKILL mid-send leaves exactly one reply on the
network, and the item answered once (``portevoix worker`` processes, a real Redis, the fake X)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.db.enums import DeliveryState, InboxKind, InboxStatus
from core.db.models import InboxEvent, InboxItem
from core.inbox import service
from tests.queue.conftest import Pipeline, WorkerProcess

pytestmark = pytest.mark.anyio
QUESTION = "Les inscriptions au transport scolaire sont-elles ouvertes ?"
ANSWER = "Oui, jusqu'au 15 juillet, sur le site de la Région."


async def test_sigkill_during_a_reply_leaves_one_reply_and_one_answer(crash_pipeline: Pipeline) -> None:
    fake = crash_pipeline.fake
    tweet = fake.add_mention(crash_pipeline.runtime.host.account_ref(crash_pipeline.account), QUESTION)
    async with crash_pipeline.runtime.session() as session:
        item = InboxItem(
            account_id=crash_pipeline.account.id,
            persona_id=crash_pipeline.account.persona_id,
            remote_id=tweet.id,
            kind=InboxKind.MENTION,
            thread_remote_id=tweet.id,
            author_remote_id=tweet.author_id,
            text=tweet.text,
            received_at=datetime.now(UTC),
        )
        session.add(item)
    # The network takes the reply, then answers only 30 s later: the worker dies before it hears back.
    fake.fail_next("slow", delay=30, path=r"^/2/tweets$")
    async with crash_pipeline.runtime.session() as session:
        result = await service.reply(session, crash_pipeline.runtime.channels, crash_pipeline.editor, item.id, ANSWER)
    delivery_id = result.deliveries[0].id
    first = WorkerProcess(crash_pipeline)
    first.start()
    try:
        for _ in range(300):
            if fake.requests_to("POST", r"^/2/tweets$"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
        first.kill()
    finally:
        first.stop()
    assert (await crash_pipeline.delivery(delivery_id)).state == DeliveryState.PUBLISHING
    second = WorkerProcess(crash_pipeline)
    second.start()
    try:
        published = await crash_pipeline.wait_for(delivery_id, DeliveryState.PUBLISHED, timeout=40)
    finally:
        second.stop()
    replies = [t for t in fake.tweets.values() if t.text == ANSWER]
    assert len(replies) == 1 and published.remote_id == replies[0].id
    assert replies[0].referenced == [{"type": "replied_to", "id": tweet.id}]
    assert len(fake.requests_to("POST", r"^/2/tweets$")) == 1  # reconciled, never sent again
    async with crash_pipeline.runtime.sessions() as session:
        stored = await session.get(InboxItem, item.id)
        responses = (await session.scalars(select(InboxEvent.kind).where(InboxEvent.item_id == item.id))).all()
    assert stored is not None and stored.status == InboxStatus.ANSWERED
    assert [k for k in responses if k.endswith("response")] == ["first_response"]
