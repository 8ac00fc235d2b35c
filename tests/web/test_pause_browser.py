"""The kill switch in a real Chromium: the head of communication pauses the Région, a "publish now"
is held, time passes; resuming lists what fell due during the pause (local time, network, text) and
asks what becomes of each — send now, reschedule, cancel — before anything goes out."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Persona, Post, Staff
from core.db.types import utcnow
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
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

NOW_TEXT = "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 15 janvier."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-pause"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


async def _scheduled(runtime: Runtime, slug: str, channel: str, text: str, hours: float) -> uuid.UUID:
    """A post scheduled by the head of communication, ``hours`` from now."""
    async with runtime.session() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == slug))
        assert persona is not None
        account = await session.scalar(
            select(Account).where(Account.persona_id == persona.id, Account.channel == channel)
        )
        manager = await session.scalar(select(Staff).where(Staff.email.startswith("dircom.region@")))
        assert account is not None and manager is not None
        result = await compose(
            session,
            runtime.channels,
            StaffActor(id=manager.id, label=manager.email, role=Role.MANAGER),
            ComposeRequest(
                persona_id=persona.id,
                account_ids=(account.id,),
                text=text,
                scheduled_at=utcnow() + timedelta(hours=hours),
            ),
        )
        return result.deliveries[0].id


async def _states(runtime: Runtime, *ids: uuid.UUID) -> list[Delivery]:
    async with runtime.sessions() as session:
        return [d for i in ids if (d := await session.get(Delivery, i)) is not None]


async def test_pause_then_resume_with_the_overdue_list(browser: Browser, live: LiveApp) -> None:
    page = browser.page
    runtime = Runtime(live.settings)
    try:
        late = await _scheduled(runtime, "region-occitanie", "facebook", "Le marché de Noël ouvre ce soir.", 1)
        dropped = await _scheduled(runtime, "region-occitanie", "x", "Rendez-vous au salon de l'agriculture.", 2)
        tomorrow = await _scheduled(runtime, "region-occitanie", "facebook", "Les lycées rouvrent lundi.", 30)

        manager = live.logins["dircom.region"]
        await browser.login(manager.email, manager.password)
        await page.click("text=Région Occitanie")
        await page.wait_for_load_state()
        persona_url = page.url.split("#")[0]
        await page.fill("form.pause input[name=reason]", "Deuil régional")
        await page.click("form.pause button[type=submit]")
        await page.wait_for_load_state()
        assert "Deuil régional" in await page.locator("#publishing").inner_text()

        # a "publish now" while paused is held, not sent
        await page.click("nav.personanav >> text=Rédiger")
        await page.wait_for_load_state()
        await page.check("label[data-channel=x] input")
        await page.fill("textarea[name=text]", NOW_TEXT)
        await page.check("input[name=when][value=now]")
        await page.click("#composer button[type=submit]")
        await page.wait_for_load_state()
        async with runtime.sessions() as session:
            query = select(Delivery.id).join(Post, Post.id == Delivery.post_id).where(Post.text == NOW_TEXT)
            published_now = await session.scalar(query)
        assert published_now is not None

        # time passes during the pause: two of the scheduled posts fall due
        async with runtime.session() as session:
            for minutes, delivery_id in enumerate((late, dropped)):
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id)
                    .values(scheduled_at=utcnow() - timedelta(hours=1) + timedelta(minutes=minutes))
                )

        # resuming does not flush: it lists what fell due and asks
        await page.goto(persona_url)
        await page.click("form.resume button[type=submit]")
        await page.wait_for_load_state()
        assert "Persona en pause — rien ne part : Deuil régional" in await page.locator(".paused-banner").inner_text()
        rows = page.locator("tr.overdue-delivery")
        listed = await rows.evaluate_all("rows => rows.map(r => r.dataset.delivery)")
        assert listed == [str(late), str(dropped), str(published_now)]
        first = await rows.nth(0).inner_text()
        assert "facebook" in first and "Le marché de Noël" in first
        assert NOW_TEXT[:40] in await rows.nth(2).inner_text()
        assert await page.locator(f"#later li[data-delivery='{tomorrow}']").count() == 1
        await browser.shot("pause-resume-overdue-fr")
        async with runtime.sessions() as session:
            assert await session.scalar(select(Persona.paused).where(Persona.slug == "region-occitanie"))

        # the choices: reschedule the Noël market, cancel the salon, send the "publish now"
        new_local = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT10:00")
        await page.check(f"input[name='choice-{late}'][value=reschedule]")
        await page.fill(f"input[name='local_time-{late}']", new_local)
        await page.check(f"input[name='choice-{dropped}'][value=cancel]")
        await page.fill(f"input[name='reason-{dropped}']", "Reporté après le deuil")
        await page.check(f"input[name='choice-{published_now}'][value=send_now]")
        await page.click("form.resume-choices button[type=submit]")
        await page.wait_for_load_state()
        assert "Active" in await page.locator("#publishing").inner_text()
        assert await page.locator(".paused-banner").count() == 0

        moved, canceled, sent, later = await _states(runtime, late, dropped, published_now, tomorrow)
        assert moved.state == DeliveryState.SCHEDULED and moved.scheduled_at is not None
        assert moved.scheduled_at > utcnow() + timedelta(days=2)
        assert canceled.state == DeliveryState.CANCELED
        assert sent.state == DeliveryState.SCHEDULED and sent.scheduled_at is not None
        assert sent.scheduled_at <= utcnow()  # due: the dispatcher sends it now
        assert later.state == DeliveryState.SCHEDULED
        assert browser.errors == []
    finally:
        await runtime.aclose()
