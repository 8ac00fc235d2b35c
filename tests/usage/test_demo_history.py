"""The demo's simulated history on both databases: fast, marked demo, written once, and the usage
figures it gives are the seed's (175,000 followers on Facebook…), with cadence, engagement,
budgets, response times and a 14-hour day in the workload."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.audit import Actor
from core.db.models import (
    AudienceSample,
    Delivery,
    EngagementSample,
    InboxEvent,
    InboxItem,
    Persona,
    Post,
    UsageSample,
)
from core.demo import inbox_is_empty, seed_demo_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.usage import series
from core.usage.demo_history import DAYS, REMOTE_PREFIX, seed_demo_history
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TABLES = (Post, Delivery, AudienceSample, EngagementSample, UsageSample, InboxItem, InboxEvent)


@pytest.fixture
async def seeded(runtime: Runtime) -> AsyncIterator[Runtime]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        await seed_demo_staff(session)
    yield runtime


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in TABLES
        }


async def test_the_history_is_fast_marked_demo_and_written_once(seeded: Runtime) -> None:
    began = time.perf_counter()
    async with seeded.session() as session:
        written = await seed_demo_history(session, NOW)
    elapsed = time.perf_counter() - began
    if seeded.settings.is_sqlite:
        assert elapsed < 2.0, f"{elapsed:.2f} s"
    counts = await _counts(seeded)
    assert counts["posts"] == written.posts > 500
    assert counts["audience_samples"] == written.audience_samples == 7 * DAYS  # 7 accounts, one a day
    assert counts["inbox_items"] == written.inbox_items > 0 and counts["inbox_events"] == written.inbox_events

    async with seeded.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Post).where(Post.demo.is_(False))) == 0
        for model in (AudienceSample, EngagementSample, UsageSample):
            assert await session.scalar(select(func.count()).select_from(model).where(model.demo.is_(False))) == 0
        for column in (Delivery.remote_id, InboxItem.remote_id):
            assert await session.scalar(select(func.count()).where(column.not_like(f"{REMOTE_PREFIX}%"))) == 0
        newest = await session.scalar(select(func.max(Delivery.published_at)))
        # the simulated networks still seed their comments: the history's items do not count
        assert await inbox_is_empty(session)
    assert newest is not None and newest < NOW  # nothing today: today's cadence is the team's own

    async with seeded.session() as session:
        again = await seed_demo_history(session, NOW + timedelta(days=1))
    assert again.posts == again.audience_samples == again.inbox_items == 0
    assert await _counts(seeded) == counts


async def test_the_usage_figures_of_the_history_are_the_seeds(seeded: Runtime) -> None:
    async with seeded.session() as session:
        await seed_demo_history(session, NOW)
    async with seeded.sessions() as session:
        region = (await session.scalars(select(Persona).where(Persona.slug == "region-occitanie"))).one()
        yesterday = series.local_day(NOW, region.timezone) - timedelta(days=1)
        month = series.make_period("month", yesterday, region.timezone)
        overview = await series.overview(session, region, month)

    followers = {a.channel: a.followers for a in overview.audience}
    assert followers == {"facebook": 175_000, "instagram": 99_000, "linkedin": 117_900, "x": 82_000}
    assert all(a.gain is not None and a.gain > 0 for a in overview.audience)
    assert all(d.demo for a in overview.audience for d in a.days)

    cadence = {a.channel: a for a in overview.cadence}
    facebook = cadence["facebook"]
    assert facebook.posts_target_total == 60 and 40 <= facebook.posts <= 60 and facebook.reposts > 0
    assert cadence["x"].replies == 0 and facebook.replies > 0  # the inbox is answered on the main network
    assert facebook.days_on_target is not None and 0 < facebook.days_on_target < 30  # a missed post now and then

    posts = [p for p in overview.engagement if p.kind == "post"]
    assert posts and all(p.demo and p.impressions and p.measured_at for p in posts)
    assert {b.channel for b in overview.budgets.latest} == {"facebook", "instagram", "x"}
    assert sum(c.calls for c in overview.budgets.calls) > 0
    assert overview.response_times.first.count > 60 and overview.response_times.first.median_business_s

    [lea] = [w for w in overview.workload if w.name == "Léa Fabre"]
    assert max(d.span_hours for d in lea.days) >= 14
    assert lea.replies_sent == facebook.replies
