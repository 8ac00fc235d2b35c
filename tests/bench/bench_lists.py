"""Lists at scale (issue 15, B3), measured side by side in one run: ``python -m tests.bench --lists``.

A persona's deliveries — the first page of 50 and a deep page (a cursor half-way through) — for a
persona with 10,000 deliveries and one with 1,000,000 in the same database, through the real API
(``GET /api/v1/personas/{id}/deliveries`` with an API token: authentication, the permission table,
the ORM query, the output structs) beside a bare Litestar route running the same keyset query with
SQLAlchemy Core and returning the same rows as JSON. Prints each median, the API / bare ratio
(target <= 1.5) and the 1,000,000 / 10,000 ratio (target <= 1.5), and the database's plan for
the deep page (it must read ``ix_deliveries_persona_listed``, not sort the persona's rows).

On a throw-away SQLite file, and on PostgreSQL (127.0.0.1:5432) when asked and it answers.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from litestar import Litestar, get

from core.audit import Actor
from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Post
from core.pagination import decode_cursor, encode_cursor
from core.people.staff import assign, create_staff
from core.people.tokens import create_token
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import load_settings
from personas import SEED_DIR, load_dir
from tests.bench.databases import throwaway_database
from web.app import create_app

START = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 20_000
LIMIT = 50
WHEN = sa.func.coalesce(Delivery.scheduled_at, Delivery.created_at)


async def _setup(database_url: str, folder: Path) -> tuple[Runtime, dict[str, uuid.UUID], str]:
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "PORTEVOIX_DATA_DIR": str(folder),
            "PORTEVOIX_LOG_LEVEL": "WARNING",
            # the API alone, as `portevoix serve` runs it: no queue in the process beside it
            "PORTEVOIX_EMBEDDED_WORKER": "false",
        },
        dotenv=None,
    )
    runtime = Runtime(settings)
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    actor = Actor.system("bench")
    async with runtime.session() as session:
        personas = {p.slug: p for p in await upsert_personas(session, files, actor)}
        staff = await create_staff(
            session, email="bench@test.portevoix.fr", display_name="bench", password="a-long-password", actor=actor
        )
        for persona in personas.values():
            await assign(session, staff, persona, Role.VIEWER, actor)
        _, secret = await create_token(session, staff, "bench", actor)
    return runtime, {slug: p.id for slug, p in personas.items()}, secret


async def _fill(runtime: Runtime, persona_id: uuid.UUID, count: int) -> None:
    """``count`` deliveries over the persona's accounts, one post per 50, with Core (not what is measured)."""
    async with runtime.session() as session:
        accounts = (await session.scalars(sa.select(Account.id).where(Account.persona_id == persona_id))).all()
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        posts = [
            {"id": uuid.uuid4(), "persona_id": persona_id, "text": f"Publication n°{n}", "variants": {}}
            for n in range(first // LIMIT, (first + size + LIMIT - 1) // LIMIT)
        ]
        rows = []
        for n in range(first, first + size):
            at = START + timedelta(minutes=n)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "post_id": posts[n // LIMIT - first // LIMIT]["id"],
                    "account_id": accounts[n % len(accounts)],
                    "persona_id": persona_id,
                    "state": DeliveryState.PUBLISHED if n % 3 else DeliveryState.SCHEDULED,
                    "scheduled_at": at if n % 10 else None,
                    "created_at": at,
                    "updated_at": at,
                    "remote_id": f"r{n}",
                    "client_ref": uuid.uuid4().hex,
                    "attempts": 1,
                    "approved_rules": [],
                }
            )
        async with runtime.session() as session:
            await session.execute(sa.insert(Post), posts)
            await session.execute(sa.insert(Delivery), rows)
    async with runtime.engine.begin() as connection:
        await connection.execute(sa.text("ANALYZE"))


def _bare_app(runtime: Runtime) -> Litestar:
    """One route, no authentication, no ORM: the same keyset query with Core, the same rows as JSON."""
    columns = (
        Delivery.id,
        Delivery.state,
        Delivery.scheduled_at,
        Delivery.created_at,
        Delivery.published_at,
        Delivery.remote_id,
        Account.channel,
        Account.handle,
        Post.text,
    )

    @get("/bare/{persona_id:uuid}")
    async def bare(persona_id: uuid.UUID, cursor: str | None = None) -> bytes:
        query = (
            sa.select(*columns, WHEN.label("when"))
            .join(Account, Account.id == Delivery.account_id)
            .join(Post, Post.id == Delivery.post_id)
            .where(Delivery.persona_id == persona_id)
        )
        if cursor:
            at, last = decode_cursor(cursor, (WHEN, Delivery.id))
            query = query.where(
                sa.tuple_(WHEN, Delivery.id) > sa.tuple_(sa.literal(at, WHEN.type), sa.literal(last)),
                WHEN >= sa.literal(at, WHEN.type),  # the bound SQLite seeks with, as the paginator adds
            )
        async with runtime.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(WHEN, Delivery.id).limit(LIMIT + 1))).all()
        items = [dict(row._mapping) for row in rows[:LIMIT]]
        more = encode_cursor((rows[LIMIT - 1].when, rows[LIMIT - 1].id)) if len(rows) > LIMIT else None
        return msgspec.json.encode({"items": items, "nextCursor": more})

    return Litestar([bare])


async def _half_way(runtime: Runtime, persona_id: uuid.UUID, count: int) -> str:
    async with runtime.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(WHEN.label("when"), Delivery.id)
                .where(Delivery.persona_id == persona_id)
                .order_by(WHEN, Delivery.id)
                .offset(count // 2)
                .limit(1)
            )
        ).one()
    return encode_cursor((row.when, row.id))


async def _median(step: Callable[[], Awaitable[None]], repeat: int = 30) -> float:
    for _ in range(3):
        await step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _plan(runtime: Runtime, persona_id: uuid.UUID, cursor: str) -> str:
    at, last = decode_cursor(cursor, (WHEN, Delivery.id))
    query = (
        sa.select(Delivery.id)
        .where(Delivery.persona_id == persona_id)
        .where(sa.tuple_(WHEN, Delivery.id) > sa.tuple_(sa.literal(at, WHEN.type), sa.literal(last)))
        .where(WHEN >= sa.literal(at, WHEN.type))
        .order_by(WHEN, Delivery.id)
        .limit(LIMIT + 1)
    )
    async with runtime.engine.connect() as connection:
        compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
        rows = (await connection.execute(sa.text(prefix + str(compiled)))).all()
    return "\n".join("    " + " ".join(str(v) for v in row[-1:]) for row in rows)


async def measure(runtime: Runtime, personas: dict[str, uuid.UUID], secret: str, small: int, big: int) -> list[Any]:
    sizes = {"region-occitanie": small, "presidente-region": big}
    for slug, count in sizes.items():
        await _fill(runtime, personas[slug], count)
    lines: list[Any] = []
    headers = {"Authorization": f"Bearer {secret}"}
    api_app, bare_app = create_app(runtime=Runtime(runtime.settings)), _bare_app(runtime)
    # Both apps in this event loop through httpx's ASGI transport: the whole ASGI stack of each,
    # without the test client's thread hop (which adds ~150 ms per call on this machine).
    async with (
        api_app.lifespan(),
        bare_app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://127.0.0.1") as api,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_app), base_url="http://127.0.0.1") as bare,
    ):
        for slug, count in sizes.items():
            persona_id = personas[slug]
            deep = await _half_way(runtime, persona_id, count)
            for page, cursor in (("first page", None), ("deep page", deep)):
                params = {"cursor": cursor} if cursor else {}

                async def through_api(params: dict[str, str] = params, persona_id: uuid.UUID = persona_id) -> None:
                    answer = await api.get(f"/api/v1/personas/{persona_id}/deliveries", params=params, headers=headers)
                    assert answer.status_code == 200 and len(answer.json()["items"]) == LIMIT, answer.text

                async def through_bare(params: dict[str, str] = params, persona_id: uuid.UUID = persona_id) -> None:
                    answer = await bare.get(f"/bare/{persona_id}", params=params)
                    assert answer.status_code == 200 and len(answer.json()["items"]) == LIMIT, answer.text

                lines.append((count, page, await _median(through_bare), await _median(through_api)))
        plan = await _plan(
            runtime, personas["presidente-region"], await _half_way(runtime, personas["presidente-region"], big)
        )
    return [lines, plan]


async def run(database: str, small: int, big: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with throwaway_database(database, Path(tmp)) as database_url:
            runtime, personas, secret = await _setup(database_url, Path(tmp))
            try:
                lines, plan = await measure(runtime, personas, secret, small, big)
            finally:
                await runtime.aclose()
    print(f"\n== a persona's deliveries, {database}: pages of {LIMIT}, API with a token beside a bare Core route ==")
    print(f"{'deliveries':>10} | {'page':<10} | {'bare':>8} | {'API':>8} | API/bare (<= 1.5)")
    by_page: dict[str, dict[int, float]] = {}
    for count, page, bare_s, api_s in lines:
        by_page.setdefault(page, {})[count] = api_s
        print(f"{count:>10,} | {page:<10} | {bare_s * 1000:6.2f}ms | {api_s * 1000:6.2f}ms | {api_s / bare_s:5.2f}")
    for page, figures in by_page.items():
        print(f"{page}: {big:,} / {small:,} = {figures[big] / figures[small]:.2f} (<= 1.5)")
    print(f"plan of the deep page at {big:,}:\n{plan}")


def main(*, small: int = 10_000, big: int = 1_000_000, postgres: bool = True) -> None:
    asyncio.run(run("sqlite", small, big))
    if postgres:
        asyncio.run(run("postgresql", small, big))
