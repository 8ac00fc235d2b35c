"""Migrations upgrade and downgrade for real on both databases; the app refuses a schema behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from core.db import migrate
from core.db.engine import make_engine
from core.db.models import Base
from tests.conftest import POSTGRES_UP


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _current(url: str) -> str | None:
    async def read() -> str | None:
        engine = make_engine(url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_downgrade_to_base_then_upgrade_to_head(database_url: str) -> None:
    model_tables = set(Base.metadata.tables)
    assert model_tables <= _tables(database_url)
    migrate.downgrade(database_url, "base")
    assert _tables(database_url) & model_tables == set()
    assert _current(database_url) is None
    migrate.upgrade(database_url)
    assert model_tables <= _tables(database_url)
    assert _current(database_url) == migrate.head_revision()


def test_schema_matches_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async def diff() -> list[object]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []


def test_serving_refuses_a_schema_behind_and_names_the_fix(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    runner = CliRunner()
    env = {"DATABASE_URL": url, "PORTEVOIX_DATA_DIR": str(tmp_path)}
    result = runner.invoke(__import__("web.cli", fromlist=["cli"]).cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code != 0
    assert "portevoix db upgrade" in result.output and "empty" in result.output
    assert runner.invoke(__import__("web.cli", fromlist=["cli"]).cli, ["db", "upgrade"], env=env).exit_code == 0
    current = runner.invoke(__import__("web.cli", fromlist=["cli"]).cli, ["db", "current"], env=env)
    assert current.output.count(migrate.head_revision()) == 2


@pytest.mark.skipif(not POSTGRES_UP, reason="PostgreSQL is not reachable")
def test_postgres_is_really_tested() -> None:
    """Guard: on a machine with PostgreSQL (CI), the database fixture must include it."""
    assert POSTGRES_UP
