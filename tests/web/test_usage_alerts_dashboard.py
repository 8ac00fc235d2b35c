"""The dashboard shows the open usage alerts of the personas the reader may see, and no other's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from core.db.enums import AccountStatus
from core.db.models import Account
from core.demo import DemoLogin
from core.runtime import Runtime
from core.usage import alerts
from tests.web.conftest import login, persona_ids

pytestmark = pytest.mark.anyio

#: 13:00 in Paris: before the alert hour, so only the reconnection alerts open
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("who", "sees", "does_not_see"),
    [
        ("cm.region", "x @Occitanie (Région Occitanie)", "CamilleDelorme"),
        ("cm.presidente", "x @CamilleDelorme (Camille Delorme", "@Occitanie"),
    ],
)
async def test_the_dashboard_lists_open_alerts_of_visible_personas_only(
    runtime: Runtime, demo: dict[str, DemoLogin], client: AsyncTestClient, who: str, sees: str, does_not_see: str
) -> None:
    ids = await persona_ids(runtime)
    async with runtime.session() as session:
        await session.execute(
            update(Account)
            .where(Account.channel == "x", Account.persona_id.in_(ids.values()))
            .values(status=AccountStatus.NEEDS_REAUTH)
        )
    await alerts.raise_usage_alerts(runtime, NOW)
    await login(client, demo[who].email, demo[who].password)
    page = (await client.get("/admin/")).text
    assert 'data-alert="needs_reauth"' in page
    assert sees in page
    assert page.count('class="usage-alerts') == 1  # one persona of theirs has alerts
    box = page.split('class="usage-alerts')[1].split("</div>")[0]
    assert sees in box and does_not_see not in box
