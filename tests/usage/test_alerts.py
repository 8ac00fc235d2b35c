"""Usage alerts on both databases: each kind raised from rows written as the app writes them, kept
once per persona, kind, subject and local day, resolved when its condition goes, told to the
managers and admins, and posted to a webhook over real HTTP on 127.0.0.1 (refused, retried, sent)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core.audit import Actor
from core.db.enums import AccountStatus, DeliveryKind, DeliveryState, InboxKind, InboxStatus, Role
from core.db.models import (
    Account,
    Delivery,
    InboxEvent,
    InboxItem,
    Notification,
    Persona,
    Post,
    Staff,
    UsageAlert,
    UsageSample,
)
from core.notifications import texts
from core.people.staff import assign, create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import Settings
from core.usage import alerts, budget
from personas import SEED_DIR, load_dir
from plugins.testing.fake import serve_in_thread

pytestmark = pytest.mark.anyio

#: 19:00 in Paris on Friday 27 November 2026: past the default alert hour (18)
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
REGION = "region-occitanie"


class World:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.personas: dict[str, Persona] = {}
        self.accounts: dict[tuple[str, str], uuid.UUID] = {}
        self.staff: dict[str, uuid.UUID] = {}

    def account(self, channel: str, persona: str = REGION) -> uuid.UUID:
        return self.accounts[(persona, channel)]

    async def publish(self, channel: str, at: datetime, persona: str = REGION) -> None:
        async with self.runtime.session() as session:
            post = Post(persona_id=self.personas[persona].id, kind=DeliveryKind.POST, text="Le budget des lycées")
            session.add(post)
            await session.flush()
            session.add(
                Delivery(
                    post_id=post.id,
                    account_id=self.account(channel, persona),
                    kind=DeliveryKind.POST,
                    state=DeliveryState.PUBLISHED,
                    client_ref=uuid.uuid4().hex,
                    remote_id=uuid.uuid4().hex,
                    published_at=at,
                )
            )

    async def item(self, **values: Any) -> uuid.UUID:
        async with self.runtime.session() as session:
            item = InboxItem(
                account_id=self.account("facebook"),
                persona_id=self.personas[REGION].id,
                remote_id=uuid.uuid4().hex,
                kind=InboxKind.COMMENT,
                author_remote_id="fb-user-1",
                author_name="Jeanne Dupont",
                author_handle="jeanne.dupont",
                text="Quand ouvre le lycée de Sète ?",
                received_at=values.pop("received_at", NOW - timedelta(days=1)),
                **values,
            )
            session.add(item)
            await session.flush()
            return item.id

    async def run(self, now: datetime = NOW, settings: Settings | None = None) -> alerts.AlertRun:
        if settings is not None:
            self.runtime.settings = settings
        return await alerts.raise_usage_alerts(self.runtime, now)

    async def alerts(self, kind: str | None = None) -> list[UsageAlert]:
        async with self.runtime.sessions() as session:
            query = select(UsageAlert).order_by(UsageAlert.day, UsageAlert.raised_at)
            if kind is not None:
                query = query.where(UsageAlert.kind == kind)
            return list((await session.scalars(query)).all())

    async def open_(self, kind: str, subject: str) -> list[UsageAlert]:
        return [a for a in await self.alerts(kind) if a.subject == subject and a.resolved_at is None]


@pytest.fixture
async def world(runtime: Runtime) -> AsyncIterator[World]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    w = World(runtime)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        w.personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        for name, slug, role, admin in (
            ("cm", REGION, Role.EDITOR, False),
            ("dircom", REGION, Role.MANAGER, False),
            ("cabinet", "presidente-region", Role.MANAGER, False),
            ("admin", None, None, True),
        ):
            staff = await create_staff(
                session,
                email=f"{name}@t.fr",
                display_name=name.title(),
                password="long enough pw",
                actor=Actor.system("t"),
                is_admin=admin,
            )
            if slug is not None and role is not None:
                await assign(session, staff, w.personas[slug], role, Actor.system("t"))
            w.staff[name] = staff.id
        for account in (await session.scalars(select(Account))).all():
            slug = next(s for s, p in w.personas.items() if p.id == account.persona_id)
            w.accounts[(slug, account.channel)] = account.id
    yield w


# ------------------------------------------------------------------ each kind, raised and resolved


async def test_a_network_behind_its_cadence_at_the_alert_hour_is_raised_then_resolved(world: World) -> None:
    facebook = str(world.account("facebook"))
    await world.publish("facebook", NOW - timedelta(hours=8))  # 1 of 2 today
    await world.run(NOW - timedelta(hours=2))  # 17:00 local: before the alert hour
    assert await world.alerts("behind_cadence") == []

    run = await world.run()
    assert run.raised >= 1
    [alert] = await world.open_("behind_cadence", facebook)
    assert alert.day == "2026-11-27"
    assert (alert.detail["posts"], alert.detail["target"], alert.detail["channel"]) == (1, 2, "facebook")

    await world.publish("facebook", NOW + timedelta(minutes=5))
    await world.run(NOW + timedelta(minutes=15))
    [alert] = [a for a in await world.alerts("behind_cadence") if a.subject == facebook]
    assert alert.resolved_at == NOW + timedelta(minutes=15)
    # the other networks are still behind theirs
    assert await world.open_("behind_cadence", str(world.account("linkedin")))


async def test_a_budget_nearly_spent_is_raised_and_resolved_by_the_next_snapshot(world: World) -> None:
    x = world.account("x")

    async def snapshot(remaining: float, at: datetime) -> None:
        async with world.runtime.session() as session:
            detail = {"endpoint": "POST /2/tweets", "limit": 100, "reset_at": None}
            session.add(UsageSample(account_id=x, at=at, metric="quota_remaining", value=remaining, detail=detail))

    await snapshot(40, NOW - timedelta(hours=3))
    await world.run()
    assert await world.alerts("quota_low") == []
    await snapshot(4, NOW - timedelta(minutes=10))
    await world.run()
    [alert] = await world.open_("quota_low", str(x))
    assert (alert.detail["left"], alert.detail["endpoint"]) == (4.0, "POST /2/tweets")
    await snapshot(90, NOW + timedelta(minutes=1))
    await world.run(NOW + timedelta(minutes=15))
    assert await world.open_("quota_low", str(x)) == []


async def test_a_low_budget_the_worker_raised_before_a_send_is_told_by_the_next_run(world: World) -> None:
    x = world.account("x")
    async with world.runtime.session() as session:
        detail = {"endpoint": "POST /2/tweets", "limit": 100, "reset_at": None}
        session.add(
            UsageSample(account_id=x, at=NOW - timedelta(minutes=5), metric="quota_remaining", value=3, detail=detail)
        )
        assert await budget.warn_if_low(session, x, now=NOW) is not None
    [alert] = await world.open_("quota_low", str(x))
    assert alert.detail["source"] == "send"
    async with world.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0
    run = await world.run(NOW + timedelta(minutes=1))
    [alert] = await world.open_("quota_low", str(x))
    assert "source" not in alert.detail and alert.detail["left"] == 3.0
    async with world.runtime.sessions() as session:
        told = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.subject_id == alert.id)
        )
    assert told == 2 and run.notified >= 2  # the Région's manager and the admin
    await world.run(NOW + timedelta(minutes=2))
    async with world.runtime.sessions() as session:
        times = (await session.scalars(select(Notification.times).where(Notification.subject_id == alert.id))).all()
    assert times == [1, 1]  # told once


@pytest.mark.parametrize(
    ("kind", "broken", "mended"),
    [
        ("needs_reauth", {"status": AccountStatus.NEEDS_REAUTH}, {"status": AccountStatus.CONNECTED}),
        (
            "metrics_failing",
            {"metrics_error": "HTTP 400: (#100) Tried accessing nonexisting field"},
            {"metrics_error": None},
        ),
    ],
)
async def test_an_account_to_reconnect_or_with_failing_metrics(
    world: World, kind: str, broken: dict[str, Any], mended: dict[str, Any]
) -> None:
    linkedin = world.account("linkedin")
    async with world.runtime.session() as session:
        await session.execute(update(Account).where(Account.id == linkedin).values(**broken))
    await world.run()
    [alert] = await world.open_(kind, str(linkedin))
    assert alert.detail["handle"] == "region-occitanie"
    async with world.runtime.session() as session:
        await session.execute(update(Account).where(Account.id == linkedin).values(**mended))
    await world.run(NOW + timedelta(minutes=15))
    assert await world.open_(kind, str(linkedin)) == []
    assert len(await world.alerts(kind)) == 1


async def test_the_inbox_over_its_response_target(world: World) -> None:
    late = await world.item(status=InboxStatus.NEW, response_due_at=NOW - timedelta(hours=1))
    await world.item(status=InboxStatus.NEW, response_due_at=NOW + timedelta(hours=5))  # not yet due
    await world.run()
    [alert] = await world.open_("inbox_over_target", "")
    assert (alert.detail["overdue"], alert.detail["target"]) == (1, 120)
    async with world.runtime.session() as session:
        await session.execute(
            update(InboxItem).where(InboxItem.id == late).values(status=InboxStatus.CLOSED, response_due_at=None)
        )
    await world.run(NOW + timedelta(minutes=15))
    assert await world.open_("inbox_over_target", "") == []


async def test_a_slow_median_first_response_today_is_over_target_too(world: World) -> None:
    item = await world.item(status=InboxStatus.ANSWERED)
    async with world.runtime.session() as session:
        session.add(
            InboxEvent(
                item_id=item,
                persona_id=world.personas[REGION].id,
                staff_id=world.staff["cm"],
                kind="first_response",
                at=NOW - timedelta(hours=2),
                seconds=6 * 3600.0,
                business_seconds=3 * 3600.0,  # 180 min against 120
            )
        )
    await world.run()
    [alert] = await world.open_("inbox_over_target", "")
    assert (alert.detail["overdue"], alert.detail["median"]) == (0, 180)


async def test_a_fourteen_hour_day_is_raised_and_yesterdays_alert_resolved_the_next_day(world: World) -> None:
    item = await world.item()
    cm = world.staff["cm"]
    async with world.runtime.session() as session:
        for at in (datetime(2026, 11, 27, 6, 30, tzinfo=UTC), datetime(2026, 11, 27, 17, 45, tzinfo=UTC)):
            session.add(
                InboxEvent(item_id=item, persona_id=world.personas[REGION].id, staff_id=cm, kind="assigned", at=at)
            )
    await world.run()
    [alert] = await world.open_("long_day", str(cm))
    assert (alert.detail["who"], alert.detail["hours"]) == ("Cm", 11.2)

    tomorrow = NOW + timedelta(days=1)
    await world.run(tomorrow)
    assert await world.open_("long_day", str(cm)) == []
    [old] = await world.alerts("long_day")
    assert old.resolved_at == tomorrow


async def test_a_ten_hour_day_is_not_an_alert(world: World) -> None:
    item = await world.item()
    async with world.runtime.session() as session:
        for at in (datetime(2026, 11, 27, 7, 0, tzinfo=UTC), datetime(2026, 11, 27, 16, 30, tzinfo=UTC)):
            session.add(
                InboxEvent(
                    item_id=item,
                    persona_id=world.personas[REGION].id,
                    staff_id=world.staff["cm"],
                    kind="assigned",
                    at=at,
                )
            )
    await world.run()
    assert await world.alerts("long_day") == []


# ------------------------------------------------------------------ once a day, told once


async def test_one_alert_per_day_told_to_managers_and_admins_once(world: World) -> None:
    linkedin = world.account("linkedin")
    async with world.runtime.session() as session:
        await session.execute(update(Account).where(Account.id == linkedin).values(status=AccountStatus.NEEDS_REAUTH))
    first = await world.run()
    second = await world.run(NOW + timedelta(minutes=15))
    assert second.raised == 0 and second.kept == first.raised
    [alert] = await world.alerts("needs_reauth")
    async with world.runtime.sessions() as session:
        told = (
            await session.execute(
                select(Staff.email, Notification.times, Notification.detail)
                .join(Staff, Staff.id == Notification.staff_id)
                .where(Notification.kind == "usage_alert", Notification.subject_id == alert.id)
            )
        ).all()
        assert (
            await session.scalar(select(func.count()).select_from(UsageAlert).where(UsageAlert.kind == "needs_reauth"))
            == 1
        )
    # the Région's manager and the site admin; not its editor, not the president's team
    assert sorted(e for e, _, _ in told) == ["admin@t.fr", "dircom@t.fr"]
    assert {times for _, times, _ in told} == {1}
    detail = told[0][2]
    body = texts.body("usage_alert", detail, "en")
    assert body.startswith("linkedin @region-occitanie (Région Occitanie) must be reconnected")
    assert texts.body("usage_alert", detail, "fr").startswith("linkedin @region-occitanie (Région Occitanie) doit être")

    # mended, then broken again the same day: the same row opens again and tells again
    async with world.runtime.session() as session:
        await session.execute(update(Account).where(Account.id == linkedin).values(status=AccountStatus.CONNECTED))
    await world.run(NOW + timedelta(minutes=30))
    async with world.runtime.session() as session:
        await session.execute(update(Account).where(Account.id == linkedin).values(status=AccountStatus.NEEDS_REAUTH))
    again = await world.run(NOW + timedelta(minutes=45))
    assert again.raised == 1
    [alert] = await world.alerts("needs_reauth")
    assert alert.resolved_at is None and alert.raised_at == NOW + timedelta(minutes=45)


async def test_the_dashboard_reads_the_open_alerts_of_the_personas_given(world: World) -> None:
    for persona, channel in ((REGION, "x"), ("presidente-region", "x")):
        async with world.runtime.session() as session:
            await session.execute(
                update(Account)
                .where(Account.id == world.account(channel, persona))
                .values(status=AccountStatus.NEEDS_REAUTH)
            )
    await world.run(NOW - timedelta(hours=6))  # 13:00: no cadence alert yet
    async with world.runtime.sessions() as session:
        region_only = await alerts.open_alerts(session, [world.personas[REGION].id])
        both = await alerts.open_alerts(session, [p.id for p in world.personas.values()])
        none = await alerts.open_alerts(session, [])
    assert [(a.kind, a.subject) for a in region_only] == [("needs_reauth", str(world.account("x")))]
    assert len(both) == 2 and none == []
    assert alerts.text(region_only[0], "Région Occitanie", lambda m: m).startswith("x @Occitanie (Région Occitanie)")


# ------------------------------------------------------------------ the webhook, over real HTTP


class Receiver:
    """A webhook receiver on 127.0.0.1: answers the statuses it is given in turn, keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no" if status >= 300 else b"ok"})


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[Receiver, str]]:
    found = Receiver(list(request.param))
    with serve_in_thread(found) as url:
        yield found, url + "/hooks/porte-voix"


def _with_webhook(settings: Settings, url: str) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, usage_webhook_url=url, usage_webhook_secret="s3cret-for-hmac")


@pytest.mark.parametrize("receiver", [[500, 503, 200]], indirect=True)
async def test_the_webhook_is_retried_then_sent(world: World, receiver: tuple[Receiver, str]) -> None:
    server, url = receiver
    world.runtime.settings = _with_webhook(world.runtime.settings, url)
    async with world.runtime.session() as session:
        await session.execute(
            update(Account).where(Account.id == world.account("instagram")).values(metrics_error="HTTP 500")
        )
    await world.run(NOW - timedelta(hours=6))
    [alert] = await world.alerts("metrics_failing")
    assert alert.webhook_state == "pending"

    assert await alerts.send_usage_webhooks(world.runtime) == 0
    [alert] = await world.alerts("metrics_failing")
    assert (alert.webhook_state, alert.webhook_attempts) == ("pending", 1)
    assert alert.webhook_error is not None and alert.webhook_error.startswith("HTTP 500")
    assert await alerts.send_usage_webhooks(world.runtime) == 0
    assert await alerts.send_usage_webhooks(world.runtime) == 1
    [alert] = await world.alerts("metrics_failing")
    assert (alert.webhook_state, alert.webhook_attempts, alert.webhook_error) == ("sent", 3, None)
    assert await alerts.send_usage_webhooks(world.runtime) == 0  # nothing left to send
    assert len(server.received) == 3

    headers, body = server.received[-1]
    sent = json.loads(body)
    assert (sent["event"], sent["kind"], sent["persona"]["slug"], sent["id"]) == (
        "usage_alert",
        "metrics_failing",
        REGION,
        str(alert.id),
    )
    assert sent["detail"]["error"] == "HTTP 500" and sent["text"]
    assert headers["content-type"] == "application/json"
    assert headers[alerts.SIGNATURE_HEADER.lower()] == alerts.signature("s3cret-for-hmac", body)


@pytest.mark.parametrize("receiver", [[500]], indirect=True)
async def test_a_webhook_refused_every_time_ends_failed(world: World, receiver: tuple[Receiver, str]) -> None:
    server, url = receiver
    world.runtime.settings = _with_webhook(world.runtime.settings, url)
    async with world.runtime.session() as session:
        await session.execute(
            update(Account).where(Account.id == world.account("x")).values(status=AccountStatus.NEEDS_REAUTH)
        )
    await world.run(NOW - timedelta(hours=6))
    for _ in range(alerts.WEBHOOK_MAX_ATTEMPTS + 2):
        await alerts.send_usage_webhooks(world.runtime)
    [alert] = await world.alerts("needs_reauth")
    assert (alert.webhook_state, alert.webhook_attempts) == ("failed", alerts.WEBHOOK_MAX_ATTEMPTS)
    assert len(server.received) == alerts.WEBHOOK_MAX_ATTEMPTS


async def test_without_a_webhook_url_nothing_waits_for_one(world: World) -> None:
    async with world.runtime.session() as session:
        await session.execute(
            update(Account).where(Account.id == world.account("x")).values(status=AccountStatus.NEEDS_REAUTH)
        )
    await world.run(NOW - timedelta(hours=6))
    [alert] = await world.alerts("needs_reauth")
    assert alert.webhook_state == "none"
    assert await alerts.send_usage_webhooks(world.runtime) == 0


def test_the_worker_runs_the_alerts_the_webhooks_and_the_purge() -> None:
    from core.queue import worker

    names = {job.name for job in worker.CRON_JOBS}
    assert {"raise_usage_alerts", "send_usage_webhooks", "purge_usage"} <= names
