"""Usage benchmark, measured side by side in one run: ``python -m tests.bench.bench_usage [--no-postgres]``.

A persona with two years of daily history on 7 accounts (the Région's four and three more): one
audience sample a day per account, the posts of its cadence each with an engagement sample, API
calls and a quota a day, two answered comments a day (``tests/usage/history.py``). Then the usage
API route — the whole app: token, guard, persona dependency, :func:`core.usage.series.overview`,
the API structs — beside a bare Litestar route that runs the same aggregate query and returns the
same structs, both through the same in-process client, alternately; the medians and their ratio
(target <= 1.5), for a week and for a month (30 days), ending on the history's last day.

On a throw-away SQLite file, and on PostgreSQL (127.0.0.1:5432) when it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select

from core.audit import Actor
from core.db.enums import Role
from core.db.models import Account, Persona
from core.people.staff import assign, create_staff
from core.people.tokens import create_token
from core.personas.service import KNOWN_FORMATS, get_persona, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import Settings, load_settings
from core.usage import series
from personas import SEED_DIR, load_dir
from tests.bench.databases import throwaway_database
from tests.usage.history import fill
from web.app import create_app
from web.usage.schemas import UsageOut, usage_out

END = date(2026, 11, 27)
DAYS = 730
EXTRA_CHANNELS = ("bluesky", "mastodon", "threads")
ROUNDS = 25


async def _setup(settings: Settings) -> tuple[uuid.UUID, str, dict[str, int]]:
    """The seed personas, three more accounts on the Région, two years of history, a viewer's token."""
    runtime = Runtime(settings)
    try:
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("bench"))
            region = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
            assert region is not None
            await session.execute(
                insert(Account),
                [
                    {"persona_id": region.id, "channel": c, "handle": f"region-{c}", "external_id": f"bench-{c}"}
                    for c in EXTRA_CHANNELS
                ],
            )
            viewer = await create_staff(
                session,
                email="bench@bench.portevoix.fr",
                display_name="Bench",
                password="a-long-password",
                actor=Actor.system("bench"),
            )
            await assign(session, viewer, region, Role.VIEWER, Actor.system("bench"))
            _, token = await create_token(session, viewer, "bench", Actor.system("bench"))
            accounts = (await session.scalars(select(Account.id).where(Account.persona_id == region.id))).all()
            assert len(accounts) == 7, accounts
            counts = await fill(session, region, END, DAYS, staff_id=viewer.id)
            return region.id, token, counts
    finally:
        await runtime.aclose()


def _bare_app(settings: Settings) -> tuple[Litestar, Runtime]:
    """One route, nothing else: no session, no guard, no middleware; the same query and structs."""
    runtime = Runtime(settings)

    @get("/bare/{persona_id:uuid}")
    async def bare(persona_id: uuid.UUID, period: str = "week", end: str | None = None) -> UsageOut:
        async with runtime.sessions() as session:
            persona = await get_persona(session, persona_id)
            assert persona is not None
            chosen = series.parse_period(period, end, persona, series.local_midnight(END, persona.timezone))
            return usage_out(await series.overview(session, persona, chosen))

    return Litestar(route_handlers=[bare], on_shutdown=[runtime.aclose]), runtime


async def _median(call: Callable[[], Awaitable[Any]], rounds: list[float]) -> None:
    start = time.perf_counter()
    await call()
    rounds.append(time.perf_counter() - start)


async def measure(settings: Settings, persona_id: uuid.UUID, token: str, kind: str) -> tuple[float, float]:
    query = {"period": kind, "end": END.isoformat()}
    bare_app, _ = _bare_app(settings)
    async with (
        AsyncTestClient(app=create_app(settings), base_url="http://127.0.0.1") as full,
        AsyncTestClient(app=bare_app, base_url="http://127.0.0.1") as bare,
    ):
        headers = {"Authorization": f"Bearer {token}"}

        async def via_api() -> None:
            response = await full.get(f"/api/v1/personas/{persona_id}/usage", params=query, headers=headers)
            assert response.status_code == 200, response.text

        async def via_bare() -> None:
            response = await bare.get(f"/bare/{persona_id}", params=query)
            assert response.status_code == 200, response.text

        first = (await full.get(f"/api/v1/personas/{persona_id}/usage", params=query, headers=headers)).json()
        assert first == (await bare.get(f"/bare/{persona_id}", params=query)).json(), "not the same answer"
        assert len(first["cadence"]) == 7
        api: list[float] = []
        raw: list[float] = []
        for _ in range(3):  # warm both (connections, caches, templates of the OpenAPI…)
            await via_api()
            await via_bare()
        for n in range(ROUNDS):  # alternately, so that neither gets the quieter moments
            if n % 2:
                await _median(via_api, api)
                await _median(via_bare, raw)
            else:
                await _median(via_bare, raw)
                await _median(via_api, api)
    return statistics.median(api), statistics.median(raw)


async def run(database: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with throwaway_database(database, folder) as database_url:
            settings = load_settings(
                {
                    "DATABASE_URL": database_url,
                    "PORTEVOIX_DATA_DIR": str(folder / "var"),
                    "SECRET_KEY": "bench-secret-key-" + "b" * 32,
                    "PORTEVOIX_LOG_LEVEL": "WARNING",
                    "PORTEVOIX_EMBEDDED_WORKER": "false",  # nothing else runs beside the requests
                },
                dotenv=None,
            )
            started = time.perf_counter()
            persona_id, token, counts = await _setup(settings)
            filled = time.perf_counter() - started
            results = {kind: await measure(settings, persona_id, token, kind) for kind in ("week", "month")}
    rows = ", ".join(f"{n:,} {table}" for table, n in counts.items())
    print(f"\n== usage, {database}: {DAYS} days on 7 accounts ({rows}; written in {filled:.1f} s) ==")
    for kind, (api, raw) in results.items():
        print(f"{kind:5} bare route (overview)   : {raw * 1000:8.2f} ms")
        print(f"{kind:5} usage API route         : {api * 1000:8.2f} ms")
        print(f"{kind:5} ratio                   : {api / raw:8.2f}   (target <= 1.5)")


def main(*, postgres: bool = True) -> None:
    asyncio.run(run("sqlite"))
    if postgres:
        asyncio.run(run("postgresql"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    main(postgres=not parser.parse_args().no_postgres)
