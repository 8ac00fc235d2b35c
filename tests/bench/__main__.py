"""Benchmarks, printed side by side from one run on this machine: ``python -m tests.bench``.

1. Throughput: deliveries published per second through the whole path (dispatcher, arq on a
   real Redis, worker, policy re-check, plugin, HTTP to a network that answers at once,
   database updates) beside a bare arq job making the same single HTTP call; their ratio.
2. Lateness: 1,000 deliveries due in the same second; how late each one starts and is published.

``python -m tests.bench --lists [--postgres]``: a persona's deliveries at 10,000 and 1,000,000 rows,
through the API beside a bare Core route (``bench_lists.py``).

``python -m tests.bench --veille [--postgres]``: the watch's collector, 200 feeds × 50 items in one
cycle beside the same fetches without parsing and storage (``bench_veille.py``).

``python -m tests.bench --inbox [--postgres]``: the inbox's instead (``bench_inbox.py``): ingestion
through the real upsert against a raw executemany, and a persona's first page at 10,000 and
1,000,000 items.

Uses the Redis server on 127.0.0.1:6379 when it answers (else an embedded one) and a
throw-away SQLite database (and PostgreSQL too when it answers, with ``--postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from arq.connections import create_pool
from arq.worker import Worker, func
from redis.asyncio import Redis
from sqlalchemy import select, update

from core.audit import Actor
from core.channels.host import HTTP_LIMITS
from core.db import migrate
from core.db.enums import DeliveryState
from core.db.models import Account, Delivery, Post
from core.people.staff import create_staff
from core.personas.service import upsert_personas
from core.queue.worker import MAX_JOBS, POLL_DELAY_S, EmbeddedWorker, redis_settings
from core.runtime import EmbeddedRedis, Runtime
from core.settings import load_settings
from personas import ChannelPolicy, PersonaFile
from plugins.testing import serve_in_thread
from tests import redis_claims
from tests.bench import processes
from tests.bench.instant import InstantNetwork, InstantPlugin


def _redis_url(folder: Path) -> tuple[str, EmbeddedRedis | None]:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        claimed = redis_claims.claim()  # a database no test run holds: the bench flushes it
    except OSError:
        claimed = None
    if claimed is not None:
        atexit.register(redis_claims.release, claimed[1], claimed[2])
        return claimed[0], None
    server = EmbeddedRedis(folder / "redis")
    return server.url, server


async def _setup(
    database_url: str, redis_url: str, folder: Path, network_url: str
) -> tuple[Runtime, uuid.UUID, uuid.UUID, uuid.UUID]:
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORTEVOIX_DATA_DIR": str(folder),
            "PORTEVOIX_LOG_LEVEL": "WARNING",
        },
        dotenv=None,
    )
    runtime = Runtime(settings)
    runtime.channels.register(InstantPlugin)
    runtime.base_url_overrides["instant"] = network_url
    persona_file = PersonaFile(
        slug="bench", name="Bench", kind="institution", embodies=False, channels={"instant": ChannelPolicy()}
    )
    async with runtime.session() as session:
        (persona,) = await upsert_personas(session, [persona_file], Actor.system("bench"))
        account = Account(
            persona_id=persona.id,
            channel="instant",
            handle="bench",
            external_id="bench",
            credentials_encrypted=runtime.vault.encrypt(InstantNetwork().make_account().credentials),
        )
        session.add(account)
        staff = await create_staff(
            session, email="bench@bench.fr", display_name="b", password="long enough pw", actor=Actor.system("b")
        )
        await session.flush()
        return runtime, persona.id, account.id, staff.id


async def _create_due(
    runtime: Runtime, persona_id: uuid.UUID, account_id: uuid.UUID, staff_id: uuid.UUID, count: int, when: datetime
) -> list[uuid.UUID]:
    """Scheduled deliveries written straight to the database (composing is not what is measured)."""
    ids = []
    async with runtime.session() as session:
        for i in range(count):
            post = Post(persona_id=persona_id, author_id=staff_id, text=f"Message de test n°{i}.")
            session.add(post)
            await session.flush()
            delivery = Delivery(
                post_id=post.id,
                account_id=account_id,
                state=DeliveryState.SCHEDULED,
                scheduled_at=when,
                client_ref=uuid.uuid4().hex,
            )
            session.add(delivery)
            await session.flush()
            ids.append(delivery.id)
    return ids


async def _wait_published(runtime: Runtime, ids: list[uuid.UUID], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with runtime.sessions() as session:
            remaining = (
                await session.scalars(
                    select(Delivery.id).where(Delivery.id.in_(ids), Delivery.state != DeliveryState.PUBLISHED).limit(1)
                )
            ).all()
        if not remaining:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("deliveries not all published")
        await asyncio.sleep(0.05)


async def pipeline_throughput(
    runtime: Runtime, persona_id: uuid.UUID, account_id: uuid.UUID, staff_id: uuid.UUID, count: int
) -> float:
    ids = await _create_due(runtime, persona_id, account_id, staff_id, count, datetime.now(UTC) - timedelta(seconds=1))
    worker = EmbeddedWorker(runtime)
    start = time.perf_counter()
    await worker.start()
    await _wait_published(runtime, ids, timeout=600)
    elapsed = time.perf_counter() - start
    await worker.stop()
    return count / elapsed


async def bare_arq_throughput(redis_url: str, network_url: str, count: int) -> float:
    """The same HTTP call from a plain arq job, with the same worker settings (poll delay, max jobs)."""
    client = httpx.AsyncClient(limits=HTTP_LIMITS)  # the plugins' client's limits
    done = asyncio.Event()
    finished = 0

    async def post(ctx: dict[str, object], i: int) -> None:
        nonlocal finished
        response = await client.post(f"{network_url}/posts", json={"text": f"Message de test n°{i}."})
        response.raise_for_status()
        finished += 1
        if finished == count:
            done.set()

    pool = await create_pool(redis_settings(redis_url))
    await pool.flushdb()
    for i in range(count):
        await pool.enqueue_job("post", i)
    worker = Worker(
        functions=[func(post, name="post", keep_result=0)],
        redis_pool=pool,
        handle_signals=False,
        poll_delay=POLL_DELAY_S,
        max_jobs=MAX_JOBS,
        keep_result=0,
    )
    start = time.perf_counter()
    task = asyncio.create_task(worker.async_run())
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - start
    task.cancel()
    with contextlib.suppress(BaseException):  # close() re-raises the cancelled jobs' CancelledError
        await worker.close()
    await client.aclose()
    return count / elapsed


async def lateness(
    runtime: Runtime,
    network: InstantNetwork,
    ids_for: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    count: int,
) -> tuple[list[float], list[float]]:
    """1,000 deliveries due in the same second: how late each request reaches the network, and
    each delivery is recorded published (seconds after the due time)."""
    persona_id, account_id, staff_id = ids_for
    due = processes.due_time(8)
    ids = await _create_due(runtime, persona_id, account_id, staff_id, count, due)
    mark = len(network.received)
    worker = EmbeddedWorker(runtime)
    await worker.start()
    await _wait_published(runtime, ids, timeout=600)
    await worker.stop()
    async with runtime.sessions() as session:
        published = (await session.scalars(select(Delivery.published_at).where(Delivery.id.in_(ids)))).all()
    reached = [r.at - due.timestamp() for r in network.received[mark:]]
    return reached, [(at - due).total_seconds() for at in published if at is not None]


async def bare_burst(redis_url: str, network: InstantNetwork, network_url: str, count: int) -> list[float]:
    """The same burst as bare arq jobs deferred to the same second: how late each request reaches the network."""
    client = httpx.AsyncClient(limits=HTTP_LIMITS)

    async def post(ctx: dict[str, object], i: int) -> None:
        (await client.post(f"{network_url}/posts", json={"text": f"Message de test n°{i}."})).raise_for_status()

    pool = await create_pool(redis_settings(redis_url))
    await pool.flushdb()
    due = processes.due_time(4)
    await processes.enqueue_bare(redis_url, count, at=due)
    mark = len(network.received)
    worker = Worker(
        functions=[func(post, name="post", keep_result=0)],
        redis_pool=pool,
        handle_signals=False,
        poll_delay=POLL_DELAY_S,
        max_jobs=MAX_JOBS,
        keep_result=0,
    )
    task = asyncio.create_task(worker.async_run())
    stamps = await processes.wait_requests(lambda: [r.at for r in network.received[mark:]], count)
    task.cancel()
    with contextlib.suppress(BaseException):
        await worker.close()
    await client.aclose()
    await pool.aclose()
    return [at - due.timestamp() for at in stamps]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _database(database: str, folder: Path) -> str:
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    else:
        import asyncpg

        name = f"portevoix_bench_{uuid.uuid4().hex[:6]}"
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1/{name}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url


async def run(database: str, count: int, late_count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        redis_url, embedded = _redis_url(folder)
        await Redis.from_url(redis_url).flushdb()
        database_url = await _database(database, folder)
        network = InstantNetwork()
        with serve_in_thread(network) as network_url:
            runtime, persona_id, account_id, staff_id = await _setup(database_url, redis_url, folder, network_url)
            bare = await bare_arq_throughput(redis_url, network_url, count)
            await Redis.from_url(redis_url).flushdb()
            whole = await pipeline_throughput(runtime, persona_id, account_id, staff_id, count)
            await Redis.from_url(redis_url).flushdb()
            bare_late = await bare_burst(redis_url, network, network_url, late_count)
            await Redis.from_url(redis_url).flushdb()
            reached, published = await lateness(runtime, network, (persona_id, account_id, staff_id), late_count)
            await runtime.aclose()
        if embedded is not None:
            embedded.close()
    redis_kind = "embedded redis" if embedded else "redis server"
    print(f"\n== {database}, {redis_kind}, one worker (max_jobs={MAX_JOBS}) ==")
    print(f"{'figure':44} {'baseline (bare arq)':>20} {'whole path':>12} {'ratio':>7}  target")
    print(
        f"{'B1 throughput, ' + str(count) + ' due now (/s)':44} {bare:20.1f} {whole:12.1f} {whole / bare:7.2f}  >= 0.5"
    )
    bare_p99, p99 = _percentile(bare_late, 0.99), _percentile(reached, 0.99)
    print(f"{'B2 ' + str(late_count) + ' due in one second: p99 lateness (s)':44} {bare_p99:20.2f} {p99:12.2f}"
          f" {p99 / bare_p99:7.2f}  <= 1.25")  # fmt: skip
    print(f"{'B2 first request after its due time (s)':44} {min(bare_late):20.2f} {min(reached):12.2f}"
          f" {'':7}  <= 0.2")  # fmt: skip
    print(f"{'   p50 lateness (s)':44} {_percentile(bare_late, 0.5):20.2f} {_percentile(reached, 0.5):12.2f}")
    print(f"{'   published p99 (recorded, s)':44} {'':20} {_percentile(published, 0.99):12.2f}")


async def scaling(database: str, counts: list[int], jobs: int) -> None:
    """B1 with 1, 2, 4… worker processes: bare arq beside the whole path, rates at the network."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        redis_url, embedded = _redis_url(folder)
        await Redis.from_url(redis_url).flushdb()
        database_url = await _database(database, folder)
        network = InstantNetwork()
        with serve_in_thread(network) as network_url:
            runtime, persona_id, account_id, staff_id = await _setup(database_url, redis_url, folder, network_url)
            for k in counts:
                await Redis.from_url(redis_url).flushdb()
                async with processes.Processes(k, ["bare", redis_url, network_url], redis_url):
                    mark = len(network.received)
                    await processes.enqueue_bare(redis_url, jobs)
                    bare = processes.rate(
                        await processes.wait_requests(lambda m=mark: [r.at for r in network.received[m:]], jobs)
                    )
                await Redis.from_url(redis_url).flushdb()
                later = datetime.now(UTC) + timedelta(hours=1)
                ids = await _create_due(runtime, persona_id, account_id, staff_id, jobs, later)
                argv = ["whole", str(folder), database_url, redis_url, network_url]
                async with processes.Processes(k, argv, redis_url):
                    mark = len(network.received)
                    async with runtime.session() as session:  # all due at once
                        await session.execute(
                            update(Delivery).where(Delivery.id.in_(ids)).values(scheduled_at=datetime.now(UTC))
                        )
                    whole = processes.rate(
                        await processes.wait_requests(lambda m=mark: [r.at for r in network.received[m:]], jobs)
                    )
                    await _wait_published(runtime, ids, timeout=600)
                rows.append((k, bare, whole))
            await runtime.aclose()
        if embedded is not None:
            embedded.close()
    print(f"\n== {database}: worker processes, {jobs} jobs / deliveries each, rates at the network ==")
    print(
        f"{'processes':>9} {'bare arq (/s)':>14} {'speed-up':>9} {'whole path (/s)':>16} {'speed-up':>9} {'ratio':>6}"
    )
    for k, bare, whole in rows:
        print(f"{k:9d} {bare:14.1f} {bare / rows[0][1]:9.2f} {whole:16.1f} {whole / rows[0][2]:9.2f}"
              f" {whole / bare:6.2f}")  # fmt: skip
    if len(rows) > 1 and rows[1][0] == 2:
        bare_gain, whole_gain = rows[1][1] / rows[0][1], rows[1][2] / rows[0][2]
        print(f"2 processes: the whole path gains {whole_gain:.2f}x where bare arq gains {bare_gain:.2f}x:"
              f" {whole_gain / bare_gain:.2f} of it (target >= 0.9)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="deliveries for the throughput run")
    parser.add_argument("--late", type=int, default=1000, help="deliveries due in the same second")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (127.0.0.1:5432)")
    parser.add_argument("--policy", action="store_true", help="the policy engine's benchmark instead (bench_policy.py)")
    parser.add_argument(
        "--inbox", action="store_true", help="the inbox benchmarks instead (tests/bench/bench_inbox.py)"
    )
    parser.add_argument("--inbox-items", type=int, default=100_000, help="items ingested (10 %% duplicates)")
    parser.add_argument("--inbox-big", type=int, default=1_000_000, help="items of the big persona's inbox")
    parser.add_argument(
        "--lists", action="store_true", help="a persona's deliveries at 10,000 and 1,000,000 rows (bench_lists.py)"
    )
    parser.add_argument("--lists-big", type=int, default=1_000_000, help="deliveries of the big persona")
    parser.add_argument(
        "--workers", type=int, nargs="+", help="B1 with these numbers of worker processes (processes.py)"
    )
    parser.add_argument("--jobs", type=int, default=2000, help="jobs and deliveries per --workers figure")
    parser.add_argument(
        "--veille", action="store_true", help="200 feeds × 50 items collected in one cycle (bench_veille.py)"
    )
    parser.add_argument("--memory", action="store_true", help="portevoix run's memory and start (bench_memory.py)")
    args = parser.parse_args()
    if args.workers:
        for database in ("sqlite", "postgresql") if args.postgres else ("sqlite",):
            asyncio.run(scaling(database, args.workers, args.jobs))
        return
    if args.memory:
        from tests.bench import bench_memory

        bench_memory.main()
        return
    if args.veille:
        from tests.bench import bench_veille

        bench_veille.main(postgres=args.postgres)
        return
    if args.lists:
        from tests.bench import bench_lists

        bench_lists.main(big=args.lists_big, postgres=args.postgres)
        return
    if args.policy:
        from tests.bench import bench_policy

        bench_policy.main()
        return
    if args.inbox:
        from tests.bench import bench_inbox

        bench_inbox.main(count=args.inbox_items, big=args.inbox_big, postgres=args.postgres)
        return
    asyncio.run(run("sqlite", args.count, args.late))
    if args.postgres:
        asyncio.run(run("postgresql", args.count, args.late))


if __name__ == "__main__":
    main()
