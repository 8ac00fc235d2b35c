"""Mastodon, one instance per account: the instance URL is the plugin's ``base_url``.

Facts this plugin relies on (channel-apis §7, docs.joinmastodon.org):

* ``POST /api/v1/statuses`` honours ``Idempotency-Key`` for one hour: we send
  ``Draft.client_ref`` so a retried publish returns the first status instead of a second one;
* media go through ``POST /api/v2/media`` (200 with ``url``, or 202 and then
  ``GET /api/v1/media/:id`` answers 206 until processed);
* every response carries ``X-RateLimit-Limit/Remaining/Reset`` (reset is an ISO 8601 time);
* tokens never expire: there is no refresh grant;
* pagination follows the ``Link`` header (``rel="next"`` carries ``max_id``);
* ``content`` is HTML; ``GET /api/v1/statuses/:id/source`` gives one's own text as written.

The declared text limit is the default 500 (``TextCounting.MASTODON``); an instance may allow
more: :meth:`MastodonPlugin.max_characters` reads ``/api/v2/instance``.

Settings (``ChannelSettings.extra``): ``poll_interval_s`` (media processing, default 1 s),
``page_size`` (statuses, notifications, conversations per page, default 40), ``scopes``.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

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
    Credentials,
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
    RateLimited,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    Transient,
    json_body,
    same_text,
    single_match,
)

DEFAULT_SCOPES = (
    "read:accounts",
    "read:statuses",
    "read:notifications",
    "write:statuses",
    "write:media",
    "write:conversations",
    "write:blocks",
)
#: 429 without usable headers: Mastodon's default windows are 5 minutes.
DEFAULT_BACKOFF_S = 300.0
#: the Mastodon REST API version the metrics come from (``/api/v1/...``), stored with each sample
API_VERSION = "v1"
_VISIBILITIES = frozenset({"public", "unlisted", "private", "direct"})
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p>", re.IGNORECASE)
_LEADING_MENTION = re.compile(r"@[\w.-]+(?:@[\w.-]+)? ")  # what ``reply`` puts before a reply's text

_IMAGE = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=4,
    max_bytes=16_777_216,
    content_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"}),
)
_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=4,
    max_bytes=103_809_024,
    content_types=frozenset({"video/mp4", "video/webm", "video/quicktime"}),
)
_GIF = MediaRules(
    kind=MediaKind.GIF,
    max_count=4,
    max_bytes=16_777_216,
    content_types=frozenset({"image/gif", "video/mp4"}),
)


def plain_text(content_html: str) -> str:
    """A status' HTML ``content`` back to comparable text (paragraphs and breaks as newlines)."""
    text = _BREAK.sub("\n", _PARAGRAPH.sub("\n\n", content_html))
    return html.unescape(_TAG.sub("", text)).strip()


def _loose(text: str) -> str:
    return " ".join(text.split())


def _in_window(status: dict[str, Any], not_before: datetime, not_after: datetime) -> bool:
    created = _parse_time(status.get("created_at"))
    return created is not None and not_before <= created <= not_after


def _may_be(status: dict[str, Any], sent: str, reply_to: str | None) -> bool:
    """Whether a status could carry ``sent``, read from its HTML: whitespace is lost there, and a
    remote mention shows as ``@user`` without its domain, so those (and replies) go to the source."""
    if reply_to or status.get("mentions"):
        return True
    return _loose(plain_text(status.get("content", ""))) == _loose(sent)


def _is_sent(source: str | None, sent: str, reply_to: str | None) -> bool:
    """The source text is what we sent — for a reply, after the ``@author`` that ``reply`` puts first."""
    if same_text(source, sent):
        return True
    if not reply_to or source is None:
        return False
    mention = _LEADING_MENTION.match(source)
    return mention is not None and same_text(source[mention.end() :], sent)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)  # 3.11+ reads a trailing "Z"
    except ValueError:
        return None


class MastodonPlugin(ChannelPlugin):
    key = "mastodon"
    name = "Mastodon"
    default_base_url = "https://mastodon.social"
    capabilities = Capabilities(
        text=TextRules(limit=500, counting=TextCounting.MASTODON),
        formats=(
            FormatRules(
                format=Format.POST,
                media=(_IMAGE, _VIDEO, _GIF),
                min_media=0,
                max_media=4,
            ),
        ),
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.REPOST,
                Feature.REPLY,
                Feature.PRIVATE_MESSAGES,
                Feature.DELETE,
                Feature.METRICS,
                Feature.INBOX,
                Feature.RECONCILE,
                Feature.OAUTH,
                Feature.SEARCH,
                # a block by our account; Mastodon has no hide and no deleting others' posts
                Feature.BAN,
            }
        ),
        notices=(N_("Each Mastodon server sets its own text limit (500 by default); links count as 23 characters."),),
    )

    def _float(self, name: str, default: float) -> float:
        return float(self.settings.extra.get(name, default))

    # ------------------------------------------------------------------ HTTP
    @cached_property
    def api(self) -> PluginHttp:
        return PluginHttp(self, read_error=_read_error, default_wait=DEFAULT_BACKOFF_S)

    async def _api(
        self,
        account: AccountRef | None,
        method: str,
        path: str,
        *,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if account is not None:
            headers["Authorization"] = f"Bearer {account.credentials.access_token}"
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        name = f"{method} {endpoint or path}"
        return await self.api.request(method, url, endpoint=name, account=account, headers=headers, **kwargs)

    # ------------------------------------------------------------------ instance
    async def max_characters(self, account: AccountRef | None = None) -> int:
        """This instance's ``configuration.statuses.max_characters`` (500 when absent)."""
        body = (await self._api(account, "GET", "/api/v2/instance")).json()
        return int(body.get("configuration", {}).get("statuses", {}).get("max_characters", 500))

    # ------------------------------------------------------------------ publishing
    @staticmethod
    def _status_body(
        draft: Draft,
        media_ids: list[str],
        *,
        in_reply_to: str | None = None,
        visibility: str | None = None,
    ) -> dict[str, Any]:
        chosen = visibility or draft.options.get("visibility", "public")
        if chosen not in _VISIBILITIES:
            raise Rejected(
                f"mastodon: visibility {chosen!r} is not one of {', '.join(sorted(_VISIBILITIES))}",
                code="invalid_visibility",
            )
        text = f"{draft.text}\n\n{draft.link}" if draft.link and draft.link not in draft.text else draft.text
        body: dict[str, Any] = {"status": text, "visibility": chosen}
        if media_ids:
            body["media_ids"] = media_ids
        if in_reply_to or draft.reply_to:
            body["in_reply_to_id"] = in_reply_to or draft.reply_to
        if "language" in draft.options:
            body["language"] = draft.options["language"]
        if draft.options.get("spoiler_text"):
            body["spoiler_text"] = draft.options["spoiler_text"]
            body["sensitive"] = True
        return body

    @staticmethod
    def _idempotency(draft: Draft) -> dict[str, str]:
        return {"Idempotency-Key": draft.client_ref} if draft.client_ref else {}

    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        headers = {"Authorization": "Bearer ***"}
        steps = [
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/api/v2/media",
                headers=headers,
                form={"description": item.alt_text},
                note=f"upload {item.path} (multipart)",
            )
            for item in draft.media
        ]
        body = self._status_body(draft, [f"<media {i}>" for i in range(1, len(draft.media) + 1)])
        steps.append(
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/api/v1/statuses",
                headers=headers | self._idempotency(draft),
                json=body,
            )
        )
        return tuple(steps)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        media_ids = [await self._upload(account, item) for item in draft.media]
        return await self._post_status(account, draft, self._status_body(draft, media_ids))

    async def _post_status(self, account: AccountRef, draft: Draft, body: dict[str, Any]) -> PublishResult:
        response = await self._api(
            account,
            "POST",
            "/api/v1/statuses",
            json=body,
            headers=self._idempotency(draft),
        )
        return _result(response.json())

    async def _upload(self, account: AccountRef, item: MediaItem) -> str:
        if not item.path:
            raise Rejected(
                "mastodon: media are uploaded from a local file (MediaItem.path)",
                code="media_missing_file",
            )
        data = await asyncio.to_thread(Path(item.path).read_bytes)
        files = {"file": (Path(item.path).name, data, item.content_type)}
        response = await self._api(
            account,
            "POST",
            "/api/v2/media",
            files=files,
            data={"description": item.alt_text},
        )
        attachment = response.json()
        if response.status_code == 202 or not attachment.get("url"):
            await self._wait_processed(account, str(attachment["id"]))
        return str(attachment["id"])

    async def _wait_processed(self, account: AccountRef, media_id: str, attempts: int = 60) -> None:
        """A status referencing unprocessed media is refused: poll until ``url`` is set."""
        interval = self._float("poll_interval_s", 1.0)
        for _ in range(attempts):
            response = await self._api(
                account,
                "GET",
                f"/api/v1/media/{media_id}",
                endpoint="/api/v1/media/:id",
            )
            if response.status_code == 200 and response.json().get("url"):
                return
            await asyncio.sleep(interval)
        raise Transient(f"mastodon: media {media_id} still processing")

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        response = await self._api(
            account,
            "POST",
            f"/api/v1/statuses/{remote_id}/reblog",
            endpoint="/api/v1/statuses/:id/reblog",
        )
        return _result(response.json())

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        try:
            await self._api(
                account,
                "DELETE",
                f"/api/v1/statuses/{remote_id}",
                endpoint="/api/v1/statuses/:id",
            )
        except Rejected as exc:
            if exc.status != 404:  # already gone: a retried delete is a success
                raise

    async def ban_author(self, account: AccountRef, item: RemoteItem) -> None:
        """``POST /api/v1/accounts/:id/block``: the author no longer reaches the account (and unfollows)."""
        response = await self._api(
            account,
            "POST",
            f"/api/v1/accounts/{item.author_id}/block",
            endpoint="/api/v1/accounts/:id/block",
        )
        if response.json().get("blocking") is not True:
            raise Rejected(f"mastodon: blocking {item.author_id} not confirmed", network_message=response.text)

    async def reconcile(
        self,
        account: AccountRef,
        draft: Draft,
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """The account's statuses of the window whose source text is exactly the one we sent.

        ``Idempotency-Key`` already makes a retried publish within the hour return the first
        status; this answers after that too. ``content`` is HTML, which loses whitespace and
        remote mentions' domains: it only picks the candidates, whose text as written
        (``GET /api/v1/statuses/:id/source``) decides.
        """
        sent = self._status_body(draft, [])["status"]
        # created_at has milliseconds: a bound with more would miss a status of the same millisecond
        not_before = not_before.replace(microsecond=not_before.microsecond // 1000 * 1000)
        matches = [
            _result(status)
            async for status in self._statuses_since(account, not_before)
            if _in_window(status, not_before, not_after)
            and status.get("in_reply_to_id") == draft.reply_to  # a post, or the answer to this very item
            and _may_be(status, sent, draft.reply_to)
            and _is_sent(await self._source_text(account, str(status["id"])), sent, draft.reply_to)
        ]
        return single_match(matches, channel=self.key)

    async def _statuses_since(self, account: AccountRef, not_before: datetime) -> AsyncIterator[dict[str, Any]]:
        """The account's statuses, newest first, following the Link header back to ``not_before``."""
        size = min(40, int(self._float("page_size", 40)))
        url: str | None = f"/api/v1/accounts/{account.external_id}/statuses?limit={size}&exclude_reblogs=true"
        while url:
            response = await self._api(account, "GET", url, endpoint="/api/v1/accounts/:id/statuses")
            statuses = response.json()
            for status in statuses:
                yield status
            oldest = _parse_time(statuses[-1].get("created_at")) if statuses else None
            url = _next_link(response) if oldest and oldest >= not_before else None

    async def _source_text(self, account: AccountRef, status_id: str) -> str | None:
        response = await self._api(
            account, "GET", f"/api/v1/statuses/{status_id}/source", endpoint="/api/v1/statuses/:id/source"
        )
        text = response.json().get("text")
        return text if isinstance(text, str) else None

    # ------------------------------------------------------------------ conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        """Mentions (notifications) and direct messages (conversations), each followed by its Link header.

        Each source fails on its own: one the token may not read (a scope not granted) leaves the
        sweep and is named in ``unavailable``; one that fails for now keeps its place in the
        cursor. Only when nothing at all could be read does the error reach the host.
        """
        state = json.loads(cursor) if cursor else {"mentions": "", "conversations": ""}
        size = int(self._float("page_size", 40))
        items: list[RemoteItem] = []
        unavailable: dict[str, str] = {}
        failures: list[ChannelError] = []
        for source, read in (("mentions", self._mentions), ("conversations", self._conversations)):
            if state[source] is None:
                continue
            try:
                items += await read(account, state, size)
            except (Rejected, NotSupported) as exc:
                state[source] = None  # refused for good: the other source goes on without it
                unavailable[source] = exc.network_message
            except (Transient, RateLimited) as exc:
                unavailable[source] = exc.network_message  # its place in the cursor is kept
                failures.append(exc)
        if failures and not items:
            raise failures[0]
        done = state["mentions"] is None and state["conversations"] is None
        return InboxPage(items=tuple(items), next_cursor=None if done else json.dumps(state), unavailable=unavailable)

    async def _mentions(self, account: AccountRef, state: dict[str, str | None], size: int) -> list[RemoteItem]:
        params: dict[str, Any] = {"types[]": "mention", "limit": size}
        if state["mentions"]:
            params["max_id"] = state["mentions"]
        response = await self._api(account, "GET", "/api/v1/notifications", params=params)
        notifications = response.json()
        state["mentions"] = _max_id(_next_link(response)) if notifications else None
        # A direct message is also a mention: it is reported once, from its conversation.
        return [
            _mention_item(n) for n in notifications if n.get("status") and n["status"].get("visibility") != "direct"
        ]

    async def _conversations(self, account: AccountRef, state: dict[str, str | None], size: int) -> list[RemoteItem]:
        params: dict[str, Any] = {"limit": size}
        if state["conversations"]:
            params["max_id"] = state["conversations"]
        response = await self._api(account, "GET", "/api/v1/conversations", params=params)
        conversations = response.json()
        state["conversations"] = _max_id(_next_link(response)) if conversations else None
        return [
            _message_item(c)
            for c in conversations
            if c.get("last_status") and str(c["last_status"]["account"]["id"]) != account.external_id
        ]

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        """A status answering ``item``; a private message is answered privately (``direct``)."""
        mention = f"@{item.author_handle}"
        text = draft.text if not item.author_handle or mention in draft.text else f"{mention} {draft.text}"
        visibility = "direct" if item.kind is InboxKind.MESSAGE else None
        body = self._status_body(
            Draft(text=text, options=draft.options, link=draft.link),
            [],
            in_reply_to=item.remote_id,
            visibility=visibility,
        )
        return await self._post_status(account, draft, body)

    # ------------------------------------------------------------------ search
    async def search(self, account: AccountRef, query: str, cursor: str | None) -> InboxPage:
        """A ``#hashtag`` is the public tag timeline (``GET /api/v1/timelines/tag/:hashtag``: what
        this instance knows of the fediverse, newest first, followed with ``since_id``; the cursor
        is ``page=<max_id>;since=<id>;newest=<id>`` during a sweep, ``since=<id>`` once caught up).
        Words go to ``GET /api/v2/search`` (full-text where the instance indexes it); the cursor
        is then the offset of the next page."""
        tag = _hashtag(query)
        if tag is not None:
            return await self._tag_timeline(account, tag, cursor)
        size, offset = min(40, int(self._float("page_size", 40))), int(cursor or 0)
        params = {"q": query, "type": "statuses", "limit": size, "offset": offset}
        found = (await self._api(account, "GET", "/api/v2/search", params=params)).json()
        statuses = found.get("statuses", []) if isinstance(found, dict) else []
        items = tuple(_search_hit(s) for s in statuses)
        return InboxPage(items=items, next_cursor=str(offset + size) if len(statuses) == size else None)

    async def _tag_timeline(self, account: AccountRef, tag: str, cursor: str | None) -> InboxPage:
        state = dict(part.split("=", 1) for part in (cursor or "").split(";") if "=" in part)
        params: dict[str, Any] = {"limit": min(40, int(self._float("page_size", 40)))}
        if state.get("since"):
            params["since_id"] = state["since"]
        if state.get("page"):
            params["max_id"] = state["page"]
        path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
        response = await self._api(account, "GET", path, params=params, endpoint="/api/v1/timelines/tag/:hashtag")
        statuses = [s for s in response.json() if s.get("reblog") is None]
        items = tuple(_search_hit(s) for s in statuses)
        newest = state.get("newest") or (str(statuses[0]["id"]) if statuses else None)
        older = _max_id(_next_link(response)) if statuses else None
        if older and len(statuses) == params["limit"]:
            parts = {"page": older, "since": state.get("since"), "newest": newest}
            return InboxPage(items=items, next_cursor=";".join(f"{k}={v}" for k, v in parts.items() if v))
        caught_up = newest or state.get("since")
        return InboxPage(items=items, next_cursor=f"since={caught_up}" if caught_up else None)

    # ------------------------------------------------------------------ metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        body = (await self._api(account, "GET", "/api/v1/accounts/verify_credentials")).json()
        return AccountMetrics(
            followers=body.get("followers_count"),
            following=body.get("following_count"),
            posts=body.get("statuses_count"),
            api_version=API_VERSION,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        found = []
        for remote_id in remote_ids:
            try:
                status = (
                    await self._api(
                        account,
                        "GET",
                        f"/api/v1/statuses/{remote_id}",
                        endpoint="/api/v1/statuses/:id",
                    )
                ).json()
            except Rejected as exc:
                if exc.status == 404:  # deleted on the network: no metrics, not an error
                    continue
                raise
            extra = {"quotes": float(status["quotes_count"])} if "quotes_count" in status else {}
            found.append(
                PostMetrics(
                    remote_id=remote_id,
                    likes=status.get("favourites_count"),
                    reposts=status.get("reblogs_count"),
                    replies=status.get("replies_count"),
                    extra=extra,
                    api_version=API_VERSION,
                )
            )
        return found

    # ------------------------------------------------------------------ OAuth
    @cached_property
    def oauth(self) -> OAuthClient:
        # PKCE S256 (Mastodon >= 4.3; older servers ignore the extra parameters); the client
        # authenticates in the body.
        return OAuthClient(
            self.api,
            authorize_url=f"{self.base_url}/oauth/authorize",
            token_url=f"{self.base_url}/oauth/token",
        )

    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        default = self.settings.extra.get("scopes", " ".join(DEFAULT_SCOPES)).split()
        return self.oauth.authorization(state=state, scopes=scopes or default)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        body = await self.oauth.exchange(code, code_verifier)
        # Mastodon tokens never expire: no expires_at, no refresh token.
        return TokenSet(
            access_token=body["access_token"],
            scope=body.get("scope"),
            token_type=body.get("token_type", "Bearer"),
        )

    async def refresh(self, credentials: Credentials) -> TokenSet:
        raise NotSupported("mastodon: tokens do not expire and cannot be refreshed; reconnect if revoked")


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """``{"error": sentence}`` (API) or ``{"error": identifier, "error_description"}`` (OAuth)."""
    if response.status_code < 400:
        return None
    body = json_body(response)
    error = body.get("error")
    message = str(body.get("error_description") or error or response.text or response.reason_phrase)
    # OAuth errors carry an identifier (``invalid_grant``); API errors a sentence.
    return ErrorReading(message=message, code=error if isinstance(error, str) and " " not in error else None)


def _result(status: dict[str, Any]) -> PublishResult:
    return PublishResult(
        remote_id=str(status["id"]),
        url=status.get("url") or status.get("uri"),
        published_at=_parse_time(status.get("created_at")),
    )


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


def _max_id(url: str | None) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("max_id")
    return values[0] if values else None


def _author(account: dict[str, Any]) -> dict[str, str]:
    return {
        "author_id": str(account["id"]),
        "author_handle": str(account.get("acct", "")),
        "author_name": str(account.get("display_name", "")),
    }


def _mention_item(notification: dict[str, Any]) -> RemoteItem:
    status = notification["status"]
    return RemoteItem(
        remote_id=str(status["id"]),
        kind=InboxKind.REPLY if status.get("in_reply_to_id") else InboxKind.MENTION,
        text=plain_text(status.get("content", "")),
        created_at=_parse_time(status.get("created_at")) or datetime.now(UTC),
        thread_id=str(status.get("in_reply_to_id") or status["id"]),
        parent_id=status.get("in_reply_to_id"),
        url=status.get("url"),
        **_author(status["account"]),
    )


def _hashtag(query: str) -> str | None:
    """The tag of a query that is one ``#hashtag`` (without its ``#``), else None."""
    query = query.strip()
    return query[1:] if re.fullmatch(r"#\w+", query) else None


def _search_hit(status: dict[str, Any]) -> RemoteItem:
    return msgspec.structs.replace(
        _mention_item({"status": status}), kind=InboxKind.MENTION, thread_id=str(status["id"])
    )


def _message_item(conversation: dict[str, Any]) -> RemoteItem:
    status = conversation["last_status"]
    return RemoteItem(
        remote_id=str(status["id"]),
        kind=InboxKind.MESSAGE,
        text=plain_text(status.get("content", "")),
        created_at=_parse_time(status.get("created_at")) or datetime.now(UTC),
        thread_id=str(conversation["id"]),
        parent_id=status.get("in_reply_to_id"),
        url=status.get("url"),
        **_author(status["account"]),
    )
