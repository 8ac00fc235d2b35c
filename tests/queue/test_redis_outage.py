"""Issue 10 item 6 (the workers' side): a worker outlives a Redis restart on its own.

A Redis server of the test's own (never the shared one: it is stopped and started again),
a ``portevoix worker`` process or the embedded worker, and the fake X. While Redis is down the
worker waits and says so; once Redis is back (empty, as after a restart) it takes jobs again,
the post due during the outage goes out, and the one whose send was in flight when Redis went
away is recorded from its answer — each exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db.enums import DeliveryState
from core.queue.worker import EmbeddedWorker
from core.settings import Settings
from plugins.testing import serve_in_thread
from plugins.testing.fakes.x import FakeX
from tests.queue.conftest import Pipeline, WorkerProcess, build_pipeline
from tests.reliability.services import REDIS_SERVER, RedisServer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason=f"no {REDIS_SERVER}"),
]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outage_pipeline(settings: Settings, own_redis: RedisServer) -> AsyncIterator[Pipeline]:
    if not settings.is_sqlite:
        pytest.skip("runs once, on SQLite: the database plays no part in a Redis outage")
    fake = FakeX()
    with serve_in_thread(fake) as url:
        built = await build_pipeline(settings, own_redis.url, fake, url)
        built.extra["fake_url"] = url
        yield built
        await built.runtime.aclose()


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _ride_through_an_outage(pipeline: Pipeline, redis: RedisServer, alive) -> None:  # type: ignore[no-untyped-def]
    fake = pipeline.fake
    before = await pipeline.compose("Avant la panne de Redis.", publish_now=True)
    await pipeline.wait_for(before.deliveries[0].id, DeliveryState.PUBLISHED, timeout=20)

    # A send in flight when Redis goes away: the network answers 3 s later.
    fake.fail_next("slow", delay=3, path=r"^/2/tweets$")
    in_flight = await pipeline.compose("Pendant la panne de Redis.", publish_now=True)
    await _until(lambda: len(fake.requests_to("POST", r"^/2/tweets$")) == 2, 15, "the second send")
    redis.stop()
    during = await pipeline.compose("Due pendant la panne.", when=datetime.now(UTC) + timedelta(seconds=2))
    await pipeline.wait_for(in_flight.deliveries[0].id, DeliveryState.PUBLISHED, timeout=15)
    await asyncio.sleep(4)
    assert alive(), "the worker stopped when Redis went away"

    redis.start()  # empty, as after a restart: the database rebuilds the work
    published = await pipeline.wait_for(during.deliveries[0].id, DeliveryState.PUBLISHED, timeout=20)
    assert alive()
    assert published.remote_id in fake.tweets
    counts = Counter(t.text for t in fake.tweets.values())
    assert counts == Counter(["Avant la panne de Redis.", "Pendant la panne de Redis.", "Due pendant la panne."])


async def test_a_worker_process_waits_for_redis_and_reconnects(
    outage_pipeline: Pipeline, own_redis: RedisServer
) -> None:
    worker = WorkerProcess(outage_pipeline)
    worker.start()
    try:
        await _ride_through_an_outage(outage_pipeline, own_redis, lambda: worker.process.poll() is None)  # type: ignore[union-attr]
    finally:
        worker.stop()
    log = worker.log.read_text()
    assert "Redis unreachable" in log and "Redis is back" in log


async def test_the_embedded_worker_waits_for_redis_and_reconnects(
    outage_pipeline: Pipeline, own_redis: RedisServer
) -> None:
    worker = EmbeddedWorker(outage_pipeline.runtime)
    await worker.start()
    task = worker._task
    try:
        await _ride_through_an_outage(outage_pipeline, own_redis, lambda: task is not None and not task.done())
    finally:
        await worker.stop()
