"""Recovery that never waits in the queue it recovers: the loops every worker runs beside arq.

The dispatcher and the sweeper rebuild the work from the database; if they were arq jobs they
would wait in the same queue as the work they recover, and a queue whose head is blocked would
block them too. So each worker runs them as plain asyncio loops (:class:`Loops`), with two more:

- **heartbeat**: every :data:`HEARTBEAT_EVERY_S`, the key ``portevoix:worker:<worker id>``
  (expiring after :data:`WORKER_TTL_S`) lists the arq jobs this worker is running, and the set
  ``portevoix:workers`` names it;
- **orphans**: arq marks a job it starts with ``arq:in-progress:<job id>`` for the job timeout
  plus 10 s (610 s for ``publish_delivery``) and skips marked jobs; a worker reads only the
  first ``queue_read_limit`` due jobs of the queue. A worker killed mid-job leaves its marks, and
  enough of them at the head of the queue hide everything behind them from every living worker.
  A mark older than :data:`ORPHAN_AFTER_S` on a job that no living worker runs belonged to a
  dead worker: it is deleted, so arq hands the job to a living one. Running a job twice is
  harmless by design (the database's compare-and-set and the publish lease keep the work single).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix

from core.publishing import outbox
from core.runtime import Runtime

log = structlog.get_logger(__name__)

HEARTBEAT_EVERY_S = 1.0
#: a worker whose heartbeat is older than this is dead (its key expired)
WORKER_TTL_S = 6.0
#: a mark younger than this may belong to a job whose worker has not listed it yet
ORPHAN_AFTER_S = 6.0
ORPHAN_CHECK_EVERY_S = 1.0
#: how many due jobs the orphan check reads: at least the head a worker reads (``queue_read_limit``)
ORPHAN_SCAN = 200
DISPATCH_EVERY_S = 1.0
SWEEP_EVERY_S = 5.0
WORKERS_KEY = "portevoix:workers"
WORKER_KEY = "portevoix:worker:"
# Delete a mark only while it is still the old one: a mark set again since (by a living worker
# that took the job) has its full time to live again.
_RELEASE = """
local left = redis.call('pttl', KEYS[1])
if left > 0 and left < tonumber(ARGV[1]) then return redis.call('del', KEYS[1]) end
return 0
"""


class RunningJobs:
    """The arq jobs this process runs, from their start until arq's bookkeeping of them ends.

    arq's ``on_job_start`` hook runs inside the task that runs the job and finishes it (deleting
    its in-progress mark), so a job is listed exactly as long as that task lives.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def started(self, job_id: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks[job_id] = task

    def ids(self) -> list[str]:
        self._tasks = {job_id: task for job_id, task in self._tasks.items() if not task.done()}
        return sorted(self._tasks)


async def beat(redis: ArqRedis, worker_id: str, running: RunningJobs) -> None:
    """Say this worker is alive and which jobs it runs."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(WORKER_KEY + worker_id, json.dumps(running.ids()), px=int(WORKER_TTL_S * 1000))
        pipe.sadd(WORKERS_KEY, worker_id)
        await pipe.execute()


async def forget(redis: ArqRedis, worker_id: str) -> None:
    """A worker that stops says so: its jobs need not wait for its heartbeat to expire."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(WORKER_KEY + worker_id)
        pipe.srem(WORKERS_KEY, worker_id)
        await pipe.execute()


async def jobs_of_living_workers(redis: ArqRedis) -> set[str]:
    """Every job a living worker says it runs; dead workers leave the registry."""
    workers = sorted(w.decode() for w in await redis.smembers(WORKERS_KEY))
    if not workers:
        return set()
    beats = await redis.mget([WORKER_KEY + w for w in workers])
    dead = [w for w, b in zip(workers, beats, strict=True) if b is None]
    if dead:
        await redis.srem(WORKERS_KEY, *dead)
    return {job for b in beats if b is not None for job in json.loads(b)}


async def release_orphans(redis: ArqRedis, *, in_progress_ms: int, queue: str = default_queue_name) -> list[str]:
    """Delete the in-progress marks of due jobs that no living worker runs; the released job ids.

    ``in_progress_ms`` is the time to live arq gives a mark (the longest job timeout + 10 s):
    what is left of it tells the mark's age.
    """
    due = await redis.zrangebyscore(queue, "-inf", int(time.time() * 1000), start=0, num=ORPHAN_SCAN)
    if not due:
        return []
    job_ids = [j.decode() for j in due]
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.pttl(in_progress_key_prefix + job_id)
        left = await pipe.execute()
    young_enough = in_progress_ms - int(ORPHAN_AFTER_S * 1000)
    old = [j for j, ms in zip(job_ids, left, strict=True) if 0 < ms < young_enough]
    if not old:
        return []
    running = await jobs_of_living_workers(redis)
    release = redis.register_script(_RELEASE)
    released = []
    for job_id in old:
        if job_id not in running and await release(keys=[in_progress_key_prefix + job_id], args=[young_enough]):
            released.append(job_id)
    if released:
        log.warning("released the jobs of a dead worker", jobs=released)
    return released


class Loops:
    """Heartbeat, orphans, dispatch and sweep: plain asyncio loops beside the arq worker.

    They use a Redis client of their own, which reconnects by itself: a loop whose Redis or
    database is away logs it once, keeps trying at its pace, and says when it is back.
    """

    def __init__(self, runtime: Runtime, worker_id: str, running: RunningJobs, *, in_progress_ms: int) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.running = running
        self.in_progress_ms = in_progress_ms
        self.redis: ArqRedis | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.redis = ArqRedis.from_url(self.runtime.redis_url, socket_connect_timeout=2, socket_timeout=5)
        redis = self.redis
        every: list[tuple[str, float, Callable[[], Awaitable[object]]]] = [
            ("heartbeat", HEARTBEAT_EVERY_S, lambda: beat(redis, self.worker_id, self.running)),
            ("orphans", ORPHAN_CHECK_EVERY_S, lambda: release_orphans(redis, in_progress_ms=self.in_progress_ms)),
            ("dispatch", DISPATCH_EVERY_S, lambda: outbox.dispatch_due(self.runtime, redis)),
            ("sweep", SWEEP_EVERY_S, lambda: outbox.sweep(self.runtime, redis)),
        ]
        self._tasks = [asyncio.create_task(_repeat(name, seconds, step)) for name, seconds, step in every]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(forget(self.redis, self.worker_id), 2)
            with contextlib.suppress(Exception):
                await self.redis.aclose()
            self.redis = None


async def _repeat(name: str, seconds: float, step: Callable[[], Awaitable[object]]) -> None:
    """Run ``step`` every ``seconds`` forever; a failure is logged once per streak, never fatal."""
    failing = False
    while True:
        began = time.monotonic()
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or the database away: try again at the next tick
            if not failing:
                log.warning("worker loop failing; retrying", loop=name, error=f"{type(exc).__name__}: {exc}")
            failing = True
        else:
            if failing:
                log.info("worker loop recovered", loop=name)
            failing = False
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
