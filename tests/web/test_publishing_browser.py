"""Publishing in a real Chromium: the apprentice composes (with the live check), the head of
communication approves, the calendar shows it. Fails on any console error (CSP included).
Screenshots land in tests/.artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import REDIS_SERVER_URL, REDIS_UP
from tests.web import test_browser
from tests.web.live import LiveApp, serve
from tests.web.test_browser import CHROMIUM, Browser

browser = test_browser.browser  # the fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

NEUTRAL = "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 15 janvier."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-publishing"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


async def _logout(browser: Browser) -> None:
    await browser.page.click("form[action='/logout'] button")
    await browser.page.wait_for_load_state()


async def test_apprentice_composes_manager_approves_calendar_shows_it(browser: Browser, live: LiveApp) -> None:
    page = browser.page
    apprentice = live.logins["apprentie.region"]
    await browser.login(apprentice.email, apprentice.password)
    await page.click("nav.mainnav >> text=Rédiger")
    await page.click("a.choose[data-slug=region-occitanie]")
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Rédiger pour Région Occitanie"
    # TikTok is refused to the institution: shown, with its reason, and not selectable
    tiktok = page.locator("label.refused[data-channel=tiktok]")
    assert "s'incarner" in await tiktok.inner_text()
    assert await tiktok.locator("input").is_disabled()

    await page.check("label[data-channel=facebook] input")
    await page.locator("textarea[name=text]").press_sequentially("Je suis fière", delay=30)
    finding = page.locator("#live-check [data-channel=facebook] .finding[data-rule*=first_person]")
    try:
        await finding.wait_for(timeout=5000)
    finally:
        await browser.shot("publishing-composer-live-check-fr")
    assert "première personne" in (await finding.inner_text()).lower() or await finding.count() == 1
    assert await page.locator("#live-check [data-channel=facebook] .limit").count() == 1
    await browser.shot("publishing-composer-live-check-fr")

    await page.fill("textarea[name=text]", NEUTRAL)
    await page.fill("input[name=local_time]", "2027-02-10T10:00")
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    assert "attend la validation" in await page.locator(".flash").inner_text()
    assert await page.locator("tr[data-state=pending_approval]").count() == 1
    await browser.shot("publishing-post-pending-fr")
    await _logout(browser)

    manager = live.logins["dircom.region"]
    await browser.login(manager.email, manager.password)
    await page.click("text=Région Occitanie")
    await page.click("nav.personanav >> text=À valider")
    await page.wait_for_load_state()
    card = page.locator("section.approval")
    assert await card.count() == 1 and NEUTRAL in await card.inner_text()
    await browser.shot("publishing-approvals-fr")
    await card.locator("form.approve input[name=reason]").fill("Information pratique, validée.")
    await card.locator("form.approve button").click()
    await page.wait_for_load_state()
    assert "validée" in (await page.locator(".flash").inner_text()).lower()
    assert await page.locator("section.approval").count() == 0

    await page.goto(f"{live.url}{page.url.split(live.url)[1].replace('/approvals', '/calendar')}?week=2027-02-10")
    day = page.locator(".day[data-date='2027-02-10']")
    entry = day.locator("a.entry[data-state=scheduled]")
    assert await entry.count() == 1
    assert (await entry.locator(".time").inner_text()) == "10:00"
    await browser.shot("publishing-calendar-fr")
    await entry.click()
    await page.wait_for_load_state()
    kinds = await page.locator(".history li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["created", "approved"]
    assert "Information pratique, validée." in await page.locator(".history").inner_text()
    await browser.shot("publishing-delivery-history-fr")
