"""The public contract between Porte-voix and a channel plugin.

This module (re-exported by :mod:`core.channels`) is the *only* part of Porte-voix a
channel plugin imports. Everything that crosses the boundary is a frozen msgspec
Struct owned by the host, or one of the typed errors below. A plugin never touches
the database, the job queue or the web framework: the host maps results and errors
to delivery states and job outcomes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
import msgspec

#: Bumped on a breaking change of this module. A plugin lists the versions it supports
#: in ``ChannelPlugin.contract_versions``; the registry refuses a plugin that lists none
#: of the host's.
CONTRACT_VERSION = "1"


class Feature(enum.StrEnum):
    """What a network lets a plugin do beyond publishing."""

    PUBLISH = "publish"
    REPOST = "repost"
    QUOTE = "quote"
    REPLY = "reply"
    PRIVATE_MESSAGES = "private_messages"
    DELETE = "delete"
    METRICS = "metrics"
    SEARCH = "search"
    WEBHOOKS = "webhooks"
    INBOX = "inbox"
    HIDE = "hide"  # hide a comment from the public (Meta ``is_hidden`` / ``hide``, X hidden replies)
    DELETE_COMMENTS = "delete_comments"  # delete someone else's comment on our post
    BAN = "ban"  # ban or block the author (Facebook Page blocked list, Mastodon/Bluesky block)
    RECONCILE = "reconcile"
    OAUTH = "oauth"
    #: the account offers publish options read from the network (TikTok's creator_info)
    PUBLISH_OPTIONS = "publish_options"


class Format(enum.StrEnum):
    """The shapes a post can take on a network."""

    POST = "post"  # text, optionally with a link or images
    PHOTO = "photo"
    VIDEO = "video"
    REEL = "reel"
    STORY = "story"
    CAROUSEL = "carousel"


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    GIF = "gif"


class TextCounting(enum.StrEnum):
    """How a network counts the length of a text."""

    CHARACTERS = "characters"  # Unicode code points
    GRAPHEMES = "graphemes"  # user-perceived characters (Bluesky)
    UTF16 = "utf16"  # UTF-16 code units (Meta, LinkedIn count this way)
    TWITTER = "twitter"  # twitter-text v3 weighted length (URLs = 23, emoji/CJK = 2)
    MASTODON = "mastodon"  # code points, every URL counts 23, @user@domain counts as @user


class TextRules(msgspec.Struct, frozen=True, kw_only=True):
    limit: int
    counting: TextCounting = TextCounting.CHARACTERS
    max_hashtags: int | None = None
    max_mentions: int | None = None
    #: a separate, shorter limit on a title where the network has one (TikTok photo title)
    title_limit: int | None = None


class MediaRules(msgspec.Struct, frozen=True, kw_only=True):
    kind: MediaKind
    max_count: int
    max_bytes: int | None = None
    content_types: frozenset[str] = frozenset()
    min_aspect_ratio: float | None = None  # width / height
    max_aspect_ratio: float | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    min_width: int | None = None


class FormatRules(msgspec.Struct, frozen=True, kw_only=True):
    """What one format accepts: how many media of which kind, and whether text is allowed."""

    format: Format
    media: tuple[MediaRules, ...] = ()
    min_media: int = 0
    max_media: int = 0
    text_allowed: bool = True


class OptionKind(enum.StrEnum):
    CHOICE = "choice"  # one value among ``choices``
    BOOL = "bool"  # on or off: ``"true"`` / ``"false"`` in :attr:`Draft.options`


class PublishOption(msgspec.Struct, frozen=True, kw_only=True):
    """One choice the author makes for a post on a network (TikTok's privacy level, "no duet"…).

    In :attr:`Capabilities.options` it says what the network always asks (``choices`` empty when
    they depend on the account); :meth:`ChannelPlugin.publish_options` gives the account's own.
    The chosen value travels in :attr:`Draft.options` under ``name``, always as a string.
    """

    name: str  # stable, the key in Draft.options: "privacy_level", "disable_duet"
    kind: OptionKind = OptionKind.CHOICE
    label: str = ""  # English; the host translates it (French first)
    choices: tuple[str, ...] = ()
    #: the post cannot go without a value (and the network forbids picking one for the author)
    required: bool = False
    #: the account turned this off in the network's own app: shown, not changeable (a BOOL
    #: option then stays on: "comments disabled" cannot be re-enabled from here)
    disabled: bool = False
    #: the value the composer starts with; None: nothing chosen (required choices start empty)
    default: str | None = None
    #: only for these formats (empty: all of the network's formats)
    formats: frozenset[Format] = frozenset()

    def applies_to(self, fmt: Format) -> bool:
        return not self.formats or fmt in self.formats


class PublishOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`ChannelPlugin.publish_options` read for one account."""

    options: tuple[PublishOption, ...] = ()
    #: constraints of this account the author must know (longest video it may post…)
    notices: tuple[str, ...] = ()
    max_video_duration_s: float | None = None

    def get(self, name: str) -> PublishOption | None:
        return next((option for option in self.options if option.name == name), None)


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    text: TextRules
    formats: tuple[FormatRules, ...]
    features: frozenset[Feature]
    #: constraints the network imposes that the user must know (shown in the composer),
    #: e.g. TikTok's private-only posting for unaudited apps.
    notices: tuple[str, ...] = ()
    #: a private message may be answered only this long after the person's last message
    #: (Messenger and Instagram: 24 hours; TikTok Business Messaging: 48 hours); None: no window
    message_reply_window: timedelta | None = None
    #: the options a draft carries on this network (:class:`PublishOption`): a required one
    #: missing, or a value outside static ``choices``, is a violation before scheduling
    options: tuple[PublishOption, ...] = ()

    def format_rules(self, fmt: Format) -> FormatRules | None:
        return next((rules for rules in self.formats if rules.format == fmt), None)

    def supports(self, feature: Feature) -> bool:
        return feature in self.features


# --------------------------------------------------------------------------- data in


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """Decrypted credentials of one account, handed to the plugin per call."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    token_type: str = "bearer"
    scope: str | None = None
    #: network-specific values: page id, DID, PDS host, instance URL, person URN…
    extra: dict[str, str] = {}


class AccountRef(msgspec.Struct, frozen=True, kw_only=True):
    """The account a call acts for."""

    external_id: str  # page id, IG user id, organization URN, X user id, DID…
    handle: str
    credentials: Credentials


class MediaItem(msgspec.Struct, frozen=True, kw_only=True):
    kind: MediaKind
    content_type: str
    alt_text: str = ""
    path: str | None = None  # local file the plugin may upload
    url: str | None = None  # public URL, for networks that fetch media themselves (Instagram, TikTok PULL_FROM_URL)
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    has_captions: bool = False


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """What to publish on one account: the delivery's text (variant already applied)."""

    text: str
    format: Format = Format.POST
    media: tuple[MediaItem, ...] = ()
    link: str | None = None
    title: str | None = None
    #: a stable reference of this delivery, unique per account, sent where the network
    #: accepts one (Mastodon ``Idempotency-Key``) and used by ``reconcile``.
    client_ref: str = ""
    reply_to: str | None = None  # remote id of the post or comment answered
    quote_of: str | None = None  # remote id of a quoted post
    #: network-specific options chosen by the author (TikTok privacy level, …): the
    #: :class:`PublishOption` names, values as strings (``"true"``/``"false"`` for a BOOL)
    options: dict[str, str] = {}


# --------------------------------------------------------------------------- data out


class PreparedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The exact HTTP request a plugin would send; what dry-run mode records.

    Secrets (Authorization header, tokens in the query) are redacted by the plugin.
    """

    method: str
    url: str
    headers: dict[str, str] = {}
    json: Any = None
    form: dict[str, str] | None = None
    note: str = ""  # e.g. "step 1 of 3: create the media container"


class PublishResult(msgspec.Struct, frozen=True, kw_only=True):
    remote_id: str
    url: str | None = None
    published_at: datetime | None = None
    #: for a dry run, the request that would have been sent
    requests: tuple[PreparedRequest, ...] = ()


class InboxKind(enum.StrEnum):
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"
    MESSAGE = "message"


class RemoteItem(msgspec.Struct, frozen=True, kw_only=True):
    """A comment, reply, mention or private message found on the network."""

    remote_id: str
    kind: InboxKind
    text: str
    author_id: str
    author_handle: str = ""
    author_name: str = ""
    created_at: datetime
    thread_id: str | None = None  # the post commented, or the conversation
    parent_id: str | None = None  # the item answered, when it is a reply
    url: str | None = None
    #: which of our accounts received it (the Page id, IG user id, X ``for_user_id``…): set by
    #: ``parse_webhook``, whose payloads name the account; ``fetch_inbox`` may leave it None
    account_id: str | None = None


class InboxPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[RemoteItem, ...]
    #: opaque cursor to pass back to fetch what came after. None: the sweep is finished, the next
    #: poll starts over (Meta's and LinkedIn's walks). The very cursor that was passed in: caught
    #: up, nothing new since — the host stops for now and passes it again next time (X's and
    #: Bluesky's ``since``)
    next_cursor: str | None = None
    #: the inbox's sources that failed this time (``"conversations"`` → the network's words):
    #: each source fails on its own, the items of the others are in ``items``. A source refused
    #: for good (a permission the token lacks) is left out of the sweep; a temporary failure
    #: keeps its place in ``next_cursor`` and is asked again.
    unavailable: dict[str, str] = {}


class AccountMetrics(msgspec.Struct, frozen=True, kw_only=True):
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    impressions: int | None = None
    extra: dict[str, float] = {}
    #: the API version that produced these figures (Graph "v23.0", X "2", LinkedIn "202610"…):
    #: metric names get deprecated, so the host stores it with each sample
    api_version: str = ""


class PostMetrics(msgspec.Struct, frozen=True, kw_only=True):
    remote_id: str
    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    extra: dict[str, float] = {}
    #: as :attr:`AccountMetrics.api_version`
    api_version: str = ""


class UsageReport(msgspec.Struct, frozen=True, kw_only=True):
    """A rate-limit snapshot read from a response's headers."""

    channel: str
    endpoint: str
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    #: percentage-style usage (Meta's X-App-Usage / X-Business-Use-Case-Usage)
    used_percent: float | None = None
    account_external_id: str | None = None


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    state: str
    code_verifier: str | None = None  # keep server-side; send back to exchange_code


class TokenSet(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scope: str | None = None
    token_type: str = "bearer"
    extra: dict[str, str] = {}


class WebhookChallenge(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a network's subscription check (hub.challenge, crc_token…)."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


class WebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes


# --------------------------------------------------------------------------- errors


class ChannelError(Exception):
    """Base of every error a plugin raises. ``network_message`` is shown to the author."""

    def __init__(self, message: str, *, network_message: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.network_message = network_message or message
        self.status = status


class RateLimited(ChannelError):
    """The network refused for rate; nothing may be sent on this account before ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class CredentialsExpired(ChannelError):
    """The token is expired or revoked: the account needs to be reconnected."""


class Rejected(ChannelError):
    """The network refused this content for good (duplicate, too long, policy…)."""

    def __init__(self, message: str, *, code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code


class Transient(ChannelError):
    """A temporary failure (5xx, timeout, dropped connection): retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class NotSupported(ChannelError):
    """The plugin or the network does not offer this operation."""


class Ambiguous(ChannelError):
    """``reconcile`` cannot tell whether, or which, post the attempt made: several posts match the
    draft, or the network cannot prove a post absent (TikTok lists public posts only, once moderated).

    Neither answer is safe: "found" may record another post's id (and lose this one), "not
    found" may publish a second copy. The host leaves the delivery ``uncertain`` for a person to
    decide. ``candidates`` are the remote ids that matched (none when nothing did).
    """

    def __init__(self, message: str, *, candidates: tuple[str, ...] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.candidates = candidates


# --------------------------------------------------------------------------- plugin


@runtime_checkable
class UsageRecorder(Protocol):
    """Where a plugin reports the rate-limit headers of every response. Must not block."""

    def record(self, report: UsageReport) -> None: ...


class NullUsageRecorder:
    def record(self, report: UsageReport) -> None:  # noqa: D102 - nothing to do
        return None


class ChannelSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Per-channel settings from the host's configuration: ``PORTEVOIX_CHANNEL_<KEY>_<FIELD>``
    (``PORTEVOIX_CHANNEL_X_BASE_URL``, ``…_CLIENT_ID``; ``…_EXTRA_<NAME>`` fills ``extra``)."""

    base_url: str
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""
    webhook_secret: str = ""
    #: a second base URL where a network splits its hosts (upload.twitter.com, oauth hosts…)
    extra: dict[str, str] = {}


class ChannelPlugin:
    """Base class of a channel plugin. Subclass it, set the class attributes, implement operations.

    An operation the network does not offer keeps the default, which raises
    :class:`NotSupported`; the declared ``capabilities.features`` must agree (the
    conformance suite checks it).
    """

    key: ClassVar[str]  # stable id, e.g. "x"; unique across installed plugins
    name: ClassVar[str]  # shown to people, e.g. "X (Twitter)"
    contract_versions: ClassVar[frozenset[str]] = frozenset({CONTRACT_VERSION})
    capabilities: ClassVar[Capabilities]
    #: default API base URL of the real network; the host's settings override it
    default_base_url: ClassVar[str]

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        http: httpx.AsyncClient | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self.usage: UsageRecorder = usage or NullUsageRecorder()

    # -- publishing
    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        """The exact request(s) ``publish`` would send, for dry-run mode. No network call.

        Required of every plugin that declares ``Feature.PUBLISH`` (the conformance suite checks it).
        """
        raise NotSupported(f"{self.key}: dry run not implemented")

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        raise NotSupported(f"{self.key}: publish not supported")

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        raise NotSupported(f"{self.key}: repost not supported")

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        """Delete a post; a post already gone counts as deleted (the host may retry)."""
        raise NotSupported(f"{self.key}: delete not supported")

    async def reconcile(
        self, account: AccountRef, draft: Draft, *, not_before: datetime, not_after: datetime
    ) -> PublishResult | None:
        """Find a post an interrupted attempt may have made: by client reference, or by
        text within the time window. ``None`` means "certainly not there".

        Page back through the account's posts to ``not_before`` (bounded by time, never by a
        count), compare the network's own rendering of the text exactly (:func:`same_text`), and
        raise :class:`Ambiguous` when several posts of the window match (:func:`single_match`)."""
        raise NotSupported(f"{self.key}: reconcile not supported")

    async def publish_options(self, account: AccountRef) -> PublishOptions:
        """The options this account offers right now (TikTok: ``creator_info``): the composer
        shows them, and a draft must choose among them. Declared with ``Feature.PUBLISH_OPTIONS``."""
        raise NotSupported(f"{self.key}: publish options not supported")

    # -- conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        raise NotSupported(f"{self.key}: inbox not supported")

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        raise NotSupported(f"{self.key}: reply not supported")

    # -- moderation
    async def hide_item(self, account: AccountRef, item: RemoteItem, *, hidden: bool = True) -> None:
        """Hide (or show again) a comment from the public; its author still sees it."""
        raise NotSupported(f"{self.key}: hiding comments not supported")

    async def delete_item(self, account: AccountRef, item: RemoteItem) -> None:
        """Delete someone else's comment on our post; one already gone counts as deleted."""
        raise NotSupported(f"{self.key}: deleting comments not supported")

    async def ban_author(self, account: AccountRef, item: RemoteItem) -> None:
        """Ban or block the item's author from the account."""
        raise NotSupported(f"{self.key}: banning not supported")

    # -- search (veille)
    async def search(self, account: AccountRef, query: str, cursor: str | None) -> InboxPage:
        """Public posts matching ``query`` (words or a ``#hashtag``), newest first, a page at a
        time; ``cursor`` and ``next_cursor`` work as in :meth:`fetch_inbox`. Each hit is a
        :class:`RemoteItem` of kind ``MENTION`` (it mentions the query), ``thread_id`` its post.

        The watch (``core.veille.search``) keeps ``next_cursor`` between checks: a network that can
        ask for "newer than" (X ``since_id``, Mastodon's tag timeline) hands back a cursor that
        reads only what is new. A network that searches hashtags only refuses anything else with
        :class:`Rejected` (Instagram, code ``hashtag_only``)."""
        raise NotSupported(f"{self.key}: search not supported")

    # -- metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        raise NotSupported(f"{self.key}: metrics not supported")

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        raise NotSupported(f"{self.key}: metrics not supported")

    # -- OAuth
    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        raise NotSupported(f"{self.key}: OAuth not supported")

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        raise NotSupported(f"{self.key}: OAuth not supported")

    async def refresh(self, credentials: Credentials) -> TokenSet:
        raise NotSupported(f"{self.key}: token refresh not supported")

    # -- webhooks
    def webhook_challenge(self, request: WebhookRequest) -> WebhookChallenge | None:
        """Answer the network's subscription check, or None if this is not one."""
        raise NotSupported(f"{self.key}: webhooks not supported")

    def verify_webhook(self, request: WebhookRequest) -> bool:
        raise NotSupported(f"{self.key}: webhooks not supported")

    def parse_webhook(self, request: WebhookRequest) -> list[RemoteItem]:
        raise NotSupported(f"{self.key}: webhooks not supported")

    async def aclose(self) -> None:
        await self.http.aclose()


# --------------------------------------------------------------------------- features ↔ operations


class FeatureOperations(msgspec.Struct, frozen=True, kw_only=True):
    """The :class:`ChannelPlugin` operations behind one :class:`Feature`."""

    #: all implemented when the feature is declared
    required: tuple[str, ...] = ()
    #: at least one implemented (some networks count posts only, or accounts only)
    any_of: tuple[str, ...] = ()
    #: may be implemented, and only with the feature declared
    optional: tuple[str, ...] = ()
    #: the feature this one only makes sense on top of
    needs: Feature | None = None

    @property
    def operations(self) -> tuple[str, ...]:
        return self.required + self.any_of + self.optional


#: What declaring a feature promises, and what implementing an operation requires declaring:
#: capabilities are *honest* when both hold (the conformance suite checks them).
FEATURE_OPERATIONS: Mapping[Feature, FeatureOperations] = MappingProxyType(
    {
        Feature.PUBLISH: FeatureOperations(required=("publish", "prepare_publish")),  # dry run too
        Feature.REPOST: FeatureOperations(required=("repost",)),
        Feature.QUOTE: FeatureOperations(needs=Feature.PUBLISH),  # a publish with Draft.quote_of
        Feature.REPLY: FeatureOperations(required=("reply",)),
        # private messages arrive through the inbox
        Feature.PRIVATE_MESSAGES: FeatureOperations(required=("fetch_inbox",)),
        Feature.DELETE: FeatureOperations(required=("delete",)),
        Feature.METRICS: FeatureOperations(any_of=("fetch_account_metrics", "fetch_post_metrics")),
        Feature.SEARCH: FeatureOperations(required=("search",)),
        Feature.WEBHOOKS: FeatureOperations(
            required=("verify_webhook", "parse_webhook"), optional=("webhook_challenge",)
        ),
        Feature.INBOX: FeatureOperations(required=("fetch_inbox",)),
        Feature.HIDE: FeatureOperations(required=("hide_item",), needs=Feature.INBOX),
        Feature.DELETE_COMMENTS: FeatureOperations(required=("delete_item",), needs=Feature.INBOX),
        Feature.BAN: FeatureOperations(required=("ban_author",), needs=Feature.INBOX),
        Feature.RECONCILE: FeatureOperations(required=("reconcile",)),
        Feature.OAUTH: FeatureOperations(required=("authorization_url", "exchange_code"), optional=("refresh",)),
        Feature.PUBLISH_OPTIONS: FeatureOperations(required=("publish_options",), needs=Feature.PUBLISH),
    }
)


def operation_features(operation: str) -> frozenset[Feature]:
    """The features that allow ``operation``: implementing it without one of them is dishonest."""
    return frozenset(f for f, ops in FEATURE_OPERATIONS.items() if operation in ops.operations)
