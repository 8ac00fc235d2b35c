"""What happens once a delivery is due: dispatch, publish under a lease, sweep, reconcile.

The database is the truth and the queue is the courier. Every move is a compare-and-set on
the delivery's state, so two dispatchers or two workers never send the same attempt twice:

- the dispatcher moves due ``scheduled`` rows to ``queued`` and enqueues one arq job per
  attempt (deterministic job id ``publish:<delivery>:<attempt>``);
- a worker moves ``queued`` to ``publishing`` under a lease it renews while it works, calls
  the channel plugin, and records ``published`` with the network's id;
- the sweeper turns an expired lease into ``uncertain`` (the worker died between the send and
  the record) and asks the plugin to ``reconcile`` before anything is sent again;
- every dispatch also re-enqueues ``queued`` rows whose job Redis lost (:func:`requeue_lost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import Actor, record
from core.channels import (
    AccountRef,
    ChannelError,
    CredentialsExpired,
    Draft,
    Feature,
    NotSupported,
    PublishResult,
    RateLimited,
    Rejected,
    Transient,
)
from core.channels.host import NotConnected
from core.db.enums import AccountMode, AccountStatus, DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, DeliveryEvent, Media, Persona, Post, UsageSample
from core.db.types import utcnow
from core.policy import check_post_on_account, plugin_draft
from core.runtime import Runtime
from personas.policy import Outcome, Stage, decide

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("publisher")
#: the dispatcher hands over what is due within this horizon, deferred to the exact second
DISPATCH_HORIZON = timedelta(seconds=2)
#: a queued row whose job is "in progress" this long was taken by a worker that died before its claim
REQUEUE_AFTER = timedelta(seconds=15)
RECONCILE_SLACK = timedelta(minutes=10)


class Enqueuer(Protocol):
    """The part of arq's pool the publisher uses (``ArqRedis.enqueue_job``)."""

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None, _defer_until: datetime | None = None
    ) -> Any: ...


def publish_job_id(delivery_id: uuid.UUID, attempts: int) -> str:
    return f"publish:{delivery_id}:{attempts}"


def reconcile_job_id(delivery_id: uuid.UUID, attempts: int) -> str:
    return f"reconcile:{delivery_id}:{attempts}"


def _event(session: AsyncSession, delivery_id: uuid.UUID, kind: str, **detail: Any) -> None:
    session.add(DeliveryEvent(delivery_id=delivery_id, kind=kind, detail={k: _jsonable(v) for k, v in detail.items()}))


def _jsonable(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


async def _cas(
    session: AsyncSession, delivery_id: uuid.UUID, expected: tuple[DeliveryState, ...], **values: Any
) -> bool:
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(expected))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


# ------------------------------------------------------------------ dispatcher


async def dispatch_due(runtime: Runtime, queue: Enqueuer, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Claim due deliveries (``scheduled`` → ``queued``) and enqueue them. Safe in every worker at once."""
    now = now or utcnow()
    await requeue_lost(runtime, queue, now=now)
    horizon = now + DISPATCH_HORIZON
    due_at = or_(
        and_(Delivery.next_attempt_at.is_(None), Delivery.scheduled_at <= horizon), Delivery.next_attempt_at <= horizon
    )
    async with runtime.session() as session:
        candidates = (
            select(Delivery.id)
            .join(Account, Account.id == Delivery.account_id)
            .join(Persona, Persona.id == Account.persona_id)
            .where(
                Delivery.state == DeliveryState.SCHEDULED,
                Delivery.scheduled_at.is_not(None),
                due_at,
                Account.status == AccountStatus.CONNECTED,
                or_(Account.throttled_until.is_(None), Account.throttled_until <= horizon),
                Persona.paused.is_(False),
            )
            .order_by(Delivery.scheduled_at)
            .limit(limit)
        )
        if session.bind.dialect.name == "postgresql":
            # Concurrent dispatchers skip each other's rows instead of waiting on them.
            candidates = candidates.with_for_update(of=Delivery, skip_locked=True)
        claimed = (
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(candidates.scalar_subquery()), Delivery.state == DeliveryState.SCHEDULED)
                .values(state=DeliveryState.QUEUED, queued_at=now, updated_at=now)
                .returning(Delivery.id, Delivery.attempts, Delivery.scheduled_at, Delivery.next_attempt_at)
                .execution_options(synchronize_session=False)
            )
        ).all()
        for delivery_id, attempts, scheduled_at, next_attempt_at in claimed:
            _event(session, delivery_id, "queued", attempt=attempts + 1)
    for delivery_id, attempts, scheduled_at, next_attempt_at in claimed:
        due = next_attempt_at or scheduled_at
        await _enqueue_publish(queue, delivery_id, attempts, due if due and due > now else None)
    return len(claimed)


async def _enqueue_publish(
    queue: Enqueuer, delivery_id: uuid.UUID, attempts: int, defer_until: datetime | None
) -> None:
    # A lost enqueue is not lost work: the row stays ``queued`` and the sweeper enqueues it again.
    with contextlib.suppress(Exception):
        await queue.enqueue_job(
            "publish_delivery",
            str(delivery_id),
            _job_id=publish_job_id(delivery_id, attempts),
            _defer_until=defer_until,
        )


async def requeue_lost(runtime: Runtime, queue: Enqueuer, *, now: datetime) -> int:
    """Re-enqueue ``queued`` deliveries whose job no longer has a courier.

    - Neither the job nor its in-progress mark is in Redis (flushed, restarted): enqueue the
      same job id again at once.
    - The job is "in progress" but the row is still ``queued`` long after: the worker that took
      it died before its claim (a claim takes milliseconds), and arq would only retry after the
      job timeout — enqueue a fresh job id. The claim is a compare-and-set, so even if the old
      job runs later only one of them publishes.
    A job merely waiting in arq's queue behind others is left alone.
    """
    async with runtime.session() as session:
        rows = (
            await session.execute(
                select(
                    Delivery.id, Delivery.attempts, Delivery.scheduled_at, Delivery.next_attempt_at, Delivery.queued_at
                ).where(Delivery.state == DeliveryState.QUEUED, Delivery.queued_at < now - timedelta(seconds=1))
            )
        ).all()
    if not rows:
        return 0
    marks = await _job_marks(queue, [publish_job_id(r[0], r[1]) for r in rows])
    lost = 0
    for (delivery_id, attempts, scheduled_at, next_attempt_at, queued_at), (waiting, running) in zip(
        rows, marks, strict=True
    ):
        due = next_attempt_at or scheduled_at
        defer = due if due and due > now else None
        if not waiting and not running:
            await _enqueue_publish(queue, delivery_id, attempts, defer)
            lost += 1
        elif running and queued_at < now - REQUEUE_AFTER and await _restamp(runtime, delivery_id, queued_at, now):
            job_id = f"{publish_job_id(delivery_id, attempts)}:{int(queued_at.timestamp())}"
            with contextlib.suppress(Exception):
                await queue.enqueue_job("publish_delivery", str(delivery_id), _job_id=job_id, _defer_until=defer)
            lost += 1
    return lost


async def _job_marks(queue: Enqueuer, job_ids: list[str]) -> list[tuple[bool, bool]]:
    """(job exists, job in progress) for each job id, in one round trip to Redis."""
    pipeline_factory = getattr(queue, "pipeline", None)
    if pipeline_factory is None:  # a queue without Redis underneath (tests): assume present
        return [(True, False)] * len(job_ids)
    async with pipeline_factory(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(f"arq:job:{job_id}")
            pipe.exists(f"arq:in-progress:{job_id}")
        flags = await pipe.execute()
    return [(bool(flags[i]), bool(flags[i + 1])) for i in range(0, len(flags), 2)]


async def _restamp(runtime: Runtime, delivery_id: uuid.UUID, queued_at: datetime, now: datetime) -> bool:
    """Compare-and-set on ``queued_at``: one dispatcher re-enqueues a stuck row, not all of them."""
    async with runtime.session() as session:
        moved = await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.QUEUED, Delivery.queued_at == queued_at)
            .values(queued_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            _event(session, delivery_id, "requeued", reason="its job was lost with a worker")
            return True
    return False


# ------------------------------------------------------------------ worker


@dataclass
class Claim:
    delivery_id: uuid.UUID
    attempt: int
    channel: str
    mode: AccountMode
    kind: DeliveryKind
    draft: Draft
    repost_of: str | None
    window_start: datetime
    account_id: uuid.UUID
    persona_id: uuid.UUID
    account: AccountRef


async def publish_delivery(runtime: Runtime, delivery_id: uuid.UUID, *, worker_id: str) -> str:
    """Publish one queued delivery; returns what happened (for logs and tests)."""
    claim = await _claim(runtime, delivery_id, worker_id)
    if isinstance(claim, str):
        return claim
    heartbeat = asyncio.create_task(_renew_lease(runtime, claim.delivery_id, worker_id))
    try:
        outcome = await _send(runtime, claim)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    await _record(runtime, claim, outcome, worker_id)
    await flush_usage(runtime)
    return outcome[0]


async def _claim(runtime: Runtime, delivery_id: uuid.UUID, worker_id: str) -> Claim | str:
    now = utcnow()
    async with runtime.session() as session:
        # One query for the delivery and everything it needs (the hot path of the worker).
        row = (
            await session.execute(
                select(Delivery, Account, Post, Persona)
                .join(Account, Account.id == Delivery.account_id)
                .join(Post, Post.id == Delivery.post_id)
                .join(Persona, Persona.id == Account.persona_id)
                .where(Delivery.id == delivery_id)
            )
        ).first()
        if row is None or row.Delivery.state != DeliveryState.QUEUED:
            return "skipped"
        delivery, account, post, persona = row
        held = _held_reason(persona, account, now)
        if held:
            await _cas(session, delivery.id, (DeliveryState.QUEUED,), state=DeliveryState.SCHEDULED, **held[1])
            _event(session, delivery.id, "held", reason=held[0])
            return held[0]
        try:
            ref = runtime.host.account_ref(account)
        except (NotConnected, ValueError) as exc:  # no credentials, or sealed with another SECRET_KEY
            await _cas(
                session,
                delivery.id,
                (DeliveryState.QUEUED,),
                state=DeliveryState.SCHEDULED,
                error_kind="needs_reauth",
                last_error=str(exc),
            )
            await session.execute(
                update(Account).where(Account.id == account.id).values(status=AccountStatus.NEEDS_REAUTH)
            )
            _event(session, delivery.id, "held", reason="account_not_connected")
            return "account_not_connected"
        media = list(
            (await session.scalars(select(Media).where(Media.post_id == post.id).order_by(Media.position))).all()
        )
        if await _held_by_policy(runtime, session, delivery, persona, account, post, media, now):
            return "held_by_policy"
        attempt = delivery.attempts + 1
        claimed = await _cas(
            session,
            delivery.id,
            (DeliveryState.QUEUED,),
            state=DeliveryState.PUBLISHING,
            attempts=attempt,
            lease_until=now + timedelta(seconds=runtime.settings.publish_lease_seconds),
            leased_by=worker_id,
        )
        if not claimed:
            return "skipped"
        _event(session, delivery.id, "attempt", attempt=attempt, worker=worker_id)
        return Claim(
            delivery_id=delivery.id,
            attempt=attempt,
            channel=account.channel,
            mode=account.mode,
            kind=delivery.kind,
            draft=plugin_draft(
                post, account.channel, media, client_ref=delivery.client_ref, media_url=runtime.media_url
            ),
            repost_of=post.repost_of,
            window_start=(delivery.scheduled_at or delivery.created_at) - RECONCILE_SLACK,
            account_id=account.id,
            persona_id=persona.id,
            account=ref,
        )


def _held_reason(persona: Persona, account: Account, now: datetime) -> tuple[str, dict[str, Any]] | None:
    if persona.paused:
        return "persona_paused", {}
    if account.status != AccountStatus.CONNECTED or account.credentials_encrypted is None:
        return "account_not_connected", {"error_kind": "needs_reauth"}
    if account.throttled_until is not None and account.throttled_until > now:
        return "account_throttled", {"next_attempt_at": account.throttled_until}
    return None


async def _held_by_policy(
    runtime: Runtime,
    session: AsyncSession,
    delivery: Delivery,
    persona: Persona,
    account: Account,
    post: Post,
    media: list[Media],
    now: datetime,
) -> bool:
    """Re-check the policy at the moment of publishing: what counts in law is the day the public sees it."""
    findings = await check_post_on_account(
        session,
        runtime.channels,
        persona=persona,
        post=post,
        media=media,
        channel=account.channel,
        account=account,
        moment=now,
        stage=Stage.PUBLISH,
        composer=None,
        exclude_post=post.id,
    )
    verdict = decide(findings)
    unsigned = {f.rule for f in verdict.to_review} - set(delivery.approved_rules)
    if verdict.outcome == Outcome.BLOCKED or unsigned:
        reasons = [
            f.message_en for f in (*verdict.blocking, *verdict.to_review) if f.rule in unsigned or f in verdict.blocking
        ]
        await _cas(
            session,
            delivery.id,
            (DeliveryState.QUEUED,),
            state=DeliveryState.PENDING_APPROVAL,
            last_error="; ".join(reasons),
            error_kind="policy",
        )
        _event(
            session, delivery.id, "held", reason="policy", rules=sorted(unsigned | {f.rule for f in verdict.blocking})
        )
        record(
            session, SYSTEM, "delivery.held", "delivery", delivery.id, persona_id=persona.id, reason="; ".join(reasons)
        )
        return True
    return False


async def _renew_lease(runtime: Runtime, delivery_id: uuid.UUID, worker_id: str) -> None:
    lease = runtime.settings.publish_lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        async with runtime.session() as session:
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.state == DeliveryState.PUBLISHING,
                    Delivery.leased_by == worker_id,
                )
                .values(lease_until=utcnow() + timedelta(seconds=lease))
                .execution_options(synchronize_session=False)
            )


Outcome_ = tuple[str, Any]


async def _send(runtime: Runtime, claim: Claim) -> Outcome_:
    """Call the plugin; never raises: every result or error becomes an outcome to record."""
    ref = claim.account
    try:
        plugin = runtime.host.plugin(claim.channel)
        if claim.mode == AccountMode.DRY_RUN:
            requests = await plugin.prepare_publish(ref, claim.draft)
            return "dry_run", PublishResult(remote_id=f"dry-run:{claim.draft.client_ref}", requests=requests)
        if claim.attempt > 1 and plugin.capabilities.supports(Feature.RECONCILE):
            # An earlier attempt may have reached the network before it failed: look first.
            found = await plugin.reconcile(
                ref, claim.draft, not_before=claim.window_start, not_after=utcnow() + timedelta(minutes=1)
            )
            if found is not None:
                return "published", found
        if claim.kind == DeliveryKind.REPOST:
            return "published", await plugin.repost(ref, _remote_id(claim.repost_of or ""))
        return "published", await plugin.publish(ref, claim.draft)
    except (ChannelError, NotConnected) as exc:
        return "error", exc
    except Exception as exc:  # a plugin bug: nobody knows whether the post went out
        log.exception("plugin failed", delivery=str(claim.delivery_id))
        return "unknown", exc


def _remote_id(target: str) -> str:
    """The network id of a reposted post, from its URL or id (``…/status/123`` → ``123``)."""
    return target.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8… seconds, at most five minutes."""
    return min(300.0, 2.0**attempt) * random.uniform(0.5, 1.5)


async def _record(runtime: Runtime, claim: Claim, outcome: Outcome_, worker_id: str) -> None:
    kind, value = outcome
    now = utcnow()
    live = (DeliveryState.PUBLISHING, DeliveryState.UNCERTAIN)
    async with runtime.session() as session:
        if kind in ("published", "dry_run"):
            result: PublishResult = value
            await _cas(
                session,
                claim.delivery_id,
                live,
                state=DeliveryState.PUBLISHED,
                remote_id=result.remote_id,
                remote_url=result.url,
                published_at=result.published_at or now,
                lease_until=None,
                last_error=None,
                error_kind=None,
            )
            _event(
                session,
                claim.delivery_id,
                kind,
                remote_id=result.remote_id,
                url=result.url,
                requests=[_jsonable(r) for r in result.requests],
            )
            session.add(
                UsageSample(
                    account_id=claim.account_id,
                    at=now,
                    metric="posts_sent" if claim.kind == DeliveryKind.POST else "reposts_sent",
                    value=1,
                )
            )
            return
        if kind == "unknown":
            await _cas(
                session,
                claim.delivery_id,
                (DeliveryState.PUBLISHING,),
                state=DeliveryState.UNCERTAIN,
                lease_until=None,
                last_error=str(value),
                error_kind="unknown",
            )
            _event(session, claim.delivery_id, "uncertain", error=repr(value))
            return
        await _record_error(runtime, session, claim, value, now)


async def _record_error(runtime: Runtime, session: AsyncSession, claim: Claim, error: Exception, now: datetime) -> None:
    message = getattr(error, "network_message", str(error))
    publishing = (DeliveryState.PUBLISHING,)
    if isinstance(error, RateLimited):
        until = now + timedelta(seconds=max(error.retry_after, 1.0))
        # The whole account slows down, not only this delivery.
        await session.execute(update(Account).where(Account.id == claim.account_id).values(throttled_until=until))
        await _cas(
            session,
            claim.delivery_id,
            publishing,
            state=DeliveryState.SCHEDULED,
            next_attempt_at=until,
            attempts=claim.attempt - 1,
            lease_until=None,
            last_error=message,
            error_kind="rate_limited",
        )
        _event(session, claim.delivery_id, "rate_limited", retry_after=error.retry_after, until=until)
    elif isinstance(error, (CredentialsExpired, NotConnected)):
        await session.execute(
            update(Account).where(Account.id == claim.account_id).values(status=AccountStatus.NEEDS_REAUTH)
        )
        await _cas(
            session,
            claim.delivery_id,
            publishing,
            state=DeliveryState.SCHEDULED,
            next_attempt_at=None,
            attempts=claim.attempt - 1,
            lease_until=None,
            last_error=message,
            error_kind="needs_reauth",
        )
        _event(session, claim.delivery_id, "needs_reauth", error=message)
        # The persona's team sees this on its dashboard and in the audit log.
        record(
            session,
            SYSTEM,
            "account.needs_reauth",
            "account",
            claim.account_id,
            persona_id=claim.persona_id,
            reason=message,
        )
    elif isinstance(error, (Rejected, NotSupported)):
        await _cas(
            session,
            claim.delivery_id,
            publishing,
            state=DeliveryState.FAILED,
            lease_until=None,
            last_error=message,
            error_kind="rejected",
        )
        _event(session, claim.delivery_id, "failed", error=message, status=getattr(error, "status", None))
    else:  # Transient, or any other ChannelError
        retry_after = getattr(error, "retry_after", None)
        if claim.attempt >= runtime.settings.publish_max_attempts:
            await _cas(
                session,
                claim.delivery_id,
                publishing,
                state=DeliveryState.FAILED,
                lease_until=None,
                last_error=message,
                error_kind="transient",
            )
            _event(session, claim.delivery_id, "failed", error=message, attempts=claim.attempt)
            return
        wait = retry_after if retry_after else backoff_seconds(claim.attempt)
        await _cas(
            session,
            claim.delivery_id,
            publishing,
            state=DeliveryState.SCHEDULED,
            next_attempt_at=now + timedelta(seconds=wait),
            lease_until=None,
            last_error=message,
            error_kind="transient",
        )
        _event(session, claim.delivery_id, "transient_error", error=message, retry_in=round(wait, 2))


async def flush_usage(runtime: Runtime) -> None:
    """Store the rate-limit snapshots the plugins reported (quota remaining per endpoint)."""
    reports = [r for r in runtime.host.usage.drain() if r.remaining is not None and r.account_external_id]
    if not reports:
        return
    async with runtime.session() as session:
        # Only the accounts the reports name: this runs after every publish.
        rows = await session.execute(
            select(Account.id, Account.channel, Account.external_id).where(
                Account.external_id.in_({r.account_external_id for r in reports})
            )
        )
        accounts = {(channel, external_id): account_id for account_id, channel, external_id in rows.all()}
        for report in reports:
            account_id = accounts.get((report.channel, report.account_external_id or ""))
            if account_id is None:
                continue
            session.add(
                UsageSample(
                    account_id=account_id,
                    metric="quota_remaining",
                    value=report.remaining,
                    detail={"endpoint": report.endpoint, "limit": report.limit, "reset_at": _jsonable(report.reset_at)},
                )
            )


# ------------------------------------------------------------------ sweeper and reconcile


async def sweep(runtime: Runtime, queue: Enqueuer, *, now: datetime | None = None) -> dict[str, int]:
    """Expired leases become ``uncertain`` and get reconciled (lost ``queued`` jobs: :func:`requeue_lost`)."""
    now = now or utcnow()
    async with runtime.session() as session:
        expired = (
            (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.state == DeliveryState.PUBLISHING, Delivery.lease_until < now)
                    .values(state=DeliveryState.UNCERTAIN, lease_until=None, error_kind="lease_expired", updated_at=now)
                    .returning(Delivery.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        for delivery_id in expired:
            _event(session, delivery_id, "uncertain", reason="lease expired: the worker stopped during the send")
        to_reconcile = (
            await session.execute(
                select(Delivery.id, Delivery.attempts).where(
                    Delivery.state == DeliveryState.UNCERTAIN,
                    or_(Delivery.error_kind.is_(None), Delivery.error_kind != "unresolved"),
                )
            )
        ).all()
    for delivery_id, attempts in to_reconcile:
        with contextlib.suppress(Exception):
            await queue.enqueue_job(
                "reconcile_delivery", str(delivery_id), _job_id=reconcile_job_id(delivery_id, attempts)
            )
    return {"uncertain": len(expired), "reconcile": len(to_reconcile)}


async def reconcile_delivery(runtime: Runtime, delivery_id: uuid.UUID) -> str:
    """Ask the network whether an interrupted attempt made the post; settle the delivery if it can."""
    async with runtime.session() as session:
        delivery = await session.scalar(
            select(Delivery)
            .where(Delivery.id == delivery_id)
            .options(selectinload(Delivery.account), selectinload(Delivery.post).selectinload(Post.media))
        )
        if delivery is None or delivery.state != DeliveryState.UNCERTAIN:
            return "skipped"
        account, post = delivery.account, delivery.post
        draft = plugin_draft(
            post, account.channel, list(post.media), client_ref=delivery.client_ref, media_url=runtime.media_url
        )
        window_start = (delivery.scheduled_at or delivery.created_at) - RECONCILE_SLACK
        mode = account.mode
    try:
        ref = runtime.host.account_ref(account)
        if mode == AccountMode.DRY_RUN:
            found: PublishResult | None = None
        else:
            found = await runtime.host.plugin(account.channel).reconcile(
                ref, draft, not_before=window_start, not_after=utcnow() + timedelta(minutes=1)
            )
    except (RateLimited, Transient) as exc:
        async with runtime.session() as session:
            _event(session, delivery_id, "reconcile_deferred", error=str(exc))
        return "deferred"  # the sweeper asks again later
    except (ChannelError, NotConnected) as exc:
        async with runtime.session() as session:
            await _cas(session, delivery_id, (DeliveryState.UNCERTAIN,), error_kind="unresolved", last_error=str(exc))
            _event(session, delivery_id, "reconcile_unresolved", error=str(exc))
        return "unresolved"  # a human decides: "it was published" / "publish again"
    async with runtime.session() as session:
        if found is not None:
            await _cas(
                session,
                delivery_id,
                (DeliveryState.UNCERTAIN,),
                state=DeliveryState.PUBLISHED,
                remote_id=found.remote_id,
                remote_url=found.url,
                published_at=found.published_at or utcnow(),
                last_error=None,
                error_kind=None,
            )
            _event(session, delivery_id, "reconciled", found=True, remote_id=found.remote_id)
            return "found"
        await _cas(
            session,
            delivery_id,
            (DeliveryState.UNCERTAIN,),
            state=DeliveryState.SCHEDULED,
            next_attempt_at=utcnow(),
            error_kind=None,
        )
        _event(session, delivery_id, "reconciled", found=False)
        return "not_found"
