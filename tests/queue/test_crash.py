"""A worker process killed with SIGKILL in the middle of a send: no double post, no lost post."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db.enums import DeliveryState
from core.db.models import Delivery, DeliveryEvent
from tests.queue.conftest import Pipeline, WorkerProcess

pytestmark = pytest.mark.anyio


async def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_sigkill_during_the_send_is_reconciled_to_exactly_one_post(crash_pipeline: Pipeline) -> None:
    fake = crash_pipeline.fake
    # The network takes the tweet, then answers only 30 s later: the worker dies before it hears back.
    fake.fail_next("slow", delay=30, path=r"^/2/tweets$")
    result = await crash_pipeline.compose("La Région ouvre la saison des randonnées.", publish_now=True)
    delivery_id = result.deliveries[0].id
    assert result.deliveries[0].state == DeliveryState.SCHEDULED
    first = WorkerProcess(crash_pipeline)
    first.start()
    try:

        async def sent() -> bool:
            return bool(fake.requests_to("POST", r"^/2/tweets$"))

        await _wait(sent, 30)
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
    tweets = [t for t in fake.tweets.values() if t.text == "La Région ouvre la saison des randonnées."]
    assert len(tweets) == 1 and published.remote_id == tweets[0].id
    assert len(fake.requests_to("POST", r"^/2/tweets$")) == 1  # reconciled, never sent again
    async with crash_pipeline.runtime.sessions() as session:
        kinds = (
            await session.scalars(
                select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == delivery_id).order_by(DeliveryEvent.at)
            )
        ).all()
    assert "uncertain" in kinds and kinds[-1] == "reconciled"


async def test_random_kills_over_a_batch_lose_nothing_and_duplicate_nothing(crash_pipeline: Pipeline) -> None:
    """12 deliveries, a worker killed 3 times at random (the long runs: scripts/fault_run.py, R1)."""
    rng = random.Random(20261126)
    fake = crash_pipeline.fake
    for _ in range(4):
        fake.fail_next("slow", delay=3, path=r"^/2/tweets$")
    soon = datetime.now(UTC) + timedelta(seconds=1)
    ids: list[uuid.UUID] = []
    for i in range(12):
        result = await crash_pipeline.compose(
            f"Annonce n°{i} du conseil régional.", when=soon + timedelta(milliseconds=300 * i)
        )
        ids.append(result.deliveries[0].id)
    worker = WorkerProcess(crash_pipeline)
    worker.start()
    try:
        for _ in range(3):
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            worker.kill()
            worker.start()

        async def settled() -> bool:
            async with crash_pipeline.runtime.sessions() as session:
                states = (await session.scalars(select(Delivery.state).where(Delivery.id.in_(ids)))).all()
            return all(state == DeliveryState.PUBLISHED for state in states)

        try:
            await _wait(settled, 90)
        except AssertionError:
            async with crash_pipeline.runtime.sessions() as session:
                rows = (
                    await session.execute(
                        select(Delivery.state, Delivery.error_kind, Delivery.last_error).where(Delivery.id.in_(ids))
                    )
                ).all()
            raise AssertionError(f"not all published: {rows}") from None
    finally:
        worker.stop()
    counts = Counter(t.text for t in fake.tweets.values())
    assert sorted(counts) == sorted(f"Annonce n°{i} du conseil régional." for i in range(12))  # none lost
    assert set(counts.values()) == {1}  # none twice
