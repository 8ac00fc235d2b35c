"""Issue 10 item 1: the orphaned jobs of killed workers never stall the queue of the living.

A worker killed with SIGKILL leaves arq's ``in-progress`` key of each job it was running for the
job timeout plus 10 s; a worker reads only the first ``queue_read_limit`` due entries of the
queue and skips those in progress. Once orphans fill that head, nothing else is read — unless
the living workers recover them. The living worker reads the queue 3 entries at a time here so
that four orphans are enough.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from redis.asyncio import Redis

from core.db.enums import DeliveryState
from tests.queue.conftest import Pipeline, WorkerProcess

pytestmark = pytest.mark.anyio

READ_LIMIT = 3
ORPHANS = 4
#: ``portevoix worker``, reading the queue READ_LIMIT entries at a time
SMALL_READS = (
    "-c",
    "from core.queue.worker import run_worker; from core.settings import load_settings; "
    f"run_worker(load_settings(), queue_read_limit={READ_LIMIT})",
)


async def _in_flight(pipeline: Pipeline, count: int, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(pipeline.fake.requests_to("POST", r"^/2/tweets$")) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {len(pipeline.fake.requests_to('POST', r'^/2/tweets$'))} sends started")
        await asyncio.sleep(0.05)


async def _orphans(redis_url: str) -> int:
    client = Redis.from_url(redis_url)
    try:
        return len(await client.keys("arq:in-progress:publish:*"))
    finally:
        await client.aclose()


async def test_orphans_of_a_killed_worker_do_not_stall_the_living(crash_pipeline: Pipeline) -> None:
    fake = crash_pipeline.fake
    # The network takes each of the first posts and answers a minute later: the worker dies first.
    fake.fail_next("slow", times=ORPHANS, delay=60, path=r"^/2/tweets$")
    first = [(await crash_pipeline.compose(f"Annonce {i} avant la panne.", publish_now=True)) for i in range(ORPHANS)]
    doomed = WorkerProcess(crash_pipeline)
    doomed.start()
    try:
        await _in_flight(crash_pipeline, ORPHANS, timeout=30)
        doomed.kill()
    finally:
        doomed.stop()
    assert await _orphans(crash_pipeline.redis_url) >= READ_LIMIT  # the head of the queue is orphans only

    living = WorkerProcess(crash_pipeline, SMALL_READS)
    living.start()
    try:
        later = await crash_pipeline.compose("Annonce après la panne.", publish_now=True)
        # Published within seconds, not after the orphans' 610 s.
        published = await crash_pipeline.wait_for(later.deliveries[0].id, DeliveryState.PUBLISHED, timeout=20)
        # The killed worker's deliveries are reconciled (the network had taken them), never sent twice.
        settled = [
            await crash_pipeline.wait_for(r.deliveries[0].id, DeliveryState.PUBLISHED, timeout=20) for r in first
        ]
    finally:
        living.stop()
    counts = Counter(t.text for t in fake.tweets.values())
    assert counts == Counter([*(f"Annonce {i} avant la panne." for i in range(ORPHANS)), "Annonce après la panne."])
    assert published.remote_id in fake.tweets
    assert {d.remote_id for d in settled} == {t.id for t in fake.tweets.values() if "avant" in t.text}
