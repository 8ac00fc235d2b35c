"""A crisis posture in a real Chromium: an orange vigilance for the Hérault came in with the watch and
proposed a posture; the Région's manager sees it on the persona's dashboard, opens it (the trigger,
the safety templates citing the official source), accepts it, and the promotional post scheduled for
the afternoon is held by the kill switch (still scheduled, listed as held, nothing sent), read back
from the served database. axe-core clean, nothing scrolls sideways at 390 px, no request leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db.enums import DeliveryState, Role
from core.db.models import Account, CrisisPosture, Delivery, Persona, Staff, VeilleItem, VeilleSource
from core.db.types import utcnow
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from core.veille import crisis
from tests.web.live import LiveApp, serve
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.web.test_mobile_a11y_browser import axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ALERT_URL = "https://meteoalarm.example.test/fr/34/orange"
PROMO = "Ce week-end, venez découvrir les marchés de Noël de la Région !"


def _afternoon() -> datetime:
    """Today at 16:00 in Paris, or in two hours when the afternoon is over."""
    zone = ZoneInfo("Europe/Paris")
    today = datetime.combine(utcnow().astimezone(zone).date(), time(16), tzinfo=zone)
    return today if today > utcnow() + timedelta(minutes=30) else utcnow() + timedelta(hours=2)


async def _run(live: LiveApp, work: Any) -> Any:
    runtime = Runtime(live.settings)
    try:
        async with runtime.session() as session:
            return await work(runtime, session)
    finally:
        await runtime.aclose()


async def _crisis(runtime: Runtime, session: Any) -> tuple[str, str]:
    region = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
    manager = await session.scalar(select(Staff).where(Staff.email == "dircom.region@demo.portevoix.fr"))
    facebook = await session.scalar(
        select(Account.id).where(Account.persona_id == region.id, Account.channel == "facebook")
    )
    scheduled = await compose(
        session,
        runtime.channels,
        StaffActor(id=manager.id, label=manager.email, role=Role.MANAGER),
        ComposeRequest(persona_id=region.id, account_ids=(facebook,), text=PROMO, scheduled_at=_afternoon()),
    )
    [delivery] = scheduled.deliveries
    assert delivery.state == DeliveryState.SCHEDULED
    source = VeilleSource(
        persona_id=region.id,
        kind="feed",
        plugin="meteoalarm",
        target="https://meteoalarm.example.test/feeds/france",
        label="MeteoAlarm — France",
        crisis=True,
    )
    session.add(source)
    await session.flush()
    title = "Vigilance orange pluie-inondation : Hérault"
    item = VeilleItem(
        source_id=source.id,
        persona_id=region.id,
        dedup_key=hashlib.sha256(b"cap-34-orange").hexdigest(),
        url=ALERT_URL,
        title=title,
        summary_text="Fortes pluies attendues jusqu'à demain matin.",
        content_hash=hashlib.sha256(title.encode()).hexdigest(),
        severity="orange",
        area="Hérault",
    )
    session.add(item)
    await session.flush()
    run = await crisis.assess_items(session, region, [item], settings=runtime.settings)
    assert run.proposed == 1
    return str(region.id), str(delivery.id)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, str, str]]:
    with serve(tmp_path_factory.mktemp("live-crisis")) as app:
        region_id, delivery_id = asyncio.run(_run(app, _crisis))
        yield app, region_id, delivery_id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def _read(app: LiveApp, work: Any) -> Any:
    # Playwright's sync API holds this thread's event loop: read the database from another thread
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _run(app, work)).result()


def test_the_region_s_manager_accepts_a_crisis_posture_and_the_afternoon_post_is_held(
    live: tuple[LiveApp, str, str], browser: Any
) -> None:
    app, region_id, delivery_id = live
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())  # the accept form asks before holding the posts
    login = app.logins["dircom.region"]
    page.goto(app.url + "/login")
    page.fill("input[name=email]", login.email)
    page.fill("input[name=password]", login.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()

    # the dashboard says it first
    page.goto(f"{app.url}/admin/personas/{region_id}")
    banner = page.locator(".crisis-banner")
    assert banner.get_attribute("data-posture-state") == "proposed"
    assert axe_violations(page) == []
    banner.get_by_role("link").click()
    page.wait_for_selector("#posture[data-state=proposed]")
    assert page.locator("h1").inner_text() == "Posture de crise"
    signal = page.locator("li[data-signal=vigilance]")
    assert "Hérault" in signal.inner_text()
    assert signal.locator(f"a[href='{ALERT_URL}']").count() == 1
    # the safety templates cite the official source (the alert's own link)
    assert f"Source officielle : {ALERT_URL}" in page.locator("#safety-crue").inner_text()
    assert axe_violations(page) == []

    page.click("#accept-posture")
    page.wait_for_selector("#posture[data-state=accepted]")
    held = page.locator(f"#held-by-posture li[data-delivery='{delivery_id}']")
    assert held.count() == 1 and "facebook" in held.inner_text()
    assert axe_violations(page) == []

    async def stored(runtime: Runtime, session: Any) -> tuple[Any, ...]:
        persona = await session.get(Persona, uuid.UUID(region_id))
        delivery = await session.get(Delivery, uuid.UUID(delivery_id))
        posture = await session.scalar(select(CrisisPosture).where(CrisisPosture.persona_id == persona.id))
        return persona.paused, persona.pause_reason, delivery.state, delivery.remote_id, posture.held_delivery_ids

    paused, reason, state, remote_id, held_ids = _read(app, stored)
    assert paused and reason.startswith("crisis posture: orange vigilance, Hérault (34)")
    assert (state, remote_id) == (DeliveryState.SCHEDULED, None)  # held, not sent
    assert held_ids == [delivery_id]

    # the dashboard lists it as held by the pause, and the banner says the posture is in force
    page.goto(f"{app.url}/admin/personas/{region_id}")
    assert page.locator(".crisis-banner").get_attribute("data-posture-state") == "accepted"
    assert page.locator(f"#publishing ul.held li[data-delivery='{delivery_id}']").count() == 1

    # on a phone
    page.set_viewport_size(PHONE)
    page.goto(f"{app.url}/admin/personas/{region_id}/veille/crisis")
    page.wait_for_timeout(100)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "veille-crisis-390.png"), full_page=True)

    outside = [url for url in requests if not url.startswith(("http://127.0.0.1:", "data:"))]
    assert outside == [] and len(requests) > 5
    assert errors == []
    context.close()
