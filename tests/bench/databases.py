"""The benchmarks' throw-away databases: a SQLite file in the run's folder, or a PostgreSQL
database of its own on 127.0.0.1, migrated to head, dropped at the end (one copy for every bench)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.db import migrate

PG_ADMIN = "postgresql://postgres@127.0.0.1/postgres"


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def throwaway_database(database: str, folder: Path) -> AsyncIterator[str]:
    """The URL of a fresh, migrated database: ``database`` is "sqlite" or "postgresql"."""
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    name = f"portevoix_bench_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1/{name}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
