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
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar, Protocol

import httpx
import msgspec
import structlog
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from core.accounts.service import mark_needs_reauth
from core.audit import Actor, record
from core.channels import (
    AccountRef,
    Ambiguous,
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
    UsageReport,
)
from core.channels.host import NotConnected
from core.db.enums import AccountMode, AccountStatus, DeliveryKind, DeliveryState, ErrorKind
from core.db.models import Account, Delivery, DeliveryEvent, InboxItem, Media, Persona, Post, UsageSample
from core.db.types import utcnow
from core.inbox.remote import remote_item
from core.inbox.responses import reply_published
from core.policy import check_post_on_account, plugin_draft
from core.publishing.group_commit import GroupCommit
from core.publishing.states import move, move_each, move_many, renew_lease
from core.runtime import Runtime
from core.veille.posture import lets_through, through_crisis_pause
from personas.policy import Outcome, Stage, decide

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("publisher")
#: the dispatcher hands over what is due within this horizon, deferred to the exact second
DISPATCH_HORIZON = timedelta(seconds=2)
#: a queued row whose job is "in progress" this long was taken by a worker that died before its claim
REQUEUE_AFTER = timedelta(seconds=15)
#: queued rows :func:`requeue_lost` looks at per dispatch, the longest queued first
REQUEUE_SCAN = 200
#: how far before the first attempt a reconcile looks: our clock against the network's
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
                # a crisis posture's pause holds the promotional posts only (core.veille.posture)
                or_(Persona.paused.is_(False), through_crisis_pause()),
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
    jobs = []
    for delivery_id, attempts, scheduled_at, next_attempt_at in claimed:
        due = next_attempt_at or scheduled_at
        jobs.append((delivery_id, attempts, due if due and due > now else None))
    await _enqueue_publishes(queue, jobs)
    return len(claimed)


#: arq's enqueue for many jobs in one round trip: each job is written only if neither it nor its
#: result is there yet (what ``ArqRedis.enqueue_job`` checks under WATCH), then put in the queue
_ENQUEUE_MANY = """
local queue = KEYS[1]
local added = 0
for i = 2, #KEYS, 2 do
  local n = (i - 2) / 2 * 4
  if redis.call('exists', KEYS[i], KEYS[i + 1]) == 0 then
    redis.call('psetex', KEYS[i], ARGV[n + 3], ARGV[n + 4])
    redis.call('zadd', queue, ARGV[n + 2], ARGV[n + 1])
    added = added + 1
  end
end
return added
"""
#: jobs per script call: one burst of a thousand is a few calls, none of them holding Redis long
_ENQUEUE_CHUNK = 250


async def _enqueue_publishes(queue: Enqueuer, jobs: list[tuple[uuid.UUID, int, datetime | None]]) -> None:
    """Enqueue the claimed deliveries' jobs: with arq's Redis, one script call per chunk."""
    if not isinstance(queue, ArqRedis):  # another courier (tests): one job at a time
        for delivery_id, attempts, defer_until in jobs:
            await _enqueue_publish(queue, delivery_id, attempts, defer_until)
        return
    # A lost enqueue is not lost work: the rows stay ``queued`` and the sweeper enqueues them again.
    with contextlib.suppress(Exception):
        for start in range(0, len(jobs), _ENQUEUE_CHUNK):
            keys: list[str] = [queue.default_queue_name]
            args: list[Any] = []
            for delivery_id, attempts, defer_until in jobs[start : start + _ENQUEUE_CHUNK]:
                job_id = publish_job_id(delivery_id, attempts)
                enqueued_ms = timestamp_ms()
                score = to_unix_ms(defer_until) if defer_until is not None else enqueued_ms
                payload = serialize_job(
                    "publish_delivery", (str(delivery_id),), {}, None, enqueued_ms, serializer=queue.job_serializer
                )
                keys += [job_key_prefix + job_id, result_key_prefix + job_id]
                args += [job_id, score, score - enqueued_ms + queue.expires_extra_ms, payload]
            await queue.eval(_ENQUEUE_MANY, len(keys), *keys, *args)


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
    A job merely waiting in arq's queue behind others is left alone. Only the
    :data:`REQUEUE_SCAN` longest queued rows are looked at per dispatch: during a burst most of
    the rows are queued and waiting, and looking at all of them every second cost the workers
    a tenth of their time; the oldest leave first, so a lost queue is rebuilt a scan at a time.
    """
    async with runtime.session() as session:
        rows = (
            await session.execute(
                select(
                    Delivery.id, Delivery.attempts, Delivery.scheduled_at, Delivery.next_attempt_at, Delivery.queued_at
                )
                .where(Delivery.state == DeliveryState.QUEUED, Delivery.queued_at < now - timedelta(seconds=1))
                .order_by(Delivery.queued_at)
                .limit(REQUEUE_SCAN)
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
    #: the account's id on its network: the usage reports of the send name it
    external_id: str = ""


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
    #: this attempt's send may have reached the network before it failed (see :func:`may_have_reached`)
    maybe_sent: bool = False
    #: this attempt looked on the network first and did not find the post: the earlier attempts did not make it
    looked: bool = False
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


async def publish_delivery(
    runtime: Runtime,
    delivery_id: uuid.UUID,
    *,
    worker_id: str,
    before_send: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> str:
    """Publish one queued delivery; returns what happened (for logs and tests).

    The claim and the record are group commits (:mod:`core.publishing.group_commit`): the jobs
    of this process that claim, or record, at the same moment share one transaction.
    ``before_send`` gets the claimed delivery's account id before the send (the worker's
    budget warning); it must not raise."""
    steps = _steps(runtime, worker_id)
    claim = await steps.claim(delivery_id)
    if isinstance(claim, str):
        return claim
    if before_send is not None:
        await before_send(claim.account_id)
    heartbeat = asyncio.create_task(_renew_lease(runtime, claim.delivery_id, worker_id))
    try:
        outcome = await _send(runtime, claim)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    await steps.record((claim, outcome))
    return outcome.label


@dataclass
class _Steps:
    """A worker's two grouped steps (one pair per runtime and worker id)."""

    claim: GroupCommit[uuid.UUID, Claim | str]
    record: GroupCommit[tuple[Claim, SendOutcome], None]


_step_pairs: weakref.WeakKeyDictionary[Runtime, dict[str, _Steps]] = weakref.WeakKeyDictionary()
#: the most deliveries one claim or record transaction carries (arq starts at most MAX_JOBS at once)
GROUP_LARGEST = 100


def _steps(runtime: Runtime, worker_id: str) -> _Steps:
    pairs = _step_pairs.setdefault(runtime, {})
    steps = pairs.get(worker_id)
    if steps is None:

        async def claim_many(delivery_ids: list[uuid.UUID]) -> list[Claim | str]:
            return await _claim_many(runtime, delivery_ids, worker_id)

        async def record_many(sends: list[tuple[Claim, SendOutcome]]) -> list[None]:
            await _record_many(runtime, sends)
            return [None] * len(sends)

        steps = pairs[worker_id] = _Steps(
            GroupCommit(claim_many, largest=GROUP_LARGEST), GroupCommit(record_many, largest=GROUP_LARGEST)
        )
    return steps


async def _claim_many(runtime: Runtime, delivery_ids: list[uuid.UUID], worker_id: str) -> list[Claim | str]:
    """Claim a group of queued deliveries in one transaction: one query reads them and all they
    need, the held ones go back with their reason, the others move to ``publishing`` in one
    compare-and-set. Returns, per id, the claim or why there is none."""
    now = utcnow()
    reasons: dict[uuid.UUID, str] = {}
    async with runtime.session() as session:
        # One Core query for the deliveries and everything they need (the hot path of the worker):
        # plain rows, no ORM objects to build, track and flush.
        rows = (await session.execute(_claim_query(), {"delivery_ids": list(set(delivery_ids))})).all()
        rows = [row for row in rows if row._mapping["deliveries__state"] == DeliveryState.QUEUED]
        media_of = await _media(session, [row._mapping["posts__id"] for row in rows if row._mapping["has__media"]])
        ready: list[tuple[Any, ...]] = []
        for row in rows:
            loaded = _split(row)
            ref = await _ready(runtime, session, *loaded, media_of, now)
            if isinstance(ref, str):
                reasons[loaded[0].id] = ref
            else:
                ready.append((*loaded, row._mapping["parent__remote_id"], ref))
        attempts = dict(
            await move_many(
                session,
                to=DeliveryState.PUBLISHING,
                from_=QUEUED,
                where=(Delivery.id.in_([loaded[0].id for loaded in ready]),),
                event="attempt",
                detail=lambda moved: {"attempt": moved[1], "worker": worker_id},
                returning=(Delivery.attempts,),
                attempts=Delivery.attempts + 1,
                lease_until=now + timedelta(seconds=runtime.settings.publish_lease_seconds),
                leased_by=worker_id,
            )
            if ready
            else ()
        )
        claims: dict[uuid.UUID, Claim] = {}
        for delivery, account, post, _persona, item, parent_remote_id, ref in ready:
            if delivery.id in attempts:
                claims[delivery.id] = await _claim_of(
                    runtime, session, (delivery, account, post, item), parent_remote_id, ref, attempts[delivery.id],
                    media_of.get(post.id, []), now,
                )  # fmt: skip
    given: list[Claim | str] = []
    for delivery_id in delivery_ids:
        # The same delivery twice in a group (a job and its re-enqueued twin): one claim only.
        given.append(claims.pop(delivery_id, None) or reasons.get(delivery_id, "skipped"))
    return given


async def _ready(
    runtime: Runtime,
    session: AsyncSession,
    delivery: Any,
    account: Any,
    post: Any,
    persona: Any,
    item: Any,
    media_of: dict[uuid.UUID, list[Any]],
    now: datetime,
) -> AccountRef | str:
    """The account to send with, or why a queued delivery cannot be sent now (it is moved back,
    with its reason)."""
    paused = persona.paused and not await lets_through(session, persona.id, delivery, post)
    held = _held_reason(paused, account, now)
    if held:
        reason, values = held
        await move(
            session, delivery.id, to=DeliveryState.SCHEDULED, from_=QUEUED, event="held", detail={"reason": reason},
            **values,
        )  # fmt: skip
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
        await mark_needs_reauth(session, account.id, account.persona_id, actor=SYSTEM, reason=str(exc))
        return "account_not_connected"
    persona.definition = await _definition(runtime, session, persona)
    media = media_of.get(post.id, [])
    if await _held_by_policy(runtime, session, delivery, persona, account, post, media, now):
        return "held_by_policy"
    return ref


async def _claim_of(
    runtime: Runtime,
    session: AsyncSession,
    loaded: tuple[Any, Any, Any, Any],
    parent_remote_id: str | None,
    ref: AccountRef,
    attempt: int,
    media: list[Any],
    now: datetime,
) -> Claim:
    delivery, account, post, item = loaded
    # A reconcile looks back to the first attempt's start: every post an attempt made is younger.
    started = (await first_attempt_at(session, delivery.id) if attempt > 1 else None) or now
    return Claim(
        delivery_id=delivery.id,
        attempt=attempt,
        channel=account.channel,
        mode=account.mode,
        kind=delivery.kind,
        draft=_draft(runtime, delivery, post, account, media, item),
        repost_of=post.repost_of,
        window_start=started - RECONCILE_SLACK,
        account_id=account.id,
        persona_id=account.persona_id,
        account=ref,
        answering=remote_item(item, parent_remote_id) if item is not None else None,
        external_id=account.external_id,
    )


class _Loaded(SimpleNamespace):
    """A row read with Core, its columns as attributes under the model's names: what the
    policy runner, the draft and the plugin host read of a model, without an ORM object."""


#: the claim's models, each with its mapped attributes; the persona's definition is left out
#: (the largest column: it comes from :func:`_definition`'s cache)
_CLAIM_MODELS: tuple[tuple[type[Any], tuple[str, ...]], ...] = ()
_claim_statement: Any = None


def _attributes(model: type[Any], *leave_out: str) -> tuple[str, ...]:
    return tuple(p.key for p in sa_inspect(model).column_attrs if p.key not in leave_out)


def _claim_query() -> Any:
    """Built once: the statement, its compiled form and its cache key are reused by every claim."""
    global _claim_statement, _CLAIM_MODELS
    if _claim_statement is not None:
        return _claim_statement
    parent = aliased(InboxItem)
    models = (
        (Delivery, _attributes(Delivery)),
        (Account, _attributes(Account)),
        (Post, _attributes(Post)),
        (Persona, _attributes(Persona, "definition")),
        (InboxItem, _attributes(InboxItem)),
    )
    columns = [getattr(model, key).label(f"{model.__tablename__}__{key}") for model, keys in models for key in keys]
    has_media = select(Media.id).where(Media.post_id == Post.id).exists()
    _claim_statement = (
        select(*columns, parent.remote_id.label("parent__remote_id"), has_media.label("has__media"))
        .join(Account, Account.id == Delivery.account_id)
        .join(Post, Post.id == Delivery.post_id)
        .join(Persona, Persona.id == Account.persona_id)
        .outerjoin(InboxItem, InboxItem.id == Delivery.in_reply_to_id)
        .outerjoin(parent, parent.id == InboxItem.parent_id)
        .where(Delivery.id.in_(bindparam("delivery_ids", expanding=True)))
    )
    _CLAIM_MODELS = tuple((model, keys) for model, keys in models)
    return _claim_statement


def _split(row: Row[Any]) -> tuple[Any, Any, Any, Any, Any]:
    """The claim's row as (delivery, account, post, persona, item); item None without one."""
    mapping = row._mapping
    loaded = [
        _Loaded(**{key: mapping[f"{model.__tablename__}__{key}"] for key in keys}) for model, keys in _CLAIM_MODELS
    ]
    if loaded[4].id is None:
        loaded[4] = None
    return tuple(loaded)  # type: ignore[return-value]


_MEDIA_KEYS: tuple[str, ...] = ()


async def _media(session: AsyncSession, post_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """The media of the given posts, in their order: one query for a group of claims."""
    global _MEDIA_KEYS
    if not post_ids:
        return {}
    _MEDIA_KEYS = _MEDIA_KEYS or _attributes(Media)
    rows = await session.execute(
        select(*(getattr(Media, key) for key in _MEDIA_KEYS))
        .where(Media.post_id.in_(set(post_ids)))
        .order_by(Media.post_id, Media.position)
    )
    media: dict[uuid.UUID, list[Any]] = {}
    for row in rows.all():
        loaded = _Loaded(**dict(zip(_MEDIA_KEYS, row, strict=True)))
        media.setdefault(loaded.post_id, []).append(loaded)
    return media


#: runtime → persona id → (updated_at, definition): the persona file changes rarely, and every
#: delivery of a burst reads it (``updated_at`` moves with every change of the row)
_definitions: weakref.WeakKeyDictionary[Runtime, dict[uuid.UUID, tuple[datetime, Any]]] = weakref.WeakKeyDictionary()


async def _definition(runtime: Runtime, session: AsyncSession, persona: Any) -> Any:
    known = _definitions.setdefault(runtime, {})
    kept = known.get(persona.id)
    if kept is not None and kept[0] == persona.updated_at:
        return kept[1]
    definition = await session.scalar(select(Persona.definition).where(Persona.id == persona.id))
    known[persona.id] = (persona.updated_at, definition)
    return definition


def _draft(
    runtime: Runtime, delivery: Delivery, post: Post, account: Account, media: list[Media], item: InboxItem | None
) -> Draft:
    reply_to = item.remote_id if item is not None else None
    return plugin_draft(
        post, account.channel, media, client_ref=delivery.client_ref, media_url=runtime.media_url, reply_to=reply_to
    )


def _linked(plugin: ChannelPlugin, result: PublishResult) -> PublishResult:
    """A simulated network's post has no page on the real site: no link rather than a real
    facebook.com or x.com address with a fake id (the demo's ``extra.simulated``)."""
    if plugin.settings.extra.get("simulated") == "true" and result.url:
        return msgspec.structs.replace(result, url=None)
    return result


def _held_reason(paused: bool, account: Account, now: datetime) -> tuple[str, dict[str, Any]] | None:
    if paused:
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
        looked = False
        if claim.attempt > 1 and plugin.capabilities.supports(Feature.RECONCILE):
            # An earlier attempt may have reached the network before it failed: look first.
            found = await plugin.reconcile(
                claim.account, claim.draft, not_before=claim.window_start, not_after=utcnow() + timedelta(minutes=1)
            )
            if found is not None:
                return Sent(_linked(plugin, found))
            looked = True
        try:
            return Sent(_linked(plugin, await _call(plugin, claim)))
        except (ChannelError, NotConnected) as exc:
            return Refused(exc, maybe_sent=may_have_reached(exc), looked=looked)
    except (ChannelError, NotConnected) as exc:  # before anything was sent (the look, the account)
        return Refused(exc)
    except Exception as exc:  # a plugin bug: nobody knows whether the post went out
        log.exception("plugin failed", delivery=str(claim.delivery_id))
        return Crashed(exc)


def may_have_reached(error: Exception) -> bool:
    """Whether a failed send may still have made the post on the network.

    A timeout, a dropped connection or a server error (5xx) can come after the network acted:
    the answer is lost, not necessarily the post. A refusal (429, 401, any other 4xx) or a
    connection that never opened cannot have made it.
    """
    if not isinstance(error, Transient):
        return False
    return not isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


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


async def _record_many(runtime: Runtime, sends: list[tuple[Claim, SendOutcome]]) -> None:
    """A group's outcomes, their history and the sends' usage reports: one transaction."""
    async with runtime.session() as session:
        sent = [(claim, outcome) for claim, outcome in sends if isinstance(outcome, Sent)]
        samples = await _record_sent(session, sent)
        for claim, outcome in sends:
            if not isinstance(outcome, Sent):
                await _record_failure(runtime, session, claim, outcome)
        # A quota spent throttles the account before its next request (store_usage).
        reports = [r for r in runtime.host.usage.drain() if r.account_external_id]
        known = {(claim.channel, claim.external_id): claim.account_id for claim, _ in sends}
        if reports and _plain_calls(reports, known):
            # The usual case: the sends' own calls, counted beside their "sent" samples.
            samples += _usage_rows(reports, known, utcnow())
        elif reports:
            try:  # usage is bookkeeping: failing to store it never keeps the outcome from being recorded
                async with session.begin_nested():
                    await store_usage(session, reports, known=known)
            except Exception:
                log.exception("usage reports not stored")
        if samples:  # the outcomes' and the calls' samples: one Core executemany
            await session.execute(insert(UsageSample.__table__), samples)


async def _record_failure(runtime: Runtime, session: AsyncSession, claim: Claim, outcome: Refused | Crashed) -> None:
    if isinstance(outcome, Crashed):
        await move(
            session,
            claim.delivery_id,
            to=DeliveryState.UNCERTAIN,
            from_=PUBLISHING,
            event="uncertain",
            detail={"error": repr(outcome.error)},
            lease_until=None,
            last_error=str(outcome.error),
            error_kind=ErrorKind.UNKNOWN,
        )
    else:
        await _record_error(runtime, session, claim, outcome, utcnow())


async def _record_sent(session: AsyncSession, sent: list[tuple[Claim, Sent]]) -> list[dict[str, Any]]:
    """The sent ones move to ``published`` (one statement per label); returns their usage samples."""
    now = utcnow()
    for label in ("published", "dry_run"):
        group = [(claim, outcome.result) for claim, outcome in sent if outcome.label == label]
        if not group:
            continue
        changes: dict[uuid.UUID, dict[str, Any]] = {}
        details: dict[uuid.UUID, dict[str, Any]] = {}
        for claim, result in group:
            changes[claim.delivery_id] = {
                "remote_id": result.remote_id,
                "remote_url": result.url,
                "published_at": result.published_at or now,
            }
            detail = details[claim.delivery_id] = {
                "remote_id": result.remote_id,
                "url": result.url,
                "requests": result.requests,
            }
            if label == "dry_run" and claim.answering is not None:
                detail["draft"] = claim.draft
        # From ``uncertain`` too: the sweeper may have given up on a worker that was only slow.
        moved = await move_each(
            session,
            changes,
            to=DeliveryState.PUBLISHED,
            from_=(DeliveryState.PUBLISHING, DeliveryState.UNCERTAIN),
            event=label,
            detail=details,
            lease_until=None,
            last_error=None,
            error_kind=None,
        )
        for claim, result in group:
            if claim.delivery_id in moved and claim.kind == DeliveryKind.REPLY and label != "dry_run":
                await reply_published(session, claim.delivery_id, result.published_at or now)
    return [{**_sample(claim.account_id, now, SENT_METRIC[claim.kind], 1), "detail": {}} for claim, _ in sent]


async def _record_error(runtime: Runtime, session: AsyncSession, claim: Claim, outcome: Refused, now: datetime) -> None:
    error = outcome.error
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

    if isinstance(error, Ambiguous):
        # Several posts match: "found" may take another post's id, "not found" may post twice.
        detail = {"error": message, "candidates": list(error.candidates)}
        await leave(DeliveryState.UNCERTAIN, "reconcile_unresolved", detail, ErrorKind.UNRESOLVED)
    elif isinstance(error, RateLimited):
        # The whole account slows down, not only this delivery; the attempt is not counted.
        until = await throttle(session, claim.account_id, now + timedelta(seconds=max(error.retry_after, 1.0)))
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
        # The persona's team sees this on its dashboard and in the audit log.
        await mark_needs_reauth(session, claim.account_id, claim.persona_id, actor=SYSTEM, reason=message)
        await leave(
            DeliveryState.SCHEDULED,
            "needs_reauth",
            {"error": message},
            ErrorKind.NEEDS_REAUTH,
            next_attempt_at=None,
            attempts=claim.attempt - 1,
        )
    elif isinstance(error, (Rejected, NotSupported)):
        await leave(DeliveryState.FAILED, "failed", {"error": message, "status": error.status}, ErrorKind.REJECTED)
    elif claim.attempt >= runtime.settings.publish_max_attempts:  # Transient, or any other ChannelError
        detail = {"error": message, "attempts": claim.attempt}
        if await _maybe_on_the_network(session, claim.delivery_id, outcome):
            # Never "failed" while an attempt may have made the post: reconciled first (the sweeper).
            detail["reason"] = "attempts spent, and an attempt may have reached the network"
            await leave(DeliveryState.UNCERTAIN, "uncertain", detail, ErrorKind.TRANSIENT)
        else:
            await leave(DeliveryState.FAILED, "failed", detail, ErrorKind.TRANSIENT)
    else:
        wait = getattr(error, "retry_after", None) or backoff_seconds(claim.attempt)
        detail = {"error": message, "retry_in": round(wait, 2), "maybe_sent": outcome.maybe_sent}
        if outcome.looked:
            detail["looked"] = True
        await leave(
            DeliveryState.SCHEDULED,
            "transient_error",
            detail,
            ErrorKind.TRANSIENT,
            next_attempt_at=now + timedelta(seconds=wait),
        )


#: events after which nothing sent before is on the network: a reconcile that did not find the
#: post, a person's "publish again", a retry of a failed delivery (failed means "not there")
_ABSENCE_PROVEN = {"reconciled", "resolved", "retried"}


async def _maybe_on_the_network(session: AsyncSession, delivery_id: uuid.UUID, outcome: Refused) -> bool:
    """Whether this attempt, or an earlier one not disproved since, may have made the post."""
    if outcome.maybe_sent or outcome.looked:
        return outcome.maybe_sent
    history = await session.execute(
        select(DeliveryEvent.kind, DeliveryEvent.detail)
        .where(DeliveryEvent.delivery_id == delivery_id)
        .order_by(DeliveryEvent.at.desc())
    )
    for kind, detail in history.all():
        if kind in _ABSENCE_PROVEN:
            return False
        if kind == "transient_error":
            # An attempt recorded before attempts said whether they reached the network: maybe.
            if (detail or {}).get("maybe_sent", True):
                return True
            if (detail or {}).get("looked"):
                return False
    return False


async def throttle(session: AsyncSession, account_id: uuid.UUID, until: datetime) -> datetime:
    """Hold the account until ``until`` at least; a throttle only ever lengthens. Returns the
    account's throttle now (a longer one already there is kept: a later 429 with an earlier reset
    never shortens it)."""
    longer = await session.execute(
        update(Account)
        .where(Account.id == account_id, or_(Account.throttled_until.is_(None), Account.throttled_until < until))
        .values(throttled_until=until)
        .returning(Account.throttled_until)
        .execution_options(synchronize_session=False)
    )
    if longer.first() is not None:
        return until
    kept = await session.scalar(select(Account.throttled_until).where(Account.id == account_id))
    return kept or until


async def flush_usage(runtime: Runtime) -> None:
    """Store what the plugins reported of the networks' quotas, and stop before the network does.

    A report with ``remaining == 0`` (or Meta's 100 % used) and a reset time throttles the
    account until that reset, before its next request rather than after a 429. A report with a
    count becomes a ``quota_remaining`` sample, a percentage a ``quota_used_percent`` one, and a
    bare one (LinkedIn, TikTok: no quota headers) counts a call in ``api_calls``.
    """
    reports = [r for r in runtime.host.usage.drain() if r.account_external_id]
    if not reports:
        return
    async with runtime.session() as session:
        await store_usage(session, reports)


async def store_usage(
    session: AsyncSession, reports: list[UsageReport], *, known: dict[tuple[str, str], uuid.UUID] | None = None
) -> None:
    """:func:`flush_usage`'s work in the caller's transaction; ``known`` maps (channel, external
    id) to the account already at hand (the delivery just sent), saving its look-up."""
    now = utcnow()
    accounts = dict(known or {})
    unknown = {r.account_external_id for r in reports if (r.channel, r.account_external_id) not in accounts}
    if unknown:
        # Only the accounts the reports name: this runs after every publish.
        rows = await session.execute(
            select(Account.id, Account.channel, Account.external_id).where(Account.external_id.in_(unknown))
        )
        accounts.update({(channel, external_id): account_id for account_id, channel, external_id in rows.all()})
    for report in reports:
        account_id = accounts.get((report.channel, report.account_external_id or ""))
        if account_id is not None and _exhausted(report, now):
            assert report.reset_at is not None
            until = await throttle(session, account_id, report.reset_at)
            log.info("quota exhausted: account throttled", account=str(account_id), endpoint=report.endpoint,
                     until=until.isoformat())  # fmt: skip
    samples = _usage_rows(reports, accounts, now)
    if samples:  # Core rows, one executemany: no ORM objects on the hot path
        await session.execute(insert(UsageSample.__table__), samples)


def _plain_calls(reports: list[UsageReport], known: dict[tuple[str, str], uuid.UUID]) -> bool:
    """Every report is a bare count of one call by an account at hand: nothing to look up or throttle."""
    return all(
        (r.channel, r.account_external_id) in known and r.remaining is None and r.used_percent is None for r in reports
    )


def _usage_rows(
    reports: list[UsageReport], accounts: dict[tuple[str, str], uuid.UUID], now: datetime
) -> list[dict[str, Any]]:
    """The samples the reports make: a snapshot per quota report, the calls counted per endpoint."""
    samples: list[dict[str, Any]] = []
    calls: dict[tuple[uuid.UUID, str], int] = {}
    for report in reports:
        account_id = accounts.get((report.channel, report.account_external_id or ""))
        if account_id is None:
            continue
        sample = _quota_sample(account_id, report, now)
        if sample is not None:
            samples.append(sample)
        else:
            calls[(account_id, report.endpoint)] = calls.get((account_id, report.endpoint), 0) + 1
    for (account_id, endpoint), count in calls.items():
        samples.append({**_sample(account_id, now, "api_calls", count), "detail": {"endpoint": endpoint}})
    return samples


def _sample(account_id: uuid.UUID, at: datetime, metric: str, value: float) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "account_id": account_id, "at": at, "metric": metric, "value": value}


def _exhausted(report: UsageReport, now: datetime) -> bool:
    """The network will refuse the account's next request until ``reset_at``."""
    spent = report.remaining == 0 or (report.used_percent is not None and report.used_percent >= 100)
    return spent and report.reset_at is not None and report.reset_at > now


def _quota_sample(account_id: uuid.UUID, report: UsageReport, now: datetime) -> dict[str, Any] | None:
    detail = {"endpoint": report.endpoint, "limit": report.limit, "reset_at": msgspec.to_builtins(report.reset_at)}
    if report.remaining is not None:
        return {**_sample(account_id, now, "quota_remaining", report.remaining), "detail": detail}
    if report.used_percent is not None:
        return {**_sample(account_id, now, "quota_used_percent", report.used_percent), "detail": detail}
    return None


async def _flush_usage_quietly(runtime: Runtime) -> None:
    # Usage is bookkeeping: failing to store it must never keep a send from being recorded.
    try:
        await flush_usage(runtime)
    except Exception:
        log.exception("usage reports not stored")


# ------------------------------------------------------------------ sweeper and reconcile


async def sweep(runtime: Runtime, queue: Enqueuer, *, now: datetime | None = None) -> dict[str, int]:
    """Expired leases become ``uncertain``; uncertain deliveries due for a look get reconciled.

    Not those a person must settle (``unresolved``), nor those whose last look was deferred
    (``next_attempt_at`` in the future), nor those of a throttled account: a reconcile is a
    request to the network too. Lost ``queued`` jobs: :func:`requeue_lost`.
    """
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
                select(Delivery.id, Delivery.attempts)
                .join(Account, Account.id == Delivery.account_id)
                .where(
                    Delivery.state == DeliveryState.UNCERTAIN,
                    or_(Delivery.error_kind.is_(None), Delivery.error_kind != ErrorKind.UNRESOLVED),
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                    or_(Account.throttled_until.is_(None), Account.throttled_until <= now),
                )
            )
        ).all()
    for delivery_id, attempts in to_reconcile:
        with contextlib.suppress(Exception):
            await queue.enqueue_job(
                "reconcile_delivery", str(delivery_id), _job_id=reconcile_job_id(delivery_id, attempts)
            )
    return {"uncertain": len(expired), "reconcile": len(to_reconcile)}


async def first_attempt_at(session: AsyncSession, delivery_id: uuid.UUID) -> datetime | None:
    """When the delivery's first attempt started: every post an attempt made is younger."""
    return await session.scalar(
        select(func.min(DeliveryEvent.at)).where(
            DeliveryEvent.delivery_id == delivery_id, DeliveryEvent.kind == "attempt"
        )
    )


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
        started = await first_attempt_at(session, delivery_id) or delivery.scheduled_at or delivery.created_at
        spent = delivery.error_kind == ErrorKind.TRANSIENT  # its attempts ran out (see _record_error)
        mode, account_id = account.mode, account.id
    try:
        ref = runtime.host.account_ref(account)
        if mode == AccountMode.DRY_RUN:
            found: PublishResult | None = None
        else:
            plugin = runtime.host.plugin(account.channel)
            found = await plugin.reconcile(
                ref, draft, not_before=started - RECONCILE_SLACK, not_after=utcnow() + timedelta(minutes=1)
            )
            found = _linked(plugin, found) if found is not None else None
    except (RateLimited, Transient) as exc:
        return await _defer_reconcile(runtime, delivery_id, account_id, exc)
    except (ChannelError, NotConnected) as exc:  # Ambiguous among them: several posts match
        await _unresolved(runtime, delivery_id, exc)
        return "unresolved"  # a human decides: "it was published" / "publish again"
    finally:
        await _flush_usage_quietly(runtime)
    async with runtime.session() as session:
        if found is not None:
            await _reconciled_found(session, delivery_id, found)
            return "found"
        await _reconciled_absent(session, delivery_id, spent=spent)
        return "failed" if spent else "not_found"


async def _defer_reconcile(
    runtime: Runtime, delivery_id: uuid.UUID, account_id: uuid.UUID, error: RateLimited | Transient
) -> str:
    """The network could not answer now: look again later (the sweeper asks once it is due)."""
    now = utcnow()
    async with runtime.session() as session:
        if isinstance(error, RateLimited):
            until = await throttle(session, account_id, now + timedelta(seconds=max(error.retry_after, 1.0)))
        else:
            deferred = await session.scalar(
                select(func.count())
                .select_from(DeliveryEvent)
                .where(DeliveryEvent.delivery_id == delivery_id, DeliveryEvent.kind == "reconcile_deferred")
            )
            until = now + timedelta(seconds=error.retry_after or backoff_seconds(int(deferred or 0) + 1))
        await move(
            session,
            delivery_id,
            to=DeliveryState.UNCERTAIN,
            from_=UNCERTAIN,
            event="reconcile_deferred",
            detail={"error": str(error), "until": until},
            next_attempt_at=until,
        )
    return "deferred"


async def _unresolved(runtime: Runtime, delivery_id: uuid.UUID, error: ChannelError | NotConnected) -> None:
    detail: dict[str, Any] = {"error": str(error)}
    if isinstance(error, Ambiguous):
        detail["candidates"] = list(error.candidates)
    async with runtime.session() as session:
        await move(
            session,
            delivery_id,
            to=DeliveryState.UNCERTAIN,
            from_=UNCERTAIN,
            event="reconcile_unresolved",
            detail=detail,
            error_kind=ErrorKind.UNRESOLVED,
            last_error=getattr(error, "network_message", str(error)),
        )


async def _reconciled_found(session: AsyncSession, delivery_id: uuid.UUID, found: PublishResult) -> None:
    moved = await move(
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
    if moved:
        await reply_published(session, delivery_id, found.published_at or utcnow())


async def _reconciled_absent(session: AsyncSession, delivery_id: uuid.UUID, *, spent: bool) -> None:
    """Certainly not on the network: sent again — or failed, when its attempts had run out."""
    if spent:
        detail = {"found": False, "reason": "attempts spent, and the post is not on the network"}
        await move(session, delivery_id, to=DeliveryState.FAILED, from_=UNCERTAIN, event="failed", detail=detail)
        return
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
