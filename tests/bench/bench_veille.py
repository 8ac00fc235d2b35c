"""Watch benchmark, side by side in one run: ``python -m tests.bench --veille [--postgres]``.

200 RSS sources of 50 items each (10,000 entries, about 1 KB of HTML each) served by the fake feed
server on 127.0.0.1 (plugins.testing.feeds), collected in one cycle by the real collector
(:func:`core.veille.collect.collect_due`: claim, conditional GET, feedparser, nh3, dedup keys,
keyword match, tombstone check, ``INSERT … ON CONFLICT DO NOTHING``, the source's next check)
beside a baseline of the same 200 fetches through the same fetcher (same client, same limits)
without parsing or storage. Then the second cycle, where every source answers 304.

Twice: with the per-host limit of 2 (all 200 feeds on one host, 127.0.0.1: the fetches queue two
at a time, as they would against one real server) and with it lifted to 32 (200 sources spread
over many hosts, the usual case). Each figure is the median of :data:`ROUNDS` runs, each on fresh
sources. On a throw-away SQLite file, and on PostgreSQL too with ``--postgres``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from core.db import migrate
from core.db.models import Persona, VeilleSource, utcnow
from core.runtime import Runtime
from core.settings import load_settings
from core.veille import collect
from plugins.testing import serve_in_thread
from plugins.testing.feeds import FakeFeeds, item, rss_document

SOURCES = 200
ITEMS = 50
ROUNDS = 3
BODY = "<p>" + "La Région accompagne les communes sinistrées. " * 20 + "<a href='https://ex.example/'>lien</a></p>"


def _serve(feeds: FakeFeeds) -> None:
    for n in range(SOURCES):
        entries = [
            item(
                f"feed{n}-item{i}", f"Article {i} du fil {n}", link=f"https://presse.example/{n}/{i}", description=BODY
            )
            for i in range(ITEMS)
        ]
        feeds.put(f"/bench/{n}", rss_document(entries, title=f"Fil {n}"))


async def _sources(runtime: Runtime, base: str) -> None:
    """A fresh persona with the 200 sources, all due (written straight: creating them is not measured)."""
    async with runtime.session() as session:
        persona = Persona(
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            name="Bench",
            kind="institution",
            embodies=False,
            timezone="Europe/Paris",
            definition={"veille": {"keywords": ["inondation", "crue", "sinistrées"]}},
        )
        session.add(persona)
        await session.flush()
        now = utcnow() - timedelta(seconds=1)
        rows = [
            {
                "id": uuid.uuid4(),
                "persona_id": persona.id,
                "kind": "feed",
                "plugin": "rss",
                "target": f"{base}/bench/{n}",
                "label": f"Fil {n}",
                "crisis": False,
                "enabled": True,
                "cost": 1,
                "origin": "admin",
                "consecutive_errors": 0,
                "next_check_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(SOURCES)
        ]
        await session.execute(insert(VeilleSource), rows)


async def _baseline(runtime: Runtime, base: str) -> float:
    fetcher = collect.Fetcher(runtime.settings)
    started = time.perf_counter()
    try:
        answers = await asyncio.gather(
            *(fetcher.get(f"{base}/bench/{n}", etag=None, last_modified=None, accept="*/*") for n in range(SOURCES))
        )
    finally:
        await fetcher.aclose()
    elapsed = time.perf_counter() - started
    assert all(a.status == 200 and len(a.body) > 50_000 for a in answers), "the baseline did not fetch every feed"
    return elapsed


async def _cycle(runtime: Runtime) -> tuple[float, collect.CollectRun]:
    started = time.perf_counter()
    run = await collect.collect_due(runtime, limit=SOURCES)
    return time.perf_counter() - started, run


async def _measure(runtime: Runtime, base: str) -> dict[str, float]:
    baseline, first, second = [], [], []
    for _ in range(ROUNDS):
        baseline.append(await _baseline(runtime, base))
        await _sources(runtime, base)
        elapsed, run = await _cycle(runtime)
        assert (run.sources, run.items, run.errors) == (SOURCES, SOURCES * ITEMS, 0), run
        first.append(elapsed)
        # every source due again at once: a conditional GET each, all answered 304
        async with runtime.session() as session:
            await session.execute(VeilleSource.__table__.update().values(next_check_at=utcnow() - timedelta(seconds=1)))
        elapsed, run = await _cycle(runtime)
        assert run.not_modified == SOURCES, run
        second.append(elapsed)
        # this round's sources rest: the next round's are the only ones due
        async with runtime.session() as session:
            await session.execute(VeilleSource.__table__.update().values(enabled=False))
    return {
        "baseline": statistics.median(baseline),
        "first": statistics.median(first),
        "second": statistics.median(second),
    }


def _print(label: str, figures: dict[str, float]) -> None:
    base, first, second = figures["baseline"], figures["first"], figures["second"]
    print(f"  {label}")
    print(f"    baseline: {SOURCES} fetches, no parsing, no storage   {base * 1000:8.0f} ms")
    print(
        f"    collect:  {SOURCES} sources × {ITEMS} items stored       {first * 1000:8.0f} ms"
        f"   ({SOURCES * ITEMS / first:,.0f} items/s)   ratio {first / base:.1f}×"
    )
    print(
        f"    second cycle: {SOURCES} conditional GETs, all 304    {second * 1000:8.0f} ms   ratio {second / base:.1f}×"
    )


async def _run(database_url: str, folder: Path, base: str) -> None:
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "PORTEVOIX_DATA_DIR": str(folder),
            "PORTEVOIX_LOG_LEVEL": "WARNING",
            "PORTEVOIX_VEILLE_PRIVATE_HOSTS": "true",  # the fake feeds are on 127.0.0.1
        },
        dotenv=None,
    )
    runtime = Runtime(settings)
    try:
        for per_host in (2, 32):
            collect.PER_HOST = per_host
            _print(f"per-host limit {per_host}", await _measure(runtime, base))
    finally:
        collect.PER_HOST = 2
        await runtime.aclose()


def _postgres_url() -> str | None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def main(*, postgres: bool = False) -> None:
    feeds = FakeFeeds()
    _serve(feeds)
    with serve_in_thread(feeds) as base, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = sum(len(feeds.documents[f"/bench/{n}"].body) for n in range(SOURCES))
        print(f"veille: {SOURCES} sources × {ITEMS} items, {size / 1e6:.1f} MB of RSS, median of {ROUNDS} runs")
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        migrate.upgrade(url)
        print("SQLite")
        asyncio.run(_run(url, folder, base))
        admin = _postgres_url() if postgres else None
        if admin:
            asyncio.run(_postgres(admin, folder, base))


async def _postgres_db(admin: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _postgres(admin: str, folder: Path, base: str) -> None:
    name = f"portevoix_bench_{uuid.uuid4().hex[:8]}"
    await _postgres_db(admin, f'CREATE DATABASE "{name}"')
    try:
        url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
        await asyncio.to_thread(migrate.upgrade, url)
        print("PostgreSQL")
        await _run(url, folder, base)
    finally:
        await _postgres_db(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true")
    main(postgres=parser.parse_args().postgres)
