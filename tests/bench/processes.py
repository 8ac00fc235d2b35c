"""B1's scaling curve and B2's bare burst: worker processes, measured at the network.

``python -m tests.bench --workers 1 2 4 --postgres``: for 1, 2 and 4 worker processes, the same
number of bare arq jobs (one HTTP call each) and of deliveries through the whole path, each
figure taken where the requests arrive — the network that answers at once (``instant.py``)
stamps every request, and a rate is the requests over the time from the first to the last.
Worker processes are started and ready (polling an empty queue) before the work appears, so no
figure includes a process's start-up.

Each process is this module run as a script: ``bare <redis url> <network url> <ready key>`` runs a
plain arq worker whose job makes the HTTP call; ``whole <data dir> <database url> <redis url>
<network url> <ready key>`` runs Porte-voix's worker (``EmbeddedWorker``: arq, the dispatcher,
the sweeper) as ``portevoix worker`` does, with the instant channel registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

READY_TIMEOUT_S = 60.0


# ------------------------------------------------------------------ inside a worker process


async def _bare_worker(redis_url: str, network_url: str, ready_key: str) -> None:
    import httpx
    from arq.connections import create_pool
    from arq.worker import Worker, func

    from core.channels.host import HTTP_LIMITS
    from core.queue.worker import MAX_JOBS, POLL_DELAY_S, redis_settings

    client = httpx.AsyncClient(limits=HTTP_LIMITS)

    async def post(ctx: dict[str, Any], i: int) -> None:
        response = await client.post(f"{network_url}/posts", json={"text": f"Message de test n°{i}."})
        response.raise_for_status()

    pool = await create_pool(redis_settings(redis_url))
    worker = Worker(
        functions=[func(post, name="post", keep_result=0)],
        redis_pool=pool,
        handle_signals=False,
        poll_delay=POLL_DELAY_S,
        max_jobs=MAX_JOBS,
        keep_result=0,
    )
    task = asyncio.create_task(worker.async_run())
    await pool.incr(ready_key)
    await _until_terminated()
    task.cancel()
    with contextlib.suppress(BaseException):
        await worker.close()


async def _whole_worker(folder: str, database_url: str, redis_url: str, network_url: str, ready_key: str) -> None:
    from redis.asyncio import Redis

    from core.queue.worker import EmbeddedWorker
    from core.runtime import Runtime
    from core.settings import load_settings
    from tests.bench.instant import InstantPlugin

    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORTEVOIX_DATA_DIR": folder,
            "PORTEVOIX_LOG_LEVEL": "WARNING",
        },
        dotenv=None,
    )
    runtime = Runtime(settings)
    runtime.channels.register(InstantPlugin)
    runtime.base_url_overrides["instant"] = network_url
    worker = EmbeddedWorker(runtime)
    await worker.start()
    await asyncio.sleep(1.0)  # its first poll and dispatch done: polling an empty queue
    redis = Redis.from_url(redis_url)
    await redis.incr(ready_key)
    await redis.aclose()
    await _until_terminated()
    await worker.stop()
    await runtime.aclose()


async def _until_terminated() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# ------------------------------------------------------------------ the parent: start, wait, stop


class Processes:
    """k worker processes of one kind, started and ready; stopped with SIGTERM on exit."""

    def __init__(self, count: int, argv: list[str], redis_url: str) -> None:
        self.count, self.argv, self.redis_url = count, argv, redis_url
        self.ready_key = f"bench:ready:{os.getpid()}:{time.monotonic_ns()}"
        self.children: list[subprocess.Popen[bytes]] = []

    async def __aenter__(self) -> Processes:
        from redis.asyncio import Redis

        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        for _ in range(self.count):
            command = [sys.executable, "-m", "tests.bench.processes", *self.argv, self.ready_key]
            self.children.append(subprocess.Popen(command, env=env))
        redis = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while int(await redis.get(self.ready_key) or 0) < self.count:
            if time.monotonic() > deadline or any(child.poll() is not None for child in self.children):
                raise RuntimeError("a worker process did not start")
            await asyncio.sleep(0.05)
        await redis.aclose()
        return self

    async def __aexit__(self, *_: object) -> None:
        for child in self.children:
            child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                await asyncio.to_thread(child.wait, 30)
            except subprocess.TimeoutExpired:
                child.kill()


async def wait_requests(arrivals: Callable[[], list[float]], count: int, timeout: float = 600.0) -> list[float]:
    """The arrival times (time.time()) of the network's first ``count`` requests, once they are all in."""
    deadline = time.monotonic() + timeout
    while len(arrivals()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(arrivals())} of {count} requests reached the network")
        await asyncio.sleep(0.02)
    return sorted(arrivals())[:count]


def rate(stamps: list[float]) -> float:
    """Requests per second from the first to the last arrival."""
    return (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)


async def enqueue_bare(redis_url: str, count: int, *, at: datetime | None = None) -> None:
    """``count`` bare jobs, at once or deferred to ``at``, in one pipeline."""
    from arq.connections import create_pool

    from core.queue.worker import redis_settings

    pool = await create_pool(redis_settings(redis_url))
    await asyncio.gather(*(pool.enqueue_job("post", i, _defer_until=at) for i in range(count)))
    await pool.aclose()


def due_time(ahead_s: float) -> datetime:
    """A due time ``ahead_s`` from now on a whole second (what a scheduler hands out)."""
    return (datetime.now(UTC) + timedelta(seconds=ahead_s)).replace(microsecond=0)


if __name__ == "__main__":
    kind, *arguments = sys.argv[1:]
    if kind == "bare":
        asyncio.run(_bare_worker(*arguments))
    elif kind == "whole":
        asyncio.run(_whole_worker(*arguments))
    else:
        raise SystemExit(f"unknown kind {kind!r}: bare or whole")
