"""Issue 10 item 8: a throttle only lengthens, a spent quota stops the account before the network
does, and calls without quota headers are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import UsageReport
from core.db.models import Account, UsageSample
from core.publishing.outbox import flush_usage, throttle
from core.runtime import Runtime
from tests.factories import AccountFactory, PersonaFactory

pytestmark = pytest.mark.anyio


async def _account(db: AsyncSession) -> Account:
    for factory in (PersonaFactory, AccountFactory):
        factory.__async_session__ = db
    persona = await PersonaFactory.create_async()
    account = await AccountFactory.create_async(persona_id=persona.id, channel="x")
    await db.commit()
    return account


def _report(account: Account, endpoint: str, channel: str = "x", **quota: object) -> UsageReport:
    return UsageReport(channel=channel, endpoint=endpoint, account_external_id=account.external_id, **quota)  # type: ignore[arg-type]


async def _throttled_until(runtime: Runtime, account: Account) -> datetime | None:
    async with runtime.sessions() as session:
        return await session.scalar(select(Account.throttled_until).where(Account.id == account.id))


async def test_a_later_429_with_an_earlier_reset_never_shortens_a_throttle(runtime: Runtime, db: AsyncSession) -> None:
    account = await _account(db)
    now = datetime.now(UTC)
    async with runtime.session() as session:
        assert await throttle(session, account.id, now + timedelta(minutes=15)) == now + timedelta(minutes=15)
    async with runtime.session() as session:
        # another endpoint's 429, answered later, resets in 30 s: the 15 minutes stay
        assert await throttle(session, account.id, now + timedelta(seconds=30)) == now + timedelta(minutes=15)
    assert await _throttled_until(runtime, account) == now + timedelta(minutes=15)
    async with runtime.session() as session:
        await throttle(session, account.id, now + timedelta(minutes=20))
    assert await _throttled_until(runtime, account) == now + timedelta(minutes=20)


async def test_a_spent_quota_throttles_the_account_until_its_reset(runtime: Runtime, db: AsyncSession) -> None:
    account = await _account(db)
    reset = (datetime.now(UTC) + timedelta(minutes=12)).replace(microsecond=0)
    usage = runtime.host.usage
    usage.record(_report(account, "POST /2/tweets", limit=100, remaining=0, reset_at=reset))
    # a shorter window of another endpoint, spent too, does not shorten it
    earlier = reset - timedelta(minutes=10)
    usage.record(_report(account, "GET /2/users/:id/tweets", limit=900, remaining=0, reset_at=earlier))
    await flush_usage(runtime)
    assert await _throttled_until(runtime, account) == reset


async def test_quota_left_does_not_throttle_and_bare_calls_are_counted(runtime: Runtime, db: AsyncSession) -> None:
    account = await _account(db)
    reset = datetime.now(UTC) + timedelta(minutes=12)
    usage = runtime.host.usage
    usage.record(_report(account, "POST /2/tweets", limit=100, remaining=3, reset_at=reset))
    for _ in range(2):  # LinkedIn and TikTok send no quota headers: a bare report per call
        usage.record(_report(account, "POST /rest/posts"))
    usage.record(_report(account, "POST /rest/posts", channel="linkedin"))
    await flush_usage(runtime)
    assert await _throttled_until(runtime, account) is None
    async with runtime.sessions() as session:
        rows = (await session.execute(select(UsageSample.metric, UsageSample.value, UsageSample.detail))).all()
    samples = sorted((metric, value, detail["endpoint"]) for metric, value, detail in rows)
    # the LinkedIn report names another channel's account: not this one's
    assert samples == [("api_calls", 2, "POST /rest/posts"), ("quota_remaining", 3, "POST /2/tweets")]
