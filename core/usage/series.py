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

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountStatus, DeliveryKind, DeliveryState
from core.db.models import Account, ChannelPolicy, Delivery, Persona
from core.errors import N_, Refusal
from core.policy import DRY_RUN_PREFIX

PeriodKind = Literal["week", "month"]
#: how many local days each view shows, ending on its last day
PERIOD_DAYS: dict[str, int] = {"week": 7, "month": 30}
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
    if kind not in PERIOD_DAYS:
        raise UsageRefusal(
            N_("the period is “week” or “month”, not “%(value)s”"),
            params={"value": kind},
            field="period",
            code="period_unknown",
        )
    return Period(kind=kind, start=end - timedelta(days=PERIOD_DAYS[kind] - 1), end=end, timezone=timezone)


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
