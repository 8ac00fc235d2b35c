"""Every figure of the usage screens, the API, the CSV export and the alerts (nothing here writes).

Days are the persona's local days (``Persona.timezone``, zoneinfo): a day is queried by its UTC
bounds, which makes the days around the DST changes 23 and 25 hours long, and each row is put in
its local day in Python. Binning in Python rather than grouping by UTC hour in SQL is exact for
any offset (a zone 30 or 45 minutes off UTC would split an hour between two days) and needs no
dialect-specific date functions: the same code runs on SQLite and PostgreSQL. The rows read are
small (one per published delivery, per sample, per event of the period, a week or a month),
selected with SQLAlchemy Core through the indexes made for them; no ORM object is built.

A period is a run of whole local days ending on a given day: 7 for a week, 30 for a month.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountStatus, DeliveryKind, DeliveryState
from core.db.models import (
    Account,
    AudienceSample,
    AuditEvent,
    ChannelPolicy,
    Delivery,
    DeliveryEvent,
    EngagementSample,
    InboxEvent,
    Persona,
    Post,
    UsageSample,
)
from core.errors import N_, Refusal
from core.inbox.targets import inbox_settings
from core.people.staff import display_names
from core.policy import DRY_RUN_PREFIX
from core.usage.budget import QUOTA_METRICS, latest_snapshots

PeriodKind = Literal["week", "month"]
#: the views people ask for
VIEWS = ("week", "month")
#: how many local days each period holds, ending on its last day ("day": what the alerts read)
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}
#: the inbox events that are a response of ours (``core.inbox.responses``)
RESPONSE_KINDS = ("first_response", "response")
#: how many words of a post the engagement table shows
FIRST_WORDS = 8


class UsageRefusal(Refusal):
    """A usage view asked with a period or a day it cannot show."""


# ------------------------------------------------------------------ periods and local days


class Period(msgspec.Struct, frozen=True, kw_only=True):
    """Whole local days of a persona, ``start`` to ``end`` both included."""

    kind: str
    start: date
    end: date
    timezone: str

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The period's UTC bounds: ``start`` at local midnight to the midnight after ``end``."""
        return local_midnight(self.start, self.timezone), local_midnight(self.end + timedelta(days=1), self.timezone)

    def previous(self) -> Period:
        return make_period(self.kind, self.start - timedelta(days=1), self.timezone)

    def next(self) -> Period:
        return make_period(self.kind, self.end + timedelta(days=PERIOD_DAYS[self.kind]), self.timezone)


def local_midnight(day: date, timezone: str) -> datetime:
    """The first instant of ``day`` in ``timezone``, in UTC: differences between two of them are
    real durations (two datetimes of the same zone subtract as wall clocks, DST ignored)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def make_period(kind: str, end: date, timezone: str) -> Period:
    """The ``kind`` ("week", "month", or "day" for the alerts) of local days that ends on ``end``."""
    if kind not in PERIOD_DAYS:
        raise _unknown_period(kind)
    return Period(kind=kind, start=end - timedelta(days=PERIOD_DAYS[kind] - 1), end=end, timezone=timezone)


def _unknown_period(kind: str | None) -> UsageRefusal:
    return UsageRefusal(
        N_("the period is “week” or “month”, not “%(value)s”"),
        params={"value": kind},
        field="period",
        code="period_unknown",
    )


def parse_period(kind: str | None, end: str | None, persona: Persona, now: datetime) -> Period:
    """The period people and scripts ask for (``period=week|month``, ``end=YYYY-MM-DD``; today by default)."""
    if end in (None, ""):
        last = local_day(now, persona.timezone)
    else:
        try:
            last = date.fromisoformat(end)
        except ValueError:
            raise UsageRefusal(
                N_("the end of the period is a date like 2026-11-27, not “%(value)s”"),
                params={"value": end},
                field="end",
                code="end_not_a_date",
            ) from None
        if not 2000 <= last.year <= 2100:
            raise UsageRefusal(
                N_("the end of the period must fall between the years 2000 and 2100"),
                field="end",
                code="end_out_of_range",
            )
    if kind not in (None, "") and kind not in VIEWS:
        raise _unknown_period(kind)
    return make_period(kind or "week", last, persona.timezone)


def _bins(rows: Iterable[Any], timezone: str, at: str = "at") -> dict[date, list[Any]]:
    zone = ZoneInfo(timezone)
    found: dict[date, list[Any]] = {}
    for row in rows:
        found.setdefault(getattr(row, at).astimezone(zone).date(), []).append(row)
    return found


# ------------------------------------------------------------------ accounts


class AccountRef(msgspec.Struct, frozen=True, kw_only=True):
    """An account of the persona as the usage tables name it, with its policy's daily targets."""

    account_id: uuid.UUID
    channel: str
    handle: str
    status: str
    posts_target: int | None
    reposts_target: int | None
    #: the metrics job's last success and last error (a failing metrics call is shown, never a gap)
    metrics_fetched_at: datetime | None = None
    metrics_error: str | None = None
    metrics_error_at: datetime | None = None


async def accounts_of(session: AsyncSession, persona_id: uuid.UUID) -> list[AccountRef]:
    """The persona's accounts that are not disabled, by network then handle."""
    query = (
        select(
            Account.id,
            Account.channel,
            Account.handle,
            Account.status,
            ChannelPolicy.posts_per_day,
            ChannelPolicy.reposts_per_day,
            Account.metrics_fetched_at,
            Account.metrics_error,
            Account.metrics_error_at,
        )
        .outerjoin(
            ChannelPolicy,
            sa.and_(ChannelPolicy.persona_id == Account.persona_id, ChannelPolicy.channel == Account.channel),
        )
        .where(Account.persona_id == persona_id, Account.status != AccountStatus.DISABLED)
        .order_by(Account.channel, Account.handle)
    )
    return [
        AccountRef(
            account_id=row[0],
            channel=row[1],
            handle=row[2],
            status=str(row[3]),
            posts_target=row[4],
            reposts_target=row[5],
            metrics_fetched_at=row[6],
            metrics_error=row[7],
            metrics_error_at=row[8],
        )
        for row in (await session.execute(query)).all()
    ]


# ------------------------------------------------------------------ cadence


class CadenceDay(msgspec.Struct, frozen=True, kw_only=True):
    """What one account published on one local day, against its policy's targets."""

    day: date
    posts: int
    reposts: int
    replies: int
    posts_target: int | None
    reposts_target: int | None

    @property
    def posts_met(self) -> bool | None:
        return None if self.posts_target is None else self.posts >= self.posts_target


class AccountCadence(msgspec.Struct, frozen=True, kw_only=True):
    """One account's cadence over a period: each day, and the period's totals against its targets."""

    account_id: uuid.UUID
    channel: str
    handle: str
    posts_target: int | None
    reposts_target: int | None
    days: list[CadenceDay]
    posts: int
    reposts: int
    replies: int
    #: the period's targets (the daily target times the days), None when the policy sets none
    posts_target_total: int | None
    reposts_target_total: int | None
    #: days on which the posts reached their target (None when there is no target)
    days_on_target: int | None


def _published(persona_id: uuid.UUID, start: datetime, end: datetime) -> sa.Select[Any]:
    """Published deliveries of the persona's accounts between two instants, dry runs left out."""
    return (
        select(Delivery.account_id, Delivery.kind, Delivery.published_at)
        .join(Account, Account.id == Delivery.account_id)
        .where(
            Account.persona_id == persona_id,
            Delivery.state == DeliveryState.PUBLISHED,
            Delivery.published_at >= start,
            Delivery.published_at < end,
            # a dry run's remote id says it went nowhere: it counts in no day
            sa.or_(Delivery.remote_id.is_(None), Delivery.remote_id.not_like(f"{DRY_RUN_PREFIX}%")),
        )
    )


def _count(rows: Sequence[Any]) -> tuple[int, int, int]:
    posts = sum(1 for row in rows if row.kind == DeliveryKind.POST)
    reposts = sum(1 for row in rows if row.kind == DeliveryKind.REPOST)
    return posts, reposts, len(rows) - posts - reposts


def _times(target: int | None, days: int) -> int | None:
    return None if target is None else target * days


async def cadence(session: AsyncSession, persona: Persona, period: Period) -> list[AccountCadence]:
    """Posts, reposts and replies published per account and local day of ``period``, with the targets."""
    start, end = period.bounds
    rows = (await session.execute(_published(persona.id, start, end))).all()
    per_account: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        per_account.setdefault(row.account_id, []).append(row)
    result = []
    for account in await accounts_of(session, persona.id):
        by_day = _bins(per_account.get(account.account_id, []), persona.timezone, at="published_at")
        days = [
            CadenceDay(
                day=day,
                posts=counts[0],
                reposts=counts[1],
                replies=counts[2],
                posts_target=account.posts_target,
                reposts_target=account.reposts_target,
            )
            for day in period.days
            for counts in [_count(by_day.get(day, []))]
        ]
        result.append(
            AccountCadence(
                account_id=account.account_id,
                channel=account.channel,
                handle=account.handle,
                posts_target=account.posts_target,
                reposts_target=account.reposts_target,
                days=days,
                posts=sum(d.posts for d in days),
                reposts=sum(d.reposts for d in days),
                replies=sum(d.replies for d in days),
                posts_target_total=_times(account.posts_target, len(days)),
                reposts_target_total=_times(account.reposts_target, len(days)),
                days_on_target=None if account.posts_target is None else sum(1 for d in days if d.posts_met),
            )
        )
    return result


class TodaySoFar(msgspec.Struct, frozen=True, kw_only=True):
    """One account's local day up to ``now``: what the "behind cadence by a set hour" alert reads."""

    account_id: uuid.UUID
    channel: str
    handle: str
    day: date
    #: the persona's local hour at ``now`` (0–23)
    local_hour: int
    posts: int
    reposts: int
    replies: int
    posts_target: int | None
    reposts_target: int | None

    @property
    def posts_missing(self) -> int:
        return max(0, (self.posts_target or 0) - self.posts)

    @property
    def reposts_missing(self) -> int:
        return max(0, (self.reposts_target or 0) - self.reposts)


async def today_so_far(session: AsyncSession, persona: Persona, now: datetime) -> list[TodaySoFar]:
    """What each account published since the persona's local midnight, up to ``now``."""
    local_now = now.astimezone(ZoneInfo(persona.timezone))
    day = local_now.date()
    rows = (await session.execute(_published(persona.id, local_midnight(day, persona.timezone), now))).all()
    per_account: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        per_account.setdefault(row.account_id, []).append(row)
    result = []
    for account in await accounts_of(session, persona.id):
        posts, reposts, replies = _count(per_account.get(account.account_id, []))
        result.append(
            TodaySoFar(
                account_id=account.account_id,
                channel=account.channel,
                handle=account.handle,
                day=day,
                local_hour=local_now.hour,
                posts=posts,
                reposts=reposts,
                replies=replies,
                posts_target=account.posts_target,
                reposts_target=account.reposts_target,
            )
        )
    return result


# ------------------------------------------------------------------ audience


class AudienceDay(msgspec.Struct, frozen=True, kw_only=True):
    """An account's audience on one local day: the day's last sample, and the gain since the day before's."""

    day: date
    followers: int | None
    #: followers minus the previous day's (the last sample before the period for its first day)
    gain: int | None
    following: int | None
    posts: int | None
    impressions: int | None
    #: when the day's last sample was taken (None: no sample that day)
    at: datetime | None
    api_version: str
    demo: bool


class AccountAudience(msgspec.Struct, frozen=True, kw_only=True):
    account_id: uuid.UUID
    channel: str
    handle: str
    days: list[AudienceDay]
    #: the last known followers of the period, and its gain (last known minus the one before the period)
    followers: int | None
    gain: int | None
    metrics_fetched_at: datetime | None
    metrics_error: str | None
    metrics_error_at: datetime | None


_AUDIENCE_COLUMNS = (
    AudienceSample.account_id,
    AudienceSample.at,
    AudienceSample.followers,
    AudienceSample.following,
    AudienceSample.posts,
    AudienceSample.impressions,
    AudienceSample.api_version,
    AudienceSample.demo,
)


async def _audience_before(
    session: AsyncSession, account_ids: list[uuid.UUID], start: datetime
) -> dict[uuid.UUID, Any]:
    """Each account's last sample before ``start`` (the first day's gain starts from it)."""
    if not account_ids:
        return {}
    last = (
        select(AudienceSample.account_id, func.max(AudienceSample.at).label("at"))
        .where(AudienceSample.account_id.in_(account_ids), AudienceSample.at < start)
        .group_by(AudienceSample.account_id)
        .subquery()
    )
    query = select(*_AUDIENCE_COLUMNS).join(
        last, sa.and_(last.c.account_id == AudienceSample.account_id, last.c.at == AudienceSample.at)
    )
    return {row.account_id: row for row in (await session.execute(query)).all()}


def _gain(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


async def audience(session: AsyncSession, persona: Persona, period: Period) -> list[AccountAudience]:
    """Followers per account and local day of ``period`` (the day's last sample), with the gains."""
    accounts = await accounts_of(session, persona.id)
    ids = [a.account_id for a in accounts]
    start, end = period.bounds
    rows = (
        (
            await session.execute(
                select(*_AUDIENCE_COLUMNS)
                .where(AudienceSample.account_id.in_(ids), AudienceSample.at >= start, AudienceSample.at < end)
                .order_by(AudienceSample.at)
            )
        ).all()
        if ids
        else []
    )
    before = await _audience_before(session, ids, start)
    per_account: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        per_account.setdefault(row.account_id, []).append(row)
    result = []
    for account in accounts:
        by_day = _bins(per_account.get(account.account_id, []), persona.timezone)
        first = before.get(account.account_id)
        previous = first.followers if first is not None else None
        days = []
        for day in period.days:
            sample = by_day[day][-1] if day in by_day else None  # rows come in time order: the day's last
            followers = sample.followers if sample is not None else None
            days.append(
                AudienceDay(
                    day=day,
                    followers=followers,
                    gain=_gain(followers, previous),
                    following=sample.following if sample is not None else None,
                    posts=sample.posts if sample is not None else None,
                    impressions=sample.impressions if sample is not None else None,
                    at=sample.at if sample is not None else None,
                    api_version=sample.api_version if sample is not None else "",
                    demo=bool(sample.demo) if sample is not None else False,
                )
            )
            if followers is not None:
                previous = followers
        known = [d.followers for d in days if d.followers is not None]
        last_known = known[-1] if known else None
        result.append(
            AccountAudience(
                account_id=account.account_id,
                channel=account.channel,
                handle=account.handle,
                days=days,
                followers=last_known,
                gain=_gain(last_known, first.followers if first is not None else (known[0] if known else None)),
                metrics_fetched_at=account.metrics_fetched_at,
                metrics_error=account.metrics_error,
                metrics_error_at=account.metrics_error_at,
            )
        )
    return result


# ------------------------------------------------------------------ engagement


class PostEngagement(msgspec.Struct, frozen=True, kw_only=True):
    """One published post or repost of the period, with its latest engagement sample."""

    delivery_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    channel: str
    handle: str
    kind: str
    published_at: datetime
    #: the persona's local day it was published on
    day: date
    first_words: str
    remote_url: str | None
    impressions: int | None
    likes: int | None
    reposts: int | None
    replies: int | None
    #: when the latest sample was taken (None: not measured yet)
    measured_at: datetime | None
    api_version: str
    demo: bool


def first_words(text: str, count: int = FIRST_WORDS) -> str:
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


async def engagement(session: AsyncSession, persona: Persona, period: Period) -> list[PostEngagement]:
    """The posts and reposts published in ``period``, newest first, each with its latest engagement sample."""
    start, end = period.bounds
    published = _published(persona.id, start, end).where(Delivery.kind != DeliveryKind.REPLY)
    ids = published.with_only_columns(Delivery.id).scalar_subquery()
    latest = (
        select(EngagementSample.delivery_id, func.max(EngagementSample.at).label("at"))
        .where(EngagementSample.delivery_id.in_(ids))
        .group_by(EngagementSample.delivery_id)
        .subquery()
    )
    query = (
        published.with_only_columns(
            Delivery.id,
            Delivery.post_id,
            Delivery.account_id,
            Delivery.kind,
            Delivery.published_at,
            Delivery.remote_url,
            Account.channel,
            Account.handle,
            Post.text,
            Post.variants,
            Post.demo,
            EngagementSample.impressions,
            EngagementSample.likes,
            EngagementSample.reposts,
            EngagementSample.replies,
            EngagementSample.at,
            EngagementSample.api_version,
        )
        .join(Post, Post.id == Delivery.post_id)
        .outerjoin(latest, latest.c.delivery_id == Delivery.id)
        .outerjoin(
            EngagementSample,
            sa.and_(EngagementSample.delivery_id == Delivery.id, EngagementSample.at == latest.c.at),
        )
        .order_by(Delivery.published_at.desc(), Delivery.id)
    )
    result = []
    for row in (await session.execute(query)).all():
        variant = (row.variants or {}).get(row.channel)
        text = variant if isinstance(variant, str) and variant else row.text
        result.append(
            PostEngagement(
                delivery_id=row.id,
                post_id=row.post_id,
                account_id=row.account_id,
                channel=row.channel,
                handle=row.handle,
                kind=str(row.kind),
                published_at=row.published_at,
                day=local_day(row.published_at, persona.timezone),
                first_words=first_words(text or ""),
                remote_url=row.remote_url,
                impressions=row.impressions,
                likes=row.likes,
                reposts=row.reposts,
                replies=row.replies,
                measured_at=row.at,
                api_version=row.api_version or "",
                demo=bool(row.demo),
            )
        )
    return result


# ------------------------------------------------------------------ API budgets
# The latest snapshots are read by the budget module's one query (``core.usage.budget``); here,
# as of the period's end, downsampled days included, each with its spent share for the gauges.


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """An account's latest quota snapshot for one endpoint, as of the end of the period."""

    account_id: uuid.UUID
    channel: str
    handle: str
    endpoint: str
    metric: str
    #: the calls left (``quota_remaining``) or the share used (``quota_used_percent``)
    value: float
    limit: int | None
    #: how much of the budget is spent, 0–100 (None: a remaining count without a known limit)
    used_percent: float | None
    reset_at: str | None
    at: datetime


class CallsDay(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    calls: int


class AccountCalls(msgspec.Struct, frozen=True, kw_only=True):
    """API calls an account made per local day: each call the plugins reported."""

    account_id: uuid.UUID
    channel: str
    handle: str
    days: list[CallsDay]
    calls: int


class Budgets(msgspec.Struct, frozen=True, kw_only=True):
    latest: list[Budget]
    calls: list[AccountCalls]


def _used_percent(metric: str, value: float, limit: int | None) -> float | None:
    if metric == "quota_used_percent":
        return min(100.0, max(0.0, value))
    if not limit:
        return None
    return round(min(100.0, max(0.0, 100.0 * (limit - value) / limit)), 1)


async def _latest_quotas(
    session: AsyncSession, accounts: dict[uuid.UUID, AccountRef], start: datetime, end: datetime
) -> list[Budget]:
    rows = await latest_snapshots(session, list(accounts), UsageSample.at >= start, UsageSample.at < end)
    found: dict[tuple[uuid.UUID, str, str], Budget] = {}
    for row in rows:
        detail = row.detail or {}
        account = accounts[row.account_id]
        limit = detail.get("limit")
        budget = Budget(
            account_id=row.account_id,
            channel=account.channel,
            handle=account.handle,
            endpoint=str(detail.get("endpoint") or ""),
            metric=row.metric,
            value=float(row.value),
            limit=int(limit) if isinstance(limit, int | float) else None,
            used_percent=_used_percent(row.metric, float(row.value), limit if isinstance(limit, int | float) else None),
            reset_at=detail.get("reset_at"),
            at=row.at,
        )
        key = (row.account_id, row.metric, budget.endpoint)
        # two reports of one endpoint in the same flush: the most spent one
        if key not in found or (budget.used_percent or 0) > (found[key].used_percent or 0):
            found[key] = budget
    return sorted(found.values(), key=lambda b: (b.channel, b.handle, b.endpoint, b.metric))


async def _calls_per_day(
    session: AsyncSession, accounts: dict[uuid.UUID, AccountRef], period: Period
) -> list[AccountCalls]:
    """Each report is one call: an ``api_calls`` sample counts ``value`` calls (the bare reports of
    a flush, or a downsampled day), a raw quota sample one (a response that carried quota headers)."""
    start, end = period.bounds
    calls = sa.case((UsageSample.metric == "api_calls", UsageSample.value), else_=sa.literal(1.0))
    query = select(UsageSample.account_id, UsageSample.at, calls.label("calls")).where(
        UsageSample.account_id.in_(list(accounts)),
        UsageSample.at >= start,
        UsageSample.at < end,
        sa.or_(
            UsageSample.metric == "api_calls",
            sa.and_(UsageSample.metric.in_(QUOTA_METRICS), UsageSample.resolution == "raw"),
        ),
    )
    per_account: dict[uuid.UUID, list[Any]] = {}
    for row in (await session.execute(query)).all():
        per_account.setdefault(row.account_id, []).append(row)
    result = []
    for account_id, account in accounts.items():
        by_day = _bins(per_account.get(account_id, []), period.timezone)
        days = [CallsDay(day=day, calls=int(sum(r.calls for r in by_day.get(day, [])))) for day in period.days]
        result.append(
            AccountCalls(
                account_id=account_id,
                channel=account.channel,
                handle=account.handle,
                days=days,
                calls=sum(d.calls for d in days),
            )
        )
    return result


async def budgets(session: AsyncSession, persona: Persona, period: Period) -> Budgets:
    """The latest quota of each account and endpoint in ``period``, and the API calls per local day."""
    accounts = {a.account_id: a for a in await accounts_of(session, persona.id)}
    if not accounts:
        return Budgets(latest=[], calls=[])
    start, end = period.bounds
    return Budgets(
        latest=await _latest_quotas(session, accounts, start, end),
        calls=await _calls_per_day(session, accounts, period),
    )


# ------------------------------------------------------------------ response times


class Delays(msgspec.Struct, frozen=True, kw_only=True):
    """How many responses, and their median and mean delay, in seconds and in business seconds."""

    count: int
    median_s: float | None
    mean_s: float | None
    median_business_s: float | None
    mean_business_s: float | None


class ResponseDay(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    first: Delays
    next: Delays


class ResponseTimes(msgspec.Struct, frozen=True, kw_only=True):
    """First and next responses per local day of the period, the period's figures, the targets."""

    days: list[ResponseDay]
    first: Delays
    next: Delays
    #: the persona's targets, in business seconds (``[inbox.targets]`` of its file)
    first_target_s: float
    next_target_s: float


def _middle(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(statistics.median(values)), float(statistics.fmean(values))


def delays(rows: Sequence[Any]) -> Delays:
    """Median and mean of the rows' ``seconds`` and ``business_seconds`` (rows without one are left out of it)."""
    median_s, mean_s = _middle([float(r.seconds) for r in rows if r.seconds is not None])
    median_b, mean_b = _middle([float(r.business_seconds) for r in rows if r.business_seconds is not None])
    return Delays(count=len(rows), median_s=median_s, mean_s=mean_s, median_business_s=median_b, mean_business_s=mean_b)


async def _response_events(session: AsyncSession, persona: Persona, period: Period) -> list[Any]:
    start, end = period.bounds
    query = select(
        InboxEvent.kind, InboxEvent.at, InboxEvent.staff_id, InboxEvent.seconds, InboxEvent.business_seconds
    ).where(
        InboxEvent.persona_id == persona.id,
        InboxEvent.kind.in_(RESPONSE_KINDS),
        InboxEvent.at >= start,
        InboxEvent.at < end,
    )
    return list((await session.execute(query)).all())


async def response_times(session: AsyncSession, persona: Persona, period: Period) -> ResponseTimes:
    """Response delays as the inbox recorded them when they happened (medians need every value: in Python)."""
    rows = await _response_events(session, persona, period)
    by_day = _bins(rows, persona.timezone)

    def split(found: Sequence[Any]) -> tuple[Delays, Delays]:
        return (
            delays([r for r in found if r.kind == "first_response"]),
            delays([r for r in found if r.kind == "response"]),
        )

    days = [
        ResponseDay(day=day, first=first, next=nxt)
        for day in period.days
        for first, nxt in [split(by_day.get(day, []))]
    ]
    first, nxt = split(rows)
    targets = inbox_settings(persona.definition or {}).targets
    return ResponseTimes(
        days=days,
        first=first,
        next=nxt,
        first_target_s=targets.first_response_minutes * 60.0,
        next_target_s=targets.next_response_minutes * 60.0,
    )


# ------------------------------------------------------------------ staff workload


class WorkDay(msgspec.Struct, frozen=True, kw_only=True):
    """One person's local day on the persona."""

    day: date
    #: inbox items this person acted on (assigned, replied, resolved, moderated…)
    items_handled: int
    #: replies of theirs published that day
    replies_sent: int
    first_responses: Delays
    #: the local hours (0–23) in which they did anything on the persona, and how many
    hours: list[int]
    hours_worked: int
    #: first to last act, in hours (an act at 8:10 and one at 21:50 make a 14-hour day)
    span_hours: float


class StaffWorkload(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: uuid.UUID
    name: str
    days: list[WorkDay]
    items_handled: int
    replies_sent: int
    first_responses: Delays
    hours_worked: int
    #: the period's longest day, in distinct hours worked
    longest_day_hours: int


async def _acts(
    session: AsyncSession, persona: Persona, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, datetime]]:
    """Every act of a person on the persona in the interval: audited changes, inbox events, delivery events."""
    audits = select(AuditEvent.actor_id, AuditEvent.at).where(
        AuditEvent.persona_id == persona.id,
        AuditEvent.actor_id.is_not(None),
        AuditEvent.at >= start,
        AuditEvent.at < end,
    )
    inbox = select(InboxEvent.staff_id, InboxEvent.at).where(
        InboxEvent.persona_id == persona.id,
        InboxEvent.staff_id.is_not(None),
        InboxEvent.at >= start,
        InboxEvent.at < end,
    )
    deliveries = (
        select(DeliveryEvent.actor_id, DeliveryEvent.at)
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .join(Account, Account.id == Delivery.account_id)
        .where(
            Account.persona_id == persona.id,
            DeliveryEvent.actor_id.is_not(None),
            DeliveryEvent.at >= start,
            DeliveryEvent.at < end,
        )
    )
    found: list[tuple[uuid.UUID, datetime]] = []
    for query in (audits, inbox, deliveries):
        found.extend((row[0], row[1]) for row in (await session.execute(query)).all())
    return found


async def _handled(session: AsyncSession, persona: Persona, start: datetime, end: datetime) -> list[Any]:
    query = select(
        InboxEvent.staff_id,
        InboxEvent.item_id,
        InboxEvent.kind,
        InboxEvent.at,
        InboxEvent.seconds,
        InboxEvent.business_seconds,
    ).where(
        InboxEvent.persona_id == persona.id,
        InboxEvent.staff_id.is_not(None),
        InboxEvent.at >= start,
        InboxEvent.at < end,
    )
    return list((await session.execute(query)).all())


async def _replies_sent(session: AsyncSession, persona: Persona, start: datetime, end: datetime) -> list[Any]:
    query = (
        _published(persona.id, start, end)
        .where(Delivery.kind == DeliveryKind.REPLY)
        .join(Post, Post.id == Delivery.post_id)
        .add_columns(Post.author_id)
        .where(Post.author_id.is_not(None))
    )
    return list((await session.execute(query)).all())


def _work_day(day: date, acts: list[datetime], handled: list[Any], replies: int, zone: ZoneInfo) -> WorkDay:
    local = sorted(moment.astimezone(zone) for moment in acts)
    hours = sorted({moment.hour for moment in local})
    span = (local[-1] - local[0]).total_seconds() / 3600 if local else 0.0
    return WorkDay(
        day=day,
        items_handled=len({row.item_id for row in handled}),
        replies_sent=replies,
        first_responses=delays([row for row in handled if row.kind == "first_response"]),
        hours=hours,
        hours_worked=len(hours),
        span_hours=round(span, 2),
    )


async def workload(session: AsyncSession, persona: Persona, period: Period) -> list[StaffWorkload]:
    """Each person who acted on the persona in ``period``, day by day, by name."""
    start, end = period.bounds
    zone = ZoneInfo(persona.timezone)
    acts = await _acts(session, persona, start, end)
    handled = await _handled(session, persona, start, end)
    replies = await _replies_sent(session, persona, start, end)
    people = {staff_id for staff_id, _ in acts} | {r.staff_id for r in handled} | {r.author_id for r in replies}
    names = await display_names(session, people)
    result = []
    for staff_id in people:
        act_days = _bins((_At(at) for who, at in acts if who == staff_id), persona.timezone)
        handled_days = _bins((r for r in handled if r.staff_id == staff_id), persona.timezone)
        reply_days = _bins((r for r in replies if r.author_id == staff_id), persona.timezone, at="published_at")
        days = [
            _work_day(
                day,
                [a.at for a in act_days.get(day, [])],
                handled_days.get(day, []),
                len(reply_days.get(day, [])),
                zone,
            )
            for day in period.days
        ]
        mine = [r for r in handled if r.staff_id == staff_id]
        result.append(
            StaffWorkload(
                staff_id=staff_id,
                name=names.get(staff_id, ""),
                days=days,
                items_handled=len({(d, r.item_id) for d, rs in handled_days.items() for r in rs}),
                replies_sent=sum(d.replies_sent for d in days),
                first_responses=delays([r for r in mine if r.kind == "first_response"]),
                hours_worked=sum(d.hours_worked for d in days),
                longest_day_hours=max((d.hours_worked for d in days), default=0),
            )
        )
    return sorted(result, key=lambda w: (w.name == "", w.name, str(w.staff_id)))


class _At(msgspec.Struct, frozen=True):
    at: datetime


# ------------------------------------------------------------------ everything at once


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    """Every series of a persona's usage over one period: what the usage page shows."""

    persona_slug: str
    timezone: str
    period: Period
    accounts: list[AccountRef]
    cadence: list[AccountCadence]
    audience: list[AccountAudience]
    engagement: list[PostEngagement]
    budgets: Budgets
    response_times: ResponseTimes
    workload: list[StaffWorkload]


async def overview(session: AsyncSession, persona: Persona, period: Period) -> Overview:
    return Overview(
        persona_slug=persona.slug,
        timezone=persona.timezone,
        period=period,
        accounts=await accounts_of(session, persona.id),
        cadence=await cadence(session, persona, period),
        audience=await audience(session, persona, period),
        engagement=await engagement(session, persona, period),
        budgets=await budgets(session, persona, period),
        response_times=await response_times(session, persona, period),
        workload=await workload(session, persona, period),
    )
