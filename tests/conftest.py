"""Suite-wide fixtures.

Async tests use anyio's pytest plugin (mark them ``@pytest.mark.anyio``). Database tests
run on SQLite always and on PostgreSQL too when a server answers on 127.0.0.1:5432 (as on
this machine and in CI): the ``database_url`` fixture is parametrised over both, with the
real migrations applied.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import migrate
from core.db.engine import make_engine
from core.db.models import Base
from core.runtime import Runtime
from core.settings import Settings, load_settings
from tests import redis_claims
from tests.redis_claims import SERVER

PG_ADMIN_URL = os.environ.get("PORTEVOIX_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_UP = _reachable("127.0.0.1", 5432)
REDIS_UP = _reachable("127.0.0.1", 6379)
#: this session's own database of the Redis server (``tests/redis_claims.py``), given back at the end
_CLAIMED = None if os.environ.get("PORTEVOIX_TEST_REDIS") or not REDIS_UP else redis_claims.claim()
REDIS_SERVER_URL = os.environ.get("PORTEVOIX_TEST_REDIS") or (_CLAIMED[0] if _CLAIMED else SERVER.format(db=14))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _CLAIMED is not None:
        redis_claims.release(_CLAIMED[1], _CLAIMED[2])


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# ------------------------------------------------------------------ databases
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (fast, and isolated)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database for this test session, migrated once, dropped at the end."""
    if not POSTGRES_UP:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    import asyncpg

    name = f"portevoix_test_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    migrate.upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _truncate_all_sql() -> str:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    # TRUNCATE fires no row trigger: the append-only audit log is emptied between tests only.
    return f"TRUNCATE {tables} RESTART IDENTITY CASCADE"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "portevoix.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")

    async def truncate() -> None:
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text(_truncate_all_sql()))
        await engine.dispose()

    asyncio.run(truncate())
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "PORTEVOIX_DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        # the fake feed servers are on 127.0.0.1 (tests/veille/test_collect.py checks the refusal)
        "PORTEVOIX_VEILLE_PRIVATE_HOSTS": "true",
    }
    if REDIS_UP:
        env["REDIS_URL"] = REDIS_SERVER_URL
    return load_settings(env, dotenv=None)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def db(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session for the test's own reads and writes; commit explicitly to make data visible."""
    async with runtime.sessions() as session:
        yield session


# ------------------------------------------------------------------ report
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say on which databases and Redis the tests ran (CI reads it: PostgreSQL must be there)."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("passed", []):
        for backend in ("sqlite", "postgresql", "embedded-redis", "redis-server"):
            if f"[{backend}" in report.nodeid or f"-{backend}" in report.nodeid:
                counts[backend] = counts.get(backend, 0) + 1
    if counts:
        terminalreporter.write_sep("-", "backends")
        terminalreporter.write_line(
            "passed on: "
            + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
            + ("" if POSTGRES_UP else "   (PostgreSQL not reachable: its tests were skipped)")
        )
