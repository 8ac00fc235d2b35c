"""Connecting an account in a real Chromium, in the demo: the head of communication clicks
"Reconnecter", passes the simulated network's consent page, and comes back connected.
Fails on any console error (CSP included). Screenshots land in tests/.artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.web import test_browser
from tests.web.live import LiveApp, serve
from tests.web.test_browser import CHROMIUM, Browser

browser = test_browser.browser  # the fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    # SQLite, the embedded Redis, and the simulated networks: the demo as `portevoix run` serves it
    env = {"PORTEVOIX_SIMULATED_NETWORKS": "true", "PORTEVOIX_EMBEDDED_WORKER": "false"}
    with serve(tmp_path_factory.mktemp("live-accounts"), None, extra_env=env) as app:
        yield app


async def test_manager_reconnects_an_account_through_the_simulated_consent_page(
    browser: Browser, live: LiveApp
) -> None:
    page = browser.page
    manager = live.logins["dircom.region"]
    await browser.login(manager.email, manager.password)
    await browser.goto("/admin/accounts")
    region = page.locator("section[data-slug=region-occitanie]")
    for channel in ("linkedin", "facebook"):
        button = region.locator(f"a[data-connect={channel}]")
        assert await button.inner_text() == "Reconnecter"
        await button.click()
        await page.wait_for_url(f"{live.url}/admin/accounts")
        flash = await page.locator(".flash").inner_text()
        assert f"({channel}) est connecté" in flash
    await browser.shot("accounts-reconnected-fr")
    assert await region.locator("tr[data-channel=linkedin] .badge.ok").count() == 2  # connected, live
