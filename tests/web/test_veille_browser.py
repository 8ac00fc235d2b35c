"""The watch board in a real Chromium: the Région's community manager opens the board from the
persona's menu, reads an item (its title shown as text even when it holds a script, its sanitised
summary as HTML), clicks "Draft a post", chooses the Facebook account and keeps a draft: the post
carries the item's link and its origin (read back from the served database), the item is drafted.
axe-core clean, nothing scrolls sideways at 390 px, no request leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from core.db.models import Persona, Post, VeilleItem
from core.runtime import Runtime
from tests.veille.board_items import watch_items, watch_source
from tests.web.live import LiveApp, serve
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.web.test_mobile_a11y_browser import axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TITLE = "Inondations dans l'Aude : les lycées fermés lundi"
HOSTILE = "<script>window.pwned = 1</script> Alerte"


async def _run(live: LiveApp, work: Any) -> Any:
    runtime = Runtime(live.settings)
    try:
        async with runtime.session() as session:
            return await work(session)
    finally:
        await runtime.aclose()


async def _watch(session: Any) -> tuple[str, str]:
    region = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
    source = await watch_source(session, region, "L'Indépendant")
    await watch_items(session, source, [HOSTILE], summary_html="<p>Texte <strong>important</strong></p>")
    (item,) = await watch_items(session, source, [TITLE], summary_html="<p>Les lycées de l'Aude <em>fermés</em>.</p>")
    return str(region.id), str(item.id)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, str, str]]:
    with serve(tmp_path_factory.mktemp("live-veille")) as app:
        region_id, item_id = asyncio.run(_run(app, _watch))
        yield app, region_id, item_id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def test_a_community_manager_turns_a_watch_item_into_a_facebook_draft(
    live: tuple[LiveApp, str, str], browser: Any
) -> None:
    app, region_id, item_id = live
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
    page.click("nav.personanav a[href$='/veille']")  # reached from the persona's menu
    page.wait_for_selector(f"li[data-item='{item_id}']")

    assert page.locator("h1").inner_text() == "Veille"
    # the title is text (the script is shown, never run); the sanitised summary is HTML
    hostile = page.locator("li.inbox-item h3", has_text="Alerte")
    assert "<script>" in hostile.inner_text()
    assert page.evaluate("window.pwned") is None
    item = page.locator(f"li[data-item='{item_id}']")
    assert item.locator(".excerpt em").inner_text() == "fermés"
    assert axe_violations(page) == []

    item.get_by_role("link", name="Rédiger une publication").click()
    page.wait_for_selector("form#composer")
    assert page.locator("#from-item").is_visible()
    assert page.locator("textarea[name=text]").input_value().startswith(TITLE)
    link = page.locator("input[name=link]").input_value()
    assert link.startswith("https://presse.example.test/articles/")
    assert page.locator("input[name=from_item]").input_value() == item_id
    assert axe_violations(page) == []
    page.locator("label[data-channel=facebook] input[name=account_id]").check()
    assert page.locator("input[name=when][value=draft]").is_checked()
    page.click("form#composer button[type=submit]")
    page.wait_for_url(f"**/admin/personas/{region_id}/posts/*")
    post_id = page.url.rsplit("/", 1)[-1]

    async def stored(session: Any) -> tuple[Any, Any]:
        post = await session.get(Post, uuid.UUID(post_id))
        watched = await session.get(VeilleItem, uuid.UUID(item_id))
        return (post.link, post.origin), (watched.status, str(watched.post_id), watched.content_hash)

    # Playwright's sync API holds this thread's event loop: read the database from another thread
    with ThreadPoolExecutor(1) as pool:
        found = pool.submit(asyncio.run, _run(app, stored)).result()
    (post_link, origin), (status, drafted_post, content_hash) = found
    assert post_link == link
    assert origin["item_id"] == item_id and origin["url"] == link and origin["content_hash"] == content_hash
    assert origin["source_url"].startswith("https://presse.example.test/") and origin["captured_at"]
    assert (status, drafted_post) == ("drafted", post_id)

    # back on the board, on a phone: the item says it was drafted, with a link to the draft
    page.set_viewport_size(PHONE)
    page.goto(f"{app.url}/admin/personas/{region_id}/veille")
    drafted = page.locator(f"li[data-item='{item_id}']")
    assert drafted.get_attribute("data-status") == "drafted"
    assert drafted.locator(f"a[href$='/posts/{post_id}']").count() == 1
    page.wait_for_timeout(100)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "veille-390.png"), full_page=True)

    # dismissing the other item takes it off the board
    page.locator("li.inbox-item", has_text="Alerte").get_by_role("button", name="Écarter").click()
    page.wait_for_load_state()
    assert page.locator("li.inbox-item", has_text="Alerte").count() == 0
    page.goto(f"{app.url}/admin/personas/{region_id}/veille/sources")
    assert page.locator("h3", has_text="L'Indépendant").count() == 1
    assert axe_violations(page) == []

    outside = [url for url in requests if not url.startswith(("http://127.0.0.1:", "data:"))]
    assert outside == []
    assert errors == []
    context.close()
