"""API budgets in the queue, on both databases: the remaining share per endpoint from the latest
snapshots the networks sent (each standing until its reset, or for its window), a warning before a
send on a low budget (the send goes on), and the non-urgent work — metrics, inbox polls — leaving a
low account alone while the others go on (fake networks over HTTP on 127.0.0.1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.channels import UsageReport
from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, Post, UsageAlert
from core.inbox.sync import sync_due_accounts
from core.publishing.outbox import flush_usage
from core.queue import worker
from core.runtime import Runtime
from core.usage import budget
from core.usage.budget import LOW_SHARE, account_budget, warn_before_send, warn_if_low
from core.usage.metrics import collect_all
from plugins.testing import FakeNetwork
from tests.inbox.networks import (
    connect,
    networks_fixture,  # noqa: F401 - the fixture "networks"
    persona,
    point_at,
)

pytestmark = pytest.mark.anyio
Networks = dict[str, tuple[FakeNetwork, str]]


async def _account(runtime: Runtime, networks: Networks, channel: str) -> tuple[FakeNetwork, uuid.UUID, str]:
    fake = networks[channel][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    return fake, await connect(runtime, await persona(runtime), channel, ref), ref.external_id


async def _report(runtime: Runtime, channel: str, external_id: str, endpoint: str, **quota: object) -> None:
    """A snapshot as the plugin kit reports it, stored the way the worker stores them."""
    report = UsageReport(channel=channel, endpoint=endpoint, account_external_id=external_id, **quota)  # type: ignore[arg-type]
    runtime.host.usage.record(report)
    await flush_usage(runtime)


async def test_the_remaining_share_per_endpoint_stands_until_its_reset(runtime: Runtime, networks: Networks) -> None:
    point_at(runtime, networks)
    _, x_id, x_user = await _account(runtime, networks, "x")
    now = datetime.now(UTC)
    soon = now + timedelta(minutes=10)
    await _report(runtime, "x", x_user, "POST /2/tweets", limit=100, remaining=5, reset_at=soon)
    await _report(runtime, "x", x_user, "GET /2/users/:id", limit=900, remaining=800, reset_at=soon)
    # a window already over says nothing of the budget now
    await _report(runtime, "x", x_user, "GET /2/users/:id/mentions", limit=300, remaining=0, reset_at=now)
    # a count without its limit is no share
    await _report(runtime, "x", x_user, "GET /2/tweets", remaining=3, reset_at=soon)

    async with runtime.sessions() as session:
        found = await account_budget(session, x_id)
        later = await account_budget(session, x_id, now=soon + timedelta(seconds=1))
    assert [(e.endpoint, e.remaining_share) for e in found.endpoints] == [
        ("POST /2/tweets", 0.05),
        ("GET /2/users/:id", pytest.approx(0.8889, abs=1e-4)),
    ]
    assert found.remaining_share == 0.05 < LOW_SHARE
    assert [e.endpoint for e in found.low] == ["POST /2/tweets"] and found.background_yields
    assert later.endpoints == [] and not later.is_low  # reset: nothing known, nothing low


async def test_meta_percentages_stand_an_hour_and_the_publishing_quota_a_day(
    runtime: Runtime, networks: Networks
) -> None:
    point_at(runtime, networks)
    _, facebook_id, page = await _account(runtime, networks, "facebook")
    _, instagram_id, ig_user = await _account(runtime, networks, "instagram")
    await _report(runtime, "facebook", page, "app", used_percent=95.0)
    await _report(runtime, "instagram", ig_user, "content_publishing_limit", limit=100, remaining=4)
    now = datetime.now(UTC)

    async with runtime.sessions() as session:
        budgets = await budget.budgets_of(session, [facebook_id, instagram_id], now=now)
        an_hour_on = await budget.budgets_of(session, [facebook_id, instagram_id], now=now + timedelta(minutes=61))
        a_day_on = await budget.budgets_of(session, [instagram_id], now=now + timedelta(hours=25))
        yielding = await budget.yielding(session, [facebook_id, instagram_id], now=now)
    assert budgets[facebook_id].remaining_share == pytest.approx(0.05) and budgets[facebook_id].background_yields
    # the publishing quota is low, but reading metrics or an inbox does not spend it
    assert budgets[instagram_id].is_low and not budgets[instagram_id].background_yields
    assert yielding == {facebook_id}
    assert an_hour_on[facebook_id].endpoints == []
    assert an_hour_on[instagram_id].remaining_share == pytest.approx(0.04)
    assert a_day_on[instagram_id].endpoints == []


async def test_a_low_budget_warns_the_persona_once_a_day_before_a_send(runtime: Runtime, networks: Networks) -> None:
    point_at(runtime, networks)
    _, x_id, x_user = await _account(runtime, networks, "x")
    async with runtime.session() as session:
        assert await warn_if_low(session, x_id) is None  # nothing known: no warning
    reset = datetime.now(UTC) + timedelta(minutes=14)
    await _report(runtime, "x", x_user, "POST /2/tweets", limit=100, remaining=2, reset_at=reset)
    for _ in range(2):
        async with runtime.session() as session:
            low = await warn_if_low(session, x_id)
            assert low is not None and low.is_low
    async with runtime.sessions() as session:
        alerts = (await session.scalars(select(UsageAlert))).all()
    assert len(alerts) == 1
    [alert] = alerts
    assert (alert.kind, alert.subject, alert.resolved_at) == ("quota_low", str(x_id), None)
    assert alert.detail["endpoint"] == "POST /2/tweets" and alert.detail["left"] == 2.0
    assert alert.detail["channel"] == "x" and alert.detail["persona"]


async def test_the_worker_warns_before_the_send_and_sends(runtime: Runtime, networks: Networks) -> None:
    point_at(runtime, networks)
    fake, x_id, x_user = await _account(runtime, networks, "x")
    reset = datetime.now(UTC) + timedelta(minutes=14)
    await _report(runtime, "x", x_user, "POST /2/tweets", limit=100, remaining=1, reset_at=reset)
    async with runtime.session() as session:
        account = await session.get(Account, x_id)
        assert account is not None
        text = "Les horaires des TER changent le 14 décembre."
        post = Post(persona_id=account.persona_id, kind=DeliveryKind.POST, text=text)
        session.add(post)
        await session.flush()
        delivery = Delivery(
            post_id=post.id,
            account_id=x_id,
            kind=DeliveryKind.POST,
            state=DeliveryState.QUEUED,
            client_ref=uuid.uuid4().hex,
            scheduled_at=datetime.now(UTC),
        )
        session.add(delivery)
        await session.flush()
        delivery_id = delivery.id
    fake.received.clear()
    outcome = await worker.publish_delivery({"runtime": runtime, "worker_id": "test"}, str(delivery_id))
    assert outcome == "published"
    assert fake.requests_to("POST", r"^/2/tweets$")  # posts go on
    async with runtime.sessions() as session:
        alert = await session.scalar(select(UsageAlert).where(UsageAlert.subject == str(x_id)))
        assert alert is not None and alert.kind == "quota_low"
        assert await warn_before_send(session, uuid.uuid4()) is None  # no such delivery: nothing to say


async def test_metrics_and_inbox_polls_leave_a_low_account_alone(runtime: Runtime, networks: Networks) -> None:
    point_at(runtime, networks)
    facebook, facebook_id, _ = await _account(runtime, networks, "facebook")
    x, x_id, _ = await _account(runtime, networks, "x")
    # the fake Meta app is at 95 % of its hourly usage: the first run reads it from the headers
    facebook.usage_percent = 95  # type: ignore[attr-defined]
    first = await collect_all(runtime)
    assert first[facebook_id].status == "collected" and first[x_id].status == "collected"

    facebook.received.clear()
    x.received.clear()
    second = await collect_all(runtime)
    assert second[facebook_id].status == "skipped" and second[facebook_id].reason == "budget_low"
    assert second[x_id].status == "collected"
    assert facebook.received == [] and x.received  # no call spent on the low account

    # the inbox poll yields too; the other account is polled
    assert await sync_due_accounts(runtime) == 1
    assert facebook.received == [] and x.requests_to("GET", r"/mentions$")

    # an hour on, Meta's rolling hour is over: the account is measured again
    later = await collect_all(runtime, now=datetime.now(UTC) + timedelta(minutes=61))
    assert later[facebook_id].status == "collected"
