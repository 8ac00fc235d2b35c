"""The metrics job: each connected account's audience and its posts' engagement, once an hour.

For every connected account of a channel whose plugin declares ``Feature.METRICS`` the job asks
the plugin, through the host, for the account's figures and for those of its posts published in
the last :data:`LOOKBACK` (live ones: dry runs and the demo's simulated history are not asked
for), then stores one :class:`AudienceSample` per account and one :class:`EngagementSample` per
post, keyed on the hour: the job run twice in the same hour updates the same rows (an upsert on
the unique ``(account_id, at)`` and ``(delivery_id, at)``). Each sample keeps the API version that
produced it, since the networks rename and retire their metrics.

A failing call is a visible error, never a silent gap: the account keeps the network's words in
``metrics_error`` with the time (shown on the usage page until a run succeeds and clears it); what
did succeed is stored all the same. A rate limit throttles the account as publishing does, an
expired token sends it to ``needs_reauth``. The network is called outside any transaction; the
usage reports of the calls are stored afterwards, like the publisher's and the inbox poll's.

Metrics are non-urgent: an account whose API budget is low (:mod:`core.usage.budget`) is left
alone until it recovers, so that posts and replies keep what is left.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.service import mark_needs_reauth
from core.audit import Actor
from core.channels import (
    AccountMetrics,
    AccountRef,
    ChannelError,
    CredentialsExpired,
    Feature,
    NotSupported,
    PostMetrics,
    RateLimited,
    Rejected,
)
from core.channels.host import NotConnected
from core.db.enums import AccountStatus, DeliveryKind, DeliveryState
from core.db.models import Account, AudienceSample, Delivery, EngagementSample, Post
from core.db.types import utcnow
from core.policy import DRY_RUN_PREFIX
from core.publishing.outbox import flush_usage, throttle
from core.runtime import Runtime
from core.usage import budget

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("metrics")
#: the posts whose engagement is still followed: a month after publication it hardly moves (and
#: X keeps its non-public metrics 30 days)
LOOKBACK = timedelta(days=30)
#: at most this many posts per account and run, the newest
MAX_POSTS = 500
#: an error kept on the account is for people to read, not a dump
MAX_ERROR = 1000

T = TypeVar("T")


class MetricsResult(msgspec.Struct, kw_only=True):
    #: collected, failed, throttled, needs_reauth or skipped
    status: str
    #: why it was skipped or failed: a word, or the network's words
    reason: str = ""
    audience: bool = False
    posts: int = 0


@dataclass(frozen=True, slots=True)
class _Start:
    account_id: uuid.UUID
    channel: str
    ref: AccountRef
    persona_id: uuid.UUID
    #: remote id → delivery id of the posts to measure
    deliveries: dict[str, uuid.UUID]


def metrics_channels(runtime: Runtime) -> list[str]:
    """The installed channels whose plugin reads metrics."""
    return [key for key, plugin in runtime.channels.items() if plugin.capabilities.supports(Feature.METRICS)]


def sample_hour(moment: datetime) -> datetime:
    """The hour a sample stands for: ``moment`` truncated (UTC)."""
    return moment.replace(minute=0, second=0, microsecond=0)


async def collect_metrics(ctx: dict[str, Any]) -> int:
    """The arq cron (hourly): every connected account's metrics; returns how many were collected."""
    results = await collect_all(ctx["runtime"])
    return sum(result.status == "collected" for result in results.values())


async def collect_all(runtime: Runtime, *, now: datetime | None = None) -> dict[uuid.UUID, MetricsResult]:
    """Each connected, unthrottled account of a metrics channel, except those whose budget is low."""
    now = now or utcnow()
    channels = metrics_channels(runtime)
    if not channels:
        return {}
    async with runtime.session() as session:
        due = (
            await session.scalars(
                select(Account.id)
                .where(
                    Account.channel.in_(channels),
                    Account.status == AccountStatus.CONNECTED,
                    Account.credentials_encrypted.is_not(None),
                    or_(Account.throttled_until.is_(None), Account.throttled_until <= now),
                )
                .order_by(Account.metrics_fetched_at.is_not(None), Account.metrics_fetched_at)
            )
        ).all()
        low = await budget.yielding(session, due, now=now)
    results: dict[uuid.UUID, MetricsResult] = {}
    for account_id in due:
        if account_id in low:
            log.info("metrics skipped: API budget low", account=str(account_id))
            results[account_id] = MetricsResult(status="skipped", reason="budget_low")
            continue
        try:
            results[account_id] = await collect_account(runtime, account_id, now=now)
        except Exception:  # one account's bug must not starve the others
            log.exception("metrics collection crashed", account=str(account_id))
            results[account_id] = MetricsResult(status="failed", reason="crashed")
    return results


async def collect_account(runtime: Runtime, account_id: uuid.UUID, *, now: datetime | None = None) -> MetricsResult:
    """One account: its audience and its posts' engagement, stored on the hour of ``now``."""
    now = now or utcnow()
    start = await _start(runtime, account_id, now)
    if isinstance(start, MetricsResult):
        return start
    plugin = runtime.host.plugin(start.channel)
    result = MetricsResult(status="collected")
    audience: AccountMetrics | None = None
    posts: list[PostMetrics] = []
    try:
        audience = await _offered(plugin.fetch_account_metrics(start.ref))
        if start.deliveries:
            posts = await _offered(plugin.fetch_post_metrics(start.ref, list(start.deliveries))) or []
    except ChannelError as exc:
        await _failed(runtime, start, exc, result)
    except NotConnected as exc:
        await _needs_reauth(runtime, start, str(exc), result)
    finally:
        await _flush_usage_quietly(runtime)
    await _store(runtime, start, audience, posts, now, result)
    return result


async def _offered(call: Awaitable[T]) -> T | None:
    """The call's answer; None when the plugin does not offer it (some networks count posts only)."""
    try:
        return await call
    except NotSupported:
        return None


async def _start(runtime: Runtime, account_id: uuid.UUID, now: datetime) -> _Start | MetricsResult:
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            return MetricsResult(status="skipped", reason="no_such_account")
        if account.channel not in runtime.channels:
            return MetricsResult(status="skipped", reason="channel_not_installed")
        if not runtime.channels.get(account.channel).capabilities.supports(Feature.METRICS):
            return MetricsResult(status="skipped", reason="no_metrics")
        if account.status != AccountStatus.CONNECTED or account.credentials_encrypted is None:
            return MetricsResult(status="skipped", reason="account_not_connected")
        try:
            ref = runtime.host.account_ref(account)
        except ValueError as exc:  # sealed with another SECRET_KEY: as good as no credentials
            await mark_needs_reauth(session, account.id, account.persona_id, actor=SYSTEM, reason=str(exc))
            _failing(account, str(exc), now)
            return MetricsResult(status="needs_reauth", reason=str(exc))
        deliveries = await _measured(session, account_id, now)
        return _Start(account.id, account.channel, ref, account.persona_id, deliveries)


async def _measured(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> dict[str, uuid.UUID]:
    """The account's live posts and reposts of the last :data:`LOOKBACK`, newest first: remote id →
    delivery. Replies are conversation, not posts; a dry run went nowhere; the demo's history is
    simulated (its samples come with it)."""
    query = (
        select(Delivery.remote_id, Delivery.id)
        .join(Post, Post.id == Delivery.post_id)
        .where(
            Delivery.account_id == account_id,
            Delivery.state == DeliveryState.PUBLISHED,
            Delivery.kind.in_((DeliveryKind.POST, DeliveryKind.REPOST)),
            Delivery.published_at >= now - LOOKBACK,
            Delivery.remote_id.is_not(None),
            Delivery.remote_id.not_like(f"{DRY_RUN_PREFIX}%"),
            Post.demo.is_(False),
        )
        .order_by(Delivery.published_at.desc())
        .limit(MAX_POSTS)
    )
    return {str(remote_id): delivery_id for remote_id, delivery_id in (await session.execute(query)).all()}


# ------------------------------------------------------------------ storing


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def _store(
    runtime: Runtime,
    start: _Start,
    audience: AccountMetrics | None,
    posts: list[PostMetrics],
    now: datetime,
    result: MetricsResult,
) -> None:
    """What was read, on the hour; the account's success (its error cleared) when nothing failed."""
    hour, account_id = sample_hour(now), start.account_id
    async with runtime.session() as session:
        insert = _insert(session)
        if audience is not None:
            values = {
                "followers": audience.followers,
                "following": audience.following,
                "posts": audience.posts,
                "impressions": audience.impressions,
                "extra": dict(audience.extra),
                "api_version": audience.api_version,
            }
            statement = insert(AudienceSample).values(id=uuid.uuid4(), account_id=account_id, at=hour, **values)
            await session.execute(statement.on_conflict_do_update(index_elements=["account_id", "at"], set_=values))
            result.audience = True
        rows = [_engagement(m, start.deliveries[m.remote_id]) for m in posts if m.remote_id in start.deliveries]
        for row in rows:
            statement = insert(EngagementSample).values(id=uuid.uuid4(), account_id=account_id, at=hour, **row)
            changed = {k: v for k, v in row.items() if k != "delivery_id"}
            await session.execute(statement.on_conflict_do_update(index_elements=["delivery_id", "at"], set_=changed))
        result.posts = len(rows)
        if result.status == "collected":
            await session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(metrics_fetched_at=now, metrics_error=None, metrics_error_at=None)
            )


def _engagement(metrics: PostMetrics, delivery_id: uuid.UUID) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "impressions": metrics.impressions,
        "likes": metrics.likes,
        "reposts": metrics.reposts,
        "replies": metrics.replies,
        "extra": dict(metrics.extra),
        "api_version": metrics.api_version,
    }


# ------------------------------------------------------------------ failures


def error_text(exc: ChannelError) -> str:
    """What the usage page shows: the network's words, with its error code when it gave one."""
    code = exc.code if isinstance(exc, Rejected) and exc.code else (str(exc.status) if exc.status else "")
    words = exc.network_message or str(exc)
    return (f"{code}: {words}" if code else words)[:MAX_ERROR]


def _failing(account: Account, message: str, now: datetime) -> None:
    account.metrics_error = message[:MAX_ERROR]
    account.metrics_error_at = now


async def _failed(runtime: Runtime, start: _Start, exc: ChannelError, result: MetricsResult) -> None:
    if isinstance(exc, CredentialsExpired):
        await _needs_reauth(runtime, start, exc.network_message, result)
        return
    log.warning("metrics call failed", account=str(start.account_id), channel=start.channel, error=str(exc))
    result.status, result.reason = ("throttled" if isinstance(exc, RateLimited) else "failed"), error_text(exc)
    async with runtime.session() as session:
        if isinstance(exc, RateLimited):
            await throttle(session, start.account_id, utcnow() + timedelta(seconds=max(exc.retry_after, 1.0)))
        await _record_error(session, start.account_id, result.reason)


async def _needs_reauth(runtime: Runtime, start: _Start, message: str, result: MetricsResult) -> None:
    result.status, result.reason = "needs_reauth", message
    async with runtime.session() as session:
        await mark_needs_reauth(session, start.account_id, start.persona_id, actor=SYSTEM, reason=message)
        await _record_error(session, start.account_id, message)


async def _record_error(session: AsyncSession, account_id: uuid.UUID, message: str) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(metrics_error=message[:MAX_ERROR], metrics_error_at=utcnow())
    )


async def _flush_usage_quietly(runtime: Runtime) -> None:
    # Usage is bookkeeping: failing to store it must never undo a run.
    try:
        await flush_usage(runtime)
    except Exception:
        log.exception("usage reports not stored")
