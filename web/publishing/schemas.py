"""The publishing API's structures: what a composer sends, what the policy engine answers,
posts, deliveries and their history."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.db.models import Delivery, Post
from core.policy import delivery_text
from personas.policy import Finding
from web.media.schemas import MediaOut, media_out
from web.structs import ApiStruct, Page, out

Format = Literal["post", "photo", "video", "reel", "story", "carousel"]
DeliveryStateName = Literal[
    "draft", "pending_approval", "scheduled", "queued", "publishing", "published", "failed", "uncertain", "canceled"
]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]
PostText = Annotated[str, msgspec.Meta(max_length=20000)]
OptionName = Annotated[str, msgspec.Meta(max_length=64)]
OptionValue = Annotated[str, msgspec.Meta(max_length=200)] | bool


class OverrideIn(ApiStruct):
    """A manager lifting an overridable ``block``, with the reason recorded in the audit log."""

    rule: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ComposeIn(ApiStruct):
    """A post to compose. When: at most one of ``scheduledAt`` (with its offset), ``localTime``
    (a wall-clock time in the persona's time zone, no offset), ``publishNow`` and ``addToQueue``
    (each account's next free posting slot); none of them keeps a draft."""

    account_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)]
    text: PostText = ""
    link: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    format: Format = "post"
    media_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)] = []
    #: channel key → the text used on that channel instead of ``text``
    variants: dict[Annotated[str, msgspec.Meta(max_length=32)], PostText] = {}
    scheduled_at: datetime | None = None
    local_time: datetime | None = None
    publish_now: bool = False
    add_to_queue: bool = False
    #: a repost (retweet, share, reshare) of this network post URL or id
    repost_of: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    save_as_draft: bool = False
    overrides: Annotated[list[OverrideIn], msgspec.Meta(max_length=20)] = []
    #: channel key → the choices that network asks for, by option name (TikTok:
    #: ``{"tiktok": {"privacy_level": "SELF_ONLY", "disable_duet": true}}``)
    options: dict[Annotated[str, msgspec.Meta(max_length=32)], dict[OptionName, OptionValue]] = {}
    #: the persona's watch item the post starts from (…/veille/items/{id}/draft): the post keeps its
    #: origin (source, capture time, content hash) and the item becomes drafted
    from_item: uuid.UUID | None = None


class CheckIn(ApiStruct):
    """What the composer has so far; nothing is written."""

    account_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)]
    text: PostText = ""
    link: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    format: Format = "post"
    #: the persona's uploaded media to attach (alt text counts: no alt text is a block on the institution)
    media_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)] = []
    variants: dict[Annotated[str, msgspec.Meta(max_length=32)], PostText] = {}
    scheduled_at: datetime | None = None
    local_time: datetime | None = None
    repost_of: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    #: channel key → the choices that network asks for, by option name (TikTok:
    #: ``{"tiktok": {"privacy_level": "SELF_ONLY", "disable_duet": true}}``)
    options: dict[Annotated[str, msgspec.Meta(max_length=32)], dict[OptionName, OptionValue]] = {}


class FixOut(ApiStruct):
    original: str
    replacement: str


class FindingOut(ApiStruct):
    rule: str
    #: block (stops publishing), review (needs a manager's or editor's approval with a reason), warn, info
    severity: Literal["block", "review", "warn", "info"]
    message_fr: str
    message_en: str
    reference: str | None
    overridable: bool
    fix: FixOut | None
    evidence: str | None
    #: the numbers behind the message (a network limit's code and values…), for callers that word it themselves
    data: dict[str, Any] = {}


class TextLimitOut(ApiStruct):
    """The text as the network counts it (URLs, emoji…), against the network's limit."""

    length: int
    limit: int
    counting: str
    notices: list[str]


class AccountFindingsOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    findings: list[FindingOut]
    #: null when no plugin is installed for the channel
    text: TextLimitOut | None = None


class CheckOut(ApiStruct):
    accounts: list[AccountFindingsOut]
    #: "blocked", "needs_review" or "ok": what the post would become, given these findings
    outcome: Literal["blocked", "needs_review", "ok"]


class DeliveryOut(ApiStruct):
    id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    channel: str
    handle: str
    kind: Literal["post", "repost", "reply"]
    state: DeliveryStateName
    scheduled_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    remote_id: str | None
    remote_url: str | None
    published_at: datetime | None
    last_error: str | None
    error_kind: str | None
    approved_by_id: uuid.UUID | None
    approval_reason: str | None
    created_at: datetime
    #: the post's text on this account's channel (its variant when there is one)
    text: str


class PostOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    author_id: uuid.UUID | None
    kind: Literal["post", "repost", "reply"]
    text: str
    link: str | None
    format: str
    repost_of: str | None
    variants: dict[str, str]
    created_at: datetime
    #: the watch item it started from: itemId, sourceUrl, url, capturedAt, contentHash (snake_case keys)
    origin: dict[str, Any] | None = None


class ComposeOut(ApiStruct):
    post: PostOut
    deliveries: list[DeliveryOut]
    #: the post's own media, in order (a media another post used is copied for this one)
    media: list[MediaOut]
    findings: list[AccountFindingsOut]


class PostDetailOut(ApiStruct):
    post: PostOut
    deliveries: list[DeliveryOut]
    #: the post's media, in order
    media: list[MediaOut]


class DeliveryEventOut(ApiStruct):
    """One step of a delivery's history: created, approved, sent_back, submitted, rescheduled,
    canceled, retried, resolved, queued, attempt, published, dry_run (with the exact request),
    failed, transient_error, rate_limited, uncertain, reconciled…"""

    at: datetime
    kind: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    detail: dict[str, object]


class DeliveryDetailOut(ApiStruct):
    delivery: DeliveryOut
    post: PostOut
    history: list[DeliveryEventOut]


class DeliveryPage(Page[DeliveryOut]):
    items: list[DeliveryOut]  # named again: OpenAPI does not read a generic base


class ApproveIn(ApiStruct):
    #: required when a finding needs review
    reason: Reason = ""
    overrides: Annotated[list[OverrideIn], msgspec.Meta(max_length=20)] = []


class SendBackIn(ApiStruct):
    comment: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class SubmitIn(ApiStruct):
    """When to publish the draft: one of ``scheduledAt``, ``localTime``, ``publishNow``."""

    scheduled_at: datetime | None = None
    local_time: datetime | None = None
    publish_now: bool = False


class RescheduleIn(ApiStruct):
    """The new time: ``scheduledAt`` (with its offset) or ``localTime`` (in the persona's time zone)."""

    scheduled_at: datetime | None = None
    local_time: datetime | None = None


class CancelIn(ApiStruct):
    reason: Reason = ""


class ResolveIn(ApiStruct):
    """An uncertain delivery settled by a person: ``published`` true ("it was published", with its
    URL when known) or false ("publish again")."""

    published: bool
    remote_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class PauseIn(ApiStruct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class PauseOut(ApiStruct):
    persona_id: uuid.UUID
    paused: bool
    reason: str | None
    #: deliveries held while paused (scheduled or queued), by time
    held: list[DeliveryOut]


# ------------------------------------------------------------------ rows → structures


def findings_out(
    found: Mapping[uuid.UUID, list[Finding]], names: Mapping[uuid.UUID, tuple[str, str]]
) -> list[AccountFindingsOut]:
    """Findings per account, each account named by its (channel, handle)."""
    return [
        AccountFindingsOut(
            account_id=account_id,
            channel=names.get(account_id, ("", ""))[0],
            handle=names.get(account_id, ("", ""))[1],
            findings=[out(f, FindingOut) for f in findings],
        )
        for account_id, findings in found.items()
    ]


def delivery_out(delivery: Delivery) -> DeliveryOut:
    channel = delivery.account.channel
    return out(
        delivery,
        DeliveryOut,
        channel=channel,
        handle=delivery.account.handle,
        text=delivery_text(delivery.post, channel),
    )


def post_detail(post: Post) -> PostDetailOut:
    """A post with its deliveries and media (all loaded: ``web.deps.post_or_404``)."""
    return PostDetailOut(
        post=out(post, PostOut),
        deliveries=[delivery_out(d) for d in post.deliveries],
        media=[media_out(m) for m in sorted(post.media, key=lambda m: m.position)],
    )
