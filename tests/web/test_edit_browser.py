"""Editing in a real Chromium: the head of communication sends the apprentice's post back, the
apprentice fixes it on the edit page and submits it again, the head of communication approves
it. Fails on any console error (CSP included). Screenshots land in tests/.artifacts/."""

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

FIRST = "Les inscriptions aux transports scolaires sont ouvertes."
FIXED = "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 15 janvier."
COMMENT = "Précise la date limite des inscriptions."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-edit"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


async def _logout(browser: Browser) -> None:
    await browser.page.click("form[action='/logout'] button")
    await browser.page.wait_for_load_state()


async def _login(browser: Browser, live: LiveApp, who: str) -> None:
    login = live.logins[who]
    await browser.login(login.email, login.password)


async def test_a_sent_back_post_is_edited_by_the_apprentice_and_approved(browser: Browser, live: LiveApp) -> None:
    page = browser.page
    await _login(browser, live, "apprentie.region")
    await page.click("nav.mainnav >> text=Rédiger")
    await page.click("a.choose[data-slug=region-occitanie]")
    await page.wait_for_load_state()
    await page.check("label[data-channel=facebook] input")
    await page.fill("textarea[name=text]", FIRST)
    await page.fill("input[name=local_time]", "2027-02-10T10:00")
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    assert await page.locator("tr[data-state=pending_approval]").count() == 1
    post_path = page.url.split(live.url)[1]
    await _logout(browser)

    # the head of communication sends it back, saying what to change
    await _login(browser, live, "dircom.region")
    await browser.goto(post_path.split("/posts/")[0] + "/approvals")
    card = page.locator("section.approval")
    await card.locator("form.send-back input[name=comment]").fill(COMMENT)
    await card.locator("form.send-back button").click()
    await page.wait_for_load_state()
    assert await page.locator("section.approval").count() == 0
    await _logout(browser)

    # the apprentice fixes it: the comment above the form, her words in it, the time kept
    await _login(browser, live, "apprentie.region")
    await browser.goto(post_path + "/edit")
    assert await page.locator("h1").inner_text() == "Modifier la publication"
    assert COMMENT in await page.locator("#sent-back").inner_text()
    assert await page.locator("textarea[name=text]").input_value() == FIRST
    assert await page.locator("label[data-channel=facebook] input").is_checked()
    assert await page.locator("input[name=local_time]").input_value() == "2027-02-10T10:00"
    await page.fill("textarea[name=text]", FIXED)
    await page.locator("textarea[name=text]").press("End")  # a keyup, as typing gives
    # the live check runs on the edit page as on the composer
    await page.locator("#live-check [data-channel=facebook] .limit").wait_for(timeout=5000)
    await page.check("input[name=then][value=submit]")
    await browser.shot("publishing-edit-sent-back-fr")
    await page.click("#editor button[type=submit]")
    await page.wait_for_load_state()
    assert page.url.endswith(post_path)
    assert "attend la validation" in await page.locator(".flash").inner_text()
    assert FIXED in await page.locator("blockquote.text").inner_text()
    assert await page.locator("tr[data-state=pending_approval]").count() == 1
    await _logout(browser)

    # and the head of communication approves the new words
    await _login(browser, live, "dircom.region")
    await browser.goto(post_path.split("/posts/")[0] + "/approvals")
    card = page.locator("section.approval")
    assert await card.count() == 1 and FIXED in await card.inner_text()
    await card.locator("form.approve input[name=reason]").fill("Date précisée, validée.")
    await card.locator("form.approve button").click()
    await page.wait_for_load_state()
    assert "validée" in (await page.locator(".flash").inner_text()).lower()
    await browser.goto(post_path)
    assert await page.locator("tr[data-state=scheduled]").count() == 1
    await page.click("tr[data-state=scheduled] a")
    await page.wait_for_load_state()
    kinds = await page.locator(".history li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["created", "sent_back", "edited", "submitted", "approved"]
    await browser.shot("publishing-edit-history-fr")
