"""The metrics job against the fake networks over HTTP on 127.0.0.1, on both databases: one sample
per account and hour (and per post and hour) however often it runs, the API version kept, a
Facebook video measured on ``video_insights``, a failing call kept on the account until a run
succeeds, the networks' rate-limit headers in the budget figures, dry runs never asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.channels import Draft, Format, MediaItem, MediaKind, Rejected
from core.db.enums import AccountStatus, DeliveryKind, DeliveryState
from core.db.models import Account, AudienceSample, Delivery, EngagementSample, Persona, Post
from core.queue import worker
from core.runtime import Runtime
from core.usage import metrics, series
from core.usage.metrics import collect_account, collect_all, collect_metrics
from plugins.channels._meta import GraphCall
from plugins.testing import FakeNetwork
from plugins.testing.fakes import facebook as fake_facebook
from tests.inbox.networks import (
    account_row,
    connect,
    networks_fixture,  # noqa: F401 - the fixture "networks"
    persona,
    point_at,
)

pytestmark = pytest.mark.anyio
Networks = dict[str, tuple[FakeNetwork, str]]


async def _connected(runtime: Runtime, networks: Networks, channel: str) -> tuple[Any, Any, uuid.UUID]:
    point_at(runtime, networks)
    fake = networks[channel][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    return fake, ref, await connect(runtime, await persona(runtime), channel, ref)


async def _published(runtime: Runtime, account_id: uuid.UUID, remote_id: str, *, demo: bool = False) -> uuid.UUID:
    """A delivery published an hour ago as the outbox records it."""
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        post = Post(persona_id=account.persona_id, kind=DeliveryKind.POST, text="Le budget des lycées", demo=demo)
        session.add(post)
        await session.flush()
        at = datetime.now(UTC) - timedelta(hours=1)
        delivery = Delivery(
            post_id=post.id,
            account_id=account_id,
            kind=DeliveryKind.POST,
            state=DeliveryState.PUBLISHED,
            client_ref=uuid.uuid4().hex,
            remote_id=remote_id,
            published_at=at,
            scheduled_at=at,
        )
        session.add(delivery)
        await session.flush()
        return delivery.id


def _seed_post(channel: str, fake: Any, ref: Any) -> str:
    if channel == "facebook":
        return str(fake.seed_post("Le TER à 1 € cet été"))
    if channel == "instagram":
        return str(fake.seed_media("Le pont du Gard au lever du soleil"))
    tweet = fake.add_tweet(ref.external_id, "Discours de la présidente à Albi.")
    tweet.likes, tweet.impressions = 31, 900
    return str(tweet.id)


async def _samples(runtime: Runtime, model: Any, **where: Any) -> list[Any]:
    async with runtime.sessions() as session:
        query = select(model).filter_by(**where).order_by(model.at)
        return list((await session.scalars(query)).all())


#: what each fake says of the account, and the API version the plugin names
EXPECTED = {"facebook": (175_000, "v23.0"), "instagram": (99_000, "v23.0"), "x": (82_000, "2")}


@pytest.mark.parametrize("channel", sorted(EXPECTED))
async def test_run_twice_in_the_same_hour_stores_one_sample(runtime: Runtime, networks: Networks, channel: str) -> None:
    fake, ref, account_id = await _connected(runtime, networks, channel)
    delivery_id = await _published(runtime, account_id, _seed_post(channel, fake, ref))
    hour = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)

    first = await collect_account(runtime, account_id, now=hour)
    assert first.status == "collected" and first.audience and first.posts == 1, first
    again = await collect_account(runtime, account_id, now=hour + timedelta(minutes=50))
    assert again.status == "collected", again

    audience = await _samples(runtime, AudienceSample, account_id=account_id)
    followers, version = EXPECTED[channel]
    assert [(s.at, s.followers, s.api_version) for s in audience] == [(hour.replace(minute=0), followers, version)]
    engagement = await _samples(runtime, EngagementSample, delivery_id=delivery_id)
    assert len(engagement) == 1 and engagement[0].api_version == version
    assert engagement[0].impressions is not None and engagement[0].likes is not None
    account = await account_row(runtime, account_id)
    assert account.metrics_fetched_at is not None and account.metrics_error is None

    # the next hour is another sample
    await collect_account(runtime, account_id, now=hour + timedelta(hours=1))
    assert len(await _samples(runtime, AudienceSample, account_id=account_id)) == 2
    assert len(await _samples(runtime, EngagementSample, delivery_id=delivery_id)) == 2


async def test_a_second_run_updates_the_hours_sample(runtime: Runtime, networks: Networks) -> None:
    fake, _, account_id = await _connected(runtime, networks, "facebook")
    hour = datetime.now(UTC).replace(minute=1, second=0, microsecond=0)
    await collect_account(runtime, account_id, now=hour)
    fake.followers_count = 175_012
    await collect_account(runtime, account_id, now=hour + timedelta(minutes=30))
    assert [s.followers for s in await _samples(runtime, AudienceSample, account_id=account_id)] == [175_012]


async def test_a_facebook_video_is_measured_on_video_insights(runtime: Runtime, networks: Networks) -> None:
    fake, ref, account_id = await _connected(runtime, networks, "facebook")
    plugin = runtime.host.plugin("facebook")
    video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", url="https://cdn.laregion.fr/ter.mp4")
    published = await plugin.publish(ref, Draft(text="Le TER en vidéo", format=Format.VIDEO, media=(video,)))
    assert published.remote_id in fake.videos
    delivery_id = await _published(runtime, account_id, published.remote_id)

    # the edge read until now does not exist on a Video node: an error, not an empty answer
    old_edge = GraphCall("GET", f"/{published.remote_id}/insights", params={"metric": "post_clicks"})
    with pytest.raises(Rejected, match="nonexisting field"):
        await plugin.graph.send(old_edge, token=ref.credentials.access_token)

    fake.received.clear()
    result = await collect_account(runtime, account_id)
    assert result.status == "collected", result
    asked = [r.path for r in fake.received]
    assert any(path.endswith(f"/{published.remote_id}/video_insights") for path in asked), asked
    assert not any(path.endswith(f"/{published.remote_id}/insights") for path in asked)
    [sample] = await _samples(runtime, EngagementSample, delivery_id=delivery_id)
    stories = fake_facebook.VIDEO_METRICS["total_video_stories_by_action_type"]
    assert (sample.impressions, sample.likes, sample.reposts, sample.replies) == (
        fake_facebook.VIDEO_METRICS["total_video_impressions"],
        sum(fake_facebook.VIDEO_METRICS["total_video_reactions_by_type_total"].values()),
        stories["share"],
        stories["comment"],
    )
    assert sample.api_version == "v23.0"


async def test_a_failing_metrics_call_is_kept_on_the_account_until_a_run_succeeds(
    runtime: Runtime, networks: Networks
) -> None:
    fake, ref, account_id = await _connected(runtime, networks, "facebook")
    fake.fail_next("rejected", path=r"/insights$", message="(#100) The value must be a valid insights metric")
    failed = await collect_account(runtime, account_id)
    assert failed.status == "failed" and "valid insights metric" in failed.reason
    account = await account_row(runtime, account_id)
    assert account.metrics_error is not None and "valid insights metric" in account.metrics_error
    assert "100" in account.metrics_error  # the network's code with its words
    assert account.metrics_error_at is not None and account.metrics_fetched_at is None
    assert await _samples(runtime, AudienceSample, account_id=account_id) == []

    # the usage page reads it from the series
    async with runtime.sessions() as session:
        owner = await session.get(Persona, account.persona_id)
        assert owner is not None
        rows = await series.accounts_of(session, owner.id)
    assert next(a for a in rows if a.account_id == account_id).metrics_error == account.metrics_error

    # a server error on the post metrics: the audience is stored, the error shown
    post_id = _seed_post("facebook", fake, ref)
    delivery_id = await _published(runtime, account_id, post_id)
    fake.fail_next("server_error", path=rf"/{post_id}/insights$")
    partial = await collect_account(runtime, account_id)
    assert partial.status == "failed" and partial.audience
    assert len(await _samples(runtime, AudienceSample, account_id=account_id)) == 1
    assert await _samples(runtime, EngagementSample, delivery_id=delivery_id) == []
    assert (await account_row(runtime, account_id)).metrics_error is not None

    succeeded = await collect_account(runtime, account_id)
    assert succeeded.status == "collected"
    account = await account_row(runtime, account_id)
    assert account.metrics_error is None and account.metrics_error_at is None
    assert account.metrics_fetched_at is not None


async def test_an_expired_token_sends_the_account_to_reconnection(runtime: Runtime, networks: Networks) -> None:
    fake, _, account_id = await _connected(runtime, networks, "x")
    fake.fail_next("expired")
    result = await collect_account(runtime, account_id)
    assert result.status == "needs_reauth"
    account = await account_row(runtime, account_id)
    assert account.status == AccountStatus.NEEDS_REAUTH and account.metrics_error


async def test_the_networks_rate_limit_headers_end_up_in_the_budgets(runtime: Runtime, networks: Networks) -> None:
    facebook, _, facebook_id = await _connected(runtime, networks, "facebook")
    instagram, x = networks["instagram"][0], networks["x"][0]
    owner = await persona(runtime)
    instagram_id = await connect(runtime, owner, "instagram", instagram.make_account())  # type: ignore[attr-defined]
    x_ref = x.make_account()  # type: ignore[attr-defined]
    x_id = await connect(runtime, owner, "x", x_ref)
    facebook.usage_percent = 37  # type: ignore[attr-defined]
    instagram.quota_usage = 12  # type: ignore[attr-defined]

    results = await collect_all(runtime)
    assert {results[i].status for i in (facebook_id, instagram_id, x_id)} == {"collected"}

    async with runtime.sessions() as session:
        region = await session.get(Persona, owner)
        assert region is not None
        found = await series.budgets(session, region, series.parse_period("week", None, region, datetime.now(UTC)))
    latest = {(b.account_id, b.endpoint): b for b in found.latest}
    # Meta's X-App-Usage and X-Business-Use-Case-Usage percentages
    assert latest[(facebook_id, "app")].used_percent == 37.0
    assert latest[(facebook_id, "buc:pages")].used_percent == 37.0
    # Instagram's publishing quota, read from content_publishing_limit (100 in 24 h)
    quota = latest[(instagram_id, "content_publishing_limit")]
    assert (quota.limit, quota.value, quota.used_percent) == (100, 88.0, 12.0)
    # X's x-rate-limit-* of the user lookup: 900 per 15 minutes, one spent
    lookup = latest[(x_id, "GET /2/users/:id")]
    assert (lookup.limit, lookup.value) == (900, 899.0) and lookup.reset_at is not None
    calls = {c.account_id: c.calls for c in found.calls}
    assert calls[x_id] >= 1 and calls[facebook_id] >= 3


async def test_dry_runs_and_the_demo_history_are_not_asked_for(runtime: Runtime, networks: Networks) -> None:
    fake, ref, account_id = await _connected(runtime, networks, "x")
    dry = await _published(runtime, account_id, "dry-run:7f3c")
    demo = await _published(runtime, account_id, "1800000000000000001", demo=True)
    live = await _published(runtime, account_id, _seed_post("x", fake, ref))
    fake.received.clear()
    result = await collect_account(runtime, account_id)
    assert result.posts == 1
    asked = [r.q("ids") for r in fake.received if r.path == "/2/tweets"]
    assert asked and all("dry-run" not in (ids or "") and "1800000000000000001" not in (ids or "") for ids in asked)
    async with runtime.sessions() as session:
        measured = set((await session.scalars(select(EngagementSample.delivery_id))).all())
    assert measured == {live} and not {dry, demo} & measured


async def test_the_cron_is_registered_and_collects_every_connected_account(
    runtime: Runtime, networks: Networks
) -> None:
    assert "collect_metrics" in {job.name for job in worker.CRON_JOBS}
    _, _, facebook_id = await _connected(runtime, networks, "facebook")
    owner = await persona(runtime)
    x_id = await connect(runtime, owner, "x", networks["x"][0].make_account())  # type: ignore[attr-defined]
    assert await collect_metrics({"runtime": runtime}) == 2
    async with runtime.sessions() as session:
        counted = await session.scalar(
            select(func.count()).select_from(AudienceSample).where(AudienceSample.account_id.in_([facebook_id, x_id]))
        )
    assert counted == 2
    assert metrics.sample_hour(datetime(2026, 11, 27, 9, 59, 59, tzinfo=UTC)) == datetime(2026, 11, 27, 9, tzinfo=UTC)
