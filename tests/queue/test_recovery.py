"""The release of a dead worker's jobs (core.queue.recovery), against a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix

from core.queue import recovery
from core.queue.recovery import RunningJobs, beat, forget, release_orphans
from core.queue.worker import IN_PROGRESS_MS, make_worker

pytestmark = pytest.mark.anyio
AGE_MS = {"old": int(recovery.ORPHAN_AFTER_S * 1000) + 5000, "young": 1000}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    client = ArqRedis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def _started(redis: ArqRedis, job_id: str, *, age: str) -> None:
    """A due job of the queue that a worker started ``age`` ago (its in-progress mark)."""
    await redis.zadd(default_queue_name, {job_id: int(time.time() * 1000) - 60_000})
    await redis.set(in_progress_key_prefix + job_id, b"1", px=IN_PROGRESS_MS - AGE_MS[age])


async def test_only_old_marks_of_jobs_no_living_worker_runs_are_released(redis: ArqRedis) -> None:
    for job_id, age in [("dead:old", "old"), ("dead:young", "young"), ("alive:old", "old")]:
        await _started(redis, job_id, age=age)
    await redis.zadd(default_queue_name, {"waiting": int(time.time() * 1000) - 1000})  # never started
    await redis.set(recovery.WORKER_KEY + "w1", json.dumps(["alive:old"]), px=5000)
    await redis.sadd(recovery.WORKERS_KEY, "w1", "gone")  # "gone" stopped beating: its key expired

    assert await release_orphans(redis, in_progress_ms=IN_PROGRESS_MS) == ["dead:old"]
    marks = {j: await redis.exists(in_progress_key_prefix + j) for j in ("dead:old", "dead:young", "alive:old")}
    assert marks == {"dead:old": 0, "dead:young": 1, "alive:old": 1}
    assert await redis.zcard(default_queue_name) == 4  # the jobs stay: arq hands them to a living worker
    assert await redis.smembers(recovery.WORKERS_KEY) == {b"w1"}  # the dead one left the registry


async def test_a_worker_lists_its_running_jobs_and_forgets_them_when_it_stops(redis: ArqRedis) -> None:
    running = RunningJobs()
    running.started("publish:x:1")  # from inside this test's task, as arq's on_job_start hook is
    await beat(redis, "w2", running)
    assert await recovery.jobs_of_living_workers(redis) == {"publish:x:1"}
    await forget(redis, "w2")
    assert await recovery.jobs_of_living_workers(redis) == set()


async def test_the_mark_age_is_read_with_arqs_own_time_to_live(redis: ArqRedis) -> None:
    worker = make_worker(None, redis)  # type: ignore[arg-type]
    assert IN_PROGRESS_MS == int(worker.in_progress_timeout_s * 1000)
