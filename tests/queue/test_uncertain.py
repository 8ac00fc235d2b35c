"""Issue 10 item 5: ``failed`` only when the post is certainly not on the network.

A send whose answer came after the client's timeout may have made the post; if the reconciles
of the following attempts fail too, the attempts run out — and the delivery is ``uncertain``,
reconciled later, never ``failed`` while nobody knows. A reconcile that finds several matching
posts (``Ambiguous``) leaves the delivery ``uncertain`` for a person, and nothing is sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from core.db.enums import DeliveryState, ErrorKind
from core.db.models import Account, DeliveryEvent
from core.publishing.outbox import RECONCILE_SLACK
from core.queue.worker import EmbeddedWorker
from core.settings import Settings
from plugins.testing.fakes.x import FakeX
from tests.queue.conftest import Pipeline, build_pipeline

pytestmark = pytest.mark.anyio
TIMELINE = r"^/2/users/[^/]+/tweets$"
TWEETS = r"^/2/tweets$"
SETTLED = (DeliveryState.PUBLISHED, DeliveryState.FAILED, DeliveryState.CANCELED)


@pytest.fixture
async def two_attempts(settings: Settings, redis_url: str, fake_x: tuple[FakeX, str]) -> AsyncIterator[Pipeline]:
    """The pipeline with two attempts per delivery: the second one is the last."""
    fake, url = fake_x
    fake.reset()
    built = await build_pipeline(settings, redis_url, fake, url, PORTEVOIX_PUBLISH_MAX_ATTEMPTS="2")
    built.worker = EmbeddedWorker(built.runtime)
    await built.worker.start()
    yield built
    await built.worker.stop()
    await built.runtime.aclose()


async def _kinds(pipeline: Pipeline, delivery_id: object) -> list[str]:
    async with pipeline.runtime.sessions() as session:
        query = select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == delivery_id).order_by(DeliveryEvent.at)
        return list((await session.scalars(query)).all())


async def test_a_late_answer_then_failing_reconciles_ends_published_not_failed(two_attempts: Pipeline) -> None:
    fake = two_attempts.fake
    fake.fail_next("slow", delay=8, path=TWEETS)  # the post is made; the answer comes after the 5 s timeout
    fake.fail_next("server_error", path=TIMELINE)  # the second (last) attempt cannot look
    result = await two_attempts.compose("Premier message de la journée.", publish_now=True)
    settled = await two_attempts.wait_for(result.deliveries[0].id, *SETTLED, timeout=40)
    (tweet,) = [t for t in fake.tweets.values() if t.text == "Premier message de la journée."]
    assert settled.state == DeliveryState.PUBLISHED and settled.remote_id == tweet.id
    assert len(fake.requests_to("POST", TWEETS)) == 1
    kinds = await _kinds(two_attempts, settled.id)
    assert kinds.count("attempt") == 2 and "uncertain" in kinds and kinds[-1] == "reconciled"


async def test_attempts_spent_and_certainly_not_there_is_failed_after_a_reconcile(two_attempts: Pipeline) -> None:
    fake = two_attempts.fake
    fake.fail_next("server_error", path=TWEETS)  # a 500 may come after the network acted: maybe sent
    fake.fail_next("server_error", path=TIMELINE)
    result = await two_attempts.compose("Une annonce qui ne passe pas.", publish_now=True)
    failed = await two_attempts.wait_for(result.deliveries[0].id, *SETTLED, timeout=40)
    assert failed.state == DeliveryState.FAILED and failed.error_kind == ErrorKind.TRANSIENT
    assert not [t for t in fake.tweets.values() if t.text == "Une annonce qui ne passe pas."]
    assert len(fake.requests_to("POST", TWEETS)) == 1  # the reconcile said "not there": failed, not sent again
    kinds = await _kinds(two_attempts, failed.id)
    assert kinds[-2:] == ["uncertain", "failed"]  # failed once the reconcile said "not there"


async def test_a_refused_connection_is_certainly_not_sent_and_fails_at_once(two_attempts: Pipeline) -> None:
    """Nothing reached the network: no reason to wait for a reconcile."""
    two_attempts.runtime.host.plugin("x").base_url = "http://127.0.0.1:9"  # the discard port: refused
    result = await two_attempts.compose("Personne ne répond.", publish_now=True)
    failed = await two_attempts.wait_for(result.deliveries[0].id, *SETTLED, timeout=30)
    assert failed.state == DeliveryState.FAILED
    assert "uncertain" not in await _kinds(two_attempts, failed.id)


async def test_an_ambiguous_reconcile_before_a_new_attempt_waits_for_a_person(pipeline: Pipeline) -> None:
    fake, text = pipeline.fake, "Séance plénière du conseil régional."
    for _ in range(2):  # the same text twice on the account already: nobody can tell which is ours
        fake.add_tweet(pipeline.account.external_id, text)
    fake.fail_next("server_error", path=TWEETS)
    result = await pipeline.compose(text, publish_now=True)
    uncertain = await pipeline.wait_for(result.deliveries[0].id, DeliveryState.UNCERTAIN, *SETTLED, timeout=20)
    assert uncertain.state == DeliveryState.UNCERTAIN and uncertain.error_kind == ErrorKind.UNRESOLVED
    await asyncio.sleep(6)  # a sweep goes by: a person decides, nothing is reconciled or sent again
    still = await pipeline.delivery(uncertain.id)
    assert still.state == DeliveryState.UNCERTAIN and still.error_kind == ErrorKind.UNRESOLVED
    assert len(fake.requests_to("POST", TWEETS)) == 1


async def test_an_ambiguous_reconcile_of_the_sweeper_waits_for_a_person(two_attempts: Pipeline) -> None:
    fake, text = two_attempts.fake, "Les lycées ouvrent leurs portes."
    fake.fail_next("slow", delay=8, path=TWEETS)
    fake.fail_next("server_error", path=TIMELINE)
    result = await two_attempts.compose(text, publish_now=True)
    delivery_id = result.deliveries[0].id
    await two_attempts.wait_for(delivery_id, DeliveryState.UNCERTAIN, *SETTLED, timeout=30)
    fake.add_tweet(two_attempts.account.external_id, text)  # a person posted the same text meanwhile
    await asyncio.sleep(7)
    left = await two_attempts.delivery(delivery_id)
    assert left.state == DeliveryState.UNCERTAIN and left.error_kind == ErrorKind.UNRESOLVED
    assert len(fake.requests_to("POST", TWEETS)) == 1


async def test_a_reconcile_looks_back_to_the_first_attempt_and_pages_the_whole_window(pipeline: Pipeline) -> None:
    """Issue 10 item 9, the host's side: ``not_before`` is the first attempt's start minus the slack
    (not the scheduled time: the account was held meanwhile), the plugin pages back to it through
    150 newer posts, and the post it finds is recorded with its own id."""
    fake, text = pipeline.fake, "Le train des Pyrénées repart."
    async with pipeline.runtime.session() as session:  # held 4 s after its time: the first attempt starts late
        await session.execute(
            update(Account)
            .where(Account.id == pipeline.account.id)
            .values(throttled_until=datetime.now(UTC) + timedelta(seconds=4))
        )
    fake.fail_next("slow", delay=8, path=TWEETS)  # made, answered after the timeout
    result = await pipeline.compose(text, publish_now=True)
    while not fake.requests_to("POST", TWEETS):
        await asyncio.sleep(0.05)
    for i in range(150):  # a busy account: newer posts than ours before anyone looks
        fake.add_tweet(pipeline.account.external_id, f"Message plus récent n°{i}.")
    published = await pipeline.wait_for(result.deliveries[0].id, *SETTLED, timeout=40)
    (ours,) = [t for t in fake.tweets.values() if t.text == text]
    assert published.state == DeliveryState.PUBLISHED and published.remote_id == ours.id
    assert len(fake.requests_to("POST", TWEETS)) == 1
    pages = fake.requests_to("GET", TIMELINE)
    assert len(pages) >= 2  # 150 newer posts: more than one page of 100
    async with pipeline.runtime.sessions() as session:
        first = await session.scalar(
            select(func.min(DeliveryEvent.at)).where(
                DeliveryEvent.delivery_id == published.id, DeliveryEvent.kind == "attempt"
            )
        )
    assert (
        first is not None
        and published.scheduled_at is not None
        and first - published.scheduled_at > timedelta(seconds=3)
    )
    not_before = datetime.fromisoformat(pages[0].q("start_time").replace("Z", "+00:00"))  # type: ignore[union-attr]
    assert abs((not_before - (first - RECONCILE_SLACK)).total_seconds()) <= 1.0
