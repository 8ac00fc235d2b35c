"""Inbox benchmarks, measured side by side in one run: ``python -m tests.bench --inbox``.

1. Ingestion: 100,000 items with 10 % duplicates (replays of earlier ones) through the real
   :func:`core.inbox.ingest.ingest`, in pages of 1,000 per transaction as a poll stores them,
   beside a raw ``executemany`` INSERT of the same unique rows in the same pages; rows stored
   per second for both and their ratio (target >= 0.5). Exactly one copy of each item is checked.
2. The inbox page: the first page of a persona's inbox at 10,000 items and at 1,000,000 (both
   personas in the same database), through ``core.inbox.queries.list_items`` when it exists, else
   the equivalent keyset query on ``ix_inbox_items_persona_received``; the ratio (target <= 1.5).

On a throw-away SQLite file, and on PostgreSQL (127.0.0.1:5432) when it answers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from core.audit import Actor
from core.channels import InboxKind, RemoteItem
from core.db.enums import InboxStatus
from core.db.models import Account, InboxItem
from core.inbox.ingest import ingest
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import load_settings
from personas import SEED_DIR, load_dir
from tests.bench.databases import throwaway_database

PAGE = 1000
START = datetime(2025, 1, 1, tzinfo=UTC)


def _items(count: int, duplicates: float) -> list[RemoteItem]:
    """``count`` items of which ``duplicates`` are repeats of earlier ones, spread through the run."""
    unique = int(count * (1 - duplicates))
    fresh = [
        RemoteItem(
            remote_id=f"{10**17 + n}_{n * 7}",
            kind=InboxKind.COMMENT if n % 5 else InboxKind.REPLY,
            text=f"Bonjour, merci pour cette information sur la ligne {n % 300} ! Quand commence-t-elle ?",
            author_id=str(62 * 10**14 + n % 5000),
            author_handle=f"lecteur{n % 5000}",
            author_name=f"Lecteur {n % 5000}",
            created_at=START + timedelta(seconds=n),
            thread_id=f"post-{n // 50}",
            parent_id=f"{10**17 + n - 1}_{(n - 1) * 7}" if n % 5 == 0 and n else None,
        )
        for n in range(unique)
    ]
    out: list[RemoteItem] = []
    step = max(1, unique // (count - unique)) if count > unique else 0
    for n, item in enumerate(fresh):
        out.append(item)
        if step and n % step == step - 1 and len(out) < count:
            out.append(fresh[n - step // 2])  # a replay of an item a few pages back
    out.extend(fresh[: count - len(out)])
    return out[:count]


def _raw_row(account: Account, item: RemoteItem) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uuid.uuid4(),
        "account_id": account.id,
        "persona_id": account.persona_id,
        "remote_id": item.remote_id,
        "kind": item.kind,
        "parent_remote_id": item.parent_id,
        "thread_remote_id": item.thread_id,
        "author_remote_id": item.author_id,
        "author_handle": item.author_handle,
        "author_name": item.author_name,
        "text": item.text,
        "url": item.url,
        "received_at": item.created_at,
        "first_seen_via": "poll",
        "status": InboxStatus.NEW,
        "flags": [],
        "hidden": False,
        "created_at": now,
        "updated_at": now,
    }


async def _setup(database_url: str, folder: Path) -> tuple[Runtime, dict[str, uuid.UUID]]:
    settings = load_settings(
        {"DATABASE_URL": database_url, "PORTEVOIX_DATA_DIR": str(folder), "PORTEVOIX_LOG_LEVEL": "WARNING"},
        dotenv=None,
    )
    runtime = Runtime(settings)
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        personas = {p.slug: p.id for p in await upsert_personas(session, files, Actor.system("bench"))}
    return runtime, personas


async def _account(runtime: Runtime, persona_id: uuid.UUID, external_id: str) -> Account:
    async with runtime.session() as session:
        account = Account(persona_id=persona_id, channel="facebook", handle=external_id, external_id=external_id)
        session.add(account)
        await session.flush()
        return account


async def _timed(step: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await step()
    return time.perf_counter() - start


async def ingestion(runtime: Runtime, persona_id: uuid.UUID, count: int) -> tuple[float, float, int]:
    items = _items(count, 0.10)
    unique = {item.remote_id: item for item in items}
    via_ingest = await _account(runtime, persona_id, "bench-ingest")
    via_raw = await _account(runtime, persona_id, "bench-raw")

    async def real() -> None:
        for start in range(0, len(items), PAGE):
            async with runtime.session() as session:
                await ingest(session, via_ingest, items[start : start + PAGE], via="poll")

    rows = [_raw_row(via_raw, item) for item in unique.values()]

    async def raw() -> None:
        for start in range(0, len(rows), PAGE):
            async with runtime.session() as session:
                await session.execute(insert(InboxItem.__table__), rows[start : start + PAGE])

    raw_s = await _timed(raw)
    real_s = await _timed(real)
    async with runtime.sessions() as session:
        stored, distinct = (
            await session.execute(
                select(func.count(), func.count(func.distinct(InboxItem.remote_id))).where(
                    InboxItem.account_id == via_ingest.id
                )
            )
        ).one()
    assert stored == distinct == len(unique), f"{stored} rows, {distinct} distinct, {len(unique)} expected"
    return len(unique) / real_s, len(unique) / raw_s, len(unique)


async def _fill(runtime: Runtime, account: Account, count: int) -> None:
    """``count`` items written straight to the table (what is measured is reading them)."""
    for start in range(0, count, 5000):
        rows = [
            _raw_row(
                account,
                RemoteItem(
                    remote_id=f"{account.external_id}-{n}",
                    kind=InboxKind.COMMENT,
                    text=f"commentaire {n}",
                    author_id=str(n % 9000),
                    created_at=START + timedelta(seconds=n * 30),
                    thread_id=f"post-{n // 100}",
                ),
            )
            for n in range(start, min(count, start + 5000))
        ]
        async with runtime.session() as session:
            await session.execute(insert(InboxItem.__table__), rows)


async def _first_page(runtime: Runtime, persona_id: uuid.UUID) -> tuple[Callable[[], Awaitable[None]], str]:
    if importlib.util.find_spec("core.inbox.queries") is not None:
        from core.inbox.queries import InboxFilter, list_items

        async def page() -> None:
            async with runtime.sessions() as session:
                result = await list_items(session, persona_id, InboxFilter(), see_messages=True, limit=50)
                assert len(result.items) == 50

        return page, "core.inbox.queries.list_items"

    async def keyset() -> None:
        async with runtime.sessions() as session:
            query = (
                select(InboxItem)
                .where(InboxItem.persona_id == persona_id)
                .order_by(InboxItem.received_at.desc(), InboxItem.id.desc())
                .limit(51)
            )
            assert len((await session.scalars(query)).all()) == 51

    return keyset, "the keyset query on ix_inbox_items_persona_received (core.inbox.queries absent)"


async def inbox_page(
    runtime: Runtime, personas: dict[str, uuid.UUID], small: int, big: int
) -> tuple[float, float, str]:
    small_account = await _account(runtime, personas["presidente-region"], "page-small")
    big_account = await _account(runtime, personas["region-occitanie"], "page-big")
    await _fill(runtime, small_account, small)
    await _fill(runtime, big_account, big)
    if runtime.settings.is_sqlite:
        async with runtime.session() as session:
            await session.execute(select(func.count()).select_from(InboxItem))  # warm the file cache
    small_page, how = await _first_page(runtime, personas["presidente-region"])
    big_page, _ = await _first_page(runtime, personas["region-occitanie"])

    async def median(page: Callable[[], Awaitable[None]]) -> float:
        await page()  # warm-up
        return statistics.median([await _timed(page) for _ in range(15)])

    return await median(small_page), await median(big_page), how


async def run(database: str, count: int, small: int, big: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with throwaway_database(database, Path(tmp)) as database_url:
            runtime, personas = await _setup(database_url, Path(tmp))
            try:
                real, raw, unique = await ingestion(runtime, personas["region-occitanie"], count)
                small_s, big_s, how = await inbox_page(runtime, personas, small, big)
            finally:
                await runtime.aclose()
    print(f"\n== inbox, {database}: {count:,} items, 10 % duplicates, pages of {PAGE} ==")
    print(f"raw executemany INSERT      : {raw:10.0f} rows/s")
    print(f"ingest (upsert, threading)  : {real:10.0f} rows/s   ({unique:,} rows, exactly one copy of each)")
    print(f"ratio                       : {real / raw:10.2f}   (target >= 0.5)")
    print(f"\n== inbox page, {database}: first page through {how} ==")
    print(f"persona with {small:>9,} items : {small_s * 1000:8.2f} ms")
    print(f"persona with {big:>9,} items : {big_s * 1000:8.2f} ms")
    print(f"ratio                          : {big_s / small_s:8.2f}   (target <= 1.5)")


def main(*, count: int = 100_000, small: int = 10_000, big: int = 1_000_000, postgres: bool = True) -> None:
    asyncio.run(run("sqlite", count, small, big))
    if postgres:
        asyncio.run(run("postgresql", count, small, big))
