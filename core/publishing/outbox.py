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
from typing import Any, ClassVar, Protocol

import msgspec
import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from core.audit import Actor, record
from core.channels import (
    AccountRef,
    ChannelError,
    ChannelPlugin,
    CredentialsExpired,
    Draft,
    Feature,
    NotSupported,
    PublishResult,
    RateLimited,
    Rejected,
    RemoteItem,
    Transient,
)
from core.channels.host import NotConnected
from core.db.enums import AccountMode, AccountStatus, DeliveryKind, DeliveryState, ErrorKind
from core.db.models import Account, Delivery, InboxItem, Media, Persona, Post, UsageSample
from core.db.types import utcnow
from core.policy import check_post_on_account, plugin_draft
from core.publishing.states import move, move_many, record_event, renew_lease
from core.runtime import Runtime
from personas.policy import Outcome, Stage, decide

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("publisher")
#: the dispatcher hands over what is due within this horizon, deferred to the exact second
DISPATCH_HORIZON = timedelta(seconds=2)
#: a queued row whose job is "in progress" this long was taken by a worker that died before its claim
REQUEUE_AFTER = timedelta(seconds=15)
RECONCILE_SLACK = timedelta(minutes=10)
#: the usage series a sent delivery adds to
SENT_METRIC = {DeliveryKind.POST: "posts_sent", DeliveryKind.REPOST: "reposts_sent", DeliveryKind.REPLY: "replies_sent"}


class Enqueuer(Protocol):
    """The part of arq's pool the publisher uses (``ArqRedis.enqueue_job``)."""

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None, _defer_until: datetime | None = None
    ) -> Any: ...


def publish_job_id(delivery_id: uuid.UUID, attempts: int) -> str:
    return f"publish:{delivery_id}:{attempts}"


def reconcile_job_id(delivery_id: uuid.UUID, attempts: int) -> str:
    return f"reconcile:{delivery_id}:{attempts}"


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
        claimed = await move_many(
            session,
            to=DeliveryState.QUEUED,
            from_=(DeliveryState.SCHEDULED,),
            where=(Delivery.id.in_(candidates.scalar_subquery()),),
            event="queued",
            detail=lambda row: {"attempt": row.attempts + 1},
            returning=(Delivery.attempts, Delivery.scheduled_at, Delivery.next_attempt_at),
            queued_at=now,
            updated_at=now,
        )
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
    """Compare-and-set on ``queued_at`` too: one dispatcher re-enqueues a stuck row, not all of them."""
    async with runtime.session() as session:
        return await move(
            session,
            delivery_id,
            to=DeliveryState.QUEUED,
            from_=(DeliveryState.QUEUED,),
            where=(Delivery.queued_at == queued_at,),
            event="requeued",
            detail={"reason": "its job was lost with a worker"},
            queued_at=now,
        )


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
    #: what a reply answers, as the plugin knows it
    answering: RemoteItem | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """The network took it; in dry run, the request(s) it would have taken."""

    result: PublishResult
    dry_run: bool = False

    @property
    def label(self) -> str:
        return "dry_run" if self.dry_run else "published"


@dataclass(frozen=True, slots=True)
class Refused:
    """A typed error of the network (rate limited, credentials expired, rejected, transient…)."""

    error: ChannelError | NotConnected
    label: ClassVar[str] = "error"


@dataclass(frozen=True, slots=True)
class Crashed:
    """A plugin bug during the send: nobody knows whether it went out."""

    error: Exception
    label: ClassVar[str] = "unknown"


SendOutcome = Sent | Refused | Crashed
PUBLISHING = (DeliveryState.PUBLISHING,)
QUEUED = (DeliveryState.QUEUED,)
UNCERTAIN = (DeliveryState.UNCERTAIN,)


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
    await _record(runtime, claim, outcome)
    await flush_usage(runtime)
    return outcome.label


async def _claim(runtime: Runtime, delivery_id: uuid.UUID, worker_id: str) -> Claim | str:
    now = utcnow()
    async with runtime.session() as session:
        # One query for the delivery and everything it needs (the hot path of the worker).
        parent = aliased(InboxItem)
        row = (
            await session.execute(
                select(Delivery, Account, Post, Persona, InboxItem, parent.remote_id)
                .join(Account, Account.id == Delivery.account_id)
                .join(Post, Post.id == Delivery.post_id)
                .join(Persona, Persona.id == Account.persona_id)
                .outerjoin(InboxItem, InboxItem.id == Delivery.in_reply_to_id)
                .outerjoin(parent, parent.id == InboxItem.parent_id)
                .where(Delivery.id == delivery_id)
            )
        ).first()
        if row is None or row.Delivery.state != DeliveryState.QUEUED:
            return "skipped"
        delivery, account, post, persona, item, parent_remote_id = row
        held = _held_reason(persona, account, now)
        if held:
            reason, values = held
            await move(
                session,
                delivery.id,
                to=DeliveryState.SCHEDULED,
                from_=QUEUED,
                event="held",
                detail={"reason": reason},
                **values,
            )
            return reason
        try:
            ref = runtime.host.account_ref(account)
        except (NotConnected, ValueError) as exc:  # no credentials, or sealed with another SECRET_KEY
            await move(
                session,
                delivery.id,
                to=DeliveryState.SCHEDULED,
                from_=QUEUED,
                event="held",
                detail={"reason": "account_not_connected"},
                error_kind=ErrorKind.NEEDS_REAUTH,
                last_error=str(exc),
            )
            await session.execute(
                update(Account).where(Account.id == account.id).values(status=AccountStatus.NEEDS_REAUTH)
            )
            return "account_not_connected"
        media = list(
            (await session.scalars(select(Media).where(Media.post_id == post.id).order_by(Media.position))).all()
        )
        if await _held_by_policy(runtime, session, delivery, persona, account, post, media, now):
            return "held_by_policy"
        attempt = delivery.attempts + 1
        claimed = await move(
            session,
            delivery.id,
            to=DeliveryState.PUBLISHING,
            from_=QUEUED,
            event="attempt",
            detail={"attempt": attempt, "worker": worker_id},
            attempts=attempt,
            lease_until=now + timedelta(seconds=runtime.settings.publish_lease_seconds),
            leased_by=worker_id,
        )
        if not claimed:
            return "skipped"
        return Claim(
            delivery_id=delivery.id,
            attempt=attempt,
            channel=account.channel,
            mode=account.mode,
            kind=delivery.kind,
            draft=_draft(runtime, delivery, post, account, media, item),
            repost_of=post.repost_of,
            window_start=(delivery.scheduled_at or delivery.created_at) - RECONCILE_SLACK,
            account_id=account.id,
            persona_id=persona.id,
            account=ref,
            answering=remote_item(item, parent_remote_id) if item is not None else None,
        )


def _draft(
    runtime: Runtime, delivery: Delivery, post: Post, account: Account, media: list[Media], item: InboxItem | None
) -> Draft:
    reply_to = item.remote_id if item is not None else None
    return plugin_draft(
        post, account.channel, media, client_ref=delivery.client_ref, media_url=runtime.media_url, reply_to=reply_to
    )


def remote_item(item: InboxItem, parent_remote_id: str | None = None) -> RemoteItem:
    """An inbox item as the plugin first saw it (what ``ChannelPlugin.reply`` answers)."""
    return RemoteItem(
        remote_id=item.remote_id,
        kind=item.kind,
        text=item.text,
        author_id=item.author_remote_id,
        author_handle=item.author_handle,
        author_name=item.author_name,
        created_at=item.received_at,
        thread_id=item.thread_remote_id,
        parent_id=parent_remote_id,
        url=item.url,
    )


def _held_reason(persona: Persona, account: Account, now: datetime) -> tuple[str, dict[str, Any]] | None:
    if persona.paused:
        return "persona_paused", {}
    if account.status != AccountStatus.CONNECTED or account.credentials_encrypted is None:
        return "account_not_connected", {"error_kind": ErrorKind.NEEDS_REAUTH}
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
    if verdict.outcome != Outcome.BLOCKED and not unsigned:
        return False
    reasons = "; ".join(
        f.message_en for f in (*verdict.blocking, *verdict.to_review) if f.rule in unsigned or f in verdict.blocking
    )
    await move(
        session,
        delivery.id,
        to=DeliveryState.PENDING_APPROVAL,
        from_=QUEUED,
        event="held",
        detail={"reason": "policy", "rules": sorted(unsigned | {f.rule for f in verdict.blocking})},
        last_error=reasons,
        error_kind=ErrorKind.POLICY,
    )
    record(session, SYSTEM, "delivery.held", "delivery", delivery.id, persona_id=persona.id, reason=reasons)
    return True


async def _renew_lease(runtime: Runtime, delivery_id: uuid.UUID, worker_id: str) -> None:
    lease = runtime.settings.publish_lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        async with runtime.session() as session:
            await renew_lease(session, delivery_id, worker_id, utcnow() + timedelta(seconds=lease))


async def _send(runtime: Runtime, claim: Claim) -> SendOutcome:
    """Call the plugin; never raises: every result or error becomes an outcome to record."""
    try:
        plugin = runtime.host.plugin(claim.channel)
        if claim.answering is not None and not plugin.capabilities.supports(Feature.REPLY):
            raise NotSupported(f"{plugin.name} does not let Porte-voix reply")
        if claim.mode == AccountMode.DRY_RUN:
            # The contract builds the exact request of a post only: a reply's dry run records its draft.
            prepared = await plugin.prepare_publish(claim.account, claim.draft) if claim.answering is None else ()
            return Sent(PublishResult(remote_id=f"dry-run:{claim.draft.client_ref}", requests=prepared), dry_run=True)
        if claim.attempt > 1 and plugin.capabilities.supports(Feature.RECONCILE):
            # An earlier attempt may have reached the network before it failed: look first.
            found = await plugin.reconcile(
                claim.account, claim.draft, not_before=claim.window_start, not_after=utcnow() + timedelta(minutes=1)
            )
            if found is not None:
                return Sent(found)
        return Sent(await _call(plugin, claim))
    except (ChannelError, NotConnected) as exc:
        return Refused(exc)
    except Exception as exc:  # a plugin bug: nobody knows whether the post went out
        log.exception("plugin failed", delivery=str(claim.delivery_id))
        return Crashed(exc)


async def _call(plugin: ChannelPlugin, claim: Claim) -> PublishResult:
    if claim.answering is not None:
        return await plugin.reply(claim.account, claim.answering, claim.draft)
    if claim.kind == DeliveryKind.REPOST:
        return await plugin.repost(claim.account, _remote_id(claim.repost_of or ""))
    return await plugin.publish(claim.account, claim.draft)


def _remote_id(target: str) -> str:
    """The network id of a reposted post, from its URL or id (``…/status/123`` → ``123``)."""
    return target.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8… seconds, at most five minutes."""
    return min(300.0, 2.0**attempt) * random.uniform(0.5, 1.5)


async def _record(runtime: Runtime, claim: Claim, outcome: SendOutcome) -> None:
    async with runtime.session() as session:
        match outcome:
            case Sent(result=result):
                await _record_sent(session, claim, result, outcome.label)
            case Crashed(error=error):
                await move(
                    session,
                    claim.delivery_id,
                    to=DeliveryState.UNCERTAIN,
                    from_=PUBLISHING,
                    event="uncertain",
                    detail={"error": repr(error)},
                    lease_until=None,
                    last_error=str(error),
                    error_kind=ErrorKind.UNKNOWN,
                )
            case Refused(error=error):
                await _record_error(runtime, session, claim, error, utcnow())


async def _record_sent(session: AsyncSession, claim: Claim, result: PublishResult, label: str) -> None:
    now = utcnow()
    detail: dict[str, Any] = {"remote_id": result.remote_id, "url": result.url, "requests": result.requests}
    if label == "dry_run" and claim.answering is not None:
        detail["draft"] = claim.draft
    # From ``uncertain`` too: the sweeper may have given up on a worker that was only slow.
    await move(
        session,
        claim.delivery_id,
        to=DeliveryState.PUBLISHED,
        from_=(DeliveryState.PUBLISHING, DeliveryState.UNCERTAIN),
        event=label,
        detail=detail,
        remote_id=result.remote_id,
        remote_url=result.url,
        published_at=result.published_at or now,
        lease_until=None,
        last_error=None,
        error_kind=None,
    )
    session.add(UsageSample(account_id=claim.account_id, at=now, metric=SENT_METRIC[claim.kind], value=1))


async def _record_error(
    runtime: Runtime, session: AsyncSession, claim: Claim, error: ChannelError | NotConnected, now: datetime
) -> None:
    message = getattr(error, "network_message", str(error))

    async def leave(to: DeliveryState, event: str, detail: dict[str, Any], kind: ErrorKind, **values: Any) -> None:
        await move(
            session,
            claim.delivery_id,
            to=to,
            from_=PUBLISHING,
            event=event,
            detail=detail,
            lease_until=None,
            last_error=message,
            error_kind=kind,
            **values,
        )

    if isinstance(error, RateLimited):
        until = now + timedelta(seconds=max(error.retry_after, 1.0))
        # The whole account slows down, not only this delivery; the attempt is not counted.
        await session.execute(update(Account).where(Account.id == claim.account_id).values(throttled_until=until))
        detail = {"retry_after": error.retry_after, "until": until}
        await leave(
            DeliveryState.SCHEDULED,
            "rate_limited",
            detail,
            ErrorKind.RATE_LIMITED,
            next_attempt_at=until,
            attempts=claim.attempt - 1,
        )
    elif isinstance(error, (CredentialsExpired, NotConnected)):
        await session.execute(
            update(Account).where(Account.id == claim.account_id).values(status=AccountStatus.NEEDS_REAUTH)
        )
        await leave(
            DeliveryState.SCHEDULED,
            "needs_reauth",
            {"error": message},
            ErrorKind.NEEDS_REAUTH,
            next_attempt_at=None,
            attempts=claim.attempt - 1,
        )
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
        await leave(DeliveryState.FAILED, "failed", {"error": message, "status": error.status}, ErrorKind.REJECTED)
    elif claim.attempt >= runtime.settings.publish_max_attempts:  # Transient, or any other ChannelError
        await leave(DeliveryState.FAILED, "failed", {"error": message, "attempts": claim.attempt}, ErrorKind.TRANSIENT)
    else:
        wait = getattr(error, "retry_after", None) or backoff_seconds(claim.attempt)
        detail = {"error": message, "retry_in": round(wait, 2)}
        await leave(
            DeliveryState.SCHEDULED,
            "transient_error",
            detail,
            ErrorKind.TRANSIENT,
            next_attempt_at=now + timedelta(seconds=wait),
        )


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
                    detail={
                        "endpoint": report.endpoint,
                        "limit": report.limit,
                        "reset_at": msgspec.to_builtins(report.reset_at),
                    },
                )
            )


# ------------------------------------------------------------------ sweeper and reconcile


async def sweep(runtime: Runtime, queue: Enqueuer, *, now: datetime | None = None) -> dict[str, int]:
    """Expired leases become ``uncertain`` and get reconciled (lost ``queued`` jobs: :func:`requeue_lost`)."""
    now = now or utcnow()
    async with runtime.session() as session:
        expired = await move_many(
            session,
            to=DeliveryState.UNCERTAIN,
            from_=PUBLISHING,
            where=(Delivery.lease_until < now,),
            event="uncertain",
            detail={"reason": "lease expired: the worker stopped during the send"},
            lease_until=None,
            error_kind=ErrorKind.LEASE_EXPIRED,
            updated_at=now,
        )
        to_reconcile = (
            await session.execute(
                select(Delivery.id, Delivery.attempts).where(
                    Delivery.state == DeliveryState.UNCERTAIN,
                    or_(Delivery.error_kind.is_(None), Delivery.error_kind != ErrorKind.UNRESOLVED),
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
            .options(
                selectinload(Delivery.account),
                selectinload(Delivery.post).selectinload(Post.media),
                selectinload(Delivery.in_reply_to),
            )
        )
        if delivery is None or delivery.state != DeliveryState.UNCERTAIN:
            return "skipped"
        account, post = delivery.account, delivery.post
        draft = _draft(runtime, delivery, post, account, list(post.media), delivery.in_reply_to)
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
            record_event(session, delivery_id, "reconcile_deferred", error=str(exc))
        return "deferred"  # the sweeper asks again later
    except (ChannelError, NotConnected) as exc:
        async with runtime.session() as session:
            await move(
                session,
                delivery_id,
                to=DeliveryState.UNCERTAIN,
                from_=UNCERTAIN,
                event="reconcile_unresolved",
                detail={"error": str(exc)},
                error_kind=ErrorKind.UNRESOLVED,
                last_error=str(exc),
            )
        return "unresolved"  # a human decides: "it was published" / "publish again"
    async with runtime.session() as session:
        if found is not None:
            await move(
                session,
                delivery_id,
                to=DeliveryState.PUBLISHED,
                from_=UNCERTAIN,
                event="reconciled",
                detail={"found": True, "remote_id": found.remote_id},
                remote_id=found.remote_id,
                remote_url=found.url,
                published_at=found.published_at or utcnow(),
                last_error=None,
                error_kind=None,
            )
            return "found"
        await move(
            session,
            delivery_id,
            to=DeliveryState.SCHEDULED,
            from_=UNCERTAIN,
            event="reconciled",
            detail={"found": False},
            next_attempt_at=utcnow(),
            error_kind=None,
        )
        return "not_found"
