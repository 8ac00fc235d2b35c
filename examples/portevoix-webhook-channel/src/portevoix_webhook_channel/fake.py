"""A fake webhook endpoint for tests and demos, built on Porte-voix's testing kit.

It checks every request the way a careful endpoint would (known account, fresh timestamp,
valid HMAC signature, well-formed body), answers with the endpoint's error shape
``{"error": code, "message": text}``, and emits ``X-RateLimit-*`` headers.

Test-only code: it imports :mod:`plugins.testing`, which the plugin itself never does.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from core.channels import AccountRef, Credentials
from plugins.testing import FakeNetwork, FakeResponse, ReceivedRequest, route
from portevoix_webhook_channel.channel import (
    ACCOUNT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

MAX_CLOCK_SKEW_S = 300
RATE_LIMIT = 100
RATE_WINDOW_S = 60
TEXT_LIMIT = 5000


class WebhookFake(FakeNetwork):
    key = "webhook"
    name = "Webhook endpoint (fake)"

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}  # account external id -> signing secret
        self.posts: dict[str, dict[str, Any]] = {}
        self.replies: list[dict[str, Any]] = []
        self._remaining = RATE_LIMIT
        self._reset_at = int(time.time()) + RATE_WINDOW_S

    # ------------------------------------------------------------------ test helpers
    def make_account(self, handle: str = "mairie-exemple") -> AccountRef:
        """A new account whose secret this endpoint knows."""
        external_id = f"acct-{self.next_id()}"
        self.secrets[external_id] = secrets.token_hex(16)
        return AccountRef(
            external_id=external_id,
            handle=handle,
            credentials=Credentials(access_token=self.secrets[external_id]),
        )

    def add_reply(self, account: AccountRef, post_id: str, text: str, *, author: str = "habitant") -> str:
        """Someone replied to ``post_id``; the next inbox poll will see it."""
        reply_id = f"r{self.next_id()}"
        self.replies.append(
            {
                "id": reply_id,
                "account": account.external_id,
                "post_id": post_id,
                "parent_id": post_id,
                "text": text,
                "author": {"id": f"u-{author}", "handle": author, "name": author.title()},
                "created_at": _now(),
                "url": f"https://hooks.example.invalid/replies/{reply_id}",
            }
        )
        return reply_id

    # ------------------------------------------------------------------ the endpoint's conventions
    def authorized(self, request: ReceivedRequest) -> bool:
        secret = self.secrets.get(request.headers.get(ACCOUNT_HEADER.lower(), ""))
        timestamp = request.headers.get(TIMESTAMP_HEADER.lower(), "")
        if secret is None or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_S:
            return False
        expected = signature(secret, timestamp, request.method, request.path, request.body)
        return hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER.lower(), ""))

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        now = int(time.time())
        if now >= self._reset_at:
            self._remaining, self._reset_at = RATE_LIMIT, now + RATE_WINDOW_S
        self._remaining = max(0, self._remaining - 1)
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(self._remaining),
            "x-ratelimit-reset": str(self._reset_at),
        }

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        reset = str(int(time.time() + retry_after))
        return {
            **super().limit_headers(retry_after),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": reset,
        }

    def _refused(self) -> FakeResponse:
        return self.error(401, "invalid signature", kind="unauthorized")

    # ------------------------------------------------------------------ routes
    @route("POST", "/posts")
    async def create_post(self, request: ReceivedRequest) -> FakeResponse:
        if not self.authorized(request):
            return self._refused()
        try:
            body = json.loads(request.body)
        except ValueError:
            return self.error(400, "body is not JSON", kind="invalid_json")
        problem = _check_post(body, request.headers.get(ACCOUNT_HEADER.lower(), ""))
        if problem:
            return self.error(422, problem, kind="invalid_post")
        existing = self._by_ref(body["account"], body["client_ref"])
        if existing:  # the same client_ref twice is one post: retries are safe
            return FakeResponse(status=200, json=_public(existing[0]))
        post_id = f"p{self.next_id()}"
        self.posts[post_id] = body | {
            "id": post_id,
            "url": f"https://hooks.example.invalid/posts/{post_id}",
            "created_at": _now(),
        }
        return FakeResponse(status=201, json=_public(self.posts[post_id]))

    @route("DELETE", "/posts/{post_id}")
    async def delete_post(self, request: ReceivedRequest, post_id: str) -> FakeResponse:
        if not self.authorized(request):
            return self._refused()
        post = self.posts.get(post_id)
        if post is None or post["account"] != request.headers[ACCOUNT_HEADER.lower()]:
            return self.error(404, f"no post {post_id}", kind="not_found")
        del self.posts[post_id]
        return FakeResponse(status=204)

    @route("GET", "/posts")
    async def find_posts(self, request: ReceivedRequest) -> FakeResponse:
        if not self.authorized(request):
            return self._refused()
        client_ref = request.q("client_ref")
        if not client_ref:
            return self.error(400, "client_ref is required", kind="invalid_query")
        found = self._by_ref(request.headers[ACCOUNT_HEADER.lower()], client_ref)
        return FakeResponse(json={"items": [_public(post) for post in found]})

    @route("GET", "/replies")
    async def list_replies(self, request: ReceivedRequest) -> FakeResponse:
        if not self.authorized(request):
            return self._refused()
        mine = [r for r in self.replies if r["account"] == request.headers[ACCOUNT_HEADER.lower()]]
        cursor, limit = request.q("cursor") or "0", request.q("limit") or "20"
        if not cursor.isdigit() or not limit.isdigit() or not 1 <= int(limit) <= 100:
            return self.error(400, "bad cursor or limit", kind="invalid_query")
        start, end = int(cursor), int(cursor) + int(limit)
        items = [{k: v for k, v in r.items() if k != "account"} for r in mine[start:end]]
        return FakeResponse(json={"items": items, "next_cursor": str(end) if end < len(mine) else None})

    def _by_ref(self, account: str, client_ref: str) -> list[dict[str, Any]]:
        return [p for p in self.posts.values() if p["account"] == account and p["client_ref"] == client_ref]


def _check_post(body: Any, account: str) -> str | None:
    """What a careful endpoint refuses, in its own words; None when the post is acceptable."""
    if not isinstance(body, dict) or body.get("account") != account:
        return "account in the body does not match the signed account"
    if not isinstance(body.get("client_ref"), str) or not body["client_ref"]:
        return "client_ref is required"
    if body.get("format") not in ("post", "photo"):
        return f"format {body.get('format')!r} is not accepted"
    text, media = body.get("text"), body.get("media")
    if not isinstance(text, str) or not isinstance(media, list):
        return "text must be a string and media a list"
    if len(text) > TEXT_LIMIT:
        return f"text is longer than {TEXT_LIMIT} characters"
    if not text and not media:
        return "a post needs text or media"
    if body["format"] == "photo" and not media:
        return "a photo post needs at least one image"
    if any(not isinstance(m, dict) or not str(m.get("url", "")).startswith("https://") for m in media):
        return "every media item needs an https url"
    return None


def _public(post: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": post["id"],
        "url": post["url"],
        "created_at": post["created_at"],
        "client_ref": post["client_ref"],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()
