"""Composing, approving and scheduling posts: everything people do before the queue takes over.

A post fans out to one delivery per target account; each delivery has its own schedule and
state. Every change of state is a move of ``core.publishing.states`` (a compare-and-set checked
against the transition table, with the delivery's history) and is recorded in the audit log.
What happens once a delivery is due lives in ``core.publishing.outbox``.

Authorization by role is checked by the caller (``web.auth.require_role``); this module checks
what no role can bypass: a post only targets its own persona's accounts, nobody approves
their own post, a contributor's post always goes to approval, a ``block`` stops it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import Actor, record
from core.channels import Feature
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryKind, DeliveryState, InboxKind, Role
from core.db.models import Account, Delivery, InboxItem, Media, Persona, Post, PostingSlot, Staff
from core.db.types import utcnow
from core.errors import N_, Refusal
from core.inbox.responses import reply_published
from core.media import service as media_service
from core.people.permissions import Action, allows, require
from core.policy import check_post_on_account
from core.publishing.states import move, record_event
from core.veille import board as watch
from personas.policy import Finding, Outcome, Override, Severity, Stage, decide

#: states a delivery can still be rescheduled or canceled in (before the queue has it)
EDITABLE = (DeliveryState.DRAFT, DeliveryState.PENDING_APPROVAL, DeliveryState.SCHEDULED)
CANCELABLE = (*EDITABLE, DeliveryState.FAILED, DeliveryState.UNCERTAIN)


class PublishingError(Refusal):
    """A publishing action that cannot be done; ``message`` says why, for the author."""


class PolicyBlocked(PublishingError):
    """The policy engine blocks the post; ``findings`` says why, per account."""

    status = 422

    def __init__(self, findings: dict[uuid.UUID, list[Finding]]) -> None:
        blocks = [f for fs in findings.values() for f in fs if f.severity == Severity.BLOCK]
        super().__init__("; ".join(dict.fromkeys(f.message_en for f in blocks)) or "blocked by policy")
        self.findings = findings


class StaffActor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts, and with which role on the persona concerned; ``id`` None is Porte-voix itself
    (an inbox's standard auto-answer, sent under the persona's policy like any reply)."""

    id: uuid.UUID | None
    label: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, label=self.label)


class ComposeRequest(msgspec.Struct, frozen=True, kw_only=True):
    persona_id: uuid.UUID
    account_ids: tuple[uuid.UUID, ...]
    text: str = ""
    link: str | None = None
    format: str = "post"
    media_ids: tuple[uuid.UUID, ...] = ()
    #: channel key -> text used on that channel instead of ``text``
    variants: dict[str, str] = {}
    #: when to publish (aware); None with ``publish_now`` and ``add_to_queue`` false keeps a draft
    scheduled_at: datetime | None = None
    publish_now: bool = False
    #: each account at its own next free posting slot (:func:`next_free_slot`), checked at that time
    add_to_queue: bool = False
    #: a repost (retweet, share, reshare) of this network post URL or id
    repost_of: str | None = None
    save_as_draft: bool = False
    #: a manager lifting overridable blocks, with reasons
    overrides: tuple[Override, ...] = ()
    #: a reply to this inbox item, on the item's own account (see :func:`compose_reply`)
    in_reply_to_id: uuid.UUID | None = None
    #: channel key -> the author's choices the network asks for (TikTok's privacy level…)
    publish_options: dict[str, dict[str, str]] = {}
    #: the watch item the post starts from (``core.veille.board``): only its ``item_id`` is read, the
    #: item must be the persona's own, and the post keeps the origin the item itself gives
    origin: dict[str, Any] | None = None


class ComposeResult(msgspec.Struct, frozen=True, kw_only=True):
    post: Post
    deliveries: tuple[Delivery, ...]
    findings: dict[uuid.UUID, list[Finding]]  # account id -> findings


# ------------------------------------------------------------------ time


def local_to_utc(local: datetime, timezone: str) -> datetime:
    """A wall-clock time in the persona's time zone, as an aware datetime.

    A time that does not exist (the hour skipped when clocks go forward) is refused rather than
    silently moved; an ambiguous one (the hour repeated when clocks go back) is its first
    occurrence.
    """
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    zone = ZoneInfo(timezone)
    aware = local.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise PublishingError(
            N_("%(local)s does not exist in %(timezone)s (the clocks go forward that night)"),
            params={"local": f"{local:%d/%m/%Y %H:%M}", "timezone": timezone},
            field="scheduled_at",
            code="time_skipped",
        )
    # In UTC: an ambiguous local time compares unequal to everything across zones (PEP 495).
    return aware.astimezone(UTC)


async def next_free_slot(
    session: AsyncSession, account: Account, timezone: str, *, after: datetime | None = None
) -> datetime:
    """The next posting slot of an account with no delivery already scheduled at it."""
    slots = (await session.scalars(select(PostingSlot).where(PostingSlot.account_id == account.id))).all()
    if not slots:
        raise PublishingError(
            N_("@%(handle)s has no posting slots"),
            params={"handle": account.handle},
            field="account_ids",
            code="no_slots",
        )
    zone = ZoneInfo(timezone)
    start = (after or utcnow()).astimezone(zone)
    taken = set(
        (
            await session.scalars(
                select(Delivery.scheduled_at).where(
                    Delivery.account_id == account.id,
                    Delivery.state.in_(
                        EDITABLE + (DeliveryState.QUEUED, DeliveryState.PUBLISHING, DeliveryState.PUBLISHED)
                    ),
                    Delivery.scheduled_at >= start,
                )
            )
        ).all()
    )
    for day in range(0, 7 * 8):
        date = (start + timedelta(days=day)).date()
        for slot in sorted(s.local_time for s in slots if s.weekday == date.weekday()):
            hour, minute = map(int, slot.split(":"))
            try:
                when = local_to_utc(datetime(date.year, date.month, date.day, hour, minute), timezone)
            except PublishingError:
                continue  # a slot inside the spring-forward gap does not happen that day
            if when > start and when not in taken:
                return when
    raise PublishingError(N_("no free posting slot in the next eight weeks"))


# ------------------------------------------------------------------ composing


async def compose(
    session: AsyncSession, registry: ChannelRegistry, actor: StaffActor, request: ComposeRequest
) -> ComposeResult:
    """Create a post and one delivery per target account, after the policy engine has spoken."""
    persona = await load_persona(session, request.persona_id)
    accounts = await own_accounts(session, persona, request.account_ids)
    media = await own_media(session, persona, request.media_ids)
    composer = await session.get(Staff, actor.id) if actor.id is not None else None
    kind = _kind(request)
    check_content(request, kind)
    if request.in_reply_to_id is not None:
        await _check_answered_item(session, request.in_reply_to_id, accounts)
    times = await _times(session, persona, accounts, request)
    watched = await watch.origin_for_post(session, persona.id, request.origin) if request.origin else None
    post = Post(
        persona_id=persona.id,
        author_id=actor.id,
        kind=kind,
        text=request.text,
        link=request.link,
        format=request.format,
        repost_of=request.repost_of,
        variants=dict(request.variants),
        publish_options={channel: dict(chosen) for channel, chosen in request.publish_options.items()},
        origin=await watch.canonical_origin(session, watched) if watched is not None else None,
    )
    session.add(post)
    await session.flush()
    if watched is not None:
        watch.mark_drafted(session, actor.actor, watched, post)
    for position, item in enumerate(media):
        item.post_id, item.position = post.id, position
    findings: dict[uuid.UUID, list[Finding]] = {}
    deliveries: list[Delivery] = []
    blocked = False
    for account in accounts:
        when = times[account.id]
        stage = Stage.SCHEDULE if when else Stage.DRAFT
        found = await findings_on_account(
            session, registry, persona, post, account, when or utcnow(), stage, composer, media
        )
        findings[account.id] = found
        verdict = decide(found, request.overrides)
        blocked = blocked or verdict.outcome == Outcome.BLOCKED
        state = initial_state(actor.role, verdict.outcome, kind, keep_draft=request.save_as_draft or when is None)
        deliveries.append(
            Delivery(
                post_id=post.id,
                account_id=account.id,
                persona_id=persona.id,
                kind=kind,
                in_reply_to_id=request.in_reply_to_id,
                state=state,
                scheduled_at=when,
                client_ref=uuid.uuid4().hex,
            )
        )
    if blocked and not request.save_as_draft:
        raise PolicyBlocked(findings)
    session.add_all(deliveries)
    await session.flush()
    for delivery in deliveries:
        record_event(
            session,
            delivery.id,
            "created",
            actor=actor.id,
            state=delivery.state.value,
            findings=findings_summary(findings[delivery.account_id]),
        )
    for override in request.overrides:
        record(
            session,
            actor.actor,
            "policy.override",
            "post",
            post.id,
            persona_id=persona.id,
            after={"rule": override.rule},
            reason=override.reason,
        )
    record(
        session,
        actor.actor,
        "post.created",
        "post",
        post.id,
        persona_id=persona.id,
        after={"accounts": [a.handle for a in accounts], "states": [d.state.value for d in deliveries]},
    )
    return ComposeResult(post=post, deliveries=tuple(deliveries), findings=findings)


async def findings_on_account(
    session: AsyncSession,
    registry: ChannelRegistry,
    persona: Persona,
    post: Post,
    account: Account,
    moment: datetime,
    stage: Stage,
    composer: Staff | None,
    media: list[Media] | None = None,
) -> list[Finding]:
    """What the policy engine says of ``post`` on one account at ``moment`` (the post not counted twice)."""
    return await check_post_on_account(
        session,
        registry,
        persona=persona,
        post=post,
        media=list(post.media) if media is None else media,
        channel=account.channel,
        account=account,
        moment=moment,
        stage=stage,
        composer=composer,
        exclude_post=post.id,
    )


async def _times(
    session: AsyncSession, persona: Persona, accounts: list[Account], request: ComposeRequest
) -> dict[uuid.UUID, datetime | None]:
    """When each account publishes (None: a draft); "add to queue" gives each its own next free slot."""
    if request.add_to_queue:
        if request.publish_now or request.scheduled_at is not None:
            raise PublishingError(N_("choose one of: a time, publish now, add to the queue"), field="scheduled_at")
        return {a.id: await next_free_slot(session, a, persona.timezone) for a in accounts}
    when = utcnow() if request.publish_now else request.scheduled_at
    if when is not None and when.tzinfo is None:
        raise PublishingError(N_("the time must carry its offset (or use local_to_utc)"), field="scheduled_at")
    if not request.publish_now and not request.save_as_draft:
        _refuse_past(when, persona.timezone)
    return dict.fromkeys((a.id for a in accounts), when)


#: a time this far in the past is a typing slip, not "now" (a form takes a few seconds to send)
PAST_GRACE = timedelta(minutes=1)


def _refuse_past(when: datetime | None, timezone: str) -> None:
    """A post scheduled in the past would go out at once, which is "publish now" said by mistake."""
    if when is not None and when < utcnow() - PAST_GRACE:
        local = when.astimezone(ZoneInfo(timezone))
        raise PublishingError(
            N_("%(local)s is in the past: choose a later time, or publish now"),
            params={"local": f"{local:%d/%m/%Y %H:%M}"},
            field="scheduled_at",
            code="time_in_past",
            extra={"scheduled_at": when.isoformat(), "local": local.isoformat()},
        )


def _kind(request: ComposeRequest) -> DeliveryKind:
    if request.in_reply_to_id is not None:
        return DeliveryKind.REPLY
    return DeliveryKind.REPOST if request.repost_of else DeliveryKind.POST


def initial_state(role: Role, outcome: Outcome, kind: DeliveryKind, *, keep_draft: bool) -> DeliveryState:
    # A moderator answers the inbox without composing posts; a contributor's words are read first either way.
    if not allows(role, Action.MODERATE if kind == DeliveryKind.REPLY else Action.COMPOSE):
        if kind == DeliveryKind.REPLY:
            raise PublishingError(N_("the %(role)s role cannot compose replies"), params={"role": role.value})
        raise PublishingError(N_("the %(role)s role cannot compose posts"), params={"role": role.value})
    if keep_draft:
        return DeliveryState.DRAFT
    if role == Role.CONTRIBUTOR or outcome == Outcome.NEEDS_REVIEW:
        return DeliveryState.PENDING_APPROVAL
    return DeliveryState.SCHEDULED


def check_content(request: ComposeRequest, kind: DeliveryKind) -> None:
    if not request.account_ids:
        raise PublishingError(N_("choose at least one account"), field="account_ids")
    if kind == DeliveryKind.POST and not (request.text.strip() or request.media_ids or request.link):
        raise PublishingError(N_("a post needs a text, a link or a media"), field="text")
    if kind == DeliveryKind.REPLY and not request.text.strip():
        raise PublishingError(N_("a reply needs a text"), field="text")
    if request.link and urlsplit(request.link.strip()).scheme.lower() not in ("http", "https"):
        # javascript:, data:, ftp:… would be a trap or a dead link on the networks and in the admin
        raise PublishingError(N_("a link starts with http:// or https://"), field="link", code="link_scheme")


async def _check_answered_item(session: AsyncSession, item_id: uuid.UUID, accounts: list[Account]) -> None:
    item = await session.get(InboxItem, item_id)
    if item is None or [a.id for a in accounts] != [item.account_id]:
        # An answer goes out on the account that received the item, and on no other.
        raise PublishingError(N_("a reply goes out on the account that received the item"), field="in_reply_to_id")


async def compose_reply(
    session: AsyncSession,
    registry: ChannelRegistry,
    actor: StaffActor,
    item_id: uuid.UUID,
    text: str,
    *,
    scheduled_at: datetime | None = None,
) -> ComposeResult:
    """Answer an inbox item: a post and a delivery of kind reply on the item's account, sent now
    unless a time is given, through the same outbox, approvals and policy as any post."""
    item = await session.get(InboxItem, item_id)
    account = await session.get(Account, item.account_id) if item is not None else None
    if item is None or account is None:
        raise PublishingError(N_("no such inbox item"), field="item_id")
    require(actor.role, Action.SEE_PRIVATE_MESSAGES if item.kind == InboxKind.MESSAGE else Action.MODERATE)
    if account.channel in registry and not registry.get(account.channel).capabilities.supports(Feature.REPLY):
        raise PublishingError(
            N_("Porte-voix cannot reply on %(channel)s"), params={"channel": account.channel}, field="item_id"
        )
    request = ComposeRequest(
        persona_id=account.persona_id,
        account_ids=(account.id,),
        text=text,
        scheduled_at=scheduled_at,
        publish_now=scheduled_at is None,
        in_reply_to_id=item.id,
    )
    return await compose(session, registry, actor, request)


async def load_persona(session: AsyncSession, persona_id: uuid.UUID) -> Persona:
    persona = await session.get(Persona, persona_id)
    if persona is None:
        raise PublishingError(N_("no such persona"), field="persona_id")
    return persona


async def own_accounts(session: AsyncSession, persona: Persona, ids: Sequence[uuid.UUID]) -> list[Account]:
    """The persona's accounts among ``ids``, in order; another persona's account is refused."""
    accounts = {a.id: a for a in (await session.scalars(select(Account).where(Account.id.in_(ids)))).all()}
    for account_id in ids:
        account = accounts.get(account_id)
        if account is None or account.persona_id != persona.id:
            # A post of one persona never goes out on another persona's account; which persona owns
            # it is not said (a tampered id learns nothing).
            raise PublishingError(
                N_("no account %(id)s for this persona"), params={"id": str(account_id)}, field="account_ids"
            )
    return [accounts[i] for i in dict.fromkeys(ids)]


async def own_media(session: AsyncSession, persona: Persona, ids: Sequence[uuid.UUID]) -> list[Media]:
    """The persona's media among ``ids``, in order; another persona's (or an unknown) media is refused."""
    found = await media_service.own_media(session, persona.id, list(ids))
    if len(found) != len(dict.fromkeys(ids)):
        missing = next(i for i in ids if i not in {m.id for m in found})
        raise PublishingError(N_("no media %(id)s for this persona"), params={"id": str(missing)}, field="media_ids")
    return found


def findings_summary(findings: list[Finding]) -> list[dict[str, str]]:
    return [
        {"rule": f.rule, "severity": f.severity.value, "message": f.message_en}
        for f in findings
        if f.severity != Severity.INFO
    ]


# ------------------------------------------------------------------ approving


async def load_post(session: AsyncSession, post_id: uuid.UUID) -> Post:
    post = await session.scalar(
        select(Post)
        .where(Post.id == post_id)
        .options(selectinload(Post.deliveries).selectinload(Delivery.account), selectinload(Post.media))
    )
    if post is None:
        raise PublishingError(N_("no such post"))
    return post


async def approve(
    session: AsyncSession,
    registry: ChannelRegistry,
    actor: StaffActor,
    post_id: uuid.UUID,
    *,
    reason: str = "",
    overrides: tuple[Override, ...] = (),
) -> list[Delivery]:
    """Approve a post's deliveries waiting for approval; they become scheduled.

    ``review`` findings need a written reason; an overridable ``block`` needs a manager and an
    override with a reason. Nobody approves their own post.
    """
    post = await load_post(session, post_id)
    if not actor.role.at_least(Role.EDITOR):
        raise PublishingError(N_("approving needs the editor or manager role"))
    if post.author_id == actor.id:
        raise PublishingError(N_("nobody approves their own post"))
    if overrides and actor.role != Role.MANAGER:
        raise PublishingError(N_("only a manager can override a block"))
    persona = await load_persona(session, post.persona_id)
    approver = await session.get(Staff, actor.id)
    waiting = [d for d in post.deliveries if d.state == DeliveryState.PENDING_APPROVAL]
    if not waiting:
        raise PublishingError(N_("nothing of this post waits for approval"))
    for delivery in waiting:
        moment = delivery.scheduled_at or utcnow()
        found = await findings_on_account(
            session, registry, persona, post, delivery.account, moment, Stage.APPROVE, approver
        )
        verdict = decide(found, overrides)
        if verdict.outcome == Outcome.BLOCKED:
            raise PolicyBlocked({delivery.account_id: found})
        signed = sorted({f.rule for f in verdict.to_review})
        if signed and not reason.strip():
            raise PublishingError(
                N_("these remarks need a written reason to approve: %(rules)s"),
                params={"rules": ", ".join(signed)},
                field="reason",
                code="reason_required",
            )
        await move(
            session,
            delivery,
            to=DeliveryState.SCHEDULED if delivery.scheduled_at else DeliveryState.DRAFT,
            from_=(DeliveryState.PENDING_APPROVAL,),
            event="approved",
            actor=actor.id,
            detail={"reason": reason, "rules": signed},
            approved_by_id=actor.id,
            approval_reason=reason or None,
            approved_rules=signed,
        )
    record(
        session,
        actor.actor,
        "post.approved",
        "post",
        post.id,
        persona_id=post.persona_id,
        after={"deliveries": len(waiting)},
        reason=reason or None,
    )
    for override in overrides:
        record(
            session,
            actor.actor,
            "policy.override",
            "post",
            post.id,
            persona_id=post.persona_id,
            after={"rule": override.rule},
            reason=override.reason,
        )
    return waiting


async def send_back(session: AsyncSession, actor: StaffActor, post_id: uuid.UUID, *, comment: str) -> None:
    """Return a post waiting for approval to its author as a draft, with a comment."""
    if not actor.role.at_least(Role.EDITOR):
        raise PublishingError(N_("sending back needs the editor or manager role"))
    if not comment.strip():
        raise PublishingError(N_("say what to change"), field="comment")
    post = await load_post(session, post_id)
    for delivery in post.deliveries:
        await move(
            session,
            delivery,
            to=DeliveryState.DRAFT,
            from_=(DeliveryState.PENDING_APPROVAL,),
            event="sent_back",
            actor=actor.id,
            detail={"comment": comment},
        )
    record(session, actor.actor, "post.sent_back", "post", post.id, persona_id=post.persona_id, reason=comment)


async def submit(
    session: AsyncSession,
    registry: ChannelRegistry,
    actor: StaffActor,
    post_id: uuid.UUID,
    *,
    scheduled_at: datetime | None,
    publish_now: bool = False,
) -> None:
    """Move a draft on: to approval (contributor, or review findings) or straight to the schedule."""
    post = await load_post(session, post_id)
    persona = await load_persona(session, post.persona_id)
    composer = await session.get(Staff, actor.id)
    when = utcnow() if publish_now else scheduled_at
    if when is None:
        raise PublishingError(N_("choose a time, or publish now"), field="scheduled_at")
    for delivery in [d for d in post.deliveries if d.state == DeliveryState.DRAFT]:
        found = await findings_on_account(
            session, registry, persona, post, delivery.account, when, Stage.SCHEDULE, composer
        )
        outcome = decide(found).outcome
        if outcome == Outcome.BLOCKED:
            raise PolicyBlocked({delivery.account_id: found})
        target = initial_state(actor.role, outcome, post.kind, keep_draft=False)
        await move(
            session,
            delivery,
            to=target,
            from_=(DeliveryState.DRAFT,),
            event="submitted",
            actor=actor.id,
            detail={"state": target.value},
            scheduled_at=when,
        )
    record(session, actor.actor, "post.submitted", "post", post.id, persona_id=post.persona_id)


# ------------------------------------------------------------------ changing a delivery


async def load_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.id == delivery_id)
        .options(selectinload(Delivery.account), selectinload(Delivery.post))
    )
    if delivery is None:
        raise PublishingError(N_("no such delivery"))
    return delivery


async def reschedule(
    session: AsyncSession, registry: ChannelRegistry, actor: StaffActor, delivery_id: uuid.UUID, when: datetime
) -> Delivery:
    """Move a delivery that the queue does not have yet; the policy is checked again at the new time."""
    if when.tzinfo is None:
        raise PublishingError(N_("the time must carry its offset"), field="scheduled_at")
    delivery = await load_delivery(session, delivery_id)
    if delivery.state not in EDITABLE:
        raise PublishingError(
            N_("a delivery in the state “%(state)s” can no longer be rescheduled"),
            params={"state": delivery.state.value},
        )
    persona = await load_persona(session, delivery.post.persona_id)
    _refuse_past(when, persona.timezone)
    post = await load_post(session, delivery.post_id)
    composer = await session.get(Staff, actor.id)
    found = await findings_on_account(
        session, registry, persona, post, delivery.account, when, Stage.SCHEDULE, composer
    )
    verdict = decide(found)
    if verdict.outcome == Outcome.BLOCKED:
        raise PolicyBlocked({delivery.account_id: found})
    target = delivery.state
    new_reviews = {f.rule for f in verdict.to_review} - set(delivery.approved_rules)
    if target == DeliveryState.SCHEDULED and (new_reviews or actor.role == Role.CONTRIBUTOR):
        target = DeliveryState.PENDING_APPROVAL
    before = delivery.scheduled_at
    if not await move(
        session,
        delivery,
        to=target,
        from_=(delivery.state,),
        event="rescheduled",
        actor=actor.id,
        detail={"before": before, "after": when, "state": target.value},
        scheduled_at=when,
        next_attempt_at=None,
    ):
        raise PublishingError(N_("the delivery changed meanwhile; reload"))
    record(
        session,
        actor.actor,
        "delivery.rescheduled",
        "delivery",
        delivery.id,
        persona_id=persona.id,
        before={"scheduled_at": before},
        after={"scheduled_at": when, "state": target.value},
    )
    return delivery


async def cancel(session: AsyncSession, actor: StaffActor, delivery_id: uuid.UUID, *, reason: str = "") -> Delivery:
    delivery = await load_delivery(session, delivery_id)
    if delivery.state not in CANCELABLE:
        raise PublishingError(
            N_("a delivery in the state “%(state)s” can no longer be canceled"), params={"state": delivery.state.value}
        )
    if actor.role == Role.CONTRIBUTOR and delivery.post.author_id != actor.id:
        raise PublishingError(N_("a contributor cancels only their own posts"))
    before = delivery.state
    if not await move(
        session,
        delivery,
        to=DeliveryState.CANCELED,
        from_=(before,),
        event="canceled",
        actor=actor.id,
        detail={"reason": reason},
    ):
        raise PublishingError(N_("the delivery changed meanwhile; reload"))
    record(
        session,
        actor.actor,
        "delivery.canceled",
        "delivery",
        delivery.id,
        persona_id=delivery.post.persona_id,
        before={"state": before.value},
        reason=reason or None,
    )
    return delivery


async def retry(session: AsyncSession, actor: StaffActor, delivery_id: uuid.UUID) -> Delivery:
    """Try a failed delivery again now."""
    if not actor.role.at_least(Role.EDITOR):
        raise PublishingError(N_("retrying needs the editor or manager role"))
    delivery = await load_delivery(session, delivery_id)
    if not await move(
        session,
        delivery,
        to=DeliveryState.SCHEDULED,
        from_=(DeliveryState.FAILED,),
        event="retried",
        actor=actor.id,
        next_attempt_at=utcnow(),
        last_error=None,
        error_kind=None,
    ):
        raise PublishingError(
            N_("only a failed delivery can be retried (this one is “%(state)s”)"),
            params={"state": delivery.state.value},
        )
    record(session, actor.actor, "delivery.retried", "delivery", delivery.id, persona_id=delivery.post.persona_id)
    return delivery


async def resolve_uncertain(
    session: AsyncSession, actor: StaffActor, delivery_id: uuid.UUID, *, published: bool, remote_url: str | None = None
) -> Delivery:
    """A human settles an uncertain delivery: "it was published" or "publish again"."""
    if not actor.role.at_least(Role.EDITOR):
        raise PublishingError(N_("this needs the editor or manager role"))
    delivery = await load_delivery(session, delivery_id)
    settled: dict[str, object] = {"next_attempt_at": utcnow()}
    if published:
        remote_id = delivery.remote_id or f"confirmed:{delivery.client_ref}"
        settled = {"remote_id": remote_id, "remote_url": remote_url, "published_at": utcnow()}
    if not await move(
        session,
        delivery,
        to=DeliveryState.PUBLISHED if published else DeliveryState.SCHEDULED,
        from_=(DeliveryState.UNCERTAIN,),
        event="resolved",
        actor=actor.id,
        detail={"published": published, "remote_url": remote_url},
        lease_until=None,
        **settled,
    ):
        raise PublishingError(
            N_("only an uncertain delivery can be settled (this one is “%(state)s”)"),
            params={"state": delivery.state.value},
        )
    if published:
        await reply_published(session, delivery.id, delivery.published_at or utcnow())
    record(
        session,
        actor.actor,
        "delivery.resolved",
        "delivery",
        delivery.id,
        persona_id=delivery.post.persona_id,
        after={"published": published, "remote_url": remote_url},
    )
    return delivery
