"""Issue 10 item 8, through the worker: a 429 answered late, with an earlier reset, never shortens
the account's throttle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core.db.enums import DeliveryState
from core.db.models import Account
from core.queue.worker import EmbeddedWorker
from core.settings import Settings
from plugins.testing import serve_in_thread
from plugins.testing.fake import Failure, FakeResponse
from plugins.testing.fakes.x import FakeX
from tests.queue.conftest import Pipeline, build_pipeline

pytestmark = pytest.mark.anyio


class LateLimitsX(FakeX):
    """X whose 429s come ``delay`` seconds after the request (a busy network)."""

    async def _failure_response(self, failure: Failure) -> FakeResponse:
        if failure.kind == "rate_limited":
            await asyncio.sleep(failure.delay)
        return await super()._failure_response(failure)


@pytest.fixture
async def late_limits(settings: Settings, redis_url: str) -> AsyncIterator[Pipeline]:
    fake = LateLimitsX()
    with serve_in_thread(fake) as url:
        built = await build_pipeline(settings, redis_url, fake, url)
        built.worker = EmbeddedWorker(built.runtime)
        await built.worker.start()
        yield built
        await built.worker.stop()
        await built.runtime.aclose()


async def test_a_late_429_with_an_earlier_reset_keeps_the_longer_throttle(late_limits: Pipeline) -> None:
    fake = late_limits.fake
    fake.fail_next("rate_limited", retry_after=2, delay=2, path=r"^/2/tweets$")
    result = await late_limits.compose("Un message pendant l'affluence.", publish_now=True)
    while not fake.requests_to("POST", r"^/2/tweets$"):
        await asyncio.sleep(0.05)
    # Meanwhile another request of the account met a 429 resetting in 15 minutes.
    longer = datetime.now(UTC) + timedelta(minutes=15)
    async with late_limits.runtime.session() as session:
        await session.execute(
            update(Account).where(Account.id == late_limits.account.id).values(throttled_until=longer)
        )
    for _ in range(100):  # until the late 429 is recorded
        held = await late_limits.delivery(result.deliveries[0].id)
        if held.error_kind == "rate_limited":
            break
        await asyncio.sleep(0.1)
    assert held.state == DeliveryState.SCHEDULED
    async with late_limits.runtime.sessions() as session:
        account = await session.get(Account, late_limits.account.id)
    assert account is not None and account.throttled_until == longer
    assert held.error_kind == "rate_limited" and held.next_attempt_at == longer
