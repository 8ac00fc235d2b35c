"""What the publishing API and the publishing admin share: who acts, when "when" is, the live
policy check, the error mapping, and domain rows → API structures.

The rules live in ``core.publishing.compose`` and ``core.policy``; this module only turns
HTTP inputs into service calls and service answers into HTTP answers, the same way for JSON
and for HTML.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.channels import count_text
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryKind, DeliveryState, Role
from core.db.models import Account, Delivery, DeliveryEvent, Media, Persona, Post, Staff
from core.db.types import utcnow
from core.media import service as media_service
from core.policy import check_post_on_account, delivery_text
from core.publishing import compose as service
from core.publishing.compose import ComposeRequest, ComposeResult, PolicyBlocked, PublishingError, StaffActor
from personas.policy import Finding, Outcome, Override, Stage, decide
from web.auth import StaffUser
from web.schemas import (
    AccountFindingsOut,
    CheckIn,
    CheckOut,
    ComposeIn,
    DeliveryEventOut,
    DeliveryOut,
    FindingOut,
    FixOut,
    OverrideIn,
    PostOut,
    TextLimitOut,
)

#: times outside these years are typing mistakes (and would overflow time zone arithmetic)
FIRST_YEAR, LAST_YEAR = 2000, 2100
_QUERY_FIELDS = {"cursor", "from", "to"}


class PolicyBlockedException(HTTPException):
    """The policy engine blocks the post: ``extra.findings`` says why, per account."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


def actor_for(user: StaffUser, persona_id: uuid.UUID) -> StaffActor:
    """The caller with their role on the persona (the access guard already checked they have one)."""
    role = user.role_on(persona_id)
    if role is None:  # pragma: no cover - the guard answers 404 first
        raise NotFoundException("no such persona")
    return StaffActor(id=user.id, label=user.email, role=role)


def camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


@contextmanager
def publishing_errors(persona: Persona) -> Iterator[None]:
    """Service refusals as HTTP answers: a policy block is a 422 with the findings, any other
    refusal a 400 naming the field, with the service's own message (it names the account)."""
    try:
        yield
    except PolicyBlocked as exc:
        accounts = {a.id: a for a in persona.accounts}
        findings = [msgspec.to_builtins(f) for f in findings_out(exc.findings, accounts)]
        raise PolicyBlockedException(exc.message, extra={"findings": findings}) from None
    except PublishingError as exc:
        source = "query" if exc.field in _QUERY_FIELDS else "body"
        extra = [{"key": camel(exc.field), "message": exc.message, "source": source}] if exc.field else None
        raise ClientException(exc.message, extra=extra) from None


# ------------------------------------------------------------------ when


def _in_range(moment: datetime, field: str) -> datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise PublishingError(f"{camel(field)} must be between {FIRST_YEAR} and {LAST_YEAR}", field=field)
    return moment


def resolve_when(persona: Persona, scheduled_at: datetime | None, local_time: datetime | None) -> datetime | None:
    """An aware UTC time from either an ISO time with its offset or a wall-clock time in the
    persona's time zone (DST-safe: a time inside the spring-forward gap is refused)."""
    if scheduled_at is not None and local_time is not None:
        raise PublishingError("give scheduledAt or localTime, not both", field="scheduled_at")
    if scheduled_at is not None:
        if scheduled_at.tzinfo is None:
            raise PublishingError(
                "scheduledAt must carry its offset (…+01:00 or …Z); use localTime for a time in the persona's time zone",
                field="scheduled_at",
            )
        return _in_range(scheduled_at, "scheduled_at").astimezone(ZoneInfo("UTC"))
    if local_time is not None:
        if local_time.tzinfo is not None:
            raise PublishingError(
                "localTime is a wall-clock time without offset; use scheduledAt for an offset", field="local_time"
            )
        try:
            return service.local_to_utc(_in_range(local_time, "local_time"), persona.timezone).astimezone(
                ZoneInfo("UTC")
            )
        except PublishingError as exc:
            raise PublishingError(exc.message, field="local_time") from None
    return None


# ------------------------------------------------------------------ composing


async def compose_post(
    db: AsyncSession, registry: ChannelRegistry, actor: StaffActor, persona: Persona, data: ComposeIn
) -> ComposeResult:
    """Compose through the service; "add to queue" puts each account at its own next free slot."""
    chosen = [data.scheduled_at is not None, data.local_time is not None, data.publish_now, data.add_to_queue]
    if sum(chosen) > 1:
        raise PublishingError("choose one of: a time, publish now, add to the queue", field="scheduled_at")
    when = resolve_when(persona, data.scheduled_at, data.local_time)
    slots: dict[uuid.UUID, datetime] = {}
    if data.add_to_queue:
        own = {a.id: a for a in persona.accounts}
        for account_id in dict.fromkeys(data.account_ids):
            if account_id in own:  # another persona's account: the service refuses it below, by name
                slots[account_id] = await service.next_free_slot(db, own[account_id], persona.timezone)
        when = min(slots.values(), default=None)
    request = ComposeRequest(
        persona_id=persona.id,
        account_ids=tuple(data.account_ids),
        text=data.text,
        link=data.link or None,
        format=data.format,
        media_ids=tuple(data.media_ids),
        variants={k: v for k, v in data.variants.items() if v.strip()},
        scheduled_at=when,
        publish_now=data.publish_now,
        repost_of=data.repost_of or None,
        save_as_draft=data.save_as_draft,
        overrides=tuple(Override(rule=o.rule, reason=o.reason) for o in data.overrides),
    )
    result = await service.compose(db, registry, actor, request)
    # The service takes one time per post; accounts whose own slot is later move there.
    for delivery in result.deliveries:
        slot = slots.get(delivery.account_id)
        if slot is not None and slot != delivery.scheduled_at:
            await service.reschedule(db, registry, actor, delivery.id, slot)
    return result


async def live_check(
    db: AsyncSession, registry: ChannelRegistry, persona: Persona, composer: Staff | None, data: CheckIn
) -> CheckOut:
    """The policy engine and the networks' limits on a draft, per account; nothing is written."""
    accounts = await own_accounts(db, persona, data.account_ids)
    when = resolve_when(persona, data.scheduled_at, data.local_time)
    # A transient post (never added to the session): what the engine reads, and nothing more.
    post = Post(
        persona_id=persona.id,
        kind=DeliveryKind.REPOST if data.repost_of else DeliveryKind.POST,
        text=data.text,
        link=data.link or None,
        format=data.format,
        repost_of=data.repost_of or None,
        variants={k: v for k, v in data.variants.items() if v.strip()},
    )
    media = await own_media(db, persona, data.media_ids)
    found: dict[uuid.UUID, list[Finding]] = {}
    for account in accounts:
        found[account.id] = await check_post_on_account(
            db,
            registry,
            persona=persona,
            post=post,
            media=media,
            channel=account.channel,
            account=account,
            moment=when or utcnow(),
            stage=Stage.SCHEDULE if when else Stage.DRAFT,
            composer=composer,
        )
    items = findings_out(found, {a.id: a for a in accounts})
    for item in items:
        item.text = text_limit(registry, item.channel, delivery_text(post, item.channel))
    return CheckOut(accounts=items, outcome=worst_outcome(found.values()))


async def own_accounts(db: AsyncSession, persona: Persona, ids: Sequence[uuid.UUID]) -> list[Account]:
    """The persona's accounts among ``ids``; another persona's account is refused by name."""
    own = {a.id: a for a in persona.accounts}
    foreign = [i for i in ids if i not in own]
    if foreign:
        other = await db.get(Account, foreign[0])
        if other is None:
            raise PublishingError(f"no account {foreign[0]}", field="account_ids")
        raise PublishingError(
            f"@{other.handle} ({other.channel}) belongs to another persona, not to {persona.name}", field="account_ids"
        )
    return [own[i] for i in dict.fromkeys(ids)]


async def own_media(db: AsyncSession, persona: Persona, ids: Sequence[uuid.UUID]) -> list[Media]:
    """The persona's media among ``ids``; another persona's (or an unknown) media is refused."""
    found = await media_service.own_media(db, persona.id, list(ids))
    if len(found) != len(dict.fromkeys(ids)):
        missing = next(i for i in ids if i not in {m.id for m in found})
        raise PublishingError(f"no media {missing} for this persona", field="media_ids")
    return found


def text_limit(registry: ChannelRegistry, channel: str, text: str) -> TextLimitOut | None:
    if channel not in registry:
        return None
    capabilities = registry.get(channel).capabilities
    return TextLimitOut(
        length=count_text(text, capabilities.text.counting),
        limit=capabilities.text.limit,
        counting=capabilities.text.counting.value,
        notices=list(capabilities.notices),
    )


def worst_outcome(findings: Iterable[list[Finding]]) -> Literal["blocked", "needs_review", "ok"]:
    """What the post would become: blocked if any account blocks, else needs review if any does."""
    outcomes = {decide(f).outcome for f in findings}
    if Outcome.BLOCKED in outcomes:
        return "blocked"
    return "needs_review" if Outcome.NEEDS_REVIEW in outcomes else "ok"


# ------------------------------------------------------------------ reading


async def post_or_404(db: AsyncSession, persona_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    """A post of THIS persona: another persona's post id answers 404, as if it did not exist."""
    post = await db.scalar(
        select(Post)
        .where(Post.id == post_id, Post.persona_id == persona_id)
        .options(selectinload(Post.deliveries).selectinload(Delivery.account), selectinload(Post.media))
        .execution_options(populate_existing=True)
    )
    if post is None:
        raise NotFoundException("no such post")
    return post


async def delivery_or_404(db: AsyncSession, persona_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    """A delivery on one of THIS persona's accounts, with its account and post loaded afresh."""
    delivery = await db.scalar(
        select(Delivery)
        .join(Account)
        .where(Delivery.id == delivery_id, Account.persona_id == persona_id)
        .options(selectinload(Delivery.account), selectinload(Delivery.post))
        .execution_options(populate_existing=True)
    )
    if delivery is None:
        raise NotFoundException("no such delivery")
    return delivery


async def history_out(db: AsyncSession, delivery_id: uuid.UUID) -> list[DeliveryEventOut]:
    events = await service.delivery_history(db, delivery_id)
    names = await staff_names(db, {e.actor_id for e in events if e.actor_id})
    return [event_out(e, names) for e in events]


async def staff_names(db: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await db.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(ids)))
    return {staff_id: name for staff_id, name in rows.all()}


async def pending_posts(db: AsyncSession, persona_id: uuid.UUID) -> list[Post]:
    """Posts of the persona with at least one delivery waiting for approval, oldest first."""
    query = (
        select(Post)
        .where(
            Post.persona_id == persona_id,
            Post.id.in_(select(Delivery.post_id).where(Delivery.state == DeliveryState.PENDING_APPROVAL)),
        )
        .options(selectinload(Post.deliveries).selectinload(Delivery.account), selectinload(Post.media))
        .order_by(Post.created_at, Post.id)
    )
    return list((await db.scalars(query)).all())


async def approval_findings(
    db: AsyncSession, registry: ChannelRegistry, persona: Persona, post: Post, approver: Staff | None
) -> list[AccountFindingsOut]:
    """What the engine says now, at the approval stage, of each waiting delivery (what the approver signs)."""
    found: dict[uuid.UUID, list[Finding]] = {}
    accounts: dict[uuid.UUID, Account] = {}
    for delivery in post.deliveries:
        if delivery.state != DeliveryState.PENDING_APPROVAL:
            continue
        accounts[delivery.account_id] = delivery.account
        found[delivery.account_id] = await check_post_on_account(
            db,
            registry,
            persona=persona,
            post=post,
            media=list(post.media),
            channel=delivery.account.channel,
            account=delivery.account,
            moment=delivery.scheduled_at or utcnow(),
            stage=Stage.APPROVE,
            composer=approver,
            exclude_post=post.id,
        )
    return findings_out(found, accounts)


# ------------------------------------------------------------------ the persona's week


class Week(msgspec.Struct, frozen=True, kw_only=True):
    monday: date
    start: datetime  # aware, Monday 00:00 local
    end: datetime  # aware, next Monday 00:00 local (a DST week is 167 or 169 hours long)
    days: tuple[date, ...]


def week_of(day: date, timezone: str) -> Week:
    monday = day - timedelta(days=day.weekday())
    zone = ZoneInfo(timezone)
    return Week(
        monday=monday,
        start=datetime.combine(monday, time.min, tzinfo=zone),
        end=datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone),
        days=tuple(monday + timedelta(days=i) for i in range(7)),
    )


def local_midnight(day: date, timezone: str, field: str) -> datetime:
    """The start of a local day in the persona's time zone (a query's ``from``/``to``)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PublishingError(f"{field} must be between {FIRST_YEAR} and {LAST_YEAR}", field=field)
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# ------------------------------------------------------------------ rows → structures


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        rule=finding.rule,
        severity=finding.severity.value,  # type: ignore[arg-type]
        message_fr=finding.message_fr,
        message_en=finding.message_en,
        reference=finding.reference,
        overridable=finding.overridable,
        fix=FixOut(original=finding.fix.original, replacement=finding.fix.replacement) if finding.fix else None,
        evidence=finding.evidence,
    )


def findings_out(
    found: Mapping[uuid.UUID, list[Finding]], accounts: Mapping[uuid.UUID, Account]
) -> list[AccountFindingsOut]:
    items = []
    for account_id, findings in found.items():
        account = accounts.get(account_id)
        items.append(
            AccountFindingsOut(
                account_id=account_id,
                channel=account.channel if account else "",
                handle=account.handle if account else "",
                findings=[finding_out(f) for f in findings],
            )
        )
    return items


def post_out(post: Post) -> PostOut:
    return PostOut(
        id=post.id,
        persona_id=post.persona_id,
        author_id=post.author_id,
        kind=post.kind.value,  # type: ignore[arg-type]
        text=post.text,
        link=post.link,
        format=post.format,
        repost_of=post.repost_of,
        variants={k: str(v) for k, v in post.variants.items()},
        created_at=post.created_at,
    )


def delivery_out(delivery: Delivery, account: Account, post: Post) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        post_id=delivery.post_id,
        account_id=delivery.account_id,
        channel=account.channel,
        handle=account.handle,
        kind=delivery.kind.value,  # type: ignore[arg-type]
        state=delivery.state.value,  # type: ignore[arg-type]
        scheduled_at=delivery.scheduled_at,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        remote_id=delivery.remote_id,
        remote_url=delivery.remote_url,
        published_at=delivery.published_at,
        last_error=delivery.last_error,
        error_kind=delivery.error_kind,
        approved_by_id=delivery.approved_by_id,
        approval_reason=delivery.approval_reason,
        created_at=delivery.created_at,
        text=delivery_text(post, account.channel),
    )


def event_out(event: DeliveryEvent, names: Mapping[uuid.UUID, str]) -> DeliveryEventOut:
    return DeliveryEventOut(
        at=event.at,
        kind=event.kind,
        actor_id=event.actor_id,
        actor_name=names.get(event.actor_id) if event.actor_id else None,
        detail=dict(event.detail or {}),
    )


def overrides_in(overrides: Sequence[OverrideIn]) -> tuple[Override, ...]:
    return tuple(Override(rule=o.rule, reason=o.reason) for o in overrides)


def can(user: StaffUser, persona_id: uuid.UUID, minimum: Role) -> bool:
    role = user.role_on(persona_id)
    return role is not None and role.at_least(minimum)
