"""A faithful fake of one Mastodon instance (REST API v1/v2 and OAuth).

What it does as Mastodon does:

* ``Idempotency-Key`` on ``POST /api/v1/statuses``: the same key from the same account within
  one hour returns the first status, nothing new is created;
* ``POST /api/v2/media`` (multipart) answers 200 with ``url`` for images, 202 with ``url: null``
  for video (or every file when ``async_media``); ``GET /api/v1/media/:id`` answers 206 until done;
  a status referencing unprocessed media is refused with 422;
* ``X-RateLimit-Limit/Remaining/Reset`` (ISO 8601) on every answer; 300 requests per 5 minutes
  per token, then 429;
* pagination through the ``Link`` header (``max_id``/``min_id``), newest first;
* ``content`` is HTML (paragraphs, ``<br />``, links); ``GET /api/v1/statuses/:id/source`` gives
  one's own status' text as written;
* errors are ``{"error": "..."}`` (OAuth: ``{"error", "error_description"}``).

Seed with :meth:`add_mention` (a mention, or a reply to our status with ``in_reply_to_id``),
:meth:`add_direct_message`, :meth:`add_status`, each at ``created_at`` (epoch seconds); each
returns the stored status. Blocks: ``POST /api/v1/accounts/:id/block``, :meth:`is_blocked`.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode

from core.channels import AccountRef, Credentials, TextCounting, count_text
from plugins.testing.fake import FakeResponse, ReceivedRequest, route
from plugins.testing.oauth import Grant, OAuthServer

_URL = re.compile(r"https?://[^\s<]+")
TOKEN_PREFIX = "mtok-"
IDEMPOTENCY_TTL_S = 3600
WINDOW_S = 300
NOT_FOUND = "Record not found"
#: the scope an endpoint needs (docs.joinmastodon.org, methods/*: "OAuth: User token + …")
_SCOPES = {
    ("GET", "/api/v1/notifications"): "read:notifications",
    ("GET", "/api/v1/conversations"): "read:statuses",
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_html(text: str) -> str:
    """Status text as Mastodon renders ``content``: paragraphs, ``<br />``, linkified URLs."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(block, quote=False)
        linked = _URL.sub(_link, escaped)
        paragraphs.append(f"<p>{linked.replace(chr(10), '<br />')}</p>")
    return "".join(paragraphs)


def _link(match: re.Match[str]) -> str:
    url = html.unescape(match.group(0))
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{html.escape(url)}" rel="nofollow noopener" target="_blank">'
        f'<span class="invisible">{scheme}://</span><span class="">{html.escape(rest)}</span>'
        '<span class="invisible"></span></a>'
    )


class FakeMastodon(OAuthServer):
    key: ClassVar[str] = "mastodon"
    name: ClassVar[str] = "Mastodon (simulated)"
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    refresh_grant = False  # Mastodon tokens never expire
    json_token_requests = True
    default_scope = "read write"
    failure_messages = {
        **OAuthServer.failure_messages,
        "rate_limited": "Too many requests",
        "expired": "The access token is invalid",
    }

    def __init__(
        self,
        *,
        domain: str = "mastodon.example",
        max_characters: int = 500,
        rate_limit: int = 300,
    ) -> None:
        super().__init__()
        self.domain = domain
        self.max_characters = max_characters
        self.rate_limit = rate_limit
        self.async_media = False
        self._init_state()

    def _init_state(self) -> None:
        self.revoked: set[str] = set()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.conversations: dict[str, dict[str, Any]] = {}
        #: accounts ``me`` blocked (``POST /api/v1/accounts/:id/block``)
        self.blocks: set[str] = set()
        self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        #: OAuth scopes the account's token was not granted: the endpoints needing them answer 403
        self.withheld_scopes: set[str] = set()
        self._windows: dict[str, tuple[float, int]] = {}
        self.me = self._account("region_occitanie", "Région Occitanie", followers=42_000)

    def reset(self) -> None:
        super().reset()
        self.async_media = False
        self._init_state()  # not under self._lock: it draws ids, and next_id() takes the lock

    def _snowflake(self) -> str:
        # Mastodon ids are time-ordered integers in strings; ordering drives pagination.
        return str(113_000_000_000_000_000 + self.next_id())

    def _account(self, username: str, display_name: str, *, followers: int = 10) -> dict[str, Any]:
        account: dict[str, Any] = {
            "id": self._snowflake(),
            "username": username,
            "acct": username,
            "display_name": display_name,
            "url": f"https://{self.domain}/@{username}",
            "followers_count": followers,
            "following_count": 120,
            "statuses_count": 0,
            "created_at": _iso(time.time()),
        }
        self.accounts[account["id"]] = account
        return account

    def _remote(self, acct: str) -> dict[str, Any]:
        found = next((a for a in self.accounts.values() if a["acct"] == acct), None)
        return found or self._account(acct.split("@")[0], acct.split("@")[0].title())

    # ------------------------------------------------------------------ helpers for tests and the demo
    def make_account(self, token: str | None = None) -> AccountRef:
        return AccountRef(
            external_id=self.me["id"],
            handle=self.me["acct"],
            credentials=Credentials(
                access_token=token or f"{TOKEN_PREFIX}{self.next_id()}",
                extra={"instance": f"https://{self.domain}"},
            ),
        )

    def add_status(
        self,
        text: str,
        *,
        author: dict[str, Any] | None = None,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        created_at: float | None = None,
    ) -> dict[str, Any]:
        author = author or self.me
        status_id = self._snowflake()
        status: dict[str, Any] = {
            "id": status_id,
            "created_at": _iso(created_at or time.time()),
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": self.statuses[in_reply_to_id]["account"]["id"]
            if in_reply_to_id in self.statuses
            else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": visibility,
            "language": "fr",
            "uri": f"https://{self.domain}/users/{author['username']}/statuses/{status_id}",
            "url": f"https://{self.domain}/@{author['username']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "content": render_html(text),
            "reblog": None,
            "account": author,
            "media_attachments": [],
            "mentions": [],
            "tags": [
                {"name": tag.lower(), "url": f"https://{self.domain}/tags/{tag.lower()}"}
                for tag in dict.fromkeys(re.findall(r"(?<![\w/])#(\w+)", text))
            ],
            "text_source": text,
        }
        self.statuses[status_id] = status
        author["statuses_count"] += 1
        if in_reply_to_id in self.statuses:
            self.statuses[in_reply_to_id]["replies_count"] += 1
        return status

    def add_mention(
        self,
        text: str,
        *,
        from_acct: str = "alice",
        in_reply_to_id: str | None = None,
        created_at: float | None = None,
    ) -> dict[str, Any]:
        """``from_acct`` mentions the account (a reply to one of its statuses with ``in_reply_to_id``)."""
        status = self.add_status(
            f"@{self.me['acct']} {text}",
            author=self._remote(from_acct),
            in_reply_to_id=in_reply_to_id,
            created_at=created_at,
        )
        self._notify("mention", status)
        return status

    def add_direct_message(
        self, text: str, *, from_acct: str = "bob", created_at: float | None = None
    ) -> dict[str, Any]:
        """``from_acct`` writes to the account privately (a ``direct`` status, in their conversation)."""
        author = self._remote(from_acct)
        status = self.add_status(
            f"@{self.me['acct']} {text}", author=author, visibility="direct", created_at=created_at
        )
        self._notify("mention", status)
        conversation = self.conversations.setdefault(
            author["id"],
            {"id": self._snowflake(), "unread": True, "accounts": [author]},
        )
        conversation["last_status"] = status
        return status

    def _notify(self, kind: str, status: dict[str, Any]) -> None:
        self.notifications.append(
            {
                "id": self._snowflake(),
                "type": kind,
                "created_at": status["created_at"],
                "account": status["account"],
                "status": status,
            }
        )

    # ------------------------------------------------------------------ network shapes
    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        return FakeResponse(status=status, json={"error": message})

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": _iso(time.time() + retry_after),
        }

    def plugin_settings(self, url: str) -> dict[str, str]:
        # its consent page is on the instance itself
        return {"client_id": "portevoix-demo", "client_secret": "portevoix-demo-secret"}

    def authorized(self, request: ReceivedRequest) -> bool:
        token = self._token(request)
        return token.startswith(TOKEN_PREFIX) and token not in self.revoked

    @staticmethod
    def _token(request: ReceivedRequest) -> str:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        start, used = self._windows.get(self._token(request) or "anonymous", (time.time(), 0))
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - used)),
            "x-ratelimit-reset": _iso(start + WINDOW_S),
        }

    async def _dispatch(self, request: ReceivedRequest) -> FakeResponse:
        if request.path.startswith("/api/") and request.path != "/api/v2/instance":
            if not self.authorized(request):
                return self.error(401, "The access token is invalid")
            if not self._count(request):
                start, _ = self._windows[self._token(request)]
                return self.rate_limit_error(start + WINDOW_S - time.time())
            if _SCOPES.get((request.method, request.path)) in self.withheld_scopes:
                return self.error(403, "This action is outside the authorized scopes")
        return await super()._dispatch(request)

    def _count(self, request: ReceivedRequest) -> bool:
        token, now = self._token(request), time.time()
        with self._lock:
            start, used = self._windows.get(token, (now, 0))
            if now - start >= WINDOW_S:
                start, used = now, 0
            self._windows[token] = (start, used + 1)
        return used < self.rate_limit

    def _page(
        self,
        request: ReceivedRequest,
        rows: list[dict[str, Any]],
        key: str,
        *,
        limit_max: int,
    ) -> FakeResponse:
        """Newest first, ``max_id``/``min_id`` window, ``Link`` header like Mastodon's."""
        max_id, min_id = (
            request.q("max_id"),
            request.q("min_id") or request.q("since_id"),
        )
        limit = min(int(request.q("limit") or min(40, limit_max)), limit_max)
        ordered = sorted(rows, key=lambda r: int(_key(r, key)), reverse=True)
        if max_id:
            ordered = [r for r in ordered if int(_key(r, key)) < int(max_id)]
        if min_id:
            ordered = [r for r in ordered if int(_key(r, key)) > int(min_id)]
        page = ordered[:limit]
        headers = {}
        if page:
            base = f"{request.base_url}{request.path}"
            keep = {k: v for k, v in request.query.items() if k not in ("max_id", "min_id", "since_id")}
            kept = urlencode([(k, v) for k, values in keep.items() for v in values])
            sep = f"{kept}&" if kept else ""
            headers["link"] = (
                f'<{base}?{sep}max_id={_key(page[-1], key)}>; rel="next", '
                f'<{base}?{sep}min_id={_key(page[0], key)}>; rel="prev"'
            )
        return FakeResponse(json=[_public(r) for r in page], headers=headers)

    # ------------------------------------------------------------------ statuses
    @route("POST", "/api/v1/statuses")
    async def create_status(self, request: ReceivedRequest) -> FakeResponse:
        params = _params(request)
        key = request.headers.get("idempotency-key")
        owner = self.me["id"]  # Mastodon scopes keys per account (every token of this fake acts as ``me``)
        if key:
            seen = self.idempotency.get((owner, key))
            if seen and time.time() - seen[1] < IDEMPOTENCY_TTL_S and seen[0] in self.statuses:
                return FakeResponse(json=_public(self.statuses[seen[0]]))
        refused = self._validate_status(params)
        if refused is not None:
            return refused
        status = self.add_status(
            str(params.get("status", "")),
            visibility=str(params.get("visibility") or "public"),
            in_reply_to_id=params.get("in_reply_to_id"),
        )
        status["language"] = params.get("language") or status["language"]
        status["media_attachments"] = [self.media[m] for m in params.get("media_ids", [])]
        if params.get("spoiler_text"):
            status.update(spoiler_text=params["spoiler_text"], sensitive=True)
        if key:
            self.idempotency[(owner, key)] = (status["id"], time.time())
        return FakeResponse(json=_public(status))

    def _validate_status(self, params: dict[str, Any]) -> FakeResponse | None:
        text, media_ids = (
            str(params.get("status") or ""),
            list(params.get("media_ids") or []),
        )
        if not text.strip() and not media_ids:
            return self.error(422, "Validation failed: Text can't be blank")
        if count_text(text, TextCounting.MASTODON) > self.max_characters:
            return self.error(
                422,
                f"Validation failed: Text character limit of {self.max_characters} exceeded",
            )
        if params.get("visibility") not in (
            None,
            "",
            "public",
            "unlisted",
            "private",
            "direct",
        ):
            return self.error(422, "Validation failed: Visibility is not included in the list")
        if len(media_ids) > 4:
            return self.error(422, "Validation failed: Media attachments exceed the limit")
        if any(m not in self.media for m in media_ids):
            return self.error(422, "Validation failed: Media attachments are invalid")
        if any(self.media[m]["url"] is None for m in media_ids):
            return self.error(
                422,
                "Cannot attach files that have not finished processing. Try again in a moment!",
            )
        reply_to = params.get("in_reply_to_id")
        if reply_to and reply_to not in self.statuses:
            return self.error(404, NOT_FOUND)
        return None

    @route("GET", "/api/v1/statuses/{status_id}")
    async def get_status(self, request: ReceivedRequest, status_id: str) -> FakeResponse:
        status = self.statuses.get(status_id)
        return FakeResponse(json=_public(status)) if status else self.error(404, NOT_FOUND)

    @route("GET", "/api/v1/statuses/{status_id}/source")
    async def status_source(self, request: ReceivedRequest, status_id: str) -> FakeResponse:
        """The text as its author wrote it (what an edit starts from): only for one's own statuses."""
        status = self.statuses.get(status_id)
        if status is None or status["account"]["id"] != self.me["id"]:
            return self.error(404, NOT_FOUND)
        return FakeResponse(
            json={"id": status_id, "text": status["text_source"], "spoiler_text": status["spoiler_text"]}
        )

    @route("DELETE", "/api/v1/statuses/{status_id}")
    async def delete_status(self, request: ReceivedRequest, status_id: str) -> FakeResponse:
        status = self.statuses.get(status_id)
        if status is None or status["account"]["id"] != self.me["id"]:
            return self.error(404, NOT_FOUND)
        del self.statuses[status_id]
        self.me["statuses_count"] -= 1
        return FakeResponse(json=_public(status) | {"text": status["text_source"]})

    @route("POST", "/api/v1/statuses/{status_id}/reblog")
    async def reblog(self, request: ReceivedRequest, status_id: str) -> FakeResponse:
        original = self.statuses.get(status_id)
        if original is None:
            return self.error(404, NOT_FOUND)
        if original["visibility"] in ("private", "direct"):
            return self.error(422, "Validation failed: Reblog of status is not permitted")
        existing = next(
            (
                s
                for s in self.statuses.values()
                if s["reblog"] and s["reblog"]["id"] == status_id and s["account"] is self.me
            ),
            None,
        )
        if existing:  # Mastodon returns the existing boost instead of boosting twice
            return FakeResponse(json=_public(existing))
        wrapper = self.add_status("", visibility=(_params(request).get("visibility") or "public"))
        wrapper.update(content="", reblog=_public(original))
        original["reblogs_count"] += 1
        return FakeResponse(json=_public(wrapper))

    @route("POST", "/api/v1/accounts/{account_id}/block")
    async def block_account(self, request: ReceivedRequest, account_id: str) -> FakeResponse:
        """Block an account: answers the Relationship with ``blocking: true`` (idempotent)."""
        if account_id not in self.accounts:
            return self.error(404, NOT_FOUND)
        if account_id == self.me["id"]:
            return self.error(422, "Validation failed: You cannot block yourself")
        self.blocks.add(account_id)
        return FakeResponse(json=self._relationship(account_id))

    def _relationship(self, account_id: str) -> dict[str, Any]:
        return {
            "id": account_id,
            "following": False,
            "showing_reblogs": False,
            "notifying": False,
            "languages": None,
            "followed_by": False,
            "blocking": account_id in self.blocks,
            "blocked_by": False,
            "muting": False,
            "muting_notifications": False,
            "requested": False,
            "requested_by": False,
            "domain_blocking": False,
            "endorsed": False,
            "note": "",
        }

    def is_blocked(self, account_id: str) -> bool:
        """Whether ``me`` blocked the account; conformance reads moderation state here."""
        return account_id in self.blocks

    @route("GET", "/api/v1/accounts/verify_credentials")
    async def verify_credentials(self, request: ReceivedRequest) -> FakeResponse:
        return FakeResponse(
            json=self.me
            | {
                "source": {
                    "privacy": "public",
                    "sensitive": False,
                    "language": "fr",
                    "note": "",
                }
            }
        )

    @route("GET", "/api/v1/accounts/{account_id}/statuses")
    async def account_statuses(self, request: ReceivedRequest, account_id: str) -> FakeResponse:
        if account_id not in self.accounts:
            return self.error(404, NOT_FOUND)
        rows = [s for s in self.statuses.values() if s["account"]["id"] == account_id and s["visibility"] != "direct"]
        if request.q("exclude_reblogs") == "true":
            rows = [s for s in rows if s["reblog"] is None]
        return self._page(request, rows, "id", limit_max=40)

    # ------------------------------------------------------------------ media
    @route("POST", "/api/v2/media")
    async def upload_media(self, request: ReceivedRequest) -> FakeResponse:
        fields = _multipart(request)
        if fields is None or "file" not in fields:
            return self.error(422, "Validation failed: File can't be blank")
        content_type, data = fields["file"]
        kind = "video" if content_type.startswith("video/") else "gifv" if content_type == "image/gif" else "image"
        media_id = self._snowflake()
        pending = kind != "image" or self.async_media
        url = f"https://files.{self.domain}/media_attachments/{media_id}/original"
        self.media[media_id] = {
            "id": media_id,
            "type": kind,
            "url": None if pending else url,
            "preview_url": f"https://files.{self.domain}/media_attachments/{media_id}/small",
            "remote_url": None,
            "description": fields.get("description", ("", b""))[1].decode() or None,
            "blurhash": "UFBWY:8_0Jxv%MRjWBt7~q9FM{ay",
            "meta": {"size_bytes": len(data)},
            "_final_url": url,
            "_polls_left": 1,
        }
        return FakeResponse(status=202 if pending else 200, json=_public(self.media[media_id]))

    @route("GET", "/api/v1/media/{media_id}")
    async def get_media(self, request: ReceivedRequest, media_id: str) -> FakeResponse:
        media = self.media.get(media_id)
        if media is None:
            return self.error(404, NOT_FOUND)
        if media["url"] is None:
            if media["_polls_left"] > 0:
                media["_polls_left"] -= 1
                return FakeResponse(status=206, json=_public(media))
            media["url"] = media["_final_url"]
        return FakeResponse(json=_public(media))

    # ------------------------------------------------------------------ inbox
    @route("GET", "/api/v1/notifications")
    async def notifications_list(self, request: ReceivedRequest) -> FakeResponse:
        types = request.query.get("types[]") or request.query.get("types")
        rows = [n for n in self.notifications if not types or n["type"] in types]
        return self._page(request, rows, "id", limit_max=80)

    @route("GET", "/api/v1/conversations")
    async def conversations_list(self, request: ReceivedRequest) -> FakeResponse:
        rows = [c for c in self.conversations.values() if c.get("last_status")]
        return self._page(request, rows, "last_status.id", limit_max=40)

    @route("GET", "/api/v2/search")
    async def search(self, request: ReceivedRequest) -> FakeResponse:
        """Full-text search of the statuses, newest first (``type`` narrows to one kind)."""
        query = (request.q("q") or "").strip().lower()
        if not query:
            return self.error(400, "Validation failed: q can't be blank")
        limit, offset = min(int(request.q("limit") or 20), 40), int(request.q("offset") or 0)
        hits = [s for s in self.statuses.values() if s["reblog"] is None and query in s["text_source"].lower()]
        hits.sort(key=lambda s: int(s["id"]), reverse=True)
        statuses = (
            [_public(s) for s in hits[offset : offset + limit]] if request.q("type") in (None, "statuses") else []
        )
        return FakeResponse(json={"accounts": [], "statuses": statuses, "hashtags": []})

    @route("GET", "/api/v1/timelines/tag/{hashtag}")
    async def tag_timeline(self, request: ReceivedRequest, hashtag: str) -> FakeResponse:
        """Public statuses carrying ``#hashtag`` (case-insensitive), newest first, reblogs left
        out; ``since_id``/``min_id``/``max_id`` and ``limit`` (at most 40) as every timeline."""
        name = hashtag.lower()
        rows = [
            s
            for s in self.statuses.values()
            if s["reblog"] is None and s["visibility"] == "public" and any(t["name"] == name for t in s["tags"])
        ]
        return self._page(request, rows, "id", limit_max=40)

    @route("GET", "/api/v2/instance")
    async def instance(self, request: ReceivedRequest) -> FakeResponse:
        return FakeResponse(
            json={
                "domain": self.domain,
                "title": "Mastodon (simulated)",
                "version": "4.5.0",
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {
                        "image_size_limit": 16_777_216,
                        "video_size_limit": 103_809_024,
                    },
                },
            }
        )

    # ------------------------------------------------------------------ OAuth
    def token_answer(self, grant: Grant) -> dict[str, Any]:
        return {
            "access_token": f"{TOKEN_PREFIX}{self.next_id()}",
            "token_type": "Bearer",
            "scope": grant.scope,
            "created_at": int(time.time()),
        }


def _key(row: dict[str, Any], dotted: str) -> str:
    value: Any = row
    for part in dotted.split("."):
        value = value[part]
    return str(value)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """Drop the fake's bookkeeping (keys starting with ``_`` and ``text_source``)."""
    clean = {k: v for k, v in row.items() if not k.startswith("_") and k != "text_source"}
    if isinstance(clean.get("last_status"), dict):
        clean["last_status"] = _public(clean["last_status"])
    return clean


def _params(request: ReceivedRequest) -> dict[str, Any]:
    """Mastodon accepts JSON or form bodies; ``media_ids[]`` is a list in both."""
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body = request.json or {}
        return dict(body) if isinstance(body, dict) else {}
    parsed = parse_qs(request.body.decode(), keep_blank_values=True)
    params: dict[str, Any] = {k: v[-1] for k, v in parsed.items() if not k.endswith("[]")}
    params.update({k[:-2]: v for k, v in parsed.items() if k.endswith("[]")})
    return params


def _multipart(request: ReceivedRequest) -> dict[str, tuple[str, bytes]] | None:
    parts = request.parts()
    return None if parts is None else {name: (part.content_type, part.payload) for name, part in parts.items()}


__all__ = ["FakeMastodon", "render_html"]
