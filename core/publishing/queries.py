"""What the publishing pages and the API read: a persona's posts and deliveries, their history,
what waits for approval, and what the policy engine says of a draft. Nothing here writes.

Every lookup is scoped to one persona: another persona's post, delivery, account or media is
as good as absent (None, or a refusal that names no other persona's content).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, DeliveryEvent, Persona, Post, Staff
from core.db.types import utcnow
from core.pagination import Page, keyset
from core.people.staff import display_names
from core.policy import check_post_on_account
from core.publishing.compose import ComposeRequest, own_accounts, own_media
from personas.policy import Finding, Stage


async def post_of(session: AsyncSession, persona_id: uuid.UUID, post_id: uuid.UUID) -> Post | None:
    """A post of THIS persona, with its deliveries (and their accounts) and media, loaded afresh."""
    return await session.scalar(
        select(Post)
        .where(Post.id == post_id, Post.persona_id == persona_id)
        .options(selectinload(Post.deliveries).selectinload(Delivery.account), selectinload(Post.media))
        .execution_options(populate_existing=True)
    )


async def delivery_of(session: AsyncSession, persona_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery | None:
    """A delivery on one of THIS persona's accounts, with its account and post (and its media) loaded afresh."""
    return await session.scalar(
        select(Delivery)
        .join(Account)
        .where(Delivery.id == delivery_id, Account.persona_id == persona_id)
        .options(selectinload(Delivery.account), selectinload(Delivery.post).selectinload(Post.media))
        .execution_options(populate_existing=True)
    )


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a delivery's history, with the name of who did it."""

    at: datetime
    kind: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    detail: dict[str, object]


async def history(session: AsyncSession, delivery_id: uuid.UUID) -> list[HistoryEntry]:
    events = (
        await session.scalars(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id).order_by(DeliveryEvent.at)
        )
    ).all()
    names = await display_names(session, {e.actor_id for e in events if e.actor_id})
    return [
        HistoryEntry(
            at=e.at,
            kind=e.kind,
            actor_id=e.actor_id,
            actor_name=names.get(e.actor_id) if e.actor_id else None,
            detail=dict(e.detail or {}),
        )
        for e in events
    ]


async def pending_posts(session: AsyncSession, persona_id: uuid.UUID) -> list[Post]:
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
    return list((await session.scalars(query)).all())


class DeliveryFilter(msgspec.Struct, frozen=True, kw_only=True):
    persona_id: uuid.UUID
    account_id: uuid.UUID | None = None
    states: tuple[DeliveryState, ...] = ()
    #: aware bounds on the delivery's time (scheduled, else created): start included, end excluded
    start: datetime | None = None
    end: datetime | None = None


async def deliveries(
    session: AsyncSession, filters: DeliveryFilter, *, cursor: str | None = None, limit: int = 50
) -> Page[Delivery]:
    """A persona's deliveries by time (scheduled, else created), keyset-paginated."""
    when = func.coalesce(Delivery.scheduled_at, Delivery.created_at)
    # persona_id on the delivery itself: the rows come in index order (ix_deliveries_persona_listed)
    query: Select[tuple[Delivery]] = (
        select(Delivery)
        .where(Delivery.persona_id == filters.persona_id)
        # many-to-one, so a join adds no rows: one round trip for the page instead of three
        .options(joinedload(Delivery.account, innerjoin=True), joinedload(Delivery.post, innerjoin=True))
    )
    if filters.account_id is not None:
        query = query.where(Delivery.account_id == filters.account_id)
    if filters.states:
        query = query.where(Delivery.state.in_(filters.states))
    if filters.start is not None:
        query = query.where(when >= filters.start)
    if filters.end is not None:
        query = query.where(when < filters.end)
    return await keyset(
        session,
        query,
        (when, Delivery.id),
        cursor=cursor,
        limit=limit,
        key=lambda d: (d.scheduled_at or d.created_at, d.id),
    )


# ------------------------------------------------------------------ what the policy engine says


class DraftCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The findings per account of a draft nobody saved, and the transient post they were computed on."""

    post: Post
    accounts: list[Account]
    findings: dict[uuid.UUID, list[Finding]]


async def check_draft(
    session: AsyncSession, registry: ChannelRegistry, persona: Persona, draft: ComposeRequest, composer_id: uuid.UUID
) -> DraftCheck:
    """The policy engine and the networks' limits on a draft, per account; nothing is written."""
    accounts = await own_accounts(session, persona, draft.account_ids)
    composer = await session.get(Staff, composer_id)
    # A transient post (never added to the session): what the engine reads, and nothing more.
    post = Post(
        persona_id=persona.id,
        kind=DeliveryKind.REPOST if draft.repost_of else DeliveryKind.POST,
        text=draft.text,
        link=draft.link,
        format=draft.format,
        repost_of=draft.repost_of,
        variants=dict(draft.variants),
        publish_options={channel: dict(chosen) for channel, chosen in draft.publish_options.items()},
    )
    media = await own_media(session, persona, draft.media_ids)
    when = draft.scheduled_at
    findings = {
        account.id: await check_post_on_account(
            session,
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
        for account in accounts
    }
    return DraftCheck(post=post, accounts=accounts, findings=findings)


async def approval_findings(
    session: AsyncSession, registry: ChannelRegistry, persona: Persona, post: Post, approver_id: uuid.UUID
) -> dict[uuid.UUID, list[Finding]]:
    """What the engine says now, at the approval stage, of each waiting delivery (what the approver signs)."""
    approver = await session.get(Staff, approver_id)
    return {
        delivery.account_id: await check_post_on_account(
            session,
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
        for delivery in post.deliveries
        if delivery.state == DeliveryState.PENDING_APPROVAL
    }
