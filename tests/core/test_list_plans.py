"""A persona's deliveries are read in index order (issue 15, B3): the database walks
``ix_deliveries_persona_listed`` from the cursor instead of sorting every row of the persona, so a
page costs the same at ten thousand rows and at a million. Checked on the plan itself, both
databases, with the exact statement the list runs; and the pages still tile the list exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.enums import DeliveryState
from core.db.models import Account, Delivery, Persona, Post
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.queries import DeliveryFilter, deliveries
from core.runtime import Runtime
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio
START = datetime(2026, 1, 5, 8, tzinfo=UTC)


async def _persona_with_deliveries(runtime: Runtime, session: AsyncSession, count: int) -> uuid.UUID:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    await upsert_personas(session, files, Actor.system("test"))
    persona = await session.scalar(sa.select(Persona).where(Persona.slug == "region-occitanie"))
    assert persona is not None
    accounts = (await session.scalars(sa.select(Account.id).where(Account.persona_id == persona.id))).all()
    post = Post(persona_id=persona.id, text="Bonjour")
    session.add(post)
    await session.flush()
    for n in range(count):
        # no persona_id given: the model fills it from the account (what an older writer does)
        session.add(
            Delivery(
                post_id=post.id,
                account_id=accounts[n % len(accounts)],
                state=DeliveryState.SCHEDULED if n % 4 else DeliveryState.DRAFT,
                # drafts have no time: they sort by creation, among the scheduled ones
                scheduled_at=START + timedelta(minutes=7 * (n % 13)) if n % 4 else None,
                created_at=START + timedelta(minutes=5 * n),
                client_ref=uuid.uuid4().hex,
            )
        )
    await session.flush()
    return persona.id


async def _plan(session: AsyncSession, statement: str, parameters: object) -> str:
    """The database's plan for the very statement the list ran, with its parameters."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        rows = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
        return "\n".join(str(row[-1]) for row in rows)
    # a handful of rows: without this the planner rightly reads the table; the question is whether
    # the index can give the order at all
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = (await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)).all()
    return "\n".join(str(row[0]) for row in rows)


async def test_a_page_of_deliveries_is_an_index_range_not_a_sort(runtime: Runtime, db: AsyncSession) -> None:
    persona_id = await _persona_with_deliveries(runtime, db, 40)
    first = await deliveries(db, DeliveryFilter(persona_id=persona_id), limit=10)
    assert first.next_cursor is not None
    captured: list[tuple[str, object]] = []

    @sa.event.listens_for(runtime.engine.sync_engine, "before_cursor_execute")
    def keep(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM deliveries" in statement:
            captured.append((statement, parameters))

    try:
        await deliveries(db, DeliveryFilter(persona_id=persona_id), cursor=first.next_cursor, limit=10)
    finally:
        sa.event.remove(runtime.engine.sync_engine, "before_cursor_execute", keep)
    assert len(captured) == 1, captured  # one round trip: the accounts and posts come joined
    statement, parameters = captured[0]
    # the list filters on the delivery's own persona (a filter through accounts would lose the order)
    assert "deliveries.persona_id =" in statement and "accounts.persona_id" not in statement, statement
    plan = await _plan(db, statement, parameters)
    assert "ix_deliveries_persona_listed" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # the index gives the order


async def test_the_pages_tile_the_persona_s_deliveries_in_order(runtime: Runtime, db: AsyncSession) -> None:
    persona_id = await _persona_with_deliveries(runtime, db, 37)
    seen: list[Delivery] = []
    cursor = None
    while True:
        page = await deliveries(db, DeliveryFilter(persona_id=persona_id), cursor=cursor, limit=8)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    keys = [(d.scheduled_at or d.created_at, d.id) for d in seen]
    assert len(seen) == 37 and len(set(keys)) == 37
    assert keys == sorted(keys)
    assert {d.persona_id for d in seen} == {persona_id}
