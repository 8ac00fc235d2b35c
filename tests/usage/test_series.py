"""The usage figures on both databases, from rows written as the app writes them: cadence in the
persona's local days (the 23:30 UTC post, the 23- and 25-hour DST days), audience, engagement,
budgets, response times and each staff member's workload."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import DeliveryKind, DeliveryState, Role
from core.db.models import Account, Delivery, Persona, Post
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
