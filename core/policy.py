"""The policy engine's runner: fills the engine's context from the database and evaluates.

The rules themselves are pure functions in ``personas.policy``; this module only gathers the
facts they need (the day's counts in the persona's time zone, the network's hard limits from
the channel plugin, who composes, where the media come from) and calls them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import Draft, Format, MediaItem, MediaKind, validate_draft
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, Media, Persona, Post, Staff
from core.veille.board import origin_facts
from personas import PersonaFile
from personas.policy import (
    DayCount,
    Election,
    Finding,
    MediaInput,
    NetworkViolation,
    PolicyAccount,
    PolicyContext,
    PolicyDraft,
    RepostOf,
    Stage,
    WatchOrigin,
    default_elections,
    evaluate,
)

#: deliveries that count toward a day's cadence
COUNTED_STATES = (
    DeliveryState.PENDING_APPROVAL,
    DeliveryState.SCHEDULED,
    DeliveryState.QUEUED,
    DeliveryState.PUBLISHING,
    DeliveryState.PUBLISHED,
    DeliveryState.UNCERTAIN,
)
#: the remote id a dry run records in place of the network's (``core.publishing.outbox``): a
#: rehearsal, published nowhere, so it counts in no day's cadence
DRY_RUN_PREFIX = "dry-run:"


@cache
def elections() -> tuple[Election, ...]:
    return tuple(default_elections())


def persona_file(persona: Persona) -> PersonaFile:
    return msgspec.convert(persona.definition, PersonaFile)


def local_day_bounds(moment: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The persona's local day containing ``moment``, as aware datetimes (DST-safe)."""
    zone = ZoneInfo(timezone)
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


async def day_counts(
    session: AsyncSession, persona: Persona, moment: datetime, *, exclude_post: object | None = None
) -> dict[str, DayCount]:
    start, end = local_day_bounds(moment, persona.timezone)
    when = func.coalesce(Delivery.published_at, Delivery.next_attempt_at, Delivery.scheduled_at)
    query = (
        select(Account.channel, Delivery.kind, func.count())
        .join(Delivery, Delivery.account_id == Account.id)
        .where(Account.persona_id == persona.id, Delivery.state.in_(COUNTED_STATES), when >= start, when < end)
        .where(Delivery.kind != DeliveryKind.REPLY)  # answers are not the day's posts
        .where(sa.or_(Delivery.remote_id.is_(None), Delivery.remote_id.not_like(f"{DRY_RUN_PREFIX}%")))
        .group_by(Account.channel, Delivery.kind)
    )
    if exclude_post is not None:
        query = query.where(Delivery.post_id != exclude_post)
    counts: dict[str, dict[str, int]] = {}
    for channel, kind, count in (await session.execute(query)).all():
        counts.setdefault(channel, {"posts": 0, "reposts": 0})[
            "reposts" if kind == DeliveryKind.REPOST else "posts"
        ] += count
    return {channel: DayCount(**c) for channel, c in counts.items()}


def media_item(media: Media, url: str | None = None) -> MediaItem:
    return MediaItem(
        url=url,
        kind=MediaKind(media.kind),
        content_type=media.content_type,
        alt_text=media.alt_text,
        path=media.storage_path,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        has_captions=media.has_captions,
    )


def network_violations(registry: ChannelRegistry, channel: str, draft: Draft) -> tuple[NetworkViolation, ...]:
    if channel not in registry:
        return ()
    found = validate_draft(registry.get(channel).capabilities, draft)
    return tuple(NetworkViolation(code=v.code, message=v.message, params=dict(v.params)) for v in found)


#: what a network's format rules say of an answer: only its words count (an answer carries no
#: photo a post would need, and has no format of its own)
_REPLY_VIOLATIONS = frozenset({"text_too_long", "too_many_hashtags"})


def _network_violations(
    registry: ChannelRegistry, channel: str, draft: Draft, kind: DeliveryKind
) -> tuple[NetworkViolation, ...]:
    if kind == DeliveryKind.REPOST:
        return ()
    found = network_violations(registry, channel, draft)
    return tuple(v for v in found if v.code in _REPLY_VIOLATIONS) if kind == DeliveryKind.REPLY else found


async def _repost_of(session: AsyncSession, target: str | None) -> RepostOf | None:
    if not target:
        return None
    rows = (await session.execute(select(Account.handle, Account.external_id, Persona.slug).join(Persona))).all()
    lowered = target.lower()
    for handle, external_id, slug in rows:
        if handle.lower() in lowered or external_id in target:
            return RepostOf(persona=slug, handle=handle)
    return RepostOf(handle=None)


def delivery_text(post: Post, channel: str) -> str:
    """The post's text on one channel: the channel's variant when there is one."""
    variant = post.variants.get(channel)
    return variant if isinstance(variant, str) and variant.strip() else post.text


def plugin_draft(
    post: Post,
    channel: str,
    media: list[Media],
    *,
    client_ref: str = "",
    media_url: Callable[[uuid.UUID], str | None] | None = None,
    reply_to: str | None = None,
) -> Draft:
    try:
        fmt = Format(post.format)
    except ValueError:
        fmt = Format.POST
    return Draft(
        text=delivery_text(post, channel),
        format=fmt,
        media=tuple(media_item(m, media_url(m.id) if media_url else None) for m in media),
        link=post.link,
        client_ref=client_ref,
        reply_to=reply_to,
        options=publish_options_of(post, channel),
    )


def publish_options_of(post: Post, channel: str) -> dict[str, str]:
    """The options the author chose for ``channel`` (``Post.publish_options``), as the plugin reads
    them: strings, ``"true"``/``"false"`` for an on/off option."""
    raw = (post.publish_options or {}).get(channel)
    if not isinstance(raw, dict):
        return {}
    return {str(k): _option_text(v) for k, v in raw.items() if v is not None}


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _watch_origin(session: AsyncSession, post: Post) -> WatchOrigin | None:
    """Whose watch the post's origin comes from (an elected official's is campaign monitoring)."""
    facts = await origin_facts(session, post.origin)
    return WatchOrigin(persona=facts.persona, campaign=facts.campaign) if facts is not None else None


async def check_post_on_account(
    session: AsyncSession,
    registry: ChannelRegistry,
    *,
    persona: Persona,
    post: Post,
    media: list[Media],
    channel: str,
    account: Account | None,
    moment: datetime,
    stage: Stage,
    composer: Staff | None,
    exclude_post: object | None = None,
) -> list[Finding]:
    """Every finding the engine has for ``post`` on one channel at ``moment``."""
    draft = plugin_draft(post, channel, media)
    context = PolicyContext(
        moment=moment,
        stage=stage,
        # At publish time cadence findings (warn/info) cannot change the outcome, and a reply is not
        # one of the day's posts: skip the count.
        day_counts={}
        if stage == Stage.PUBLISH or post.kind == DeliveryKind.REPLY
        else await day_counts(session, persona, moment, exclude_post=exclude_post),
        elections=elections(),
        network_violations=_network_violations(registry, channel, draft, post.kind),
        repost_of=await _repost_of(session, post.repost_of) if post.kind == DeliveryKind.REPOST else None,
        composer_employer=composer.employer if composer is not None else None,
        watch_origin=await _watch_origin(session, post),
    )
    policy_draft = PolicyDraft(
        channel=channel,
        text=draft.text,
        format=post.format,
        media=tuple(
            MediaInput(
                kind=m.kind,
                alt_text=m.alt_text,
                has_captions=m.has_captions,
                filename=m.filename,
                origin=m.origin.value,
            )
            for m in media
        ),
        link=post.link,
        reply=post.kind == DeliveryKind.REPLY,
    )
    # No created_at: the row's age says when it was added here, not when the network account
    # was opened, which is what "antériorité" (I4) is about.
    policy_account = PolicyAccount(channel=channel, handle=account.handle) if account else None
    return evaluate(persona_file(persona), policy_draft, context, account=policy_account)
