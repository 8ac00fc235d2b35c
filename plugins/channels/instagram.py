"""Instagram professional accounts through the Instagram API with Facebook Login.

Calls go to ``graph.facebook.com``; ``AccountRef.external_id`` is the IG user id and
``Credentials.access_token`` the long-lived Facebook user token. Instagram fetches media
itself, so every ``MediaItem`` needs a public ``url``.

Settings (``ChannelSettings.extra``): ``graph_version``; ``poll_interval`` and
``poll_attempts`` for the container status polling; ``max_hashtags`` (30 historically, 5
reported since 2025 — reference §9); ``enable_delete`` = "true" to offer the reportedly
working ``DELETE /{ig-media-id}``; ``publish_limit_wait`` (seconds to wait when the 24 h
publishing quota is spent); ``inbox_page_size``, ``inbox_lookback_days``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import msgspec

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    AuthorizationRequest,
    Capabilities,
    ChannelError,
    ChannelPlugin,
    ChannelSettings,
    Credentials,
    Draft,
    Feature,
    Format,
    FormatRules,
    InboxKind,
    InboxPage,
    MediaItem,
    MediaKind,
    MediaRules,
    NotSupported,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    RateLimited,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    Transient,
    UsageRecorder,
    UsageReport,
    WebhookChallenge,
    WebhookRequest,
    public_media_url_problem,
    same_text,
    single_match,
)
from plugins.channels import _meta
from plugins.channels._meta import Fetch, GraphCall

MIB = 1024 * 1024
_JPEG = frozenset({"image/jpeg"})
_VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
# Feed images: JPEG ≤ 8 MiB, 4:5 (portrait) to 1.91:1 (landscape) — error 36003 otherwise.
_FEED_IMAGE = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=10,
    max_bytes=8 * MIB,
    content_types=_JPEG,
    min_aspect_ratio=0.8,
    max_aspect_ratio=1.91,
)
# A single-photo post: the feed image rules, one of them.
_SINGLE_IMAGE = msgspec.structs.replace(_FEED_IMAGE, max_count=1)
# Reels: 3 s – 15 min; 300 MB is the older documented cap (newer text says 1 GB): the
# stricter value never lets through what Meta might refuse.
_REEL_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=1,
    max_bytes=300 * MIB,
    content_types=_VIDEO_TYPES,
    min_duration_s=3,
    max_duration_s=900,
)
# Carousel videos follow the feed-video limits (3–60 s).
_CAROUSEL_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=10,
    max_bytes=300 * MIB,
    content_types=_VIDEO_TYPES,
    min_duration_s=3,
    max_duration_s=60,
)
# Stories: 9:16 is expected, so no feed aspect-ratio bounds; videos 3–60 s, ≤ 100 MB.
_STORY_IMAGE = MediaRules(kind=MediaKind.IMAGE, max_count=1, max_bytes=8 * MIB, content_types=_JPEG)
_STORY_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=1,
    max_bytes=100 * MIB,
    content_types=_VIDEO_TYPES,
    min_duration_s=3,
    max_duration_s=60,
)

DEFAULT_SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
)
COMMENT_FIELDS = "id,text,timestamp,username,from,parent_id"
#: what ``/{hashtag-id}/recent_media`` gives (no owner: Graph hides who posted hashtag media)
HASHTAG_FIELDS = "id,caption,media_type,permalink,timestamp"
#: the endpoint name of the publishing quota in usage reports (and the budgets)
PUBLISHING_QUOTA = "content_publishing_limit"
USER_METRICS = "reach,views,accounts_engaged,total_interactions"
MEDIA_METRICS = "views,reach,likes,comments,shares,saved"
TERMINAL_FAILURES = ("ERROR", "EXPIRED")


class InstagramPlugin(ChannelPlugin):
    key: ClassVar[str] = "instagram"
    name: ClassVar[str] = "Instagram"
    default_base_url: ClassVar[str] = "https://graph.facebook.com"
    capabilities: ClassVar[Capabilities] = Capabilities(
        text=TextRules(limit=2_200, counting=TextCounting.UTF16, max_hashtags=30, max_mentions=20),
        formats=(
            # A feed post: one image (or a video, published as a reel since 2023); 2–10 media
            # make a carousel. There is no text-only post on Instagram.
            FormatRules(format=Format.POST, media=(_FEED_IMAGE, _REEL_VIDEO), min_media=1, max_media=10),
            FormatRules(format=Format.PHOTO, media=(_SINGLE_IMAGE,), min_media=1, max_media=1),
            FormatRules(
                format=Format.CAROUSEL,
                media=(_FEED_IMAGE, _CAROUSEL_VIDEO),
                min_media=2,
                max_media=10,
            ),
            FormatRules(format=Format.REEL, media=(_REEL_VIDEO,), min_media=1, max_media=1),
            # Stories carry no caption: the API has none for them.
            FormatRules(
                format=Format.STORY,
                media=(_STORY_IMAGE, _STORY_VIDEO),
                min_media=1,
                max_media=1,
                text_allowed=False,
            ),
        ),
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.REPLY,
                Feature.INBOX,
                Feature.METRICS,
                Feature.OAUTH,
                Feature.RECONCILE,
                Feature.WEBHOOKS,
                Feature.HIDE,
                Feature.DELETE_COMMENTS,
                Feature.SEARCH,
                # no BAN: the Instagram Graph API has no endpoint to block or restrict a person
            }
        ),
        # Instagram messaging: an answer within 24 hours of the person's last message.
        message_reply_window=timedelta(hours=24),
        notices=(
            N_("Instagram fetches every media from a public HTTPS URL at publishing time."),
            N_("At most 50 API-published posts per rolling 24 hours (carousels count once); read at runtime."),
            N_("Comments can be hidden or deleted; Instagram's API cannot block a person: do it in the app."),
        ),
    )

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        http: httpx.AsyncClient | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        super().__init__(settings, http=http, usage=usage)
        self.graph = _meta.graph_for(self)
        self.poll_interval = _meta.float_setting(settings, "poll_interval", 3.0)
        self.poll_attempts = _meta.int_setting(settings, "poll_attempts", 40)
        self.publish_limit_wait = _meta.float_setting(settings, "publish_limit_wait", 3600.0)
        self.page_size = _meta.int_setting(settings, "inbox_page_size", 25)
        self.inbox_lookback = timedelta(days=_meta.int_setting(settings, "inbox_lookback_days", 14))
        self.delete_enabled = settings.extra.get("enable_delete", "").lower() == "true"
        if self.delete_enabled:
            # Deleting is opt-in (reference §9: reported to work, not documented), so the class
            # neither implements nor declares it; an instance configured for it offers both.
            self.delete = self._delete_media  # type: ignore[method-assign]
        # The hashtag cap and the delete feature depend on settings (reference §9), so this
        # instance narrows the class-level declaration. See the report: the contract has no
        # per-settings capabilities yet.
        self.capabilities = _configured_capabilities(settings, self.delete_enabled)  # type: ignore[misc]

    # ------------------------------------------------------------------ publishing
    def _media(self, draft: Draft) -> list[MediaItem]:
        # ``simulated``: set by the demo's simulated Instagram only, which fetches from 127.0.0.1
        return _media_with_urls(draft, allow_loopback=self.settings.extra.get("simulated") == "true")

    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        ig = account.external_id
        items = self._media(draft)
        calls = [
            GraphCall(
                "GET",
                f"/{ig}/content_publishing_limit",
                params={"fields": "quota_usage,config"},
                note="check the 24 h publishing quota",
            )
        ]
        if _is_carousel(draft):
            placeholders = [f"{{child-{i}-id}}" for i in range(1, len(items) + 1)]
            for item, placeholder in zip(items, placeholders, strict=True):
                calls += [_child_call(ig, item), _status_call(placeholder)]
            parent = _carousel_call(ig, draft, placeholders)
        else:
            parent = _single_call(ig, draft, items[0])
        calls += [parent, _status_call("{container-id}"), _publish_call(ig, "{container-id}")]
        total = len(calls)
        return tuple(self.graph.prepare(_noted(c, f"step {i} of {total}: {c.note}")) for i, c in enumerate(calls, 1))

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        items = self._media(draft)  # refuse before spending any quota or container
        await self._check_quota(account)
        if _is_carousel(draft):
            children = [await self._container(account, _child_call(account.external_id, item)) for item in items]
            container = await self._container(account, _carousel_call(account.external_id, draft, children))
        else:
            container = await self._container(account, _single_call(account.external_id, draft, items[0]))
        body = await self._send(account, _publish_call(account.external_id, container))
        media_id = str(body["id"])
        return PublishResult(
            remote_id=media_id,
            url=await self._permalink(account, media_id),
            published_at=datetime.now(UTC),
        )

    async def _check_quota(self, account: AccountRef) -> None:
        usage, total = await self._publishing_quota(account)
        if usage is not None and total is not None and usage >= total:
            # The window is a rolling 24 h and Meta does not say when a slot frees up.
            raise RateLimited(
                f"instagram: publishing quota spent ({usage}/{total} in 24 h)",
                retry_after=self.publish_limit_wait,
                network_message=f"Instagram publishing limit reached: {usage} of {total} posts in 24 hours",
            )

    async def _publishing_quota(self, account: AccountRef) -> tuple[int | None, int | None]:
        """``content_publishing_limit``: the posts published in the moving 24 hours and the quota
        (100 today; 25 and 50 before — read, never assumed; a carousel counts one). Reported to the
        usage recorder as the ``content_publishing_limit`` budget, which no header carries."""
        call = GraphCall(
            "GET",
            f"/{account.external_id}/content_publishing_limit",
            params={"fields": "quota_usage,config"},
        )
        entries = _meta.data_of(await self._send(account, call))
        if not entries:
            return None, None
        usage = entries[0].get("quota_usage")
        total = _meta.as_dict(entries[0].get("config")).get("quota_total")
        usage = usage if isinstance(usage, int) else None
        total = total if isinstance(total, int) else None
        if total is not None:
            # No reset time: in a moving window a slot frees as each post turns 24 hours old.
            self.usage.record(
                UsageReport(
                    channel=self.key,
                    endpoint=PUBLISHING_QUOTA,
                    limit=total,
                    remaining=max(0, total - (usage or 0)),
                    account_external_id=account.external_id,
                )
            )
        return usage, total

    async def _container(self, account: AccountRef, call: GraphCall) -> str:
        """Create a container and wait until Instagram has fetched and processed its media."""
        container_id = str((await self._send(account, call))["id"])
        for attempt in range(self.poll_attempts):
            body = await self._send(account, _status_call(container_id))
            status = str(body.get("status_code", ""))
            if status == "FINISHED":
                return container_id
            if status in TERMINAL_FAILURES:
                detail = str(body.get("status") or status)
                raise Rejected(
                    f"instagram: container {container_id} {status}: {detail}",
                    code=status,
                    network_message=detail,
                )
            if attempt + 1 < self.poll_attempts:
                await asyncio.sleep(self.poll_interval)
        # Nothing was published: an unpublished container simply expires, so a retry is safe.
        raise Transient(f"instagram: container {container_id} still processing after {self.poll_attempts} polls")

    async def _permalink(self, account: AccountRef, media_id: str) -> str | None:
        # The media is already public: a failure here must not turn into a retry (double post).
        try:
            body = await self._send(account, GraphCall("GET", f"/{media_id}", params={"fields": "permalink"}))
        except ChannelError:
            return None
        permalink = body.get("permalink")
        return str(permalink) if permalink else None

    async def _delete_media(self, account: AccountRef, remote_id: str) -> None:
        """``delete`` of an instance configured with ``enable_delete=true``."""
        body = await self._send(account, GraphCall("DELETE", f"/{remote_id}"))
        if body.get("success") is not True:
            raise Rejected(
                f"instagram: deletion of {remote_id} not confirmed",
                network_message=json.dumps(body),
            )

    async def reconcile(
        self, account: AccountRef, draft: Draft, *, not_before: datetime, not_after: datetime
    ) -> PublishResult | None:
        """The account's media of the window whose caption is exactly the draft's text, every page of
        the window read. A story has no caption: it is the one story of the window, and two make
        :class:`Ambiguous` (nothing tells them apart)."""
        if draft.reply_to:
            return single_match(
                [r async for r in self._replies_like(account, draft, not_before, not_after)], channel=self.key
            )
        story = draft.format is Format.STORY
        edge = "stories" if story else "media"
        params = {"fields": "id,caption,timestamp,permalink", "limit": "100"}
        if not story:  # the stories edge lists the last 24 h and takes no time bounds
            params |= {"since": _meta.unix(not_before), "until": _meta.unix(not_after)}
        path, start = f"/{account.external_id}/{edge}", _meta.whole_second(not_before)
        token = account.credentials.access_token
        matches = []
        async for media in _meta.edge_items(self.graph, path, params, token=token, account_id=account.external_id):
            published = _meta.parse_time(media.get("timestamp"))
            if start <= published <= not_after and (story or same_text(media.get("caption"), draft.text)):
                matches.append(
                    PublishResult(remote_id=str(media["id"]), url=media.get("permalink"), published_at=published)
                )
        return single_match(matches, channel=self.key)

    async def _replies_like(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> AsyncIterator[PublishResult]:
        """The account's replies with the draft's text where :meth:`reply` put them: under the comment
        answered, or under its parent when that is itself a reply."""
        answered = await self._send(account, GraphCall("GET", f"/{draft.reply_to}", params={"fields": "id,parent_id"}))
        target = answered.get("parent_id") or draft.reply_to
        params = {"fields": "id,text,timestamp,from", "limit": "100"}
        token, start = account.credentials.access_token, _meta.whole_second(not_before)
        path = f"/{target}/replies"
        async for reply in _meta.edge_items(self.graph, path, params, token=token, account_id=account.external_id):
            created = _meta.parse_time(reply.get("timestamp"))
            mine = str(_meta.as_dict(reply.get("from")).get("id", "")) == account.external_id
            if mine and start <= created <= not_after and same_text(reply.get("text"), draft.text):
                yield PublishResult(remote_id=str(reply["id"]), published_at=created)

    # ------------------------------------------------------------------ conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        ig, size = account.external_id, str(self.page_size)
        since = _meta.unix(datetime.now(UTC) - self.inbox_lookback)
        start = [Fetch("media", f"/{ig}/media", {"fields": "id,timestamp", "since": since, "limit": size})]
        handlers = {
            "media": self._on_media,
            "comments": lambda fetch, body: _comments(account, fetch.ctx["media"], size, body),
            "replies": lambda fetch, body: (
                _replies(account, fetch.ctx["media"], _meta.data_of(body)),
                [],
            ),
        }
        return await _meta.walk_inbox(
            self.graph,
            token=account.credentials.access_token,
            account_id=ig,
            cursor=cursor,
            start=start,
            handlers=handlers,
        )

    # ------------------------------------------------------------------ search (veille)
    async def search(self, account: AccountRef, query: str, cursor: str | None) -> InboxPage:
        """Public media of the last 24 hours carrying one hashtag (Instagram has no keyword
        search): ``GET /ig_hashtag_search?user_id&q`` gives the hashtag's id, then
        ``GET /{hashtag-id}/recent_media?user_id&fields``, a page at a time. An IG user may query
        at most 30 distinct hashtags in a rolling 7 days: the 31st is refused by Graph (a
        :class:`Rejected`, code ``24/…``); the host keeps its own count so as not to ask.
        The cursor is ``<hashtag-id>:<after>`` while pages remain; None once the sweep is done
        (the listing covers 24 hours: the next poll reads it again, the host deduplicates)."""
        tag = query.strip().removeprefix("#")
        if not tag or not all(part.isalnum() or part == "_" for part in tag):
            raise Rejected(f"instagram: {query!r} is not one hashtag", code="hashtag_only")
        ig = account.external_id
        if cursor and ":" in cursor:
            hashtag_id, after = cursor.split(":", 1)
        else:
            found = await self._send(account, GraphCall("GET", "/ig_hashtag_search", params={"user_id": ig, "q": tag}))
            hashtag_id, after = str(_meta.data_of(found)[0]["id"]), ""
        params = {"user_id": ig, "fields": HASHTAG_FIELDS, "limit": str(self.page_size)}
        if after:
            params["after"] = after
        body = await self._send(account, GraphCall("GET", f"/{hashtag_id}/recent_media", params=params))
        items = tuple(_hashtag_item(media) for media in _meta.data_of(body))
        more = _meta.next_after(body)
        return InboxPage(items=items, next_cursor=f"{hashtag_id}:{more}" if more else None)

    def _on_media(self, fetch: Fetch, body: dict[str, Any]) -> tuple[list[RemoteItem], list[Fetch]]:
        size = str(self.page_size)
        params = {
            "fields": f"{COMMENT_FIELDS},replies.limit({size}){{{COMMENT_FIELDS}}}",
            "limit": size,
        }
        follow = [
            Fetch(
                "comments",
                f"/{media['id']}/comments",
                dict(params),
                ctx={"media": str(media["id"])},
            )
            for media in _meta.data_of(body)
        ]
        return [], follow

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        if item.kind not in (InboxKind.COMMENT, InboxKind.REPLY):
            raise NotSupported(f"instagram: cannot reply to a {item.kind.value}")
        # Instagram only takes replies on top-level comments: answer a reply under its parent.
        target = item.parent_id if item.kind is InboxKind.REPLY and item.parent_id else item.remote_id
        body = await self._send(account, GraphCall("POST", f"/{target}/replies", form={"message": draft.text}))
        return PublishResult(remote_id=str(body["id"]), published_at=datetime.now(UTC))

    # ------------------------------------------------------------------ moderation
    async def hide_item(self, account: AccountRef, item: RemoteItem, *, hidden: bool = True) -> None:
        """``POST /{ig-comment-id}?hide=true|false``: hidden from everyone but its author."""
        _comment_only(item, "hide")
        params = {"hide": "true" if hidden else "false"}
        body = await self._send(account, GraphCall("POST", f"/{item.remote_id}", params=params))
        _meta.confirmed(body, f"{'hiding' if hidden else 'showing'} {item.remote_id}", "instagram")

    async def delete_item(self, account: AccountRef, item: RemoteItem) -> None:
        """``DELETE /{ig-comment-id}``; a comment already gone (100/33) counts as deleted."""
        _comment_only(item, "delete")
        await _meta.delete_comment(lambda call: self._send(account, call), item.remote_id, "instagram")

    # ------------------------------------------------------------------ metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        ig = account.external_id
        fields = await self._send(
            account,
            GraphCall("GET", f"/{ig}", params={"fields": "followers_count,follows_count,media_count"}),
        )
        params = {
            "metric": self.settings.extra.get("user_insights_metrics", USER_METRICS),
            "period": "day",
            "metric_type": "total_value",
        }
        values = _insight_values(await self._send(account, GraphCall("GET", f"/{ig}/insights", params=params)))
        # the hourly metrics job keeps the publishing budget current between two posts
        await self._publishing_quota(account)
        views = values.get("views")
        return AccountMetrics(
            followers=_int(fields.get("followers_count")),
            following=_int(fields.get("follows_count")),
            posts=_int(fields.get("media_count")),
            impressions=int(views) if views is not None else None,
            extra=values,
            api_version=self.graph.version,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        metrics = self.settings.extra.get("media_insights_metrics", MEDIA_METRICS)
        results = []
        for remote_id in remote_ids:
            try:
                body = await self._send(account, GraphCall("GET", f"/{remote_id}/insights", params={"metric": metrics}))
            except Rejected as exc:
                if exc.code == _meta.OBJECT_GONE:  # deleted on the network: no metrics, not an error
                    continue
                raise
            values = _insight_values(body)
            results.append(
                PostMetrics(
                    remote_id=remote_id,
                    impressions=_int(values.pop("views", None)),
                    likes=_int(values.pop("likes", None)),
                    replies=_int(values.pop("comments", None)),
                    reposts=_int(values.pop("shares", None)),
                    extra=values,
                    api_version=self.graph.version,
                )
            )
        return results

    # ------------------------------------------------------------------ OAuth
    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        return _meta.authorization_request(self.graph, state=state, scopes=scopes or DEFAULT_SCOPES)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        """Code → long-lived user token; the IG accounts linked to the person's Pages in ``extra``."""
        user = await _meta.user_token(self.graph, self.settings, code)
        token = str(user["access_token"])
        params = {"fields": "id,name,instagram_business_account"}
        pages = _meta.data_of(await self.graph.send(GraphCall("GET", "/me/accounts", params=params), token=token))
        linked = [
            {
                "page_id": str(p["id"]),
                "page_name": str(p.get("name", "")),
                "ig_user_id": str(p["instagram_business_account"]["id"]),
            }
            for p in pages
            if isinstance(p.get("instagram_business_account"), dict)
        ]
        if not linked:
            raise Rejected(
                "instagram: no professional account linked to the person's Pages",
                network_message="No Instagram professional account found",
            )
        extra = {
            "ig_user_id": linked[0]["ig_user_id"],
            "page_id": linked[0]["page_id"],
            "accounts": json.dumps(linked),
        }
        return TokenSet(access_token=token, refresh_token=token, expires_at=_meta.expires_at(user), extra=extra)

    async def refresh(self, credentials: Credentials) -> TokenSet:
        """A long-lived user token can be exchanged again for a fresh ≈60-day one while valid."""
        token = credentials.refresh_token or credentials.access_token
        user = await self.graph.send(_meta.long_lived_call(self.settings, token), token=None)
        fresh = str(user["access_token"])
        return TokenSet(
            access_token=fresh,
            refresh_token=fresh,
            expires_at=_meta.expires_at(user),
            extra=dict(credentials.extra),
        )

    # ------------------------------------------------------------------ webhooks
    def webhook_challenge(self, request: WebhookRequest) -> WebhookChallenge | None:
        return _meta.webhook_challenge(self.settings, request)

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return _meta.verify_signature(self.settings, request)

    def parse_webhook(self, request: WebhookRequest) -> list[RemoteItem]:
        """The ``"instagram"`` object: ``comments`` and ``mentions`` changes, ``messaging`` events (DMs).

        Each entry is one of our IG users (``entry.id``), which becomes ``RemoteItem.account_id``.
        The Instagram-Login variant puts ``field``/``value`` in the entry itself; both are read.
        """
        body = _meta.webhook_body(request)
        if body.get("object") != "instagram":
            return []
        items: list[RemoteItem] = []
        for entry in body.get("entry") or []:
            if not isinstance(entry, dict):
                continue
            ig_id, sent = str(entry.get("id", "")), _meta.parse_time(entry.get("time"))
            changes = list(entry.get("changes") or [])
            if "field" in entry:
                changes.append({"field": entry["field"], "value": entry.get("value")})
            for raw in changes:
                change = _meta.as_dict(raw)
                item = _webhook_change(ig_id, sent, change.get("field"), _meta.as_dict(change.get("value")))
                if item is not None:
                    items.append(item)
            for event in entry.get("messaging") or []:
                item = _messaging_event(ig_id, _meta.as_dict(event))
                if item is not None:
                    items.append(item)
        return items

    # ------------------------------------------------------------------ plumbing
    async def _send(self, account: AccountRef, call: GraphCall) -> dict[str, Any]:
        return await self.graph.send(call, token=account.credentials.access_token, account_id=account.external_id)


# --------------------------------------------------------------------------- moderation


def _hashtag_item(media: dict[str, Any]) -> RemoteItem:
    """A hashtag hit: Graph names no author for hashtag media."""
    return RemoteItem(
        remote_id=str(media["id"]),
        kind=InboxKind.MENTION,
        text=str(media.get("caption") or ""),
        author_id="",
        created_at=_meta.parse_time(media.get("timestamp")),
        thread_id=str(media["id"]),
        url=media.get("permalink"),
    )


def _comment_only(item: RemoteItem, what: str) -> None:
    """Only comments on the account's own media can be moderated: not a message, not a mention
    (a comment on someone else's media)."""
    if item.kind not in (InboxKind.COMMENT, InboxKind.REPLY):
        raise NotSupported(f"instagram: cannot {what} a {item.kind.value}")


# --------------------------------------------------------------------------- capabilities


def _configured_capabilities(settings: ChannelSettings, delete_enabled: bool) -> Capabilities:
    caps = InstagramPlugin.capabilities
    if settings.extra.get("max_hashtags"):
        caps = msgspec.structs.replace(
            caps,
            text=msgspec.structs.replace(caps.text, max_hashtags=int(settings.extra["max_hashtags"])),
        )
    if delete_enabled:
        caps = msgspec.structs.replace(caps, features=caps.features | {Feature.DELETE})
    return caps


# --------------------------------------------------------------------------- request builders


def _media_with_urls(draft: Draft, *, allow_loopback: bool = False) -> list[MediaItem]:
    """The draft's media, each with a URL Instagram can fetch: public HTTPS (the demo's simulated
    Instagram, ``extra.simulated``, also fetches from the instance on 127.0.0.1)."""
    if not draft.media:
        raise Rejected(
            "instagram: every post needs an image or a video; Instagram has no text-only post",
            code="media_missing",
            network_message="Instagram needs at least one image or video",
        )
    for index, item in enumerate(draft.media, start=1):
        if not item.url:
            raise Rejected(
                f"instagram: media {index} has no public URL; Instagram fetches media itself and cannot take an upload",
                code="media_url_missing",
                network_message=f"Media {index} needs a public URL for Instagram",
            )
        problem = public_media_url_problem(item.url, allow_loopback=allow_loopback)
        if problem:
            raise Rejected(
                f"instagram: media {index}: {problem} (set PORTEVOIX_PUBLIC_URL)",
                code="media_url_not_public",
                network_message=f"Media {index}: Instagram fetches media from a public HTTPS address",
            )
    if draft.format is Format.STORY and len(draft.media) != 1:
        raise Rejected("instagram: a story carries exactly one image or video", code="story_media_count")
    return list(draft.media)


def _is_carousel(draft: Draft) -> bool:
    return draft.format is Format.CAROUSEL or (draft.format in (Format.POST, Format.PHOTO) and len(draft.media) > 1)


def _media_params(item: MediaItem, *, video_type: str) -> dict[str, str]:
    if item.kind is MediaKind.VIDEO:
        return {"media_type": video_type, "video_url": str(item.url)}
    params = {"image_url": str(item.url)}
    if item.alt_text:
        params["alt_text"] = item.alt_text
    return params


def _single_call(ig: str, draft: Draft, item: MediaItem) -> GraphCall:
    if draft.format is Format.STORY:
        form = {
            "media_type": "STORIES",
            **({"image_url": str(item.url)} if item.kind is not MediaKind.VIDEO else {"video_url": str(item.url)}),
        }
        return GraphCall("POST", f"/{ig}/media", form=form, note="create the story container")
    # Since July 2023 a single feed video is published as a reel.
    form = _media_params(item, video_type="REELS")
    if draft.text:
        form["caption"] = draft.text
    return GraphCall("POST", f"/{ig}/media", form=form, note="create the media container")


def _child_call(ig: str, item: MediaItem) -> GraphCall:
    form = {**_media_params(item, video_type="VIDEO"), "is_carousel_item": "true"}
    return GraphCall("POST", f"/{ig}/media", form=form, note="create a carousel item container")


def _carousel_call(ig: str, draft: Draft, children: Sequence[str]) -> GraphCall:
    form = {"media_type": "CAROUSEL", "children": ",".join(children)}
    if draft.text:
        form["caption"] = draft.text
    return GraphCall("POST", f"/{ig}/media", form=form, note="create the carousel container")


def _status_call(container_id: str) -> GraphCall:
    return GraphCall(
        "GET",
        f"/{container_id}",
        params={"fields": "status_code,status"},
        note="poll until FINISHED",
    )


def _publish_call(ig: str, container_id: str) -> GraphCall:
    return GraphCall(
        "POST",
        f"/{ig}/media_publish",
        form={"creation_id": container_id},
        note="publish the container",
    )


def _noted(call: GraphCall, note: str) -> GraphCall:
    return GraphCall(call.method, call.path, call.params, call.form, call.upload, note, call.authenticated)


# --------------------------------------------------------------------------- mapping


def _comment_item(account: AccountRef, media_id: str, raw: dict[str, Any]) -> RemoteItem | None:
    author = _meta.as_dict(raw.get("from"))
    author_id = str(author.get("id", ""))
    username = str(raw.get("username") or author.get("username") or "")
    if author_id == account.external_id or username == account.handle:
        return None  # the account's own answers are not inbox items
    parent_id = str(raw["parent_id"]) if raw.get("parent_id") else None
    return RemoteItem(
        remote_id=str(raw["id"]),
        kind=InboxKind.REPLY if parent_id else InboxKind.COMMENT,
        text=str(raw.get("text", "")),
        author_id=author_id or username,
        author_handle=username,
        created_at=_meta.parse_time(raw.get("timestamp")),
        thread_id=media_id,
        parent_id=parent_id,
    )


def _replies(account: AccountRef, media_id: str, raws: list[dict[str, Any]]) -> list[RemoteItem]:
    return [item for raw in raws if (item := _comment_item(account, media_id, raw)) is not None]


def _comments(
    account: AccountRef, media_id: str, size: str, body: dict[str, Any]
) -> tuple[list[RemoteItem], list[Fetch]]:
    items: list[RemoteItem] = []
    follow: list[Fetch] = []
    for raw in _meta.data_of(body):
        item = _comment_item(account, media_id, raw)
        if item is not None:
            items.append(item)
        nested = _meta.as_dict(raw.get("replies"))
        # Nested replies come without parent_id unless asked; the parent is this comment.
        items.extend(
            _replies(
                account,
                media_id,
                [{**r, "parent_id": r.get("parent_id") or raw["id"]} for r in _meta.data_of(nested)],
            )
        )
        after = _meta.next_after(nested)
        if after:  # more replies than the nested page: read the comment's replies edge
            follow.append(
                Fetch(
                    "replies",
                    f"/{raw['id']}/replies",
                    {"fields": COMMENT_FIELDS, "limit": size},
                    after,
                    ctx={"media": media_id},
                )
            )
    return items, follow


def _webhook_change(ig_id: str, sent: datetime, field: Any, value: dict[str, Any]) -> RemoteItem | None:
    """One change of an entry; ``sent`` is the entry's ``time``, the only time the payloads carry."""
    if field == "comments":
        return _webhook_comment(ig_id, sent, value)
    if field == "mentions":
        return _webhook_mention(ig_id, sent, value)
    return None  # live_comments, story_insights… are not inbox items


def _webhook_comment(ig_id: str, sent: datetime, value: dict[str, Any]) -> RemoteItem | None:
    """A comment on our media, or a reply to one (``parent_id``); our own answers are left out."""
    author = _meta.as_dict(value.get("from"))
    author_id = str(author.get("id", ""))
    if not value.get("id") or author_id == ig_id:
        return None
    parent_id = str(value["parent_id"]) if value.get("parent_id") else None
    return RemoteItem(
        remote_id=str(value["id"]),
        kind=InboxKind.REPLY if parent_id else InboxKind.COMMENT,
        text=str(value.get("text", "")),
        author_id=author_id,
        author_handle=str(author.get("username", "")),
        created_at=sent,
        thread_id=str(_meta.as_dict(value.get("media")).get("id") or "") or None,
        parent_id=parent_id,
        account_id=ig_id,
    )


def _webhook_mention(ig_id: str, sent: datetime, value: dict[str, Any]) -> RemoteItem | None:
    """An @-mention of our account in a comment (``comment_id``) or a caption (``media_id`` only).

    Meta sends only the ids, no text nor author: the item is the mention's id, to be completed by
    reading the comment (``mentioned_comment``) or the media (``mentioned_media``).
    """
    media_id = str(value.get("media_id") or "")
    remote_id = str(value.get("comment_id") or media_id)
    if not remote_id:
        return None
    return RemoteItem(
        remote_id=remote_id,
        kind=InboxKind.MENTION,
        text="",
        author_id="",
        created_at=sent,
        thread_id=media_id or None,
        account_id=ig_id,
    )


def _messaging_event(ig_id: str, event: dict[str, Any]) -> RemoteItem | None:
    """A direct message (Messenger API for Instagram): deliveries, reads, reactions and our echoes are not items."""
    message = event.get("message")
    sender = str(_meta.as_dict(event.get("sender")).get("id", ""))
    if not isinstance(message, dict) or message.get("is_echo") or message.get("is_deleted") or sender == ig_id:
        return None
    return RemoteItem(
        remote_id=str(message.get("mid", "")),
        kind=InboxKind.MESSAGE,
        text=str(message.get("text", "")),
        author_id=sender,
        created_at=_meta.parse_time(event.get("timestamp")),
        thread_id=sender,  # one conversation per person (IGSID), as on Messenger
        account_id=ig_id,
    )


def _insight_values(body: dict[str, Any]) -> dict[str, float]:
    """Each metric's value: ``total_value.value`` (total_value queries) or the latest of ``values``."""
    values: dict[str, float] = {}
    for metric in _meta.data_of(body):
        total = metric.get("total_value")
        points = metric.get("values") or []
        value = total.get("value") if isinstance(total, dict) else (points[-1].get("value") if points else None)
        if isinstance(value, int | float):
            values[str(metric.get("name"))] = float(value)
    return values


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
