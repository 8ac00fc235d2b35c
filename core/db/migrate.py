"""Alembic, driven from code: the migrations ship inside the package (``core/migrations``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE_COMMAND = "portevoix db upgrade"


class SchemaBehind(Exception):
    """The database schema is older than this code."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migration shipped"
    return head


# The alembic commands below are synchronous and run their own event loop (env.py):
# call them outside a running loop, or in a thread.
def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def ensure_schema_current(engine: AsyncEngine) -> None:
    """Refuse to run on a database whose schema is behind, naming the command that fixes it."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        state = "empty (no schema)" if current is None else f"at revision {current}"
        raise SchemaBehind(f"the database is {state}; this code needs {head}. Run: {UPGRADE_COMMAND}")
