"""Notifications in a real Chromium: the head of communication sends a post back, its author sees
the unread count in the top bar, the notification with the comment, opens it on the post, and the
count is gone. Fails on any console error (CSP included). Screenshots land in tests/.artifacts/."""

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

TEXT = "Le salon de l'agriculture régional ouvre ses portes samedi à Montpellier."
COMMENT = "Précisez les horaires d'ouverture, s'il vous plaît."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-notifications"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


async def _logout(browser: Browser) -> None:
    await browser.page.click("form[action='/logout'] button")
    await browser.page.wait_for_load_state()


async def test_a_sent_back_post_reaches_its_author(browser: Browser, live: LiveApp) -> None:
    page = browser.page
    apprentice = live.logins["apprentie.region"]
    await browser.login(apprentice.email, apprentice.password)
    await page.click("nav.mainnav >> text=Rédiger")
    await page.click("a.choose[data-slug=region-occitanie]")
    await page.wait_for_load_state()
    await page.check("label[data-channel=facebook] input")
    await page.fill("textarea[name=text]", TEXT)
    await page.fill("input[name=local_time]", "2027-03-10T10:00")
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    await browser.shot("notifications-composed-fr")
    assert "attend la validation" in await page.locator(".flash").inner_text()
    await _logout(browser)

    manager = live.logins["dircom.region"]
    await browser.login(manager.email, manager.password)
    # the approver was told: the post waits for their approval
    await page.locator("#notifications-link #unread-count").wait_for(timeout=5000)
    await page.click("#notifications-link")
    await page.wait_for_load_state()
    waiting = page.locator("li.notification.unread[data-kind=waiting_approval]")
    assert await waiting.count() >= 1 and "attend votre validation" in await waiting.first.inner_text()
    await waiting.first.locator("form.open button").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/approvals")
    card = page.locator("section.approval", has_text=TEXT)
    await card.locator("form.send-back input[name=comment]").fill(COMMENT)
    await card.locator("form.send-back button").click()
    await page.wait_for_load_state()
    await _logout(browser)

    await browser.login(apprentice.email, apprentice.password)
    count = page.locator("#notifications-link #unread-count")
    await count.wait_for(timeout=5000)
    assert await count.inner_text() == "1"
    await browser.shot("notifications-top-bar-fr")
    await page.click("#notifications-link")
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Notifications"
    sent_back = page.locator("li.notification.unread[data-kind=sent_back]")
    assert await sent_back.count() == 1
    said = await sent_back.inner_text()
    assert "Votre publication a été renvoyée" in said and COMMENT in said and "Le salon de l'agriculture" in said
    await browser.shot("notifications-list-fr")
    await sent_back.locator("form.open button").click()
    await page.wait_for_load_state()
    assert "/posts/" in page.url and TEXT in await page.content()
    await page.wait_for_load_state("networkidle")
    assert await page.locator("#notifications-link #unread-count").count() == 0  # read once opened

    await page.click("#notifications-link")
    await page.wait_for_load_state()
    assert await page.locator("li.notification.unread").count() == 0
    assert await page.locator("li.notification[data-kind=sent_back]").count() == 1
