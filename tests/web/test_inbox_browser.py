"""The inbox in a real Chromium, on the demo as `portevoix run` serves it (SQLite, the embedded
Redis and worker, the simulated networks): the president's community manager finds an Instagram
comment the poll brought in, answers it with a saved reply, and the answer appears exactly once
on the simulated Instagram; the Région's community manager cannot see it (list, page, API: 404);
the same flow on a phone (390 × 844) with no horizontal scroll. Fails on any console error (CSP
included). Screenshots land in tests/.artifacts/."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvicorn
from litestar import Litestar
from sqlalchemy import select

from core.db import migrate
from core.db.models import Account, InboxItem, Persona
from core.demo import DemoLogin
from core.inbox.sync import sync_account
from core.runtime import Runtime
from core.settings import Settings, load_settings
from tests.web.live import _free_port, _seed
from tests.web.test_browser import ARGS, CHROMIUM, Browser
from web.app import create_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

PRESIDENT, REGION = "presidente-region", "region-occitanie"
SAVED_TEXT = "Merci pour votre message ! L'agenda de la présidente est sur laregion.fr."


class Demo(msgspec.Struct, frozen=True, dict=True):
    url: str
    logins: dict[str, DemoLogin]
    settings: Settings
    app: Any

    @property
    def instagram(self) -> Any:
        """The simulated Instagram the app serves (its state is the network's)."""
        return self.app.state.simulated.fakes["instagram"]


def _serve(directory: Path) -> Iterator[Demo]:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'live.db'}",
        "PORTEVOIX_DATA_DIR": str(directory / "var"),
        "SECRET_KEY": "live-test-secret-key-" + "y" * 32,
        "PORTEVOIX_SIMULATED_NETWORKS": "true",
        "PORTEVOIX_EMBEDDED_WORKER": "true",
    }
    settings = load_settings(env, dotenv=None)
    migrate.upgrade(settings.database_url)
    logins = asyncio.run(_seed(settings))
    app: Litestar = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name=f"portevoix-inbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield Demo(url=f"http://127.0.0.1:{port}", logins=logins, settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from _serve(tmp_path_factory.mktemp("live-inbox"))


async def _browser(live: Demo, viewport: dict[str, int]) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = await chromium.new_context(viewport=viewport, locale="fr-FR")
        session = Browser(await context.new_page(), live.url)
        yield session
        await chromium.close()
    assert session.errors == [], session.errors


@pytest.fixture
async def desktop(live: Demo) -> AsyncIterator[Browser]:
    async for browser in _browser(live, {"width": 1280, "height": 900}):
        yield browser


@pytest.fixture
async def phone(live: Demo) -> AsyncIterator[Browser]:
    async for browser in _browser(live, {"width": 390, "height": 844}):
        yield browser


async def _comment_arrives(live: Demo, text: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    """A comment under a post on the simulated Instagram, brought in by the real poll:
    (its network id, the item's id, the president's persona id)."""
    fake = live.instagram
    media_id = fake.seed_media("Feria de Nîmes : merci à toutes et à tous !", account="camille.delorme")  # hers
    comment_id = fake.seed_comment(media_id, text, username="camille.m")
    runtime = Runtime(live.settings)
    runtime.base_url_overrides.update(live.app.state.simulated.urls)
    try:
        async with runtime.session() as session:
            account = await session.scalar(
                select(Account).join(Persona).where(Persona.slug == PRESIDENT, Account.channel == "instagram")
            )
            assert account is not None
            account_id, persona_id = account.id, account.persona_id
        result = await sync_account(runtime, account_id)
        assert result.status == "synced", result
        async with runtime.session() as session:
            item_id = await session.scalar(
                select(InboxItem.id).where(InboxItem.account_id == account_id, InboxItem.remote_id == comment_id)
            )
        assert item_id is not None, "the poll did not store the comment"
        return comment_id, item_id, persona_id
    finally:
        await runtime.aclose()


async def _replies_on_instagram(live: Demo, comment_id: str, *, at_least: int = 1, wait_s: float = 30) -> list[Any]:
    """The replies under the comment on the simulated Instagram, once the worker has sent ours."""
    deadline = time.monotonic() + wait_s
    while True:
        replies = [c for c in live.instagram.comments.values() if c["parent_id"] == comment_id]
        if len(replies) >= at_least or time.monotonic() > deadline:
            return replies
        await asyncio.sleep(0.25)


async def _create_saved_reply(browser: Browser, persona_id: uuid.UUID) -> None:
    page = browser.page
    await browser.goto(f"/admin/personas/{persona_id}/saved-replies")
    if await page.locator("section.saved-reply[data-code=agenda]").count():
        return
    form = page.locator("#new-saved-reply form")
    await form.locator("input[name=short_code]").fill("agenda")
    await form.locator("input[name=title]").fill("Agenda de la présidente")
    await form.locator("textarea[name=text]").fill(SAVED_TEXT)
    await form.locator("button[type=submit]").click()
    await page.wait_for_load_state()
    assert "créée" in await page.locator(".flash").inner_text()


async def _no_horizontal_scroll(browser: Browser, width: int) -> None:
    scroll = await browser.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{browser.page.url} is {scroll} px wide on a {width} px screen"


async def _answer_with_saved_reply(browser: Browser, live: Demo, item_id: uuid.UUID, comment_id: str) -> None:
    page = browser.page
    await page.wait_for_url(f"**/inbox/{item_id}")
    assert "Bravo" in await page.locator("[data-item-text]").inner_text()
    # r focuses the reply box; /agenda alone in it becomes the saved reply
    await page.keyboard.press("r")
    box = page.locator("#reply-text")
    assert await box.evaluate("el => el === document.activeElement")
    await box.press_sequentially("/agenda", delay=20)
    assert await box.input_value() == SAVED_TEXT
    await page.click("#reply-form button[type=submit]")
    await page.wait_for_load_state()
    assert "file d'envoi" in await page.locator(".flash").inner_text()
    replies = await _replies_on_instagram(live, comment_id)
    assert [r["text"] for r in replies] == [SAVED_TEXT]
    # the worker's own time to settle, then exactly once still
    await asyncio.sleep(2)
    assert len(await _replies_on_instagram(live, comment_id, wait_s=0)) == 1
    await page.reload()
    assert await page.locator("li[data-reply][data-state=published]").count() == 1


async def test_president_cm_answers_an_instagram_comment_with_a_saved_reply(desktop: Browser, live: Demo) -> None:
    comment_id, item_id, persona_id = await _comment_arrives(live, "Bravo pour la feria ! Quand revenez-vous ?")
    page = desktop.page
    cm = live.logins["cm.presidente"]
    await desktop.login(cm.email, cm.password)
    await _create_saved_reply(desktop, persona_id)
    await desktop.shot("inbox-saved-replies-fr")
    await desktop.goto(f"/admin/personas/{persona_id}")
    await page.click("nav.personanav >> text=Boîte de réception")
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Boîte de réception"
    await page.select_option("select[name=channel]", "instagram")
    await page.click("form.inbox-filters button[type=submit]")
    await page.wait_for_load_state()
    row = page.locator(f"li.inbox-item[data-item='{item_id}']")
    assert await row.count() == 1
    assert "Commentaire" in await row.inner_text() and "instagram" in await row.inner_text()
    await desktop.shot("inbox-list-fr")
    # j walks down the list to our item (the demo's own comments may share its second), Enter opens it
    for _ in range(await page.locator("li.inbox-item").count()):
        await page.keyboard.press("j")
        if await page.locator(f"li.inbox-item.current[data-item='{item_id}']").count():
            break
    assert await page.locator(f"li.inbox-item.current[data-item='{item_id}']").count() == 1
    await page.keyboard.press("Enter")
    await desktop.shot("inbox-item-fr")
    await _answer_with_saved_reply(desktop, live, item_id, comment_id)
    await desktop.shot("inbox-item-answered-fr")


async def test_the_same_answer_on_a_phone(phone: Browser, live: Demo) -> None:
    comment_id, item_id, persona_id = await _comment_arrives(live, "Bravo, et les transports pour la feria ?")
    page = phone.page
    cm = live.logins["cm.presidente"]
    await phone.login(cm.email, cm.password)
    await _create_saved_reply(phone, persona_id)
    await phone.goto(f"/admin/personas/{persona_id}/inbox")
    await page.click(f"li.inbox-item[data-item='{item_id}'] a.open")
    await _answer_with_saved_reply(phone, live, item_id, comment_id)
    await _no_horizontal_scroll(phone, 390)
    await phone.shot("inbox-item-answered-phone-fr")


async def test_inbox_pages_fit_a_phone(phone: Browser, live: Demo) -> None:
    _, item_id, persona_id = await _comment_arrives(live, "Une question très longue " + "sans-espace-" * 30)
    page = phone.page
    cm = live.logins["cm.presidente"]
    await phone.login(cm.email, cm.password)
    await _no_horizontal_scroll(phone, 390)
    await _create_saved_reply(phone, persona_id)
    await _no_horizontal_scroll(phone, 390)
    await phone.goto(f"/admin/personas/{persona_id}/inbox")
    await _no_horizontal_scroll(phone, 390)
    await phone.shot("inbox-list-phone-fr")
    await page.click(f"li.inbox-item[data-item='{item_id}'] a.open")
    await page.wait_for_url(f"**/inbox/{item_id}")
    await _no_horizontal_scroll(phone, 390)
    # the saved reply chosen from the list fills the box; focusing it says "I am replying"
    await page.select_option("#saved-reply", "agenda")
    assert await page.locator("#reply-text").input_value() == SAVED_TEXT
    await phone.shot("inbox-item-phone-fr")
    await phone.goto(f"/admin/personas/{persona_id}/saved-replies")
    await _no_horizontal_scroll(phone, 390)


async def test_region_cm_cannot_see_the_presidents_item(desktop: Browser, live: Demo) -> None:
    _, item_id, persona_id = await _comment_arrives(live, "Réservé à l'équipe de la présidente")
    page = desktop.page
    region = live.logins["cm.region"]
    await desktop.login(region.email, region.password)
    assert await page.locator(f"a[href='/admin/personas/{persona_id}/inbox']").count() == 0
    async with live_runtime(live) as runtime:
        region_id = await _persona_id(runtime, REGION)
    for path in (
        f"/admin/personas/{persona_id}/inbox",
        f"/admin/personas/{persona_id}/inbox/{item_id}",
        f"/admin/personas/{region_id}/inbox/{item_id}",
    ):
        response = await desktop.goto(path)
        assert response.status == 404, path
        desktop.expect_404_console()
    await desktop.shot("inbox-region-404-fr")
    for path in (f"/api/v1/personas/{persona_id}/inbox/{item_id}", f"/api/v1/personas/{region_id}/inbox/{item_id}"):
        answer = await page.request.get(live.url + path)
        assert answer.status == 404, path
    listed = await page.request.get(f"{live.url}/api/v1/personas/{region_id}/inbox")
    assert listed.status == 200 and str(item_id) not in await listed.text()
    await desktop.goto(f"/admin/personas/{region_id}/inbox")
    assert str(item_id) not in await page.content()


class live_runtime:  # noqa: N801 - used as a context manager, like a function
    def __init__(self, live: Demo) -> None:
        self.runtime = Runtime(live.settings)

    async def __aenter__(self) -> Runtime:
        return self.runtime

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.aclose()


async def _persona_id(runtime: Runtime, slug: str) -> uuid.UUID:
    async with runtime.session() as session:
        found = await session.scalar(select(Persona.id).where(Persona.slug == slug))
        assert found is not None
        return found
