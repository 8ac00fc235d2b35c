"""The worker's hot path: the dispatcher's batch enqueue (one script call, arq's own job format),
and a burst through the Core claim and the one-transaction record, each post sent exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from arq.utils import to_unix_ms
from sqlalchemy import func, select, update

from core.db.enums import DeliveryState
from core.db.models import Delivery, DeliveryEvent, UsageSample
from core.publishing import outbox
from core.queue.worker import EmbeddedWorker
from plugins.testing.fakes.x import FakeX
from tests.queue.conftest import Pipeline, build_pipeline

pytestmark = pytest.mark.anyio


@pytest.fixture
async def idle(settings, redis_url: str, fake_x: tuple[FakeX, str]) -> AsyncIterator[Pipeline]:  # type: ignore[no-untyped-def]
    """The pipeline without a worker: what the dispatcher leaves in Redis stays there."""
    fake, url = fake_x
    fake.reset()
    built = await build_pipeline(settings, redis_url, fake, url)
    yield built
    await built.runtime.aclose()


async def _scheduled(pipeline: Pipeline, count: int, when: datetime) -> list[uuid.UUID]:
    ids = []
    for i in range(count):
        result = await pipeline.compose(f"Message {i} de la rafale.", when=when)
        ids.append(result.deliveries[0].id)
    async with pipeline.runtime.session() as session:  # due at the same instant
        await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(scheduled_at=when))
    return ids


async def test_the_dispatcher_enqueues_a_burst_as_arq_jobs_once(idle: Pipeline) -> None:
    when = datetime.now(UTC) + timedelta(seconds=1)
    ids = await _scheduled(idle, 5, when)
    redis = ArqRedis.from_url(idle.redis_url)
    try:
        assert await outbox.dispatch_due(idle.runtime, redis, now=when - timedelta(seconds=1)) == 5
        assert await redis.zcard(redis.default_queue_name) == 5
        for delivery_id in ids:
            job = Job(outbox.publish_job_id(delivery_id, 0), redis)
            info = await job.info()
            assert info is not None and info.function == "publish_delivery" and info.args == (str(delivery_id),)
            assert await job.status() == JobStatus.deferred  # deferred to its exact second
            score = await redis.zscore(redis.default_queue_name, job.job_id)
            assert score == to_unix_ms(when)
        # The same jobs again (a second dispatcher, a retried enqueue): nothing added or overwritten.
        first = await redis.get(f"arq:job:{outbox.publish_job_id(ids[0], 0)}")
        await outbox._enqueue_publishes(redis, [(i, 0, None) for i in ids])
        assert await redis.zcard(redis.default_queue_name) == 5
        assert await redis.get(f"arq:job:{outbox.publish_job_id(ids[0], 0)}") == first
        assert await redis.zscore(redis.default_queue_name, outbox.publish_job_id(ids[0], 0)) == score
    finally:
        await redis.aclose()


async def test_a_burst_is_published_once_each_with_its_history_and_usage(idle: Pipeline) -> None:
    when = datetime.now(UTC) + timedelta(seconds=2)
    ids = await _scheduled(idle, 30, when)
    worker = EmbeddedWorker(idle.runtime)
    await worker.start()
    try:
        for delivery_id in ids:
            await idle.wait_for(delivery_id, DeliveryState.PUBLISHED, timeout=30)
    finally:
        await worker.stop()
    await asyncio.sleep(0)
    texts = [t["text"] for t in idle.tweets()]
    assert sorted(texts) == sorted(f"Message {i} de la rafale." for i in range(30))  # each once
    async with idle.runtime.sessions() as session:
        kinds = (
            await session.execute(
                select(DeliveryEvent.kind, func.count())
                .where(DeliveryEvent.delivery_id.in_(ids))
                .group_by(DeliveryEvent.kind)
            )
        ).all()
        counts = dict(kinds)
        assert counts["queued"] == counts["attempt"] == counts["published"] == 30
        samples = dict(
            (
                await session.execute(
                    select(UsageSample.metric, func.count())
                    .where(UsageSample.account_id == idle.account.id)
                    .group_by(UsageSample.metric)
                )
            ).all()
        )
        # each send's quota snapshot (the fake X's rate-limit headers) beside its "sent" sample; the
        # embedded worker's own calls (an inbox sync, a watch search) bring snapshots of their own
        assert samples["posts_sent"] == 30
        assert 30 <= samples["quota_remaining"] <= len(idle.fake.received)
        published = (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all()
        assert all(d.attempts == 1 and d.lease_until is None and d.remote_id for d in published)
