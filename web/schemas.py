"""The JSON API's structures (msgspec), camelCase on the wire.

Lists come in pages (``items`` + ``nextCursor``, keyset pagination: pass ``cursor`` back to
get the next page; ``nextCursor`` is null on the last one).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.db.enums import Employer, Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200, description="at least 10 characters")]
Locale = Literal["fr", "en"]
Mode = Literal["live", "dry_run"]


class ApiStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    pass


class ChannelPolicyOut(ApiStruct):
    channel: str
    allowed: bool
    refusal_reason: str | None
    main: bool
    audience: int | None
    tone: str
    purpose: str
    posts_per_day: int | None
    reposts_per_day: int | None
    formats: list[str]


class AccountOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    channel: str
    handle: str
    display_name: str
    status: str
    mode: Mode


class PersonaOut(ApiStruct):
    id: uuid.UUID
    slug: str
    name: str
    kind: str
    embodies: bool
    timezone: str
    editorial_line: str
    paused: bool
    channels: list[ChannelPolicyOut]
    accounts: list[AccountOut]
    #: the caller's role on this persona (null: a site admin reading it without an assignment)
    my_role: Role | None = None


class PersonaPage(ApiStruct):
    items: list[PersonaOut]
    next_cursor: str | None


class AccountPage(ApiStruct):
    items: list[AccountOut]
    next_cursor: str | None


class AccountModeIn(ApiStruct):
    mode: Mode


class AssignmentOut(ApiStruct):
    persona_id: uuid.UUID
    persona_slug: str
    persona_name: str
    role: Role


class StaffOut(ApiStruct):
    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    is_active: bool
    employer: Employer
    locale: Locale
    must_change_password: bool
    last_login_at: datetime | None
    assignments: list[AssignmentOut]


class StaffPage(ApiStruct):
    items: list[StaffOut]
    next_cursor: str | None


class StaffIn(ApiStruct):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    display_name: Name
    employer: Employer = Employer.INSTITUTION
    is_admin: bool = False
    locale: Locale = "fr"


class StaffPatch(ApiStruct, omit_defaults=True):
    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    employer: Employer | msgspec.UnsetType = msgspec.UNSET
    is_admin: bool | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET


class StaffCreated(ApiStruct):
    staff: StaffOut
    #: to hand over to the new staff member; shown once, to be replaced at the first login
    one_time_password: str


class PasswordResetOut(ApiStruct):
    one_time_password: str


class MePatch(ApiStruct, omit_defaults=True):
    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET


class PasswordChangeIn(ApiStruct):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    new_password: Password


class TeamMemberOut(ApiStruct):
    staff_id: uuid.UUID
    email: str
    display_name: str
    employer: Employer
    is_active: bool
    role: Role


class TeamPage(ApiStruct):
    items: list[TeamMemberOut]
    next_cursor: str | None


class AssignmentIn(ApiStruct):
    role: Role


class TokenIn(ApiStruct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class TokenOut(ApiStruct):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenPage(ApiStruct):
    items: list[TokenOut]
    next_cursor: str | None


class TokenCreated(ApiStruct):
    token: TokenOut
    #: the secret, shown once: send it as ``Authorization: Bearer <secret>``
    secret: str


class HealthOut(ApiStruct):
    status: str
    database: bool
    queue: bool
    version: str


class ErrorOut(msgspec.Struct, kw_only=True):
    """Every error body: the status, what went wrong, and for validation the field (``key``) and why."""

    status_code: int
    detail: str
    extra: dict[str, object] | list[object] | None = None


# ------------------------------------------------------------------ publishing
Format = Literal["post", "photo", "video", "reel", "story", "carousel"]
DeliveryStateName = Literal[
    "draft", "pending_approval", "scheduled", "queued", "publishing", "published", "failed", "uncertain", "canceled"
]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]
PostText = Annotated[str, msgspec.Meta(max_length=20000)]


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
    kind: Literal["post", "repost"]
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
    kind: Literal["post", "repost"]
    text: str
    link: str | None
    format: str
    repost_of: str | None
    variants: dict[str, str]
    created_at: datetime


class ComposeOut(ApiStruct):
    post: PostOut
    deliveries: list[DeliveryOut]
    findings: list[AccountFindingsOut]


class PostDetailOut(ApiStruct):
    post: PostOut
    deliveries: list[DeliveryOut]


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


class DeliveryPage(ApiStruct):
    items: list[DeliveryOut]
    next_cursor: str | None


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


class MediaOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    kind: Literal["image", "gif", "video"]
    content_type: str
    filename: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    alt_text: str
    has_captions: bool
    origin: Literal["region_dam", "personal", "campaign"]
    #: the post using it, once composed
    post_id: uuid.UUID | None
    #: the file, for the persona's staff only (session or API token)
    url: str
    created_at: datetime


class MediaPage(ApiStruct):
    items: list[MediaOut]
