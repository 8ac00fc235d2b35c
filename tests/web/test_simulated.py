"""The demo's composition: its simulated networks connect the seed's accounts, through core (web has no SQL)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.enums import AccountStatus
from core.db.models import Account, AuditEvent
from core.demo import DemoLogin
from core.runtime import Runtime
from web.simulated import SimulatedNetworks

WEB = Path(__file__).resolve().parents[2] / "web"
#: what web may take from SQLAlchemy: the session type its handlers receive, the exceptions it answers
SQLALCHEMY_IN_WEB = {("sqlalchemy.ext.asyncio", "AsyncSession"), ("sqlalchemy", "exc")}


def _sqlalchemy_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if node.module != "sqlalchemy.exc" and (node.module, alias.name) not in SQLALCHEMY_IN_WEB:
                    found.append(f"{node.module}.{alias.name}")
    return found


def test_web_has_no_sql() -> None:
    """Queries live in core: web takes only the session type and the exceptions from SQLAlchemy."""
    offenders = {str(p.relative_to(WEB)): found for p in sorted(WEB.rglob("*.py")) if (found := _sqlalchemy_imports(p))}
    assert offenders == {}


@pytest.mark.anyio
async def test_simulated_networks_connect_the_seed_accounts(runtime: Runtime, demo: dict[str, DemoLogin]) -> None:
    simulated = SimulatedNetworks()
    simulated.start()
    try:
        connected = await simulated.connect_accounts(runtime)
    finally:
        simulated.stop()
    async with runtime.session() as session:
        accounts = (await session.scalars(select(Account))).all()
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "account.connected"))).all()
    on_fakes = [a for a in accounts if a.channel in simulated.fakes]
    assert connected == len(on_fakes) == len(events) > 0
    for account in on_fakes:
        assert account.status == AccountStatus.CONNECTED and account.credentials_encrypted
        assert runtime.vault.decrypt(account.credentials_encrypted).access_token


@pytest.mark.anyio
async def test_the_demo_watch_reads_the_simulated_feeds(runtime: Runtime, demo: dict[str, DemoLogin]) -> None:
    from core.db.models import VeilleItem, VeilleSource
    from core.veille.collect import collect_due

    simulated = SimulatedNetworks()
    simulated.start()
    try:
        assert await simulated.seed_veille(runtime) == 2
        assert await simulated.seed_veille(runtime) == 2  # a second start points the same sources again
        run = await collect_due(runtime)
    finally:
        simulated.stop()
    async with runtime.session() as session:
        sources = (await session.scalars(select(VeilleSource))).all()
        items = (await session.scalars(select(VeilleItem))).all()
    assert sorted(s.plugin for s in sources) == ["meteoalarm", "rss"]
    assert all(s.target.startswith(simulated.feeds_url) for s in sources)  # 127.0.0.1, never a real feed
    assert run.errors == 0 and run.items == len(items) >= 7
    [warning] = [i for i in items if i.severity]
    assert (warning.severity, warning.area) == ("yellow", "Hérault")
    assert all(i.url and i.url.startswith(simulated.feeds_url) for i in items if not i.severity)
