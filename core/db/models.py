"""The domain model (SQLAlchemy 2, typed). Constraints live in the database, not only here.

Every timestamp is timezone-aware and stored in UTC (:class:`UTCDateTime`); every state
column is a VARCHAR with a CHECK constraint listing the valid states.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.db.enums import (
    AccountMode,
    AccountStatus,
    DeliveryKind,
    DeliveryState,
    Employer,
    ErrorKind,
    InboxKind,
    InboxStatus,
    MediaOrigin,
    PersonaKind,
    Role,
)
from core.db.types import JSONType, UTCDateTime, enum_column, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class Persona(Timestamped, Base):
    """A public voice: the institution, or an elected official."""

    __tablename__ = "personas"

    id: Mapped[uuid.UUID] = _id()
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[PersonaKind] = mapped_column(enum_column(PersonaKind, "persona_kind"))
    embodies: Mapped[bool]
    timezone: Mapped[str] = mapped_column(sa.String(64))
    language: Mapped[str] = mapped_column(sa.String(8), default="fr")
    editorial_line: Mapped[str] = mapped_column(sa.Text, default="")
    #: the whole persona file as loaded (rules, office holders…), for the policy engine
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused: Mapped[bool] = mapped_column(default=False)
    pause_reason: Mapped[str | None] = mapped_column(sa.Text)

    channel_policies: Mapped[list[ChannelPolicy]] = relationship(
        back_populates="persona", cascade="all, delete-orphan", order_by="ChannelPolicy.channel"
    )
    accounts: Mapped[list[Account]] = relationship(back_populates="persona", order_by="Account.channel")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="persona", cascade="all, delete-orphan")


class ChannelPolicy(Base):
    """How a persona speaks on one network, or why it does not."""

    __tablename__ = "channel_policies"
    __table_args__ = (
        sa.UniqueConstraint("persona_id", "channel"),
        sa.CheckConstraint("allowed OR refusal_reason IS NOT NULL", name="refusal_has_reason"),
        sa.CheckConstraint("posts_per_day IS NULL OR posts_per_day >= 0", name="posts_per_day_not_negative"),
        sa.CheckConstraint("reposts_per_day IS NULL OR reposts_per_day >= 0", name="reposts_per_day_not_negative"),
        sa.CheckConstraint("audience IS NULL OR audience >= 0", name="audience_not_negative"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(32))
    allowed: Mapped[bool] = mapped_column(default=True)
    refusal_reason: Mapped[str | None] = mapped_column(sa.Text)
    main: Mapped[bool] = mapped_column(default=False)
    audience: Mapped[int | None]
    tone: Mapped[str] = mapped_column(sa.Text, default="")
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    posts_per_day: Mapped[int | None]
    reposts_per_day: Mapped[int | None]
    formats: Mapped[list[Any]] = mapped_column(default=list)

    persona: Mapped[Persona] = relationship(back_populates="channel_policies")


class Account(Timestamped, Base):
    """One persona's presence on one channel."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("persona_id", "channel", "external_id"),)

    id: Mapped[uuid.UUID] = _id()
    # RESTRICT: an account with history is disabled, not deleted with its persona's past.
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    handle: Mapped[str] = mapped_column(sa.String(200))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus, "account_status"), default=AccountStatus.CONNECTED
    )
    mode: Mapped[AccountMode] = mapped_column(enum_column(AccountMode, "account_mode"), default=AccountMode.LIVE)
    #: Fernet token of the msgspec-encoded Credentials; never stored in clear
    credentials_encrypted: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    token_expires_at: Mapped[datetime | None]
    #: the network asked us to slow down: nothing is sent on this account before this time
    throttled_until: Mapped[datetime | None]
    inbox_cursor: Mapped[str | None] = mapped_column(sa.Text)
    #: the last poll of the inbox that succeeded; with ``inbox_failing_since`` what the inbox
    #: shows as "messages no longer arrive since …"
    inbox_synced_at: Mapped[datetime | None]
    inbox_failing_since: Mapped[datetime | None]
    inbox_error: Mapped[str | None] = mapped_column(sa.Text)
    #: the inbox's sources the network refuses for good (private messages without the permission…)
    inbox_unavailable: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the last metrics fetch that succeeded, and the error of the last one that did not (shown
    #: on the usage page: a failing metrics call is a visible gap, never a silent one)
    metrics_fetched_at: Mapped[datetime | None]
    metrics_error: Mapped[str | None] = mapped_column(sa.Text)
    metrics_error_at: Mapped[datetime | None]

    persona: Mapped[Persona] = relationship(back_populates="accounts")


class Staff(Timestamped, Base):
    """A person who logs in."""

    __tablename__ = "staff"
    __table_args__ = (sa.CheckConstraint("locale IN ('fr', 'en')", name="locale_known"),)

    id: Mapped[uuid.UUID] = _id()
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: set by an admin's password reset: the one-time password must be replaced at the next login
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    locale: Mapped[str] = mapped_column(sa.String(8), default="fr")
    employer: Mapped[Employer] = mapped_column(enum_column(Employer, "staff_employer"), default=Employer.INSTITUTION)
    last_login_at: Mapped[datetime | None]

    assignments: Mapped[list[Assignment]] = relationship(back_populates="staff", cascade="all, delete-orphan")


class Assignment(Timestamped, Base):
    """Staff × persona × role: nobody sees a persona without one."""

    __tablename__ = "assignments"
    __table_args__ = (sa.UniqueConstraint("staff_id", "persona_id"),)

    id: Mapped[uuid.UUID] = _id()
    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"))
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "assignment_role"))

    staff: Mapped[Staff] = relationship(back_populates="assignments")
    persona: Mapped[Persona] = relationship(back_populates="assignments")


class ApiToken(Base):
    """A personal API token: shown once, stored hashed, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = _id()
    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Post(Timestamped, Base):
    """What a persona wants to say (a post, a repost, a reply); fans out to one delivery per target account."""

    __tablename__ = "posts"
    __table_args__ = (sa.CheckConstraint("kind != 'repost' OR repost_of IS NOT NULL", name="repost_has_target"),)

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[DeliveryKind] = mapped_column(enum_column(DeliveryKind, "post_kind"), default=DeliveryKind.POST)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str | None] = mapped_column(sa.Text)
    format: Mapped[str] = mapped_column(sa.String(16), default="post")
    #: the network post (URL or id) a repost shares
    repost_of: Mapped[str | None] = mapped_column(sa.Text)
    #: per-channel text variants: {"x": "…", "linkedin": "…"}
    variants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: per-channel publish options the author chose (``core.channels.PublishOption``):
    #: {"tiktok": {"privacy_level": "SELF_ONLY", "disable_duet": true}}
    publish_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: where the post came from when a watch item started it: {"item_id", "source_url", "url",
    #: "captured_at", "content_hash"} — kept with the post, whatever becomes of the item
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: simulated history written by ``portevoix run`` so the usage charts mean something at once
    demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="post", cascade="all, delete-orphan")
    media: Mapped[list[Media]] = relationship(back_populates="post", order_by="Media.position")


class Media(Timestamped, Base):
    """An image or video attached to a post, with its alt text and origin."""

    __tablename__ = "media"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('image', 'video', 'gif')", name="kind_known"),
        sa.CheckConstraint("size_bytes >= 0", name="size_not_negative"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    filename: Mapped[str] = mapped_column(sa.String(255))
    storage_path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_s: Mapped[float | None]
    alt_text: Mapped[str] = mapped_column(sa.Text, default="")
    has_captions: Mapped[bool] = mapped_column(default=False)
    origin: Mapped[MediaOrigin] = mapped_column(
        enum_column(MediaOrigin, "media_origin"), default=MediaOrigin.REGION_DAM
    )
    #: a video's first frame, a JPEG stored beside its file (None: an image, or a video before 0008)
    cover_path: Mapped[str | None] = mapped_column(sa.Text)
    #: who uploaded it: the composer offers each author their own unused uploads
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    post: Mapped[Post | None] = relationship(back_populates="media")


def _persona_of_account(context: Any) -> uuid.UUID:
    """The persona of the delivery's account, read in the inserting transaction (a fallback: the
    composer and the editor give it, and cost no extra round trip)."""
    account_id = context.get_current_parameters()["account_id"]
    return context.connection.execute(sa.select(Account.persona_id).where(Account.id == account_id)).scalar_one()


class Delivery(Timestamped, Base):
    """One post, repost or reply on one account, with its own schedule and state: the one outbox."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "client_ref"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("state != 'published' OR remote_id IS NOT NULL", name="published_has_remote_id"),
        sa.CheckConstraint("state != 'publishing' OR lease_until IS NOT NULL", name="publishing_has_lease"),
        sa.CheckConstraint(
            "(kind = 'reply' AND in_reply_to_id IS NOT NULL) OR (kind != 'reply' AND in_reply_to_id IS NULL)",
            name="reply_has_item",
        ),
        sa.Index("ix_deliveries_due", "state", "scheduled_at"),
        # the usage ledger: what an account published, day by day
        sa.Index("ix_deliveries_account_published", "account_id", "published_at"),
        # a persona's deliveries by time, the list's exact sort: a page walks the index from the
        # cursor instead of sorting every row of the persona (flat at a million rows)
        sa.Index("ix_deliveries_persona_listed", "persona_id", sa.text("coalesce(scheduled_at, created_at)"), "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    post_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    # RESTRICT: a delivery's account cannot vanish under it; disable the account instead.
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="RESTRICT"), index=True)
    #: the account's persona, copied (an account never changes persona) so that a persona's list
    #: is one index range; filled from the account when the writer does not give it
    persona_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("personas.id", ondelete="RESTRICT"), default=_persona_of_account
    )
    kind: Mapped[DeliveryKind] = mapped_column(enum_column(DeliveryKind, "delivery_kind"), default=DeliveryKind.POST)
    # RESTRICT: what went out stays on record with what it answered (items are closed, not deleted).
    in_reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("inbox_items.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState, "delivery_state"), default=DeliveryState.DRAFT
    )
    scheduled_at: Mapped[datetime | None]
    #: stable reference sent to networks that accept one, and used to reconcile
    client_ref: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(sa.String(100))
    remote_id: Mapped[str | None] = mapped_column(sa.String(200))
    remote_url: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    error_kind: Mapped[ErrorKind | None] = mapped_column(enum_column(ErrorKind, "delivery_error_kind"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    approval_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the review rules the approver signed off; a new one at publish time holds the delivery
    approved_rules: Mapped[list[Any]] = mapped_column(default=list)
    #: when the dispatcher handed it to the queue (the sweeper re-enqueues what Redis lost)
    queued_at: Mapped[datetime | None]

    post: Mapped[Post] = relationship(back_populates="deliveries")
    account: Mapped[Account] = relationship()
    in_reply_to: Mapped[InboxItem | None] = relationship(foreign_keys=[in_reply_to_id])
    events: Mapped[list[DeliveryEvent]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", order_by="DeliveryEvent.at"
    )


class PostingSlot(Base):
    """A recurring time at which an account publishes what waits in its queue (like Buffer's)."""

    __tablename__ = "posting_slots"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "weekday", "local_time"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_valid"),
        sa.CheckConstraint("local_time LIKE '__:__'", name="local_time_hh_mm"),
    )

    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]  # 0 = Monday, in the persona's time zone
    local_time: Mapped[str] = mapped_column(sa.String(5))  # "HH:MM" in the persona's time zone


class DeliveryEvent(Base):
    """A delivery's history: attempts, errors, approvals, the dry-run request."""

    __tablename__ = "delivery_events"

    id: Mapped[uuid.UUID] = _id()
    delivery_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    delivery: Mapped[Delivery] = relationship(back_populates="events")


class InboxItem(Timestamped, Base):
    """A comment, reply, mention or private message received on an account.

    One row per (account, network id), whichever way it came first (webhook or poll): the
    upsert in ``core.inbox.ingest`` is the only writer of new rows.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "remote_id"),
        sa.Index("ix_inbox_items_account_status", "account_id", "status"),
        # the inbox screen: a persona's items, newest first, one keyset page at a time
        sa.Index("ix_inbox_items_persona_received", "persona_id", "received_at", "id"),
        sa.Index("ix_inbox_items_account_parent", "account_id", "parent_remote_id"),
        # a private conversation's messages (reply windows, answers that answer earlier messages)
        sa.Index("ix_inbox_items_account_thread", "account_id", "thread_remote_id"),
        sa.CheckConstraint("first_seen_via IN ('poll', 'webhook')", name="seen_via_known"),
        sa.CheckConstraint("status != 'assigned' OR assignee_id IS NOT NULL", name="assigned_has_assignee"),
    )

    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    #: the account's persona, kept on the item: the inbox is listed per persona at any size
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[InboxKind] = mapped_column(enum_column(InboxKind, "inbox_kind"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("inbox_items.id", ondelete="SET NULL"))
    #: the network id of the item answered; ``parent_id`` follows once that item is stored
    parent_remote_id: Mapped[str | None] = mapped_column(sa.String(200))
    thread_remote_id: Mapped[str | None] = mapped_column(sa.String(200))
    #: our delivery the item answers (a comment under our post), when there is one
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(
        # use_alter: deliveries point back at items (in_reply_to_id), a cycle the DDL must break
        sa.ForeignKey("deliveries.id", ondelete="SET NULL", use_alter=True)
    )
    author_remote_id: Mapped[str] = mapped_column(sa.String(200))
    author_handle: Mapped[str] = mapped_column(sa.String(200), default="")
    author_name: Mapped[str] = mapped_column(sa.String(200), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    url: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime]
    first_seen_via: Mapped[str] = mapped_column(sa.String(8), default="poll")
    status: Mapped[InboxStatus] = mapped_column(enum_column(InboxStatus, "inbox_status"), default=InboxStatus.NEW)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    #: what triage found in the text: personal_data, administrative, document_request, hateful
    flags: Mapped[list[Any]] = mapped_column(default=list)
    #: the next answer is due (first response, then next response), in business hours
    response_due_at: Mapped[datetime | None]
    #: a legal deadline (a CADA request's month, M1's removal delay), when one runs
    legal_due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    #: who opened the reply box, until when (“X is replying”); the second reply needs a confirmation
    replying_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    replying_until: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


class InboxNote(Base):
    """An internal note on an item (an assignment's note too): never sent to the network."""

    __tablename__ = "inbox_notes"

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("inbox_items.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedReply(Timestamped, Base):
    """A persona's ready answer, called by its short code (``/horaires``) in the reply box."""

    __tablename__ = "saved_replies"
    __table_args__ = (
        sa.UniqueConstraint("persona_id", "short_code"),
        sa.CheckConstraint("short_code != ''", name="short_code_not_empty"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    short_code: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)


class InboxEvent(Base):
    """What happened to an item, when, measured: received, assigned, each response, closed…

    Response events carry their delay in seconds and in the persona's business hours, computed
    when they happen (the usage screens read these rows, never recompute them).
    """

    __tablename__ = "inbox_events"
    __table_args__ = (sa.Index("ix_inbox_events_persona_kind_at", "persona_id", "kind", "at"),)

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("inbox_items.id", ondelete="CASCADE"), index=True)
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    kind: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float | None]
    business_seconds: Mapped[float | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModerationAction(Base):
    """A hide, delete or ban: proposed, waiting for a manager's review, done on the network, or
    done by hand in the network's own app (where its API cannot), always with a reason code."""

    __tablename__ = "moderation_actions"
    __table_args__ = (
        sa.CheckConstraint("action IN ('hide', 'unhide', 'delete', 'ban')", name="action_known"),
        sa.CheckConstraint(
            "state IN ('proposed', 'pending_review', 'done', 'manual', 'refused', 'failed')", name="state_known"
        ),
        sa.CheckConstraint("reason_code != ''", name="has_reason"),
    )

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("inbox_items.id", ondelete="CASCADE"), index=True)
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16))
    reason_code: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


class InboxArchive(Base):
    """A write-once copy of an item taken before a hide or delete (X1): append-only in the database."""

    __tablename__ = "inbox_archives"

    id: Mapped[uuid.UUID] = _id()
    item_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)  # no FK: the copy outlives the item
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: sha256 of the canonical JSON of ``content``
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(sa.Text, default="")


class UsageSample(Base):
    """One point of an account's usage time series: API calls, quota snapshots, sends.

    ``raw`` points are what the worker recorded; past the retention period the purge job folds a
    day's raw points into one ``day`` point per account, metric and endpoint (sum of the calls,
    lowest remaining quota), in the persona's time zone.
    """

    __tablename__ = "usage_samples"
    __table_args__ = (
        sa.Index("ix_usage_samples_series", "account_id", "metric", "at"),
        sa.CheckConstraint("resolution IN ('raw', 'day')", name="resolution_known"),
    )

    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    metric: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[float]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolution: Mapped[str] = mapped_column(sa.String(8), default="raw", server_default="raw")
    demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class AudienceSample(Base):
    """An account's audience as its network reported it, at most one per account and hour.

    ``at`` is the hour the metrics job ran (UTC, truncated): a job run twice in the same hour
    updates the same row. Metric names come and go with API versions, so the version that
    produced the figures is kept with them, and the network's own answer in ``raw``.
    """

    __tablename__ = "audience_samples"
    __table_args__ = (sa.UniqueConstraint("account_id", "at"),)

    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    followers: Mapped[int | None]
    following: Mapped[int | None]
    posts: Mapped[int | None]
    impressions: Mapped[int | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    api_version: Mapped[str] = mapped_column(sa.String(32), default="")
    demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class EngagementSample(Base):
    """One published delivery's engagement, at most one per delivery and hour (as above)."""

    __tablename__ = "engagement_samples"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "at"),
        sa.Index("ix_engagement_samples_account_at", "account_id", "at"),
    )

    id: Mapped[uuid.UUID] = _id()
    delivery_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("deliveries.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    impressions: Mapped[int | None]
    likes: Mapped[int | None]
    reposts: Mapped[int | None]
    replies: Mapped[int | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    api_version: Mapped[str] = mapped_column(sa.String(32), default="")
    demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class UsageAlert(Base):
    """Something a persona's team must see: a network behind its cadence for the day, an account
    close to its quota or to reconnect, the inbox over its response target, a working day far too
    long, metrics that fail. One per persona, kind, subject and local day (the database refuses a
    second); shown on the dashboard, notified to the persona's managers, posted to the webhook."""

    __tablename__ = "usage_alerts"
    __table_args__ = (
        sa.UniqueConstraint("persona_id", "kind", "subject", "day"),
        sa.CheckConstraint(
            "kind IN ('behind_cadence', 'quota_low', 'needs_reauth', 'inbox_over_target', 'long_day',"
            " 'metrics_failing', 'crisis_keyword', 'vigilance', 'volume_spike', 'source_broken')",
            name="kind_known",
        ),
        sa.CheckConstraint("webhook_state IN ('none', 'pending', 'sent', 'failed')", name="webhook_state_known"),
        sa.Index("ix_usage_alerts_persona_raised", "persona_id", "raised_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: what it is about: an account id, a staff id, or "" for the persona itself
    subject: Mapped[str] = mapped_column(sa.String(64), default="")
    #: the persona's local day (ISO date) the alert stands for
    day: Mapped[str] = mapped_column(sa.String(10))
    #: the figures behind it, and the names the message shows (network, handle, person…)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    webhook_state: Mapped[str] = mapped_column(sa.String(8), default="none")
    webhook_attempts: Mapped[int] = mapped_column(default=0)
    webhook_error: Mapped[str | None] = mapped_column(sa.Text)


class AuditEvent(Base):
    """Who did what, when, to what. Append-only: the database refuses UPDATE and DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    id: Mapped[uuid.UUID] = _id()
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # No foreign keys: a deleted staff member or persona must not rewrite the past.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(64))
    entity_type: Mapped[str] = mapped_column(sa.String(32))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    persona_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(sa.Text)


class Notification(Base):
    """What a staff member must know (a post sent back, one waiting for their approval, a failed
    delivery, an account to reconnect): listed in the admin, mailed when SMTP is configured.

    One unread notification per recipient, kind and subject (the database refuses a second): a
    new event on the same subject brings the unread one up and counts it."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('sent_back', 'waiting_approval', 'failed', 'needs_reauth', 'usage_alert')", name="kind_known"
        ),
        sa.CheckConstraint("subject_type IN ('post', 'delivery', 'account', 'alert')", name="subject_type_known"),
        sa.CheckConstraint("email_state IN ('pending', 'sending', 'sent', 'failed')", name="email_state_known"),
        sa.CheckConstraint("times >= 1", name="times_positive"),
        sa.Index(
            "uq_notifications_unread",
            "staff_id",
            "kind",
            "subject_id",
            unique=True,
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        ),
        sa.Index("ix_notifications_staff_at", "staff_id", "event_at", "id"),
        sa.Index("ix_notifications_email_state", "email_state", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"))
    persona_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    subject_type: Mapped[str] = mapped_column(sa.String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    #: what the text names: the post's first words, the network and handle, the comment, the error
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: how many events this unread notification stands for (a post failing on three networks…)
    times: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the latest event it stands for (the list's order)
    event_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    email_state: Mapped[str] = mapped_column(sa.String(8), default="pending")
    email_attempts: Mapped[int] = mapped_column(default=0)
    emailed_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(sa.Text)


# ------------------------------------------------------------------ veille (the watch)


class VeilleSource(Timestamped, Base):
    """Somewhere a persona's team watches: a feed (RSS/Atom, an official crisis feed), a search on
    a network whose plugin offers one, or the persona's own mentions. Polled politely by the
    collector: conditional GET, a next check from the source's own hints, stopped after 3 errors."""

    __tablename__ = "veille_sources"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('feed', 'search', 'mentions')", name="kind_known"),
        sa.CheckConstraint("consecutive_errors >= 0", name="errors_not_negative"),
        sa.Index("ix_veille_sources_due", "enabled", "next_check_at"),
        sa.UniqueConstraint("persona_id", "kind", "plugin", "target"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: the feed plugin ("rss", "vigicrues", "meteoalarm"…) or, for a search, the channel
    plugin: Mapped[str] = mapped_column(sa.String(32))
    #: what is watched: the feed's URL, the search's query (keyword, #hashtag), "" for mentions
    target: Mapped[str] = mapped_column(sa.Text)
    label: Mapped[str] = mapped_column(sa.String(200))
    #: the account a search runs with (its read budget pays for it)
    account_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    #: an official crisis feed: polled at a fixed short interval, and its breaking is an alert
    crisis: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: a fixed interval (seconds) instead of the one the source's hints give
    interval_s: Mapped[int | None]
    #: what one check costs in the account's read budget (network calls)
    cost: Mapped[int] = mapped_column(default=1)
    #: where it came from: the persona file (kept in step with it) or the admin
    origin: Mapped[str] = mapped_column(sa.String(8), default="admin")
    next_check_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    #: the validators of the last answer, both kept for the next conditional GET
    etag: Mapped[str | None] = mapped_column(sa.Text)
    last_modified: Mapped[str | None] = mapped_column(sa.Text)
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: set after 3 consecutive errors: no longer polled until someone checks it again
    broken_at: Mapped[datetime | None]


class VeilleItem(Base):
    """One thing a source brought: an article, an official alert, a post found by a search. Kept
    once per source (the dedup key), sanitised, and followed until seen, dismissed or drafted."""

    __tablename__ = "veille_items"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "dedup_key"),
        sa.CheckConstraint("status IN ('new', 'seen', 'dismissed', 'drafted')", name="status_known"),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('green', 'yellow', 'orange', 'red')", name="severity_known"
        ),
        # the watch board: a persona's stream, newest first
        sa.Index("ix_veille_items_persona_captured", "persona_id", "captured_at", "id"),
    )

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("veille_sources.id", ondelete="CASCADE"))
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    #: SHA-256 of the raw GUID, else of the URL, else of title + content
    dedup_key: Mapped[str] = mapped_column(sa.String(64))
    guid: Mapped[str | None] = mapped_column(sa.Text)
    url: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.Text, default="")
    #: sanitised HTML (nh3) when the source gave HTML, else None
    summary_html: Mapped[str | None] = mapped_column(sa.Text)
    #: the same as plain text (what a search, the keyword match and a draft read)
    summary_text: Mapped[str] = mapped_column(sa.Text, default="")
    author: Mapped[str | None] = mapped_column(sa.String(300))
    published_at: Mapped[datetime | None]
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: SHA-256 of what was captured (title, text, URL): the draft's origin cites it
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    #: the persona's crisis keywords found in it
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    #: an official alert's level and area (département, river section)
    severity: Mapped[str | None] = mapped_column(sa.String(8))
    area: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), default="new")
    status_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    status_at: Mapped[datetime | None]
    #: the post drafted from it
    post_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("posts.id", ondelete="SET NULL"))
    demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class VeilleTombstone(Base):
    """A dismissed (or purged) item's key: it never comes back from its source."""

    __tablename__ = "veille_tombstones"

    source_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("veille_sources.id", ondelete="CASCADE"), primary_key=True
    )
    dedup_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrisisPosture(Base):
    """A crisis posture proposed to a persona's managers (crisis keywords, an orange or red official
    vigilance, a volume spike): hold the scheduled promotional posts, offer the pre-approved safety
    templates, tighten the inbox targets. Nothing happens until a manager accepts; all audited."""

    __tablename__ = "crisis_postures"
    __table_args__ = (
        sa.CheckConstraint("trigger IN ('keyword', 'vigilance', 'spike', 'manual')", name="trigger_known"),
        sa.CheckConstraint("state IN ('proposed', 'accepted', 'declined', 'ended')", name="state_known"),
        sa.Index("ix_crisis_postures_persona_state", "persona_id", "state"),
    )

    id: Mapped[uuid.UUID] = _id()
    persona_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("personas.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(sa.String(16))
    #: the item that raised it (an alert, an article), when one did
    item_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("veille_items.id", ondelete="SET NULL"))
    #: the figures and names behind it (keyword, level and area, the spike's counts)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default="proposed")
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: the deliveries the posture held (given back, or not, when it ends)
    held_delivery_ids: Mapped[list[Any]] = mapped_column(default=list)
