"""The admin in a real Chromium (Playwright, async API) against the app served by uvicorn.

Every test fails if the browser reports a console error or a page error (a CSP violation
shows up as one). Screenshots land in tests/.artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_SERVER_URL, REDIS_UP
from tests.media.helpers import mp4 as real_mp4
from tests.web.live import LiveApp, serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-browser"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


class Browser:
    """A page plus what the browser complained about."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: d.accept())

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.base + path)

    async def login(self, email: str, password: str) -> None:
        await self.goto("/login")
        await self.page.fill("input[name=email]", email)
        await self.page.fill("input[name=password]", password)
        await self.page.click("form[action='/login'] button[type=submit]")
        await self.page.wait_for_load_state()

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def expect_404_console(self) -> None:
        """A 404 page we asked for on purpose logs one 'failed to load' line: that one is expected."""
        self.errors = [e for e in self.errors if "status of 404" not in e]

    def expect_refused_form_console(self) -> None:
        """A form refused on purpose comes back with its status (422): that 'failed to load' line is expected."""
        self.errors = [e for e in self.errors if "status of 422" not in e]


@pytest.fixture
async def browser(live: LiveApp) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = await chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        session = Browser(await context.new_page(), live.url)
        yield session
        await chromium.close()
    assert session.errors == [], session.errors


async def test_login_and_dashboard(browser: Browser, live: LiveApp) -> None:
    await browser.goto("/admin")
    assert browser.page.url.endswith("/login?next=/admin")
    await browser.shot("login-fr")
    login = live.logins["cm.region"]
    await browser.login(login.email, login.password)
    assert await browser.page.locator("h1").inner_text() == "Tableau de bord"
    await browser.page.click("text=Région Occitanie")
    await browser.page.wait_for_load_state()
    assert "Ligne et cadence par réseau" in await browser.page.content()
    assert await browser.page.locator("tr[data-channel=tiktok] .refusal").count() == 1
    await browser.shot("persona-dashboard-fr")


async def test_admin_assigns_a_new_staff_member_to_the_president_as_contributor(
    browser: Browser, live: LiveApp
) -> None:
    admin = live.logins["admin"]
    await browser.login(admin.email, admin.password)
    await browser.page.click("nav >> text=Équipe")
    await browser.page.fill("#new-staff input[name=email]", "zoe@cabinet.example.fr")
    await browser.page.fill("#new-staff input[name=display_name]", "Zoé <script>alert(1)</script>")
    await browser.page.select_option("#new-staff select[name=employer]", "cabinet")
    await browser.page.click("#new-staff button[type=submit]")
    await browser.page.wait_for_load_state()
    one_time = (await browser.page.locator("#one-time-password").inner_text()).strip()
    assert len(one_time) >= 10
    # the name is shown as text, never run as a script
    assert await browser.page.locator("h1").inner_text() == "Zoé <script>alert(1)</script>"
    # redirected after the POST: a refresh creates nobody again, and the password is not shown twice
    assert "/admin/staff/" in browser.page.url
    await browser.page.reload()
    assert await browser.page.locator("#one-time-password").count() == 0
    assert await browser.page.locator("h1").inner_text() == "Zoé <script>alert(1)</script>"
    await browser.page.select_option(
        "#assignments select[name=persona_id]", label="Camille Delorme, présidente de la Région"
    )
    await browser.page.select_option("#assignments select[name=role]", "contributor")
    await browser.page.click("#assignments button.primary")
    await browser.page.wait_for_load_state()
    row = browser.page.locator("#assignments tr[data-slug=presidente-region]")
    assert "Contributeur·rice" in await row.inner_text()
    # a cabinet member (paid by the Région) on the president's personal accounts: the admin is warned (S1)
    assert "L52-8" in await browser.page.locator("[role=status], .flash").first.inner_text()
    await browser.shot("staff-assigned-fr")
    # the new staff member logs in with the one-time password, must choose their own, then sees only the president
    await browser.page.click("form[action='/logout'] button")
    await browser.login("zoe@cabinet.example.fr", one_time)
    assert browser.page.url.endswith("/admin/me/password")
    # the one-time password was just typed: it is not asked a second time
    assert await browser.page.locator("input[name=current_password]").count() == 0
    await browser.page.fill("input[name=new_password]", "zoe-s-own-password")
    await browser.page.fill("input[name=confirm_password]", "zoe-s-own-password")
    await browser.page.click("form[action='/admin/me/password'] button")
    await browser.page.wait_for_load_state()
    assert browser.page.url.endswith("/admin/me")
    assert "Camille Delorme" in await browser.page.locator("#my-personas").inner_text()
    assert "Région Occitanie" not in await browser.page.locator("#my-personas").inner_text()
    await browser.shot("my-account-fr")

    # As a contributor she composes a TikTok video for the president: it goes to approval.
    page = browser.page
    await page.click("nav.mainnav >> text=Rédiger")
    if await page.locator("a.choose").count():
        await page.click("a.choose[data-slug=presidente-region]")
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "Rédiger pour Camille Delorme, présidente de la Région"
    await page.check("label[data-channel=tiktok] input")
    mp4 = real_mp4()  # uploads are probed (PyAV)
    await page.set_input_files(
        "#media-upload input[name=file]", files=[{"name": "feria.mp4", "mimeType": "video/mp4", "buffer": mp4}]
    )
    await page.fill("#media-upload textarea[name=alt_text]", "Bandas et foule dans les rues de Nîmes pendant la feria")
    await page.check("#media-upload input[name=has_captions]")
    await page.click("#media-upload button[type=submit]")
    await page.locator("#media-list li").first.wait_for(timeout=5000)
    await page.select_option("select[name=format]", "video")
    await page.fill("textarea[name=text]", "Je vous emmène à la feria de Nîmes, au plus près des bandas !")
    await page.check("input[name=when][value=now]")
    # without a privacy level TikTok refuses the post: said before scheduling, in French
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    assert "Qui peut voir" in await page.locator("#compose-error").inner_text()
    # the levels are those creator_info offers this account, in French
    levels = page.locator("select[name=option__tiktok__privacy_level] option")
    assert "Moi uniquement" in await levels.all_inner_texts()
    browser.expect_refused_form_console()
    await page.select_option("select[name=option__tiktok__privacy_level]", "SELF_ONLY")
    await page.check("label[data-channel=tiktok] input")
    await page.check("#media-list li input")
    await page.check("input[name=when][value=now]")
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    await browser.shot("contributor-tiktok-pending-fr")
    assert "attend la validation" in await page.locator(".flash").inner_text()
    pending = page.locator("tr[data-state=pending_approval]")
    assert await pending.count() == 1 and "tiktok" in (await pending.inner_text()).lower()


async def test_the_institution_team_never_sees_the_president(browser: Browser, live: LiveApp) -> None:
    # the president's persona id, as her own community manager sees it
    president_cm = live.logins["cm.presidente"]
    await browser.login(president_cm.email, president_cm.password)
    await browser.goto("/admin")
    href = await browser.page.locator(".tile h2 a").first.get_attribute("href")
    president_url = str(href)
    account_row = browser.page
    await browser.goto(president_url)
    account_id = (await account_row.locator("table.accounts tr[id^=account-]").first.get_attribute("id") or "")[
        len("account-") :
    ]
    await browser.page.click("form[action='/logout'] button")

    cm = live.logins["cm.region"]
    await browser.login(cm.email, cm.password)
    for path in ("/admin", "/admin/personas", "/admin/accounts", "/admin/me"):
        await browser.goto(path)
        html = await browser.page.content()
        assert "présidente" not in html.lower() and "camilledelorme" not in html.lower(), path
    menu = await browser.page.locator("nav.mainnav").inner_text()
    assert "Équipe" not in menu  # not an admin: no staff menu
    response = await browser.goto(president_url)
    assert response.status == 404 and "Introuvable" in await browser.page.content()
    browser.expect_404_console()
    api = await browser.page.request.get(f"{live.url}/api/v1{president_url.removeprefix('/admin')}/accounts")
    assert api.status == 404
    mode = await browser.page.request.post(
        f"{live.url}{president_url}/accounts/{account_id}/mode",
        form={"mode": "dry_run", "_csrf_token": await _csrf(browser)},
        max_redirects=0,
    )
    assert mode.status == 404
    await browser.shot("not-found-fr")


async def _csrf(browser: Browser) -> str:
    return str(await browser.page.locator("input[name=_csrf_token]").first.get_attribute("value"))


async def test_french_and_english_and_the_htmx_mode_switch(browser: Browser, live: LiveApp) -> None:
    manager = live.logins["dircom.region"]
    await browser.login(manager.email, manager.password)
    await browser.goto("/admin/accounts")
    assert await browser.page.locator("h1").inner_text() == "Comptes"
    row = browser.page.locator("table.accounts tr[data-channel=facebook]")
    assert await row.get_attribute("data-mode") == "live"
    await row.locator("button").click()  # htmx swaps the row in place
    await browser.page.wait_for_selector("table.accounts tr[data-channel=facebook][data-mode=dry_run]")
    assert "Répétition" in await browser.page.locator("table.accounts tr[data-channel=facebook]").inner_text()
    await browser.shot("accounts-dry-run-fr")
    await browser.page.click("button[lang=en]")
    await browser.page.wait_for_load_state()
    assert await browser.page.locator("h1").inner_text() == "Accounts"
    assert "Dry run" in await browser.page.locator("table.accounts tr[data-channel=facebook]").inner_text()
    await browser.shot("accounts-en")
    # back to live, without JavaScript's help this time: the plain form works too
    await browser.page.request.post(
        f"{live.url}{await row.locator('form').get_attribute('action')}",
        form={"mode": "live", "next": "/admin/accounts", "_csrf_token": await _csrf(browser)},
    )
    await browser.goto("/admin/accounts")
    assert await browser.page.locator("table.accounts tr[data-channel=facebook]").get_attribute("data-mode") == "live"
    await browser.page.click("button[lang=fr]")
    await browser.page.wait_for_load_state()


async def test_csrf_refuses_a_form_post_without_token(browser: Browser, live: LiveApp) -> None:
    admin = live.logins["admin"]
    await browser.login(admin.email, admin.password)
    refused = await browser.page.request.post(f"{live.url}/admin/me/tokens", form={"name": "forged"})
    assert refused.status == 403
