"""A generic "webhook" channel: posts are delivered as signed JSON requests to an endpoint.

The endpoint is any HTTP service the account owner runs (a newsroom CMS, a display wall,
a chat bridge…). Its API, which this plugin and its fake agree on:

``POST   /posts``                      create a post; answers ``201 {"id", "url", "created_at"}``
``DELETE /posts/{id}``                 delete it; ``204`` (``404`` once it is gone)
``GET    /posts?client_ref=…``         find posts by the client reference sent at creation
``GET    /replies?cursor=…&limit=…``   replies received, oldest first, with ``next_cursor``

Every request carries ``X-Portevoix-Account`` (the account's external id),
``X-Portevoix-Timestamp`` and ``X-Portevoix-Signature: sha256=<hex>``, an HMAC-SHA256 with the
account's secret over ``"{timestamp}.{METHOD}.{path}.{body}"`` (see :func:`signature`). The
secret is the account's ``credentials.access_token``; it never leaves the process.

Errors and usage are the contract's HTTP kit's job (:class:`core.channels.PluginHttp`): ``401``
→ the secret was revoked (:class:`CredentialsExpired`); ``429`` → :class:`RateLimited`
(``Retry-After``, else ``X-RateLimit-Reset``); other ``4xx`` → :class:`Rejected` with the
endpoint's ``message``; ``5xx``, timeouts and dropped connections → :class:`Transient`. Every
response's ``X-RateLimit-*`` headers reach the host's usage recorder. The plugin only says how
the endpoint words an error (:func:`_read_error`).

Like every plugin, this module imports nothing from Porte-voix but :mod:`core.channels`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import httpx

from core.channels import (
    N_,
    AccountRef,
    Capabilities,
    ChannelPlugin,
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
    PluginHttp,
    PreparedRequest,
    PublishResult,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    Transient,
    json_body,
)

SIGNATURE_HEADER = "X-Portevoix-Signature"
TIMESTAMP_HEADER = "X-Portevoix-Timestamp"
ACCOUNT_HEADER = "X-Portevoix-Account"
REDACTED = "[redacted]"
#: when a 429 carries neither Retry-After nor a reset time, wait this long rather than hammer
DEFAULT_RETRY_AFTER = 60.0
INBOX_PAGE_SIZE = 50

_IMAGES = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=4,
    max_bytes=10 * 1024 * 1024,
    content_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
)


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The value of ``X-Portevoix-Signature``. The method and path are signed too, so a
    captured signature cannot be replayed against another operation."""
    message = b".".join([timestamp.encode(), method.upper().encode(), path.encode(), body])
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel(ChannelPlugin):
    key = "webhook"
    name = "Webhook"
    default_base_url = "https://hooks.example.invalid"  # no sensible default: the operator sets it
    capabilities = Capabilities(
        text=TextRules(limit=5000, counting=TextCounting.CHARACTERS),
        formats=(
            FormatRules(format=Format.POST, media=(_IMAGES,), min_media=0, max_media=4),
            FormatRules(format=Format.PHOTO, media=(_IMAGES,), min_media=1, max_media=4),
        ),
        features=frozenset({Feature.PUBLISH, Feature.DELETE, Feature.RECONCILE, Feature.INBOX, Feature.REPLY}),
        notices=(N_("Images are sent as public URLs; the endpoint fetches them itself."),),
    )

    # ------------------------------------------------------------------ operations
    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        request = self._build(account, "POST", "/posts", json=_post_body(account, draft))
        return (_redacted(request, note="create the post"),)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        data = await self._call(account, "POST", "/posts", json=_post_body(account, draft))
        return _publish_result(data)

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        body = _post_body(account, draft) | {"reply_to": item.remote_id}
        data = await self._call(account, "POST", "/posts", json=body)
        return _publish_result(data)

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        try:
            await self._call(account, "DELETE", f"/posts/{remote_id}")
        except Rejected as exc:
            # A retried delete whose first attempt went through finds nothing: that is success.
            if exc.status != 404:
                raise

    async def reconcile(
        self, account: AccountRef, draft: Draft, *, not_before: datetime, not_after: datetime
    ) -> PublishResult | None:
        if not draft.client_ref:
            # Without a reference we cannot tell "not there" from "not found": refuse to guess.
            raise NotSupported("webhook: reconcile needs the draft's client_ref")
        data = await self._call(account, "GET", "/posts", params={"client_ref": draft.client_ref})
        for post in data.get("items", []):
            created = _parse_time(post.get("created_at"))
            if created is None or not_before <= created <= not_after:
                return _publish_result(post)
        return None

    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        params = {"limit": str(INBOX_PAGE_SIZE)} | ({"cursor": cursor} if cursor else {})
        data = await self._call(account, "GET", "/replies", params=params)
        items = tuple(_remote_item(raw) for raw in data.get("items", []))
        return InboxPage(items=items, next_cursor=data.get("next_cursor") or None)

    # ------------------------------------------------------------------ HTTP
    @cached_property
    def api(self) -> PluginHttp:
        # The kit sends, reports X-RateLimit-* usage and maps the status to the typed errors.
        return PluginHttp(self, read_error=_read_error, default_wait=DEFAULT_RETRY_AFTER)

    def _build(
        self,
        account: AccountRef,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Request:
        request = self.http.build_request(method, f"{self.base_url}{path}", json=json, params=params)
        timestamp = str(int(time.time()))
        secret = account.credentials.access_token
        request.headers[ACCOUNT_HEADER] = account.external_id
        request.headers[TIMESTAMP_HEADER] = timestamp
        request.headers[SIGNATURE_HEADER] = signature(secret, timestamp, method, request.url.path, request.content)
        return request

    async def _call(
        self,
        account: AccountRef,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = self._build(account, method, path, json=json, params=params)
        response = await self.api.send(request, endpoint=f"{method} {path}", account=account)
        return json_body(response)


# ---------------------------------------------------------------------- pure helpers


def _post_body(account: AccountRef, draft: Draft) -> dict[str, Any]:
    return {
        "account": account.external_id,
        "client_ref": draft.client_ref,
        "format": draft.format.value,
        "text": draft.text,
        "link": draft.link,
        "media": [_media(item) for item in draft.media],
        "reply_to": draft.reply_to,
    }


def _media(item: MediaItem) -> dict[str, Any]:
    if not item.url:
        # The endpoint fetches media itself; a local file would be silently lost.
        raise Rejected("webhook: every image needs a public URL", code="media_url_missing")
    return {"url": item.url, "content_type": item.content_type, "alt_text": item.alt_text}


def _redacted(request: httpx.Request, *, note: str) -> PreparedRequest:
    # The signature is as good as the secret for this body: a dry run must not leak it.
    headers = dict(request.headers.items())
    headers[SIGNATURE_HEADER.lower()] = REDACTED
    return PreparedRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        json=json.loads(request.content),
        note=note,
    )


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """The endpoint's own words: ``{"error": code, "message": sentence}``."""
    if response.status_code < 400:
        return None
    data = json_body(response)
    message = str(data.get("message") or data.get("error") or response.text[:200] or response.reason_phrase)
    return ErrorReading(message=message, code=str(data["error"]) if data.get("error") else None)


def _publish_result(data: dict[str, Any]) -> PublishResult:
    remote_id = data.get("id")
    if not remote_id:
        raise Transient("webhook: the endpoint answered without an id")
    return PublishResult(
        remote_id=str(remote_id),
        url=data.get("url"),
        published_at=_parse_time(data.get("created_at")),
    )


def _remote_item(raw: dict[str, Any]) -> RemoteItem:
    author = raw.get("author") or {}
    return RemoteItem(
        remote_id=str(raw["id"]),
        kind=InboxKind.REPLY,
        text=str(raw.get("text", "")),
        author_id=str(author.get("id", "")),
        author_handle=str(author.get("handle", "")),
        author_name=str(author.get("name", "")),
        created_at=_parse_time(raw.get("created_at")) or datetime.now(UTC),
        thread_id=raw.get("post_id"),
        parent_id=raw.get("parent_id"),
        url=raw.get("url"),
    )


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))  # accepts a trailing "Z" since Python 3.11
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
