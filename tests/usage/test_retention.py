"""Retention on both databases: old raw samples folded into day points that the series read the same,
hourly audience and engagement samples thinned to the day's last, the public's personal data
purged past the persona's retention period while archived items are kept, a report in the audit
log, and a second run that does nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import DeliveryKind, DeliveryState, InboxKind
from core.db.models import (
    Account,
    AudienceSample,
    AuditEvent,
    Delivery,
    EngagementSample,
    InboxArchive,
    InboxItem,
    Persona,
    Post,
    UsageSample,
)
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.usage import retention, series
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
OLD_DAY = date(2026, 8, 1)  # 118 days before: past the default 90 raw days
RECENT_DAY = date(2026, 11, 20)
PARIS = "Europe/Paris"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour`` on ``day`` in Paris (summer: UTC+2), in UTC."""
    return series.local_midnight(day, PARIS) + timedelta(hours=hour, minutes=minute)


class World:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region: Persona
        self.accounts: dict[str, uuid.UUID] = {}

    async def add(self, *rows: Any) -> None:
        async with self.runtime.session() as session:
            session.add_all(rows)

    async def delivery(self, channel: str, published_at: datetime) -> uuid.UUID:
        async with self.runtime.session() as session:
            post = Post(persona_id=self.region.id, kind=DeliveryKind.POST, text="Les lycées de la Région")
            session.add(post)
            await session.flush()
            delivery = Delivery(
                post_id=post.id,
                account_id=self.accounts[channel],
                kind=DeliveryKind.POST,
                state=DeliveryState.PUBLISHED,
                client_ref=uuid.uuid4().hex,
                remote_id=uuid.uuid4().hex,
                published_at=published_at,
            )
            session.add(delivery)
            await session.flush()
            return delivery.id

    def item(self, received_at: datetime, **values: Any) -> InboxItem:
        return InboxItem(
            id=uuid.uuid4(),
            account_id=self.accounts["facebook"],
            persona_id=self.region.id,
            remote_id=uuid.uuid4().hex,
            kind=InboxKind.COMMENT,
            author_remote_id="fb-4242",
            author_name="Jeanne Dupont",
            author_handle="jeanne.dupont",
            text="J'habite 3 rue des Lilas à Sète, mon fils attend sa place au lycée",
            url="https://facebook.example/c/1",
            received_at=received_at,
            **values,
        )

    async def purge(self, now: datetime = NOW) -> retention.PurgeReport:
        return await retention.purge_usage(self.runtime, now)


@pytest.fixture
async def world(runtime: Runtime) -> AsyncIterator[World]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    w = World(runtime)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        w.region = (await session.scalars(select(Persona).where(Persona.slug == "region-occitanie"))).one()
        for account in (await session.scalars(select(Account).where(Account.persona_id == w.region.id))).all():
            w.accounts[account.channel] = account.id
    yield w


def _sample(account: uuid.UUID, when: datetime, metric: str, value: float, **detail: Any) -> UsageSample:
    return UsageSample(account_id=account, at=when, metric=metric, value=value, detail=detail)


async def _usage_rows(runtime: Runtime) -> list[tuple[str, str, float, str, Any]]:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(UsageSample.resolution, UsageSample.metric, UsageSample.value, UsageSample.detail)
            )
        ).all()
    return sorted((r[0], r[1], float(r[2]), str((r[3] or {}).get("endpoint") or ""), r[3]) for r in rows)


async def test_old_raw_samples_fold_into_days_that_read_the_same(world: World) -> None:
    x = world.accounts["x"]
    tweets, me = "POST /2/tweets", "GET /2/users/me"
    await world.add(
        _sample(x, at(OLD_DAY, 9), "api_calls", 2, endpoint=me),
        _sample(x, at(OLD_DAY, 15), "api_calls", 3, endpoint=me),
        _sample(x, at(OLD_DAY, 10), "quota_remaining", 50, endpoint=tweets, limit=100, reset_at=None),
        _sample(x, at(OLD_DAY, 18), "quota_remaining", 30, endpoint=tweets, limit=100, reset_at=None),
        _sample(x, at(OLD_DAY, 20), "quota_remaining", 45, endpoint=tweets, limit=100, reset_at=None),
        _sample(x, at(OLD_DAY, 10), "posts_sent", 1),
        _sample(x, at(OLD_DAY, 23, 30), "posts_sent", 1),  # 21:30 UTC: still the 1st in Paris
        _sample(x, at(OLD_DAY + timedelta(days=1), 0, 30), "posts_sent", 1),  # the 2nd in Paris
        _sample(x, at(RECENT_DAY, 9), "api_calls", 7, endpoint=me),
    )
    old_week = series.make_period("week", OLD_DAY + timedelta(days=1), PARIS)
    async with world.runtime.sessions() as session:
        before = await series.budgets(session, world.region, old_week)

    report = await world.purge()
    [region] = [p for p in report.personas if p.slug == "region-occitanie"]
    assert (region.usage_samples_folded, region.usage_points_written) == (8, 5)
    assert region.raw_from == date(2026, 8, 29)

    rows = await _usage_rows(world.runtime)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("day", "api_calls", 3.0, tweets),  # three quota reports: three calls
        ("day", "api_calls", 5.0, me),
        ("day", "posts_sent", 1.0, ""),  # the 2nd
        ("day", "posts_sent", 2.0, ""),  # the 1st
        ("day", "quota_remaining", 30.0, tweets),  # the day's lowest, with its limit
        ("raw", "api_calls", 7.0, me),  # recent: untouched
    ]
    assert next(r[4] for r in rows if r[1] == "quota_remaining")["limit"] == 100

    async with world.runtime.sessions() as session:
        after = await series.budgets(session, world.region, old_week)
    calls = {c.channel: [d.calls for d in c.days] for c in before.calls}
    assert calls["x"][-2] == 8  # 5 bare calls and 3 quota reports on the 1st
    assert {c.channel: [d.calls for d in c.days] for c in after.calls} == calls
    assert [(b.endpoint, b.value, b.limit) for b in after.latest] == [(tweets, 30.0, 100)]

    again = await world.purge()
    assert again.total("usage_samples_folded") == 0 and again.total("usage_points_written") == 0
    assert await _usage_rows(world.runtime) == rows


async def test_hourly_audience_and_engagement_keep_the_days_last_sample(world: World) -> None:
    facebook = world.accounts["facebook"]
    delivery = await world.delivery("facebook", at(OLD_DAY, 9))
    await world.add(
        *[
            AudienceSample(account_id=facebook, at=at(OLD_DAY, hour), followers=170_000 + hour, api_version="v21.0")
            for hour in (8, 12, 23)
        ],
        AudienceSample(account_id=facebook, at=at(RECENT_DAY, 8), followers=174_000, api_version="v21.0"),
        AudienceSample(account_id=facebook, at=at(RECENT_DAY, 9), followers=174_010, api_version="v21.0"),
        *[
            EngagementSample(delivery_id=delivery, account_id=facebook, at=at(OLD_DAY, hour), likes=hour * 10)
            for hour in (10, 11, 22)
        ],
    )
    week = series.make_period("week", OLD_DAY + timedelta(days=3), PARIS)
    async with world.runtime.sessions() as session:
        before = await series.audience(session, world.region, week)

    report = await world.purge()
    assert report.total("audience_samples_deleted") == 2
    assert report.total("engagement_samples_deleted") == 2
    async with world.runtime.sessions() as session:
        followers = sorted((await session.scalars(select(AudienceSample.followers))).all())
        likes = (await session.scalars(select(EngagementSample.likes))).all()
        after = await series.audience(session, world.region, week)
    assert followers == [170_023, 174_000, 174_010]  # the old day's last; the recent hours untouched
    assert likes == [220]
    assert after == before


async def test_personal_data_is_purged_past_retention_and_archived_items_are_kept(world: World) -> None:
    # the Région keeps messages' personal data 365 days (the persona file's default)
    old = world.item(NOW - timedelta(days=400))
    archived = world.item(NOW - timedelta(days=400))
    recent = world.item(NOW - timedelta(days=300))
    await world.add(old, archived, recent)
    await world.add(
        InboxArchive(
            item_id=archived.id,
            persona_id=world.region.id,
            content_hash="0" * 64,
            content={"text": archived.text},
            reason="hidden: personal data (M2)",
        )
    )
    report = await world.purge()
    assert report.total("inbox_items_purged") == 1
    async with world.runtime.sessions() as session:
        items = {i.id: i for i in (await session.scalars(select(InboxItem))).all()}
        audits = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "usage.purge"))).all()
    purged = items[old.id]
    assert (purged.author_name, purged.author_handle, purged.author_remote_id, purged.text, purged.url) == (
        "",
        "",
        "",
        "",
        None,
    )
    assert purged.received_at == old.received_at and purged.remote_id == old.remote_id  # the item stays
    for kept in (archived, recent):
        assert (items[kept.id].author_name, items[kept.id].text) == ("Jeanne Dupont", kept.text)

    region_audit = next(a for a in audits if a.persona_id == world.region.id)
    assert region_audit.actor_id is None and region_audit.actor_label == "retention"
    assert region_audit.after is not None and region_audit.after["inbox_items_purged"] == 1

    again = await world.purge()
    assert again.total("inbox_items_purged") == 0
