"""``/health``: the plain answer probes read, and with ``?detail=1`` the plugin report for site
administrators only (issue 9, item 8: what ``portevoix channels`` prints, loaded and disabled)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from core.channels.registry import BrokenPlugin, describe, discover
from core.db.enums import Role
from core.demo import DemoLogin
from core.runtime import Runtime
from core.settings import Settings
from tests.web.conftest import bearer, login, staff_with_token
from web.app import create_app

pytestmark = pytest.mark.anyio
PLAIN = {"status", "database", "queue", "version"}


@pytest.fixture
async def app_with_a_broken_plugin(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    registry = discover()
    registry.broken.append(
        BrokenPlugin(
            "myspace", "portevoix_myspace:Plugin", "ImportError: no module named 'myspace'", "pv-myspace", "0.3"
        )
    )
    app = create_app(runtime=Runtime(settings, registry=registry))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client


async def test_plain_health_is_as_documented(client: AsyncTestClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and set(response.json()) == PLAIN
    assert response.json()["status"] == "healthy"
    assert "pv_session" not in response.headers.get("set-cookie", "")


async def test_detail_lists_loaded_and_disabled_plugins_for_site_admins(
    app_with_a_broken_plugin: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    client = app_with_a_broken_plugin
    _, admin = await staff_with_token(runtime, "health-admin", is_admin=True)
    response = await client.get("/health?detail=1", headers=bearer(admin))
    assert response.status_code == 200, response.text
    plugins = response.json()["plugins"]
    expected = describe(discover())
    assert plugins["contractVersion"] == expected.contract_version
    loaded = {p["key"]: p for p in plugins["loaded"]}
    assert set(loaded) == {p.key for p in expected.loaded} >= {"facebook", "x", "linkedin"}
    x = loaded["x"]
    assert x["distribution"] == "porte-voix" and x["version"] and x["features"] and x["formats"]
    assert x["contractVersions"] and x["source"] == "plugins.channels.x:XPlugin"
    assert plugins["disabled"] == [
        {
            "name": "myspace",
            "source": "portevoix_myspace:Plugin",
            "error": "ImportError: no module named 'myspace'",
            "distribution": "pv-myspace",
            "version": "0.3",
        }
    ]
    # the same for an administrator's browser session
    await login(client, demo["admin"].email, demo["admin"].password)
    assert "plugins" in (await client.get("/health?detail=1")).json()
    assert set((await client.get("/health")).json()) == PLAIN  # no detail unless asked


async def test_detail_is_not_for_everyone(
    app_with_a_broken_plugin: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    client = app_with_a_broken_plugin
    _, editor = await staff_with_token(runtime, "health-editor", roles={"region-occitanie": Role.MANAGER})
    for headers in ({}, bearer(editor), bearer("pv_unknown"), {"Authorization": "Basic eDp5"}):
        response = await client.get("/health?detail=1", headers=headers)
        assert response.status_code == 200 and set(response.json()) == PLAIN, headers
