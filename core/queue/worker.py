"""The arq side: plain async job functions, the worker's settings, and a worker that outlives Redis.

Run any number of workers against ``REDIS_URL``::

    portevoix worker            # or: arq core.queue.worker.WorkerSettings

In the embedded mode the same worker runs inside the web process (:class:`EmbeddedWorker`).
arq is at-least-once: every job here is safe to run twice, because the database decides
(compare-and-set on the delivery's state), never the queue. The dispatcher, the sweeper and the
release of a dead worker's jobs are not arq jobs: they run beside arq (``core.queue.recovery``),
so that they never wait in the queue they recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
import weakref
from typing import Any

import structlog
from arq import cron
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker, func
from redis.exceptions import RedisError

from core.accounts import service as accounts
from core.inbox import sync as inbox_sync
from core.media import library as media_library
from core.notifications.jobs import mail_notifications
from core.publishing import outbox as publisher
from core.queue.recovery import Loops, RunningJobs
from core.runtime import Runtime
from core.settings import Settings, load_settings
from core.usage import alerts, retention
from core.usage import budget as usage_budget
from core.usage.metrics import collect_metrics
from core.veille import collect as veille_collect
from core.veille import crisis
from core.veille.search import collect_watch_searches

log = structlog.get_logger(__name__)

#: how often the worker polls Redis for jobs; also bounds how late a due post can start
POLL_DELAY_S = 0.1
#: jobs one worker runs at once; arq starts at most this many per poll, so it caps a burst's pace
#: too (a delivery mostly waits on the database and the network, not on this process's CPU)
MAX_JOBS = 50
#: what a lost Redis raises (redis-py's errors, and the socket's: refused, reset, timed out)
REDIS_DOWN = (RedisError, OSError)
#: waits between two attempts to reach Redis again: doubling from the first to the last
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 5.0
#: a worker that ran this long before losing Redis starts its backoff afresh
STABLE_S = 30.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def publish_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    runtime: Runtime = ctx["runtime"]
    delivery = uuid.UUID(delivery_id)

    async def before_send(account_id: uuid.UUID) -> None:
        await _warn_if_budget_low(runtime, delivery, account_id)

    return await publisher.publish_delivery(runtime, delivery, worker_id=ctx["worker_id"], before_send=before_send)


#: an account whose budget was not low is not looked at again for this long (in this process):
#: a burst of sends on one account reads its quota snapshots once a second, not once a send
BUDGET_FRESH_S = 1.0
#: runtime → account id → when its budget was last found not low (monotonic seconds)
_budget_fine: weakref.WeakKeyDictionary[Runtime, dict[uuid.UUID, float]] = weakref.WeakKeyDictionary()


async def _warn_if_budget_low(runtime: Runtime, delivery_id: uuid.UUID, account_id: uuid.UUID | None = None) -> None:
    """A low API budget warns the persona before the send; the send goes on (posts come first).

    A low budget is checked before every send (each one warns); a budget found not low is
    trusted for :data:`BUDGET_FRESH_S`: it only moves with the networks' reports."""
    fine = _budget_fine.setdefault(runtime, {})
    if account_id is not None and time.monotonic() - fine.get(account_id, -BUDGET_FRESH_S) < BUDGET_FRESH_S:
        return
    try:
        async with runtime.session() as session:
            if account_id is None:
                low = await usage_budget.warn_before_send(session, delivery_id)
            else:
                low = await usage_budget.warn_if_low(session, account_id)
        if account_id is not None:
            if low is None:
                fine[account_id] = time.monotonic()
            else:
                fine.pop(account_id, None)
    except Exception:  # bookkeeping: it never stops a send
        log.exception("budget check before a send failed", delivery=str(delivery_id))


async def reconcile_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    return await publisher.reconcile_delivery(ctx["runtime"], uuid.UUID(delivery_id))


async def refresh_tokens(ctx: dict[str, Any]) -> int:
    return await accounts.refresh_due(ctx["runtime"])


async def sync_inboxes(ctx: dict[str, Any]) -> int:
    return await inbox_sync.sync_due_accounts(ctx["runtime"])


async def clear_unused_media(ctx: dict[str, Any]) -> int:
    runtime: Runtime = ctx["runtime"]
    async with runtime.session() as session:
        return await media_library.clear_unused(session)


async def raise_usage_alerts(ctx: dict[str, Any]) -> int:
    return (await alerts.raise_usage_alerts(ctx["runtime"])).raised


async def send_usage_webhooks(ctx: dict[str, Any]) -> int:
    return await alerts.send_usage_webhooks(ctx["runtime"])


async def purge_usage(ctx: dict[str, Any]) -> int:
    report = await retention.purge_usage(ctx["runtime"])
    return report.total("usage_samples_folded") + report.total("inbox_items_purged")


async def watch_crisis(ctx: dict[str, Any]) -> int:
    return (await crisis.watch_crisis(ctx["runtime"])).proposed


async def watch_spikes(ctx: dict[str, Any]) -> int:
    return (await crisis.watch_spikes(ctx["runtime"])).raised


async def collect_veille(ctx: dict[str, Any]) -> int:
    run = await veille_collect.collect_due(ctx["runtime"])
    await crisis.assess_collected(ctx["runtime"], run.item_ids)  # a vigilance is seen the minute it comes
    return run.items


FUNCTIONS = [
    # keep_result=0: a finished job leaves no result behind, so the sweeper can always re-enqueue.
    # The publish timeout bounds a send (a video upload may take minutes), not recovery: a dead
    # worker's jobs are released by the living within seconds (core.queue.recovery).
    func(publish_delivery, name="publish_delivery", keep_result=0, timeout=600, max_tries=3),
    func(reconcile_delivery, name="reconcile_delivery", keep_result=0, timeout=120, max_tries=3),
]
CRON_JOBS = [
    # Twice an hour: tokens expiring within two days are refreshed (a refused refresh → needs_reauth).
    cron(refresh_tokens, name="refresh_tokens", minute={7, 37}, second=0, unique=True, timeout=300),
    # Every minute: the accounts whose last inbox poll is older than PORTEVOIX_INBOX_POLL_SECONDS.
    cron(sync_inboxes, name="sync_inboxes", second=30, unique=True, timeout=300),
    # Nightly: uploads no post took within 30 days (an abandoned composer) are deleted.
    cron(clear_unused_media, name="clear_unused_media", hour=3, minute=17, second=0, unique=True, timeout=300),
    # Hourly: each connected account's audience and its posts' engagement (accounts low on budget wait).
    cron(collect_metrics, name="collect_metrics", minute=41, second=0, unique=True, timeout=600),
    # Every 15 s: the notifications waiting for their e-mail (when SMTP is configured).
    cron(mail_notifications, name="mail_notifications", second={0, 15, 30, 45}, unique=True, timeout=120),
    # Every quarter of an hour: usage alerts raised and resolved (cadence, quotas, inbox, long days…).
    cron(raise_usage_alerts, name="raise_usage_alerts", minute={2, 17, 32, 47}, second=0, unique=True, timeout=300),
    # Every minute: the alerts waiting for the webhook (PORTEVOIX_USAGE_WEBHOOK_URL), retried.
    cron(send_usage_webhooks, name="send_usage_webhooks", second=45, unique=True, timeout=120),
    # Nightly: raw usage samples folded into days, the public's personal data purged past retention.
    cron(purge_usage, name="purge_usage", hour=3, minute=41, second=0, unique=True, timeout=600),
    # Every minute: the watch's due feeds fetched politely (core.veille.collect), new entries stored once.
    cron(collect_veille, name="collect_veille", second=5, unique=True, timeout=300),
    cron(collect_watch_searches, name="collect_watch_searches", second=50, unique=True, timeout=300),
    # Every 5 minutes: the watch's new items (crisis keywords, orange or red vigilance) propose a crisis posture.
    cron(watch_crisis, name="watch_crisis", minute=set(range(1, 60, 5)), second=10, unique=True, timeout=300),
    # Hourly: the volume-spike check of each persona's watch (the last 24 h against the week).
    cron(watch_spikes, name="watch_spikes", minute=23, second=0, unique=True, timeout=300),
]
JOB_TIMEOUT_S = 600
#: how long arq keeps a started job's in-progress mark: its longest job timeout + 10 s (arq's rule)
IN_PROGRESS_MS = int((max(f.timeout_s or JOB_TIMEOUT_S for f in [*FUNCTIONS, *CRON_JOBS]) + 10) * 1000)


def redis_settings(url: str, **options: Any) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    for name, value in options.items():
        setattr(settings, name, value)
    return settings


async def _job_started(ctx: dict[str, Any]) -> None:
    ctx["running"].started(ctx["job_id"])


async def _startup(ctx: dict[str, Any]) -> None:
    """``arq core.queue.worker.WorkerSettings``: the runtime and the loops of this process."""
    ctx.setdefault("runtime", Runtime(load_settings()))
    ctx.setdefault("worker_id", worker_id())
    ctx.setdefault("running", RunningJobs())
    if "loops" not in ctx:
        ctx["loops"] = Loops(ctx["runtime"], ctx["worker_id"], ctx["running"], in_progress_ms=IN_PROGRESS_MS)
        await ctx["loops"].start()


async def _shutdown(ctx: dict[str, Any]) -> None:
    loops = ctx.pop("loops", None)
    if loops is not None:
        await loops.stop()
    await ctx["runtime"].aclose()


class WorkerSettings:
    """``arq core.queue.worker.WorkerSettings`` — settings from the environment, like the web.

    Under arq's own command a lost Redis stops the worker (arq's behaviour); ``portevoix
    worker`` waits and reconnects instead (:class:`WorkerRunner`)."""

    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = _startup
    on_shutdown = _shutdown
    on_job_start = _job_started
    poll_delay = POLL_DELAY_S
    max_jobs = MAX_JOBS
    job_timeout = JOB_TIMEOUT_S
    keep_result = 0
    redis_settings = redis_settings(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")


def make_worker(runtime: Runtime, pool: ArqRedis, *, ctx: dict[str, Any] | None = None, **options: Any) -> Worker:
    """An arq worker bound to an existing runtime and pool (the runner, tests, benchmarks)."""
    ctx = ctx if ctx is not None else {"runtime": runtime, "worker_id": worker_id(), "running": RunningJobs()}
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=options.pop("cron_jobs", CRON_JOBS),
        redis_pool=pool,
        ctx=ctx,
        handle_signals=False,
        poll_delay=POLL_DELAY_S,
        max_jobs=options.pop("max_jobs", MAX_JOBS),
        job_timeout=JOB_TIMEOUT_S,
        keep_result=0,
        on_job_start=_job_started,
        **options,
    )


class WorkerRunner:
    """One arq worker, its loops, and what keeps it going when Redis goes away.

    On a lost connection the runner logs it, lets the jobs in flight finish their work (the
    database records it; only arq's bookkeeping of them fails), waits — 0.5 s, then twice as
    long each time, at most 5 s — and starts a new arq worker on a new connection. The loops
    (dispatch, sweep, heartbeat, orphans) keep their own client throughout. Nothing is lost:
    what Redis held is rebuilt from the database (``outbox.requeue_lost``).
    """

    def __init__(self, runtime: Runtime, *, burst: bool = False, **options: Any) -> None:
        self.runtime = runtime
        self.burst = burst
        self.options = options
        self.ctx: dict[str, Any] = {"runtime": runtime, "worker_id": worker_id(), "running": RunningJobs()}
        self.loops = Loops(runtime, self.ctx["worker_id"], self.ctx["running"], in_progress_ms=IN_PROGRESS_MS)
        self._worker: Worker | None = None
        #: workers whose Redis went away, and the task closing each once its jobs are done
        self._retired: dict[Worker, asyncio.Task[None]] = {}
        self._stopping = False
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Until :meth:`request_stop` (or, in burst mode, until the queue is empty)."""
        if self.burst:  # one pass of what the loops do, then arq drains the queue
            redis = ArqRedis.from_url(self.runtime.redis_url)
            await publisher.dispatch_due(self.runtime, redis)
            await publisher.sweep(self.runtime, redis)
            await redis.aclose()
        else:
            await self.loops.start()
        try:
            await self._serve()
        finally:
            await self._close_all()
            await self.loops.stop()

    async def _serve(self) -> None:
        delay, down_since = RECONNECT_FIRST_S, None
        while not self._stopping:
            began = time.monotonic()
            try:
                pool = await create_pool(redis_settings(self.runtime.redis_url, conn_retries=0, conn_timeout=2))
                if self._stopping:
                    await pool.aclose()
                    return
                if down_since is not None:
                    log.info(
                        "worker: Redis is back, taking jobs again", after_s=round(time.monotonic() - down_since, 1)
                    )
                    down_since = None
                self._worker = make_worker(self.runtime, pool, ctx=self.ctx, burst=self.burst, **self.options)
                await self._worker.async_run()
                return  # burst done
            except REDIS_DOWN as exc:
                if self._worker is not None:
                    self._retire(self._worker)
                    self._worker = None
                if time.monotonic() - began > STABLE_S:
                    delay = RECONNECT_FIRST_S
                down_since = down_since or time.monotonic()
                log.warning("worker: Redis unreachable; reconnecting", error=f"{type(exc).__name__}: {exc}", in_s=delay)
            except asyncio.CancelledError:
                # arq's main task was cancelled by request_stop (or this task itself is): stop.
                if not self._stopping:
                    raise
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def request_stop(self) -> None:
        """Stop taking jobs; jobs in flight are cancelled (arq runs them again later)."""
        self._stopping = True
        self._wake.set()
        if self._worker is not None:
            self._worker.handle_sig(signal.SIGTERM)

    def _retire(self, worker: Worker) -> None:
        # Its jobs in flight go on: a publish finishes and is recorded in the database.
        task = asyncio.create_task(_close(worker, cancel=False))
        self._retired[worker] = task
        task.add_done_callback(lambda _: self._retired.pop(worker, None))

    async def _close_all(self) -> None:
        for worker in list(self._retired):
            worker.handle_sig(signal.SIGTERM)
        await asyncio.gather(*self._retired.values(), return_exceptions=True)
        if self._worker is not None:
            # request_stop has already cancelled its jobs; an error on the way out has not
            await _close(self._worker, cancel=not self._stopping)
            self._worker = None


async def _close(worker: Worker, *, cancel: bool) -> None:
    """Wait for the worker's jobs (cancelled first when stopping), then close its pool."""
    running = [*worker.tasks.values(), *worker.job_tasks.values()]
    pool = worker._pool  # arq forgets it in close(); closed here in any case
    if cancel:
        worker.handle_sig(signal.SIGTERM)
    # arq's close() stops at the first CancelledError of its jobs: wait for every one of them
    # (and collect their errors) before the pool closes, so no job is left half-finished.
    await asyncio.gather(*running, return_exceptions=True)
    # arq finishes a job's bookkeeping in asyncio.shield(): that inner task outlives the
    # cancelled job; let it end (and collect its error) before the pool closes under it.
    await asyncio.gather(*_arq_bookkeeping_tasks(), return_exceptions=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(worker.pool.delete(worker.health_check_key), 2)
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.aclose()


def _arq_bookkeeping_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and getattr(task.get_coro(), "__qualname__", "").startswith(("Worker.finish_job", "Worker.finish_failed_job"))
    ]


class EmbeddedWorker:
    """The worker inside the web process (the embedded mode): a :class:`WorkerRunner` as a task."""

    def __init__(self, runtime: Runtime, **options: Any) -> None:
        self.runner = WorkerRunner(runtime, **options)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.runner.run())

    async def stop(self) -> None:
        """Stop taking jobs; jobs in flight are cancelled and re-run later (arq re-queues them)."""
        self.runner.request_stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


async def enqueue_pool(runtime: Runtime) -> ArqRedis:
    return await create_pool(redis_settings(runtime.redis_url))


def run_worker(settings: Settings, *, burst: bool = False, **options: Any) -> None:
    """``portevoix worker``: a standalone worker process with its own runtime."""
    import logging

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        runtime = Runtime(settings)
        from core.db.migrate import ensure_schema_current

        await ensure_schema_current(runtime.engine)
        runner = WorkerRunner(runtime, burst=burst, **options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, runner.request_stop)
        try:
            await runner.run()
        finally:
            await runtime.aclose()

    asyncio.run(main())
