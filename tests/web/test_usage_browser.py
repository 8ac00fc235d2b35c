"""The usage page in a real Chromium: the Région's four networks with their cadence against target,
the audience chart drawn (a canvas) from its table on the page, every request to 127.0.0.1 only
(the browser's own network log), no console error (a CSP violation is one), axe-core clean, and
nothing scrolls sideways at 390 px. Three weeks of history written into the served database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from core.db.models import Persona, Staff
from core.db.types import utcnow
from core.runtime import Runtime
from core.usage.series import local_day
from tests.usage.history import fill
from tests.web.live import LiveApp, serve
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.web.test_mobile_a11y_browser import axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


async def _history(live: LiveApp) -> str:
    runtime = Runtime(live.settings)
    try:
        async with runtime.session() as session:
            region = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
            assert region is not None
            cm = await session.scalar(select(Staff.id).where(Staff.email == live.logins["cm.region"].email))
            await fill(session, region, local_day(utcnow(), region.timezone), 21, staff_id=cm)
            return str(region.id)
    finally:
        await runtime.aclose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, str]]:
    with serve(tmp_path_factory.mktemp("live-usage")) as app:
        yield app, asyncio.run(_history(app))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def test_the_regions_usage_page(live: tuple[LiveApp, str], browser: Any) -> None:
    app, region_id = live
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    login = app.logins["cm.region"]
    page.goto(app.url + "/login")
    page.fill("input[name=email]", login.email)
    page.fill("input[name=password]", login.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{app.url}/admin/personas/{region_id}")
    page.click("nav.personanav a[href$='/usage']")  # reached from the persona's menu
    page.wait_for_selector("#audience-chart canvas")

    # the four networks, each with its cadence against its target
    rows = page.locator("table.cadence-summary tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.channel)")) == [
        "facebook",
        "instagram",
        "linkedin",
        "x",
    ]
    facebook = page.locator("table.cadence-summary tr[data-channel=facebook]")
    assert facebook.get_attribute("data-posts-target") == "14"
    assert "/ 14" in facebook.inner_text()
    # the audience chart, drawn from its table, which is on the page for everyone
    assert page.locator("#audience-chart canvas").count() >= 1
    table = page.locator("table#audience-days")
    assert table.is_visible() and table.locator("caption").inner_text()
    assert table.locator("tbody tr").count() == 7 and table.locator("thead th[data-series]").count() == 4
    assert page.locator("#audience-chart").get_attribute("data-table") == "audience-days"
    assert page.locator(".chart canvas").count() >= 5  # cadence, audience, calls, response times, workload
    assert page.locator("meter").count() == 4
    # the month view, and back a period
    page.click(".usage-periods a[data-view=month]")
    page.wait_for_selector("#audience-chart canvas")
    assert page.locator("table#audience-days tbody tr").count() == 30
    page.click(".usage-periods a.usage-previous")
    page.wait_for_selector("#cadence-chart canvas")
    assert page.locator("table#cadence-days tbody tr").count() == 30

    assert axe_violations(page) == []
    page.set_viewport_size(PHONE)
    page.goto(f"{app.url}/admin/personas/{region_id}/usage")
    page.wait_for_selector("#audience-chart canvas")
    page.wait_for_timeout(100)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    canvas = page.locator("#audience-chart canvas").first.bounding_box()
    assert canvas is not None and canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= PHONE["width"]
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "usage-390.png"), full_page=True)

    outside = [url for url in requests if not url.startswith(("http://127.0.0.1:", "data:"))]
    assert outside == [] and len(requests) > 10
    assert any(url.endswith("/static/vendor/uplot/uPlot.iife.min.js") for url in requests)
    assert errors == []
    context.close()
