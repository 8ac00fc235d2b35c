"""An account's remaining API budget, read from the latest quota snapshots the networks sent.

The networks say how much is left in their own headers (X ``x-rate-limit-*``, Mastodon's and
Bluesky's, Meta's ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` percentages) and, for
Instagram's publishing limit, in ``content_publishing_limit``; the plugin kit reports them and
``core.publishing.outbox.flush_usage`` stores each as a ``quota_remaining`` or
``quota_used_percent`` sample, with its endpoint (or Meta's quota name), limit and reset time.

Here each endpoint's latest snapshot becomes a *remaining share* (0 to 1). A snapshot stands until
its reset time; one without a reset time stands for the network's window (Meta: a rolling hour;
Instagram's publishing quota: a moving 24 hours), after which nothing is known of it and it is
left out (no snapshot is not a low budget). Under :data:`LOW_SHARE` a budget is low: the worker
warns before a send on such an account (the send goes on: posts and replies come first) and the
non-urgent work — the metrics job, the inbox poll — leaves the account alone until it recovers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Delivery, Persona, UsageAlert, UsageSample
from core.db.types import utcnow

log = structlog.get_logger(__name__)

#: under this share of an endpoint's budget left, the account's budget is low
LOW_SHARE = 0.1
#: the samples that are a quota snapshot (``core.publishing.outbox.flush_usage``)
QUOTA_METRICS = ("quota_remaining", "quota_used_percent")
#: how long a snapshot without a reset time stands: Meta's quotas are rolling hours
DEFAULT_WINDOW = timedelta(hours=1)
#: the endpoints whose window is another one
WINDOWS: dict[str, timedelta] = {"content_publishing_limit": timedelta(hours=24)}
#: budgets that only publishing spends: reading metrics or an inbox does not have to yield to them
PUBLISHING_ONLY = frozenset({"content_publishing_limit"})
#: the UsageAlert kind a low budget raises (one per persona, account and local day)
ALERT_KIND = "quota_low"


class EndpointBudget(msgspec.Struct, frozen=True, kw_only=True):
    """What one endpoint (or Meta quota) of an account has left, as of its latest snapshot."""

    endpoint: str
    metric: str
    #: 0 (spent) to 1 (untouched)
    remaining_share: float
    #: the calls left (``quota_remaining``) or the share used in percent (``quota_used_percent``)
    value: float
    limit: int | None
    reset_at: datetime | None
    at: datetime

    @property
    def low(self) -> bool:
        return self.remaining_share < LOW_SHARE


class AccountBudget(msgspec.Struct, frozen=True, kw_only=True):
    account_id: uuid.UUID
    #: the endpoints with a snapshot that still stands, lowest share first
    endpoints: list[EndpointBudget]

    @property
    def remaining_share(self) -> float | None:
        """The lowest share left over the endpoints (None: no snapshot stands)."""
        return self.endpoints[0].remaining_share if self.endpoints else None

    @property
    def low(self) -> list[EndpointBudget]:
        return [e for e in self.endpoints if e.low]

    @property
    def is_low(self) -> bool:
        return bool(self.low)

    @property
    def background_yields(self) -> bool:
        """Non-urgent work leaves the account alone: a budget it would spend is low."""
        return any(e.endpoint not in PUBLISHING_ONLY for e in self.low)


# ------------------------------------------------------------------ reading


def _endpoint() -> Any:
    # JSON path, portable: json_extract on SQLite, ->> on PostgreSQL's JSONB
    return UsageSample.detail["endpoint"].as_string()


def _moment(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _share(metric: str, value: float, limit: Any) -> float | None:
    if metric == "quota_used_percent":
        return min(1.0, max(0.0, 1.0 - value / 100.0))
    if isinstance(limit, int | float) and limit > 0:
        return min(1.0, max(0.0, value / float(limit)))
    return None  # a count without its limit says nothing of a share


def _standing(endpoint: str, at: datetime, reset_at: datetime | None, now: datetime) -> bool:
    if reset_at is not None:
        return reset_at > now
    return at > now - WINDOWS.get(endpoint, DEFAULT_WINDOW)


def _budget(row: Any, now: datetime) -> EndpointBudget | None:
    detail = row.detail or {}
    endpoint = str(detail.get("endpoint") or "")
    reset_at = _moment(detail.get("reset_at"))
    share = _share(row.metric, float(row.value), detail.get("limit"))
    if share is None or not _standing(endpoint, row.at, reset_at, now):
        return None
    limit = detail.get("limit")
    return EndpointBudget(
        endpoint=endpoint,
        metric=row.metric,
        remaining_share=round(share, 4),
        value=float(row.value),
        limit=int(limit) if isinstance(limit, int | float) else None,
        reset_at=reset_at,
        at=row.at,
    )


async def latest_snapshots(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], *when: sa.ColumnElement[bool]
) -> Sequence[Any]:
    """The latest quota snapshot of each account, metric and endpoint among the samples ``when``
    selects (a time range, raw samples only…): the one query the budgets and the usage screens read."""
    endpoint = _endpoint().label("endpoint")
    scope = (UsageSample.account_id.in_(list(account_ids)), UsageSample.metric.in_(QUOTA_METRICS), *when)
    last = (
        select(UsageSample.account_id, UsageSample.metric, endpoint, func.max(UsageSample.at).label("at"))
        .where(*scope)
        .group_by(UsageSample.account_id, UsageSample.metric, endpoint)
        .subquery()
    )
    query = (
        select(UsageSample.account_id, UsageSample.metric, UsageSample.value, UsageSample.detail, UsageSample.at)
        .join(
            last,
            sa.and_(
                last.c.account_id == UsageSample.account_id,
                last.c.metric == UsageSample.metric,
                last.c.at == UsageSample.at,
                last.c.endpoint == _endpoint(),
            ),
        )
        .where(*scope)
    )
    return (await session.execute(query)).all()


async def budgets_of(
    session: AsyncSession, account_ids: Iterable[uuid.UUID], *, now: datetime | None = None
) -> dict[uuid.UUID, AccountBudget]:
    """Each account's budget from its latest snapshot per endpoint (one query for all of them)."""
    ids = list(account_ids)
    if not ids:
        return {}
    now = now or utcnow()
    since = now - max([DEFAULT_WINDOW, *WINDOWS.values()])
    rows = await latest_snapshots(
        session, ids, UsageSample.resolution == "raw", UsageSample.at > since, UsageSample.at <= now
    )
    found: dict[uuid.UUID, dict[str, EndpointBudget]] = {account_id: {} for account_id in ids}
    for row in rows:
        budget = _budget(row, now)
        if budget is None:
            continue
        known = found[row.account_id].get(budget.endpoint)
        # two snapshots of one endpoint at the same instant (one flush): the lower one stands
        if known is None or budget.remaining_share < known.remaining_share:
            found[row.account_id][budget.endpoint] = budget
    return {
        account_id: AccountBudget(
            account_id=account_id,
            endpoints=sorted(endpoints.values(), key=lambda e: (e.remaining_share, e.endpoint)),
        )
        for account_id, endpoints in found.items()
    }


async def account_budget(session: AsyncSession, account_id: uuid.UUID, *, now: datetime | None = None) -> AccountBudget:
    """The account's remaining budget per endpoint, lowest first."""
    return (await budgets_of(session, [account_id], now=now))[account_id]


async def yielding(
    session: AsyncSession, account_ids: Iterable[uuid.UUID], *, now: datetime | None = None
) -> set[uuid.UUID]:
    """The accounts non-urgent work (metrics, inbox polling) leaves alone for now: a budget is low."""
    budgets = await budgets_of(session, account_ids, now=now)
    return {account_id for account_id, budget in budgets.items() if budget.background_yields}


# ------------------------------------------------------------------ the warning before a send


def _alert_detail(account: Account, persona_name: str, budget: AccountBudget) -> dict[str, Any]:
    """The alert's figures, named as the alerts job names them (``core.usage.alerts``): the
    lowest endpoint, and what it has left in percent."""
    worst = budget.low[0]
    return {
        "persona": persona_name,
        "channel": account.channel,
        "handle": account.handle,
        "endpoint": worst.endpoint,
        "left": round(100 * worst.remaining_share, 1),
        "reset_at": worst.reset_at.isoformat() if worst.reset_at else None,
        "source": "send",
    }


async def warn_if_low(
    session: AsyncSession, account_id: uuid.UUID, *, now: datetime | None = None
) -> AccountBudget | None:
    """Before a send: when the account's budget is low, say so in the log and raise the persona's
    ``quota_low`` alert for the local day (once: the table keeps one per persona, account and day).
    The send goes on; this only warns. Returns the low budget, or None when it is not low."""
    now = now or utcnow()
    budget = await account_budget(session, account_id, now=now)
    if not budget.is_low:
        return None
    row = (
        await session.execute(
            select(Account, Persona.timezone, Persona.name)
            .join(Persona, Persona.id == Account.persona_id)
            .where(Account.id == account_id)
        )
    ).first()
    if row is None:
        return budget
    account, timezone, persona_name = row
    detail = _alert_detail(account, persona_name, budget)
    log.warning("API budget low before a send", account=str(account_id), **detail)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(UsageAlert)
        .values(
            id=uuid.uuid4(),
            persona_id=account.persona_id,
            kind=ALERT_KIND,
            subject=str(account_id),
            day=now.astimezone(ZoneInfo(timezone)).date().isoformat(),
            detail=detail,
            raised_at=now,
            webhook_state="none",
            webhook_attempts=0,
        )
        # raised already today (by an earlier send or the alerts job): that one stands
        .on_conflict_do_nothing(index_elements=["persona_id", "kind", "subject", "day"])
    )
    return budget


async def warn_before_send(session: AsyncSession, delivery_id: uuid.UUID) -> AccountBudget | None:
    """:func:`warn_if_low` for the account of a delivery about to be sent."""
    account_id = await session.scalar(select(Delivery.account_id).where(Delivery.id == delivery_id))
    if account_id is None:
        return None
    return await warn_if_low(session, account_id)
