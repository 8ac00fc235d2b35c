"""The arq side: plain async job functions, cron jobs, and ``WorkerSettings``.

Run any number of workers against ``REDIS_URL``::

    portevoix worker            # or: arq core.queue.worker.WorkerSettings

In the embedded mode the same worker runs inside the web process (:func:`start_embedded_worker`).
arq is at-least-once: every job here is safe to run twice, because the database decides
(compare-and-set on the delivery's state), never the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Any

from arq import cron
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker, func

from core.accounts import service as accounts
from core.publishing import outbox as publisher
from core.runtime import Runtime
from core.settings import Settings, load_settings

#: how often the worker polls Redis for jobs; also bounds how late a due post can start
POLL_DELAY_S = 0.1


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def publish_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    return await publisher.publish_delivery(ctx["runtime"], uuid.UUID(delivery_id), worker_id=ctx["worker_id"])


async def reconcile_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    return await publisher.reconcile_delivery(ctx["runtime"], uuid.UUID(delivery_id))


async def dispatch(ctx: dict[str, Any]) -> int:
    return await publisher.dispatch_due(ctx["runtime"], ctx["redis"])


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    return await publisher.sweep(ctx["runtime"], ctx["redis"])


async def refresh_tokens(ctx: dict[str, Any]) -> int:
    return await accounts.refresh_due(ctx["runtime"])


FUNCTIONS = [
    # keep_result=0: a finished job leaves no result behind, so the sweeper can always re-enqueue.
    func(publish_delivery, name="publish_delivery", keep_result=0, timeout=600, max_tries=3),
    func(reconcile_delivery, name="reconcile_delivery", keep_result=0, timeout=120, max_tries=3),
]
CRON_JOBS = [
    # Every second: a due post starts within about a second. Unique per tick, so several
    # workers never run the same tick twice; the compare-and-set makes overlaps harmless anyway.
    cron(dispatch, name="dispatch", second=set(range(60)), run_at_startup=True, unique=True, timeout=30),
    cron(sweep, name="sweep", second=set(range(0, 60, 5)), run_at_startup=True, unique=True, timeout=60),
    # Twice an hour: tokens expiring within two days are refreshed (a refused refresh → needs_reauth).
    cron(refresh_tokens, name="refresh_tokens", minute={7, 37}, second=0, unique=True, timeout=300),
]


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def _startup(ctx: dict[str, Any]) -> None:
    ctx.setdefault("runtime", Runtime(load_settings()))
    ctx.setdefault("worker_id", worker_id())


async def _shutdown(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_runtime", True):
        await ctx["runtime"].aclose()


class WorkerSettings:
    """``arq core.queue.worker.WorkerSettings`` — settings from the environment, like the web."""

    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = _startup
    on_shutdown = _shutdown
    poll_delay = POLL_DELAY_S
    max_jobs = 20
    job_timeout = 600
    keep_result = 0
    redis_settings = redis_settings(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")


def make_worker(runtime: Runtime, pool: ArqRedis, **options: Any) -> Worker:
    """A worker bound to an existing runtime (embedded mode, tests, benchmarks)."""
    ctx = {"runtime": runtime, "worker_id": worker_id(), "owns_runtime": False}
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=options.pop("cron_jobs", CRON_JOBS),
        redis_pool=pool,
        ctx=ctx,
        handle_signals=options.pop("handle_signals", False),
        poll_delay=POLL_DELAY_S,
        max_jobs=options.pop("max_jobs", 20),
        keep_result=0,
        on_shutdown=_shutdown,
        **options,
    )


class EmbeddedWorker:
    """The arq worker inside the web process (the embedded mode)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._worker: Worker | None = None
        self._pool: ArqRedis | None = None

    async def start(self) -> None:
        # The worker gets its own pool: Worker.close() closes the pool it was given.
        self._pool = await create_pool(redis_settings(self.runtime.redis_url))
        self._worker = make_worker(self.runtime, self._pool)
        self._task = asyncio.create_task(self._worker.async_run())

    async def stop(self) -> None:
        """Stop taking jobs; jobs in flight are cancelled and re-run later (arq re-queues them)."""
        if self._worker is not None:
            running = [*self._worker.tasks.values(), *self._worker.job_tasks.values()]
            # close() cancels the job tasks and gathers them, but stops at the first
            # CancelledError; wait for every one of them (and collect their errors) before the
            # pool closes, so no job is left half-finished on a closed connection.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker.close()
            await asyncio.gather(*running, return_exceptions=True)
            # arq finishes a job's bookkeeping in asyncio.shield(): that inner task outlives the
            # cancelled job; let it end (and collect its error) before the pool closes under it.
            await asyncio.gather(*_arq_bookkeeping_tasks(), return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.aclose()


def _arq_bookkeeping_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and getattr(task.get_coro(), "__qualname__", "").startswith(("Worker.finish_job", "Worker.finish_failed_job"))
    ]


async def enqueue_pool(runtime: Runtime) -> ArqRedis:
    return await create_pool(redis_settings(runtime.redis_url))


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """``portevoix worker``: a standalone worker process with its own runtime."""
    import logging

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        runtime = Runtime(settings)
        from core.db.migrate import ensure_schema_current

        await ensure_schema_current(runtime.engine)
        pool = await create_pool(redis_settings(runtime.redis_url))
        worker = make_worker(runtime, pool, burst=burst, handle_signals=True)
        try:
            await worker.async_run()
        finally:
            await worker.close()
            await runtime.aclose()

    asyncio.run(main())
