"""The usage figures on both databases, from rows written as the app writes them: cadence in the
persona's local days (the 23:30 UTC post, the 23- and 25-hour DST days), audience, engagement,
budgets, response times and each staff member's workload."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import DeliveryKind, DeliveryState, InboxKind, Role
from core.db.models import (
    Account,
    AudienceSample,
    AuditEvent,
    Delivery,
    DeliveryEvent,
    EngagementSample,
    InboxEvent,
    InboxItem,
    Persona,
    Post,
    UsageSample,
)
from core.inbox.responses import record_response
from core.people.staff import assign as assign_role
from core.people.staff import create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.usage import series
from core.usage.series import UsageRefusal, make_period, parse_period
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio

PARIS = "Europe/Paris"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class World:
    """The seed personas with their accounts (rows only: the series read no network)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.personas: dict[str, Persona] = {}
        self.accounts: dict[tuple[str, str], Account] = {}
        self.staff: dict[str, uuid.UUID] = {}

    async def publish(
        self,
        persona: str,
        channel: str,
        at: datetime,
        *,
        kind: DeliveryKind = DeliveryKind.POST,
        text: str = "Le conseil régional vote le budget des lycées pour l'année prochaine",
        remote_id: str | None = None,
        author: str | None = None,
        state: DeliveryState = DeliveryState.PUBLISHED,
        in_reply_to: uuid.UUID | None = None,
    ) -> uuid.UUID:
        account = self.accounts[(persona, channel)]
        async with self.runtime.session() as session:
            post = Post(
                persona_id=account.persona_id,
                kind=kind,
                text=text,
                repost_of="https://x.example/1" if kind == DeliveryKind.REPOST else None,
                author_id=self.staff.get(author) if author else None,
            )
            session.add(post)
            await session.flush()
            delivery = Delivery(
                post_id=post.id,
                account_id=account.id,
                kind=kind,
                state=state,
                client_ref=uuid.uuid4().hex,
                remote_id=remote_id or (uuid.uuid4().hex if state == DeliveryState.PUBLISHED else None),
                published_at=at if state == DeliveryState.PUBLISHED else None,
                scheduled_at=at,
                in_reply_to_id=in_reply_to,
            )
            session.add(delivery)
            await session.flush()
            return delivery.id


@pytest.fixture
async def world(runtime: Runtime) -> AsyncIterator[World]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    w = World(runtime)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        w.personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        for name, slug, role in (
            ("cm", "region-occitanie", Role.EDITOR),
            ("moderator", "region-occitanie", Role.MODERATOR),
            ("cabinet", "presidente-region", Role.MANAGER),
        ):
            staff = await create_staff(
                session,
                email=f"{name}@t.fr",
                display_name=name.title(),
                password="long enough pw",
                actor=Actor.system("t"),
            )
            await assign_role(session, staff, w.personas[slug], role, Actor.system("t"))
            w.staff[name] = staff.id
    async with runtime.sessions() as session:
        for account in (await session.scalars(select(Account))).all():
            slug = next(s for s, p in w.personas.items() if p.id == account.persona_id)
            w.accounts[(slug, account.channel)] = account
    yield w


def _day(rows: list[series.AccountCadence], channel: str, day: date) -> series.CadenceDay:
    account = next(a for a in rows if a.channel == channel)
    return next(d for d in account.days if d.day == day)


# ------------------------------------------------------------------ cadence


async def test_a_post_at_23_30_utc_counts_on_the_next_paris_day(world: World) -> None:
    region = world.personas["region-occitanie"]
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 26, 23, 30))  # 00:30 on the 27th in Paris
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 26, 22, 59))  # 23:59 on the 26th
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 27, 9, 0), kind=DeliveryKind.REPOST)
    await world.publish("region-occitanie", "x", utc(2026, 11, 27, 10, 0))
    async with world.runtime.sessions() as session:
        rows = await series.cadence(session, region, make_period("week", date(2026, 11, 27), PARIS))
    assert [a.channel for a in rows] == ["facebook", "instagram", "linkedin", "x"]
    assert _day(rows, "facebook", date(2026, 11, 26)).posts == 1
    the_27th = _day(rows, "facebook", date(2026, 11, 27))
    assert (the_27th.posts, the_27th.reposts, the_27th.replies) == (1, 1, 0)
    assert (the_27th.posts_target, the_27th.reposts_target) == (2, 3)
    assert _day(rows, "x", date(2026, 11, 27)).posts == 1
    facebook = next(a for a in rows if a.channel == "facebook")
    assert (facebook.posts, facebook.reposts, facebook.posts_target_total) == (2, 1, 14)
    assert facebook.days_on_target == 0


async def test_dry_runs_drafts_and_other_personas_count_in_no_day(world: World) -> None:
    region = world.personas["region-occitanie"]
    await world.publish("region-occitanie", "x", utc(2026, 11, 27, 10, 0), remote_id="dry-run:abc")
    await world.publish("region-occitanie", "x", utc(2026, 11, 27, 11, 0), state=DeliveryState.SCHEDULED)
    await world.publish("presidente-region", "x", utc(2026, 11, 27, 12, 0))
    await world.publish("region-occitanie", "x", utc(2026, 11, 27, 13, 0))
    async with world.runtime.sessions() as session:
        rows = await series.cadence(session, region, make_period("week", date(2026, 11, 27), PARIS))
    assert _day(rows, "x", date(2026, 11, 27)).posts == 1


@pytest.mark.parametrize(
    ("day", "hours", "first", "last"),
    [
        # spring forward: 2026-03-29 runs 22:00 UTC (28th) to 22:00 UTC (29th), 23 hours
        (date(2026, 3, 29), 23, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59)),
        # fall back: 2026-10-25 runs 22:00 UTC (24th) to 23:00 UTC (25th), 25 hours
        (date(2026, 10, 25), 25, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59)),
    ],
)
async def test_the_dst_days_have_23_and_25_hours(
    world: World, day: date, hours: int, first: datetime, last: datetime
) -> None:
    region = world.personas["region-occitanie"]
    period = make_period("week", day, PARIS)
    start = series.local_midnight(day, PARIS)
    end = series.local_midnight(day + timedelta(days=1), PARIS)
    assert (end - start) == timedelta(hours=hours)
    await world.publish("region-occitanie", "linkedin", first)
    await world.publish("region-occitanie", "linkedin", last)
    await world.publish("region-occitanie", "linkedin", first - timedelta(minutes=1))  # the day before
    await world.publish("region-occitanie", "linkedin", last + timedelta(minutes=1))  # the day after
    async with world.runtime.sessions() as session:
        rows = await series.cadence(session, region, period)
    assert _day(rows, "linkedin", day).posts == 2
    assert _day(rows, "linkedin", day - timedelta(days=1)).posts == 1
    linkedin = next(a for a in rows if a.channel == "linkedin")
    assert linkedin.posts == 3  # the day after falls outside the week that ends on ``day``


async def test_today_so_far_counts_since_local_midnight(world: World) -> None:
    region = world.personas["region-occitanie"]
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 26, 23, 30))  # 00:30 local, today
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 26, 22, 30))  # yesterday
    await world.publish("region-occitanie", "facebook", utc(2026, 11, 27, 16, 0))  # later than now
    async with world.runtime.sessions() as session:
        rows = await series.today_so_far(session, region, utc(2026, 11, 27, 13, 0))
    facebook = next(r for r in rows if r.channel == "facebook")
    assert (facebook.day, facebook.local_hour, facebook.posts, facebook.posts_target) == (date(2026, 11, 27), 14, 1, 2)
    assert facebook.posts_missing == 1


def test_periods_and_their_refusals_in_french_words() -> None:
    persona = Persona(slug="p", timezone=PARIS)
    now = utc(2026, 11, 26, 23, 30)
    assert parse_period(None, None, persona, now) == make_period("week", date(2026, 11, 27), PARIS)
    month = parse_period("month", "2026-11-30", persona, now)
    assert (month.start, month.end, len(month.days)) == (date(2026, 11, 1), date(2026, 11, 30), 30)
    for kind, end, field in (("year", None, "period"), ("week", "27/11/2026", "end"), ("week", "1900-01-01", "end")):
        with pytest.raises(UsageRefusal) as refused:
            parse_period(kind, end, persona, now)
        assert refused.value.field == field


# ------------------------------------------------------------------ audience and engagement


async def test_audience_is_the_days_last_sample_with_its_gain(world: World) -> None:
    region = world.personas["region-occitanie"]
    account = world.accounts[("region-occitanie", "facebook")]
    async with world.runtime.session() as session:
        for at, followers in (
            (utc(2026, 11, 20, 12), 174_000),  # before the week: the first day's gain starts here
            (utc(2026, 11, 21, 8), 174_100),
            (utc(2026, 11, 21, 22, 30), 174_900),  # 23:30 in Paris: still the 21st, and its last
            (utc(2026, 11, 21, 23, 30), 175_000),  # 00:30 on the 22nd
            (utc(2026, 11, 27, 9), 175_400),
        ):
            session.add(AudienceSample(account_id=account.id, at=at, followers=followers, api_version="v21.0"))
    async with world.runtime.sessions() as session:
        rows = await series.audience(session, region, make_period("week", date(2026, 11, 27), PARIS))
    facebook = next(a for a in rows if a.channel == "facebook")
    by_day = {d.day: d for d in facebook.days}
    assert (by_day[date(2026, 11, 21)].followers, by_day[date(2026, 11, 21)].gain) == (174_900, 900)
    assert (by_day[date(2026, 11, 22)].followers, by_day[date(2026, 11, 22)].gain) == (175_000, 100)
    assert by_day[date(2026, 11, 23)].followers is None and by_day[date(2026, 11, 23)].gain is None
    assert by_day[date(2026, 11, 27)].gain == 400  # from the last known day
    assert by_day[date(2026, 11, 27)].api_version == "v21.0"
    assert (facebook.followers, facebook.gain) == (175_400, 1_400)


async def test_engagement_is_each_posts_latest_sample_with_its_first_words(world: World) -> None:
    region = world.personas["region-occitanie"]
    account = world.accounts[("region-occitanie", "x")]
    measured = await world.publish("region-occitanie", "x", utc(2026, 11, 26, 23, 30))
    unmeasured = await world.publish("region-occitanie", "x", utc(2026, 11, 25, 9), text="Court")
    item = await _item(world, "x", utc(2026, 11, 25, 8))
    await world.publish(
        "region-occitanie", "x", utc(2026, 11, 25, 10), kind=DeliveryKind.REPLY, text="Merci", in_reply_to=item
    )
    async with world.runtime.session() as session:
        for hour, likes in ((1, 3), (5, 12), (2, 7)):
            session.add(
                EngagementSample(
                    delivery_id=measured,
                    account_id=account.id,
                    at=utc(2026, 11, 27, hour),
                    likes=likes,
                    impressions=100 * hour,
                )
            )
    async with world.runtime.sessions() as session:
        rows = await series.engagement(session, region, make_period("week", date(2026, 11, 27), PARIS))
    assert [r.delivery_id for r in rows] == [measured, unmeasured]  # newest first; replies are not posts
    first = rows[0]
    assert (first.likes, first.impressions, first.day, first.channel) == (12, 500, date(2026, 11, 27), "x")
    assert first.first_words == "Le conseil régional vote le budget des lycées…"
    assert rows[1].likes is None and rows[1].measured_at is None and rows[1].first_words == "Court"


# ------------------------------------------------------------------ budgets


async def test_budgets_are_the_latest_quota_per_endpoint_and_the_calls_per_local_day(world: World) -> None:
    region = world.personas["region-occitanie"]
    x = world.accounts[("region-occitanie", "x")]
    facebook = world.accounts[("region-occitanie", "facebook")]
    tweets = {"endpoint": "POST /2/tweets", "limit": 100, "reset_at": "2026-11-27T10:15:00Z"}
    async with world.runtime.session() as session:
        for at, remaining in ((utc(2026, 11, 27, 9), 80), (utc(2026, 11, 27, 10), 25)):
            session.add(UsageSample(account_id=x.id, at=at, metric="quota_remaining", value=remaining, detail=tweets))
        session.add(
            UsageSample(
                account_id=x.id,
                at=utc(2026, 11, 27, 11),
                metric="quota_remaining",
                value=290,
                detail={"endpoint": "GET /2/users/:id/mentions", "limit": 300},
            )
        )
        session.add(
            UsageSample(
                account_id=facebook.id,
                at=utc(2026, 11, 26, 23, 30),
                metric="quota_used_percent",
                value=42.0,
                detail={"endpoint": "POST /{page-id}/feed"},
            )
        )
        session.add(
            UsageSample(
                account_id=facebook.id,
                at=utc(2026, 11, 26, 22, 30),
                metric="api_calls",
                value=4,
                detail={"endpoint": "GET /me"},
            )
        )
    async with world.runtime.sessions() as session:
        found = await series.budgets(session, region, make_period("week", date(2026, 11, 27), PARIS))
    latest = {(b.channel, b.endpoint): b for b in found.latest}
    assert latest[("x", "POST /2/tweets")].value == 25 and latest[("x", "POST /2/tweets")].used_percent == 75.0
    assert latest[("x", "GET /2/users/:id/mentions")].used_percent == pytest.approx(3.3)
    assert latest[("facebook", "POST /{page-id}/feed")].used_percent == 42.0
    calls = {c.channel: {d.day: d.calls for d in c.days} for c in found.calls}
    assert calls["x"][date(2026, 11, 27)] == 3
    assert calls["facebook"][date(2026, 11, 26)] == 4  # 23:30 local on the 26th
    assert calls["facebook"][date(2026, 11, 27)] == 1  # the quota sample at 00:30 local


# ------------------------------------------------------------------ response times and workload


async def _item(world: World, channel: str, received_at: datetime) -> uuid.UUID:
    account = world.accounts[("region-occitanie", channel)]
    async with world.runtime.session() as session:
        item = InboxItem(
            account_id=account.id,
            persona_id=account.persona_id,
            remote_id=uuid.uuid4().hex,
            kind=InboxKind.COMMENT,
            thread_remote_id="post-1",
            author_remote_id="citizen-1",
            text="Bonjour, quand ouvre le lycée ?",
            received_at=received_at,
        )
        session.add(item)
        await session.flush()
        return item.id


async def test_response_times_and_the_workload_come_from_the_inbox_events(world: World) -> None:
    region = world.personas["region-occitanie"]
    cm, moderator = world.staff["cm"], world.staff["moderator"]
    # Friday 27 November 2026, Paris (UTC+1): received 08:00, assigned 08:10, answered 09:30 and 10:00
    first_item = await _item(world, "facebook", utc(2026, 11, 27, 7, 0))
    second_item = await _item(world, "x", utc(2026, 11, 27, 8, 0))
    async with world.runtime.session() as session:
        session.add(
            InboxEvent(
                item_id=first_item, persona_id=region.id, staff_id=cm, kind="assigned", at=utc(2026, 11, 27, 7, 10)
            )
        )
        await record_response(session, first_item, at=utc(2026, 11, 27, 8, 30), staff_id=cm, source="porte-voix")
        await record_response(session, first_item, at=utc(2026, 11, 27, 9, 0), staff_id=cm, source="porte-voix")
        await record_response(session, second_item, at=utc(2026, 11, 27, 9, 30), staff_id=moderator, source="network")
        # cm's evening: an audited change at 21:50 local, a delivery event at 12:05 local
        session.add(
            AuditEvent(
                at=utc(2026, 11, 27, 20, 50),
                actor_id=cm,
                actor_label="cm",
                action="post.updated",
                entity_type="post",
                persona_id=region.id,
            )
        )
    reply = await world.publish(
        "region-occitanie",
        "facebook",
        utc(2026, 11, 27, 8, 30),
        kind=DeliveryKind.REPLY,
        author="cm",
        in_reply_to=first_item,
    )
    async with world.runtime.session() as session:
        session.add(DeliveryEvent(delivery_id=reply, at=utc(2026, 11, 27, 11, 5), kind="approved", actor_id=cm))
        # another persona's acts are not the Région's work
        session.add(
            AuditEvent(
                at=utc(2026, 11, 27, 22, 50),
                actor_id=cm,
                actor_label="cm",
                action="post.updated",
                entity_type="post",
                persona_id=world.personas["presidente-region"].id,
            )
        )
    period = make_period("week", date(2026, 11, 27), PARIS)
    async with world.runtime.sessions() as session:
        times = await series.response_times(session, region, period)
        people = await series.workload(session, region, period)
        stored = (
            (
                await session.execute(
                    select(InboxEvent.business_seconds)
                    .where(InboxEvent.kind == "first_response")
                    .order_by(InboxEvent.at)
                )
            )
            .scalars()
            .all()
        )
    friday = next(d for d in times.days if d.day == date(2026, 11, 27))
    assert (friday.first.count, friday.next.count) == (2, 1)
    assert friday.first.median_s == 5400.0 and friday.first.mean_s == 5400.0  # 90 min each
    assert friday.next.median_s == 7200.0
    assert friday.first.median_business_s == pytest.approx(statistics.median(stored))
    assert times.first.count == 2 and times.first_target_s == 120 * 60
    assert [d.first.count for d in times.days if d.day != date(2026, 11, 27)] == [0] * 6

    by_name = {w.name: w for w in people}
    assert set(by_name) == {"Cm", "Moderator"}
    day = next(d for d in by_name["Cm"].days if d.day == date(2026, 11, 27))
    assert day.items_handled == 1 and day.replies_sent == 1
    assert day.first_responses.count == 1 and day.first_responses.median_s == 5400.0
    assert day.hours == [8, 9, 10, 12, 21] and day.hours_worked == 5
    assert day.span_hours == pytest.approx(13 + 40 / 60, abs=0.01)  # 08:10 to 21:50
    assert by_name["Cm"].longest_day_hours == 5
    moderator_day = next(d for d in by_name["Moderator"].days if d.day == date(2026, 11, 27))
    assert (moderator_day.items_handled, moderator_day.replies_sent, moderator_day.hours) == (1, 0, [10])
