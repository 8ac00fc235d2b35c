"""X (Twitter) channel plugin: X API v2 over httpx, OAuth 2.0 user context with PKCE.

Every request is the documented one (xdevplatform/docs ``openapi.json``): posts are created
with ``POST /2/tweets`` (JSON), images go through ``POST /2/media/upload`` (multipart),
videos and GIFs through the chunked ``initialize / append / finalize`` endpoints with STATUS
polling, alt text through ``POST /2/media/metadata``. Every response's ``x-rate-limit-*``
headers are reported to the usage recorder.

Settings: ``base_url`` is the API host (``https://api.x.com``). ``extra`` accepts
``authorize_url`` (default ``https://twitter.com/i/oauth2/authorize``), ``media_chunk_bytes``
(default 4 MiB), ``media_poll_max`` (default 60 STATUS polls), ``inbox_page_size`` (5–100,
default 100), ``search_page_size`` (10–100, default 100) and ``web_url`` (default
``https://x.com``). ``webhook_secret`` is the app's consumer secret used for CRC and signatures.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import httpx
import msgspec

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    AuthorizationRequest,
    Capabilities,
    ChannelPlugin,
    Credentials,
    CredentialsExpired,
    Draft,
    ErrorReading,
    Feature,
    Format,
    FormatRules,
    InboxKind,
    InboxPage,
    MediaItem,
    MediaKind,
    MediaRules,
    NotSupported,
    OAuthClient,
    PluginHttp,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    Transient,
    WebhookChallenge,
    WebhookRequest,
    json_body,
    same_text,
    single_match,
    token_set,
)

MiB = 1024 * 1024
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
_VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
# Media limits from x-api/media/quickstart/best-practices.mdx: ≤4 photos or 1 GIF or 1 video.
_IMAGE = MediaRules(kind=MediaKind.IMAGE, max_count=4, max_bytes=5 * MiB, content_types=_IMAGE_TYPES)
_GIF = MediaRules(
    kind=MediaKind.GIF,
    max_count=1,
    max_bytes=15 * MiB,
    content_types=frozenset({"image/gif"}),
)
_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=1,
    max_bytes=512 * MiB,
    content_types=_VIDEO_TYPES,
    min_aspect_ratio=1 / 3,
    max_aspect_ratio=3.0,
    min_duration_s=0.5,
    max_duration_s=140.0,
)
DEFAULT_SCOPES = (
    "tweet.read",
    "tweet.write",
    "users.read",
    "offline.access",
    "media.write",
    "tweet.moderate.write",  # hide replies
)
AUTHORIZE_URL = "https://twitter.com/i/oauth2/authorize"
_TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets"
_X_ESCAPE = re.compile(r"&(amp|lt|gt);")
_X_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_RETWEET_PREFIX = "rt:"
#: the X API version the metrics come from (``/2/...``), stored with each sample
API_VERSION = "2"


class XPlugin(ChannelPlugin):
    key: ClassVar[str] = "x"
    name: ClassVar[str] = "X (Twitter)"
    default_base_url: ClassVar[str] = "https://api.x.com"
    capabilities: ClassVar[Capabilities] = Capabilities(
        text=TextRules(limit=280, counting=TextCounting.TWITTER),
        # One format per media family, because "4 images OR 1 video/GIF" cannot be said with
        # a single FormatRules (validate_draft checks max_media, not MediaRules.max_count).
        formats=(
            FormatRules(format=Format.POST, media=(_IMAGE,), max_media=4),
            FormatRules(format=Format.PHOTO, media=(_IMAGE,), min_media=1, max_media=4),
            FormatRules(format=Format.VIDEO, media=(_VIDEO, _GIF), min_media=1, max_media=1),
        ),
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.REPOST,
                Feature.QUOTE,
                Feature.REPLY,
                Feature.DELETE,
                Feature.INBOX,
                Feature.METRICS,
                Feature.OAUTH,
                Feature.RECONCILE,
                Feature.WEBHOOKS,
                Feature.SEARCH,
                # hide replies to our posts; deleting others' posts and blocking (Enterprise plan only)
                # are not offered to self-serve apps: neither DELETE_COMMENTS nor BAN
                Feature.HIDE,
            }
        ),
        notices=(
            N_("Self-serve X apps may only reply to a post when its author mentioned or quoted the account."),
            N_("Premium accounts may post longer texts; Porte-voix keeps to the standard 280 weighted characters."),
            N_("A post carries media or a quote, not both."),
            N_(
                "Only replies to the account's own posts can be hidden; X offers no API to delete them or to block "
                "outside its Enterprise plan."
            ),
        ),
    )

    # ================================================================== publishing
    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        self._check_shape(draft)
        steps: list[PreparedRequest] = []
        media_ids: list[str] = []
        for index, item in enumerate(draft.media, start=1):
            placeholder = f"{{media_id_{index}}}"
            steps += self._prepared_upload(item, placeholder, index)
            media_ids.append(placeholder)
        steps.append(
            self._prepared(
                "POST",
                "/2/tweets",
                json=self._tweet_body(draft, media_ids),
                note="create the post",
            )
        )
        return tuple(steps)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        self._check_shape(draft)
        media_ids = [await self._upload(account, item) for item in draft.media]
        return await self._create_tweet(account, self._tweet_body(draft, media_ids))

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        if item.kind is InboxKind.MESSAGE:
            # A reply is a public post: answering a DM that way would publish a private exchange.
            raise NotSupported("X: answering a direct message is not supported")
        return await self.publish(
            account,
            msgspec.structs.replace(draft, reply_to=item.remote_id, quote_of=None),
        )

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        path = f"/2/users/{account.external_id}/retweets"
        await self._call(
            account,
            "POST",
            path,
            "POST /2/users/:id/retweets",
            json={"tweet_id": remote_id},
        )
        # The API answers {"retweeted": true} without a stable id of the repost; the id we keep
        # names the source post, which is what undoing a repost needs.
        return PublishResult(
            remote_id=f"{_RETWEET_PREFIX}{remote_id}",
            url=self._post_url(account.handle, remote_id),
            published_at=_now(),
        )

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        if remote_id.startswith(_RETWEET_PREFIX):
            source = remote_id.removeprefix(_RETWEET_PREFIX)
            await self._call(
                account,
                "DELETE",
                f"/2/users/{account.external_id}/retweets/{source}",
                "DELETE /2/users/:id/retweets/:id",
            )
            return
        await self._call(account, "DELETE", f"/2/tweets/{remote_id}", "DELETE /2/tweets/:id")

    async def reconcile(
        self,
        account: AccountRef,
        draft: Draft,
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """Our own posts of the window whose text, as X renders it back, is exactly the one we sent
        (X accepts no client reference). The window bounds the walk, not a number of pages."""
        sent = self._text_of(draft)
        params = {
            "start_time": _x_time(not_before),
            "end_time": _x_time(not_after),
            "max_results": "100",
            "tweet.fields": "created_at,text,entities,referenced_tweets",
        }
        matches = [
            PublishResult(
                remote_id=tweet["id"],
                url=self._post_url(account.handle, tweet["id"]),
                published_at=_parse_time(tweet.get("created_at")),
            )
            async for tweet in self._timeline(account, params)
            if _same_references(tweet, draft) and same_text(_as_sent(tweet, sent), sent)
        ]
        return single_match(matches, channel=self.key)

    async def _timeline(self, account: AccountRef, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Every post of the user's timeline that ``params`` select, following ``next_token``."""
        path = f"/2/users/{account.external_id}/tweets"
        seen: set[str] = set()
        while True:
            body = await self._call(account, "GET", path, "GET /2/users/:id/tweets", params=params)
            for tweet in body.get("data", []):
                yield tweet
            token = body.get("meta", {}).get("next_token")
            if not token or token in seen:
                return
            seen.add(token)
            params = {**params, "pagination_token": token}

    # ================================================================== conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        """Mentions of the account, newest first, a page at a time.

        The cursor is ``page=<token>;since=<id>;newest=<id>`` while pages remain and
        ``since=<id>`` once a sweep is done; nothing new since: the same cursor back.
        """
        size = self.settings.extra.get("inbox_page_size", "100")  # X accepts 5–100
        path = f"/2/users/{account.external_id}/mentions"
        return await self._since_page(account, path, "GET /2/users/:id/mentions", {"max_results": size}, cursor)

    async def search(self, account: AccountRef, query: str, cursor: str | None) -> InboxPage:
        """Recent posts (the last 7 days) matching ``query`` with X's own syntax (words, ``#tag``,
        ``"phrase"``), retweets left out: ``GET /2/tweets/search/recent``. Every page is read
        from the account's budget (its ``x-rate-limit-*`` headers are reported, 300 requests a
        15-minute window per user, and X bills reads per post). The cursor works as the inbox's."""
        size = self.settings.extra.get("search_page_size", "100")  # X accepts 10–100
        params = {"query": f"{query} -is:retweet", "max_results": size}
        page = await self._since_page(account, "/2/tweets/search/recent", "GET /2/tweets/search/recent", params, cursor)
        found = tuple(msgspec.structs.replace(i, kind=InboxKind.MENTION, thread_id=i.remote_id) for i in page.items)
        return msgspec.structs.replace(page, items=found)

    async def _since_page(
        self, account: AccountRef, path: str, endpoint: str, params: dict[str, str], cursor: str | None
    ) -> InboxPage:
        """One page of a newest-first listing followed with ``since_id`` (the cursor's grammar
        is :meth:`fetch_inbox`'s)."""
        state = _decode_cursor(cursor)
        params = {
            **params,
            "tweet.fields": _TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        if state.get("since"):
            params["since_id"] = state["since"]
        if state.get("page"):
            params["pagination_token"] = state["page"]
        body = await self._call(account, "GET", path, endpoint, params=params)
        users = {u["id"]: u for u in body.get("includes", {}).get("users", [])}
        items = tuple(self._remote_item(account, t, users) for t in body.get("data", []))
        meta = body.get("meta", {})
        newest = state.get("newest") or meta.get("newest_id")
        if meta.get("next_token"):
            return InboxPage(
                items=items,
                next_cursor=_encode_cursor(page=meta["next_token"], since=state.get("since"), newest=newest),
            )
        caught_up = newest or state.get("since")
        return InboxPage(items=items, next_cursor=_encode_cursor(since=caught_up) if caught_up else None)

    def _remote_item(
        self,
        account: AccountRef,
        tweet: dict[str, Any],
        users: dict[str, dict[str, Any]],
    ) -> RemoteItem:
        author = users.get(tweet.get("author_id", ""), {})
        parent = next(
            (r["id"] for r in tweet.get("referenced_tweets", []) if r.get("type") == "replied_to"),
            None,
        )
        is_reply = tweet.get("in_reply_to_user_id") == account.external_id and parent is not None
        return RemoteItem(
            remote_id=tweet["id"],
            kind=InboxKind.REPLY if is_reply else InboxKind.MENTION,
            text=html.unescape(tweet.get("text", "")),
            author_id=tweet.get("author_id", ""),
            author_handle=author.get("username", ""),
            author_name=author.get("name", ""),
            created_at=_parse_time(tweet.get("created_at")) or _now(),
            thread_id=tweet.get("conversation_id"),
            parent_id=parent,
            url=self._post_url(author.get("username", "i"), tweet["id"]),
        )

    # ================================================================== moderation
    async def hide_item(self, account: AccountRef, item: RemoteItem, *, hidden: bool = True) -> None:
        """``PUT /2/tweets/:id/hidden {"hidden": …}``: only a reply in a conversation the account started."""
        if item.kind is InboxKind.MESSAGE:
            raise NotSupported("X: a direct message cannot be hidden")
        body = await self._call(
            account,
            "PUT",
            f"/2/tweets/{item.remote_id}/hidden",
            "PUT /2/tweets/:id/hidden",
            json={"hidden": hidden},
        )
        if body.get("data", {}).get("hidden") is not hidden:
            raise Rejected(f"X: hiding {item.remote_id} not confirmed", network_message=json.dumps(body))

    # ================================================================== metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        params = {"user.fields": "public_metrics"}
        body = await self._call(
            account,
            "GET",
            f"/2/users/{account.external_id}",
            "GET /2/users/:id",
            params=params,
        )
        if "data" not in body:
            raise Rejected(
                "X: account not found",
                network_message=_problem_message(body),
                code="resource-not-found",
            )
        metrics = body["data"].get("public_metrics", {})
        # openapi v2.167 says post_count; the data dictionary and live answers say tweet_count
        posts = metrics.get("tweet_count", metrics.get("post_count"))
        extra = {k: float(v) for k, v in metrics.items() if k in ("listed_count", "like_count", "media_count")}
        return AccountMetrics(
            followers=metrics.get("followers_count"),
            following=metrics.get("following_count"),
            posts=posts,
            extra=extra,
            api_version=API_VERSION,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        found: list[PostMetrics] = []
        for chunk in _chunks([r for r in remote_ids if not r.startswith(_RETWEET_PREFIX)], 100):
            params = {"ids": ",".join(chunk), "tweet.fields": "public_metrics"}
            body = await self._call(account, "GET", "/2/tweets", "GET /2/tweets", params=params)
            found += [_post_metrics(tweet) for tweet in body.get("data", [])]
        return found

    # ================================================================== OAuth 2.0 + PKCE
    @cached_property
    def oauth(self) -> OAuthClient:
        # A confidential client authenticates with HTTP Basic and X wants its client_id in the
        # body all the same; a public client (no secret) sends the client_id only.
        confidential = bool(self.settings.client_secret)
        return OAuthClient(
            self.api,
            authorize_url=self.settings.extra.get("authorize_url", AUTHORIZE_URL),
            token_url=f"{self.base_url}/2/oauth2/token",
            auth_method="client_secret_basic" if confidential else "none",
            token_params={"client_id": self.settings.client_id} if confidential else {},
        )

    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        return self.oauth.authorization(state=state, scopes=scopes or DEFAULT_SCOPES)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        tokens = token_set(await self.oauth.exchange(code, code_verifier))
        return await self._with_identity(tokens)

    async def refresh(self, credentials: Credentials) -> TokenSet:
        if not credentials.refresh_token:
            raise CredentialsExpired("X: no refresh token (offline.access was not granted); reconnect the account")
        return token_set(await self.oauth.refresh(credentials.refresh_token))

    async def _with_identity(self, tokens: TokenSet) -> TokenSet:
        """Add the user's id and username: the host needs them to create the account."""
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        body = await self.api.json("GET", f"{self.base_url}/2/users/me", endpoint="GET /2/users/me", headers=headers)
        data = body.get("data", {})
        return msgspec.structs.replace(
            tokens, extra={"user_id": data.get("id", ""), "username": data.get("username", "")}
        )

    # ================================================================== webhooks
    def webhook_challenge(self, request: WebhookRequest) -> WebhookChallenge | None:
        token = request.query.get("crc_token")
        if request.method.upper() != "GET" or not token:
            return None
        body = json.dumps({"response_token": f"sha256={self._hmac(token.encode())}"})
        return WebhookChallenge(status=200, body=body, content_type="application/json")

    def verify_webhook(self, request: WebhookRequest) -> bool:
        signature = request.headers.get("x-twitter-webhooks-signature", "")
        return bool(self._webhook_key()) and hmac.compare_digest(signature, f"sha256={self._hmac(request.body)}")

    def parse_webhook(self, request: WebhookRequest) -> list[RemoteItem]:
        """Account Activity payloads: mentions and replies (``tweet_create_events``) and DMs."""
        try:
            payload = json.loads(request.body)
        except ValueError:
            return []
        if not isinstance(payload, dict):
            return []
        # ``for_user_id`` is the subscribed account the events are for: our account's user id.
        owner = str(payload.get("for_user_id", ""))
        items = [_activity_tweet(t, owner) for t in payload.get("tweet_create_events", [])]
        items += [
            _activity_message(m, owner, payload.get("users", {})) for m in payload.get("direct_message_events", [])
        ]
        return [item for item in items if item is not None and item.author_id != owner]

    def _webhook_key(self) -> str:
        return self.settings.webhook_secret or self.settings.client_secret

    def _hmac(self, message: bytes) -> str:
        digest = hmac.new(self._webhook_key().encode(), message, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # ================================================================== building requests
    def _check_shape(self, draft: Draft) -> None:
        """What X refuses whatever the content: fail before uploading anything."""
        if draft.media and draft.quote_of:
            raise Rejected("X: a post carries media or a quote, not both", code="media_and_quote")
        kinds = {item.kind for item in draft.media}
        if len(draft.media) > 4 or (kinds - {MediaKind.IMAGE} and len(draft.media) > 1):
            raise Rejected("X: up to 4 images, or 1 video or GIF", code="too_many_media")
        if not self._text_of(draft) and not draft.media:
            raise Rejected("X: a post needs text or media", code="empty")

    def _text_of(self, draft: Draft) -> str:
        # X has no separate link field: a link not already in the text goes at its end
        if draft.link and draft.link not in draft.text:
            return f"{draft.text}\n{draft.link}".strip()
        return draft.text

    def _tweet_body(self, draft: Draft, media_ids: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        text = self._text_of(draft)
        if text:
            body["text"] = text
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if draft.quote_of:
            body["quote_tweet_id"] = draft.quote_of
        if draft.reply_to:
            body["reply"] = {"in_reply_to_tweet_id": draft.reply_to}
        return body

    async def _create_tweet(self, account: AccountRef, body: dict[str, Any]) -> PublishResult:
        answer = await self._call(account, "POST", "/2/tweets", "POST /2/tweets", json=body)
        tweet_id = answer["data"]["id"]
        return PublishResult(
            remote_id=tweet_id,
            url=self._post_url(account.handle, tweet_id),
            published_at=_now(),
        )

    def _post_url(self, handle: str, tweet_id: str) -> str:
        return f"{self.settings.extra.get('web_url', 'https://x.com')}/{handle}/status/{tweet_id}"

    def _prepared(
        self,
        method: str,
        path: str,
        *,
        note: str,
        json: Any = None,
        form: dict[str, str] | None = None,
    ) -> PreparedRequest:
        headers = {"Authorization": "Bearer [redacted]"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        if form is not None:
            headers["Content-Type"] = "multipart/form-data"
        return PreparedRequest(
            method=method,
            url=f"{self.base_url}{path}",
            headers=headers,
            json=json,
            form=form,
            note=note,
        )

    def _prepared_upload(self, item: MediaItem, media_id: str, index: int) -> list[PreparedRequest]:
        size = _size_of(item)
        label = f"media {index}"
        media_field = f"<{size} bytes of {item.path or item.url or 'media'}>"
        if item.kind is MediaKind.IMAGE:
            steps = [
                self._prepared(
                    "POST",
                    "/2/media/upload",
                    form={"media": media_field, "media_category": "tweet_image"},
                    note=f"{label}: upload the image",
                )
            ]
        else:
            init = {
                "media_type": item.content_type,
                "total_bytes": size,
                "media_category": _category(item),
            }
            steps = [
                self._prepared(
                    "POST",
                    "/2/media/upload/initialize",
                    json=init,
                    note=f"{label}: initialize the chunked upload",
                ),
                self._prepared(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    form={"media": media_field, "segment_index": "0"},
                    note=f"{label}: append each chunk (segment_index 0…n)",
                ),
                self._prepared(
                    "POST",
                    f"/2/media/upload/{media_id}/finalize",
                    note=f"{label}: finalize, then poll GET /2/media/upload?command=STATUS",
                ),
            ]
        if item.alt_text:
            meta = {"id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}}
            steps.append(self._prepared("POST", "/2/media/metadata", json=meta, note=f"{label}: alt text"))
        return steps

    # ================================================================== media upload
    async def _upload(self, account: AccountRef, item: MediaItem) -> str:
        data = await asyncio.to_thread(_read_media, item)
        if item.kind is MediaKind.IMAGE:
            media_id = await self._upload_simple(account, item, data)
        else:
            media_id = await self._upload_chunked(account, item, data)
        if item.alt_text:
            meta = {"id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}}
            await self._call(
                account,
                "POST",
                "/2/media/metadata",
                "POST /2/media/metadata",
                json=meta,
            )
        return media_id

    async def _upload_simple(self, account: AccountRef, item: MediaItem, data: bytes) -> str:
        files = {"media": (_file_name(item), data, item.content_type)}
        body = await self._call(
            account,
            "POST",
            "/2/media/upload",
            "POST /2/media/upload",
            data={"media_category": "tweet_image"},
            files=files,
        )
        return str(body["data"]["id"])

    async def _upload_chunked(self, account: AccountRef, item: MediaItem, data: bytes) -> str:
        init = {
            "media_type": item.content_type,
            "total_bytes": len(data),
            "media_category": _category(item),
        }
        body = await self._call(
            account,
            "POST",
            "/2/media/upload/initialize",
            "POST /2/media/upload/initialize",
            json=init,
        )
        media_id = str(body["data"]["id"])
        chunk = int(self.settings.extra.get("media_chunk_bytes", str(4 * MiB)))
        for index, start in enumerate(range(0, len(data), chunk)):
            files = {
                "media": (
                    _file_name(item),
                    data[start : start + chunk],
                    "application/octet-stream",
                )
            }
            path = f"/2/media/upload/{media_id}/append"
            await self._call(
                account,
                "POST",
                path,
                "POST /2/media/upload/:id/append",
                data={"segment_index": str(index)},
                files=files,
            )
        body = await self._call(
            account,
            "POST",
            f"/2/media/upload/{media_id}/finalize",
            "POST /2/media/upload/:id/finalize",
        )
        await self._wait_processed(account, media_id, body["data"].get("processing_info"))
        return media_id

    async def _wait_processed(self, account: AccountRef, media_id: str, info: dict[str, Any] | None) -> None:
        """Poll STATUS until the video is ready; an absent ``processing_info`` means ready."""
        for _ in range(int(self.settings.extra.get("media_poll_max", "60"))):
            if info is None or info.get("state") == "succeeded":
                return
            if info.get("state") == "failed":
                message = (info.get("error") or {}).get("message", "media processing failed")
                raise Rejected(
                    f"X could not process the media: {message}",
                    network_message=message,
                    code="media_failed",
                )
            await asyncio.sleep(float(info.get("check_after_secs", 1)))
            params = {"command": "STATUS", "media_id": media_id}
            body = await self._call(account, "GET", "/2/media/upload", "GET /2/media/upload", params=params)
            info = body["data"].get("processing_info")
        raise Transient("X: media still processing after the polling budget", retry_after=30)

    # ================================================================== HTTP and errors
    @cached_property
    def api(self) -> PluginHttp:
        return PluginHttp(self, read_error=_read_error, label="X")

    async def _call(self, account: AccountRef, method: str, path: str, endpoint: str, **kw: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.credentials.access_token}"}
        return await self.api.json(
            method,
            f"{self.base_url}{path}",
            endpoint=endpoint,
            account=account,
            headers=headers,
            **kw,
        )


# ---------------------------------------------------------------------- helpers
def _now() -> datetime:
    return datetime.now(UTC)


def _x_time(moment: datetime) -> str:
    """X's query time format, YYYY-MM-DDTHH:mm:ssZ (seconds precision, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _as_sent(tweet: dict[str, Any], sent: str) -> str:
    """A post's text as we sent it, rebuilt from X's rendering: each t.co link back to the URL it
    stands for (``entities.urls``), the link X appends for attached media dropped, and X's HTML
    escapes of ``&``, ``<``, ``>`` undone — on X's side only, so a draft that really says
    ``&amp;`` still says it."""
    text = str(tweet.get("text", ""))
    entities = sorted(tweet.get("entities", {}).get("urls", []), key=lambda u: u.get("start", 0))
    out: list[str] = []
    position = 0
    for entity in entities:
        short = str(entity.get("url") or "")
        at = text.find(short, position) if short else -1
        if at < 0:
            continue
        out.append(_unescape(text[position:at]))
        if not entity.get("media_key"):  # a media's own link is X's addition, not our text
            out.append(_original_url(str(entity.get("expanded_url") or short), sent))
        position = at + len(short)
    out.append(_unescape(text[position:]))
    return "".join(out)


def _same_references(tweet: dict[str, Any], draft: Draft) -> bool:
    """The same words answering another post, or quoting one, are another post."""
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets", [])}
    return refs.get("replied_to") == draft.reply_to and refs.get("quoted") == draft.quote_of


def _original_url(expanded: str, sent: str) -> str:
    """X links a bare domain too and gives it back with a scheme: take the URL as we wrote it."""
    bare = expanded.split("://", 1)[-1]
    return bare if expanded not in sent and bare in sent else expanded


def _unescape(text: str) -> str:
    """X escapes exactly these three, once: a single pass, so ``&amp;lt;`` becomes ``&lt;``."""
    return _X_ESCAPE.sub(lambda m: _X_ENTITIES[m.group(1)], text)


def _problem_message(body: dict[str, Any]) -> str:
    """X's own words: ``detail`` of a problem, else the first ``errors[].message``, else OAuth's."""
    if body.get("detail"):
        return str(body["detail"])
    errors = body.get("errors") or []
    if errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("detail") or "")
    return str(body.get("error_description") or body.get("title") or "")


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """X's problem bodies (``{title, detail, type}``), legacy ``errors`` lists and OAuth errors."""
    if response.status_code < 400:
        return None
    body = json_body(response)
    code = str(body.get("type", "")).rsplit("/", 1)[-1] or str(body.get("title", "")) or None
    return ErrorReading(message=_problem_message(body) or response.reason_phrase, code=code)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _post_metrics(tweet: dict[str, Any]) -> PostMetrics:
    m = tweet.get("public_metrics", {})
    extra = {k: float(m[k]) for k in ("quote_count", "bookmark_count") if k in m}
    return PostMetrics(
        remote_id=tweet["id"],
        impressions=m.get("impression_count"),
        likes=m.get("like_count"),
        reposts=m.get("retweet_count", m.get("repost_count")),
        replies=m.get("reply_count"),
        extra=extra,
        api_version=API_VERSION,
    )


def _category(item: MediaItem) -> str:
    return "tweet_gif" if item.kind is MediaKind.GIF else "tweet_video"


def _read_media(item: MediaItem) -> bytes:
    if not item.path:
        raise Rejected(
            "X uploads media from a local file; this media has no path",
            code="media_path_missing",
        )
    return Path(item.path).read_bytes()


def _size_of(item: MediaItem) -> int:
    if item.size_bytes is not None:
        return item.size_bytes
    return Path(item.path).stat().st_size if item.path and Path(item.path).exists() else 0


def _file_name(item: MediaItem) -> str:
    return Path(item.path).name if item.path else "media"


def _encode_cursor(**parts: str | None) -> str:
    return ";".join(f"{k}={v}" for k, v in parts.items() if v)


def _decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    return dict(part.split("=", 1) for part in cursor.split(";") if "=" in part)


def _v1_time(value: str) -> datetime:
    """Account Activity tweets are v1.1 objects: ``Wed Oct 10 20:19:24 +0000 2018``."""
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    except (TypeError, ValueError):
        return _now()


def _activity_tweet(tweet: dict[str, Any], owner: str) -> RemoteItem | None:
    user = tweet.get("user", {})
    text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text", "")
    is_reply = str(tweet.get("in_reply_to_user_id_str") or "") == owner
    return RemoteItem(
        remote_id=str(tweet.get("id_str", "")),
        kind=InboxKind.REPLY if is_reply else InboxKind.MENTION,
        text=html.unescape(text),
        author_id=str(user.get("id_str", "")),
        author_handle=user.get("screen_name", ""),
        author_name=user.get("name", ""),
        created_at=_v1_time(tweet.get("created_at", "")),
        parent_id=tweet.get("in_reply_to_status_id_str") if is_reply else None,
        account_id=owner or None,
    )


def _dm_conversation(sender: str, owner: str) -> str | None:
    """X's one-to-one conversation id: ``<smaller user id>-<larger user id>``."""
    if not (sender.isdigit() and owner.isdigit()):
        return None
    low, high = sorted((int(sender), int(owner)))
    return f"{low}-{high}"


def _activity_message(event: dict[str, Any], owner: str, users: dict[str, Any]) -> RemoteItem | None:
    if event.get("type") != "message_create":
        return None
    create = event.get("message_create", {})
    sender = str(create.get("sender_id", ""))
    created = datetime.fromtimestamp(int(event.get("created_timestamp", "0")) / 1000, UTC)
    user = users.get(sender, {})
    return RemoteItem(
        remote_id=str(event.get("id", "")),
        kind=InboxKind.MESSAGE,
        text=create.get("message_data", {}).get("text", ""),
        author_id=sender,
        author_handle=user.get("screen_name", ""),
        author_name=user.get("name", ""),
        created_at=created,
        thread_id=_dm_conversation(sender, owner),
        account_id=owner or None,
    )
