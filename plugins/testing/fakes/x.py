"""A faithful fake of the X API v2 (the parts Porte-voix uses), for tests and the demo.

It answers only requests shaped as the X documentation says (xdevplatform/docs ``openapi.json``
and the fundamentals pages): wrong method, path, header or body field gets X's own problem
body (``{"title", "detail", "type", "status", "errors"?}``) and status. It keeps state —
users, posts, media, mentions, tokens — so delete, reconcile, metrics and inbox work against
what a test created, and it emits X's ``x-rate-limit-*`` headers on every answer.

Inbox data, each with a chosen time (``created_at=``, epoch seconds): :meth:`FakeX.add_mention`
(a mention of the account, or a reply to one of its posts with ``reply_to``), :meth:`FakeX.add_tweet`
(any post), :meth:`FakeX.add_direct_message` (a DM; reaches the plugin by webhook only). Webhooks:
:meth:`FakeX.signed_webhook` (Account Activity payloads, signed) and :meth:`FakeX.crc_response`.
Moderation: ``PUT /2/tweets/:id/hidden`` for replies in the account's conversations
(:meth:`FakeX.is_hidden`).

Mount it under any prefix: paths are matched after the ASGI ``root_path``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from twitter_text import parse_tweet

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeResponse, ReceivedRequest, route
from plugins.testing.oauth import Grant, OAuthServer

PROBLEMS = "https://api.twitter.com/2/problems"
MAX_WEIGHTED_LENGTH = 280
_URL = re.compile(r"https?://\S+")
_CREATE_FIELDS = frozenset(
    {
        "text",
        "media",
        "reply",
        "quote_tweet_id",
        "poll",
        "reply_settings",
        "community_id",
        "share_with_followers",
        "for_super_followers_only",
        "geo",
        "direct_message_deep_link",
        "card_uri",
        "nullcast",
        "made_with_ai",
        "paid_partnership",
        "edit_options",
    }
)
_MEDIA_CATEGORIES = frozenset(
    {
        "tweet_image",
        "tweet_gif",
        "tweet_video",
        "amplify_video",
        "dm_image",
        "dm_video",
        "dm_gif",
        "subtitles",
    }
)
#: per-user limits of the 15-minute windows, from the rate-limits page (fundamentals/rate-limits.mdx)
_LIMITS: dict[str, int] = {
    "POST /2/tweets": 100,
    "DELETE /2/tweets/:id": 50,
    "PUT /2/tweets/:id/hidden": 50,
    "POST /2/users/:id/retweets": 50,
    "GET /2/users/:id/mentions": 300,
    "GET /2/tweets/search/recent": 300,
    "GET /2/users/:id/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/users/:id": 900,
    "GET /2/tweets": 900,
    "POST /2/media/upload": 500,
    "POST /2/media/upload/chunked": 1875,
    "GET /2/media/upload": 1000,
    "POST /2/media/metadata": 500,
    "POST /2/oauth2/token": 1000,
}
WINDOW_S = 15 * 60
_ACCOUNT_SCOPE = "tweet.read tweet.write users.read offline.access media.write tweet.moderate.write"


def iso(ts: float) -> str:
    """X's timestamp format: RFC 3339 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers: int = 0
    following: int = 0
    listed: int = 0


@dataclass
class FakeTweet:
    id: str
    text: str
    author_id: str
    created_at: float
    conversation_id: str
    in_reply_to_user_id: str | None = None
    referenced: list[dict[str, str]] = field(default_factory=list)
    media_keys: list[str] = field(default_factory=list)
    likes: int = 0
    retweets: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int = 0
    #: hidden by the author of the conversation (``PUT /2/tweets/:id/hidden``)
    hidden: bool = False

    def public(self, fields: set[str]) -> dict[str, Any]:
        # X rewrites every URL of the text to a t.co link and HTML-escapes &, < and >; attached
        # media add a t.co link of their own at the end. ``entities.urls`` says what each t.co
        # link stands for (``expanded_url``; a media's also carries its ``media_key``).
        text, urls = self._rendered()
        out: dict[str, Any] = {
            "id": self.id,
            "text": text,
            "edit_history_tweet_ids": [self.id],
        }
        if "entities" in fields and urls:
            out["entities"] = {"urls": urls}
        optional: dict[str, Any] = {
            "author_id": self.author_id,
            "created_at": iso(self.created_at),
            "conversation_id": self.conversation_id,
            "public_metrics": {
                "retweet_count": self.retweets,
                "reply_count": self.replies,
                "like_count": self.likes,
                "quote_count": self.quotes,
                "bookmark_count": 0,
                "impression_count": self.impressions,
            },
        }
        if self.in_reply_to_user_id:
            optional["in_reply_to_user_id"] = self.in_reply_to_user_id
        if self.referenced:
            optional["referenced_tweets"] = self.referenced
        out.update({k: v for k, v in optional.items() if k in fields})
        return out

    def _rendered(self) -> tuple[str, list[dict[str, Any]]]:
        parts: list[str] = []
        urls: list[dict[str, Any]] = []
        position = 0
        for match in _URL.finditer(self.text):
            parts.append(_escape(self.text[position : match.start()]))
            short = f"https://t.co/{hashlib.sha1(match.group().encode()).hexdigest()[:10]}"
            urls.append(_url_entity(len("".join(parts)), short, match.group()))
            parts.append(short)
            position = match.end()
        parts.append(_escape(self.text[position:]))
        for n, key in enumerate(self.media_keys, start=1):
            parts.append(" ")
            short = f"https://t.co/{key[-10:]}"
            expanded = f"https://x.com/i/web/status/{self.id}/photo/{n}"
            urls.append(_url_entity(len("".join(parts)), short, expanded) | {"media_key": key})
            parts.append(short)
        return "".join(parts), urls


@dataclass
class FakeDM:
    """A direct message (a ``MessageCreate`` DM event)."""

    id: str
    text: str
    sender_id: str
    recipient_id: str
    created_at: float

    @property
    def dm_conversation_id(self) -> str:
        low, high = sorted((int(self.sender_id), int(self.recipient_id)))
        return f"{low}-{high}"


@dataclass
class FakeMedia:
    id: str
    owner: str
    category: str
    media_type: str = ""
    total_bytes: int = 0
    received: dict[int, int] = field(default_factory=dict)  # segment_index -> bytes
    finalized: bool = False
    polls_left: int = 0
    alt_text: str | None = None

    @property
    def key(self) -> str:
        prefix = {"tweet_video": "7", "amplify_video": "13", "tweet_gif": "16"}.get(self.category, "3")
        return f"{prefix}_{self.id}"

    @property
    def ready(self) -> bool:
        return self.finalized and self.polls_left <= 0


class FakeX(OAuthServer):
    """The X API v2 on 127.0.0.1 (or mounted in the demo app)."""

    key: ClassVar[str] = "x"
    name: ClassVar[str] = "X (fake)"
    authorize_path = "/i/oauth2/authorize"
    token_path = "/2/oauth2/token"
    authorize_params = (
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    )
    challenge_methods = ("S256", "plain")
    default_scope = "tweet.read tweet.write users.read offline.access"
    failure_messages = {**OAuthServer.failure_messages, "expired": "Unauthorized"}

    def __init__(
        self,
        *,
        client_id: str = "fake-x-client",
        client_secret: str = "fake-x-secret",
        standing_code: str | None = None,
    ) -> None:
        super().__init__()
        self.client_id = self.oauth_client_id = client_id
        self.client_secret = client_secret
        #: an authorization code always accepted without PKCE check (conformance suite, demo);
        #: codes obtained through /i/oauth2/authorize are single use and PKCE-checked
        self.standing_code = standing_code
        #: seconds X asks to wait between video STATUS polls; tests set 0
        self.video_check_after_secs = 1
        #: how many STATUS polls a video stays "in_progress"
        self.video_processing_polls = 1
        self.users: dict[str, FakeUser] = {}
        self.tweets: dict[str, FakeTweet] = {}
        self.media: dict[str, FakeMedia] = {}
        self.retweets: set[tuple[str, str]] = set()
        self.direct_messages: dict[str, FakeDM] = {}
        self.tokens: dict[str, str] = {}  # access token -> user id
        self._snowflakes = itertools.count(1_790_000_000_000_000_001)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    # ------------------------------------------------------------------ helpers for tests
    def snowflake(self) -> str:
        with self._lock:
            return str(next(self._snowflakes))

    def make_account(
        self,
        username: str = "RegionOccitanie",
        *,
        name: str = "Région Occitanie",
        followers: int = 82_000,
    ) -> AccountRef:
        """A user with a valid OAuth 2.0 user token, as the plugin receives it."""
        user = FakeUser(
            id=self.snowflake(),
            username=username,
            name=name,
            followers=followers,
            following=120,
            listed=40,
        )
        self.users[user.id] = user
        access, refresh = self._issue_tokens(user.id)
        credentials = Credentials(
            access_token=access,
            refresh_token=refresh,
            scope=_ACCOUNT_SCOPE,
        )
        return AccountRef(external_id=user.id, handle=username, credentials=credentials)

    def add_user(self, username: str, name: str = "") -> FakeUser:
        user = FakeUser(id=self.snowflake(), username=username, name=name or username)
        self.users[user.id] = user
        return user

    def add_tweet(
        self,
        author_id: str,
        text: str,
        *,
        created_at: float | None = None,
        reply_to: FakeTweet | None = None,
    ) -> FakeTweet:
        tweet_id = self.snowflake()
        tweet = FakeTweet(
            id=tweet_id,
            text=text,
            author_id=author_id,
            created_at=created_at or time.time(),
            conversation_id=tweet_id,
        )
        if reply_to is not None:
            tweet.conversation_id = reply_to.conversation_id
            tweet.in_reply_to_user_id = reply_to.author_id
            tweet.referenced = [{"type": "replied_to", "id": reply_to.id}]
            reply_to.replies += 1
        self.tweets[tweet.id] = tweet
        return tweet

    def add_mention(
        self,
        account: AccountRef,
        text: str,
        *,
        author: str = "citoyen",
        created_at: float | None = None,
        reply_to: FakeTweet | None = None,
    ) -> FakeTweet:
        """Someone mentions ``account`` (or replies to one of its posts when ``reply_to`` is given)."""
        user = self._user_named(author)
        handle = self.users[account.external_id].username
        body = text if f"@{handle}" in text else f"@{handle} {text}"
        return self.add_tweet(user.id, body, created_at=created_at, reply_to=reply_to)

    def add_direct_message(
        self, account: AccountRef, text: str, *, author: str = "citoyen", created_at: float | None = None
    ) -> FakeDM:
        """The user ``author`` (made if need be) sends ``account`` a direct message."""
        user = self._user_named(author)
        dm = FakeDM(
            id=self.snowflake(),
            text=text,
            sender_id=user.id,
            recipient_id=account.external_id,
            created_at=created_at or time.time(),
        )
        self.direct_messages[dm.id] = dm
        return dm

    def _user_named(self, username: str) -> FakeUser:
        return next((u for u in self.users.values() if u.username == username), None) or self.add_user(
            username, username.title()
        )

    # ------------------------------------------------------------------ webhooks (Account Activity API)
    def webhook_signature(self, body: bytes, *, secret: str | None = None) -> str:
        """``x-twitter-webhooks-signature``: ``sha256=`` + base64 HMAC-SHA256(consumer secret, raw body)."""
        digest = hmac.new((secret or self.client_secret).encode(), body, hashlib.sha256).digest()
        return "sha256=" + base64.b64encode(digest).decode()

    def crc_response(self, crc_token: str, *, secret: str | None = None) -> dict[str, str]:
        """What X expects back for ``GET <webhook>?crc_token=…``: base64 HMAC-SHA256 of the token."""
        return {"response_token": self.webhook_signature(crc_token.encode(), secret=secret)}

    def signed_webhook(
        self, item: FakeTweet | FakeDM, *, for_user: AccountRef | str, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The Account Activity event X would POST for ``item`` to the webhook of the subscribed user
        ``for_user`` (our account): ``(headers, raw body)``, headers lower-cased.

        A post (mention, reply) is a ``tweet_create_events`` entry in the v1.1 format; a direct
        message a ``direct_message_events`` entry with its ``users`` map. Signed with ``secret``
        (default: the fake's consumer secret, ``client_secret``).
        """
        owner = for_user.external_id if isinstance(for_user, AccountRef) else for_user
        payload: dict[str, Any] = {"for_user_id": owner}
        if isinstance(item, FakeDM):
            payload["direct_message_events"] = [_dm_event(item)]
            payload["users"] = {
                uid: _v1_user(self.users[uid]) for uid in (item.sender_id, item.recipient_id) if uid in self.users
            }
        else:
            payload["tweet_create_events"] = [self._v1_tweet(item)]
        body = json.dumps(payload).encode()
        return {
            "content-type": "application/json",
            "x-twitter-webhooks-signature": self.webhook_signature(body, secret=secret),
        }, body

    def _v1_tweet(self, tweet: FakeTweet) -> dict[str, Any]:
        parent = next((r["id"] for r in tweet.referenced if r["type"] == "replied_to"), None)
        text, _ = tweet._rendered()
        author = self.users.get(tweet.author_id)
        out: dict[str, Any] = {
            "created_at": _v1_time(tweet.created_at),
            "id": int(tweet.id),
            "id_str": tweet.id,
            "text": text,
            "truncated": False,
            "in_reply_to_status_id": int(parent) if parent else None,
            "in_reply_to_status_id_str": parent,
            "in_reply_to_user_id": int(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id else None,
            "in_reply_to_user_id_str": tweet.in_reply_to_user_id,
            "user": _v1_user(author) if author else {"id_str": tweet.author_id},
        }
        return out

    def expire_token(self, token: str) -> None:
        self.tokens.pop(token, None)

    def reset(self) -> None:
        """Forget the requests, pending failures and the whole network state (between tests)."""
        super().reset()
        with self._lock:
            self._windows.clear()
        for store in (self.users, self.tweets, self.media, self.tokens, self.direct_messages):
            store.clear()
        self.retweets.clear()

    def _issue_tokens(self, user_id: str, scope: str = _ACCOUNT_SCOPE) -> tuple[str, str]:
        access = secrets.token_urlsafe(24)
        self.tokens[access] = user_id
        return access, self.keep_refresh(secrets.token_urlsafe(24), Grant(scope=scope, subject=user_id))

    def plugin_settings(self, url: str) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "extra_authorize_url": f"{url}{self.authorize_path}",
        }

    # ------------------------------------------------------------------ network shape
    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        if kind == "not_found":
            # unknown route: X answers with its legacy error list
            return FakeResponse(
                status=404,
                json={"errors": [{"message": "Sorry, that page does not exist", "code": 34}]},
            )
        titles = {
            400: "Invalid Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            405: "Method Not Allowed",
            429: "Too Many Requests",
            500: "Internal Server Error",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }
        title = titles.get(status, "Error")
        body: dict[str, Any] = {
            "title": title,
            "detail": message,
            "type": "about:blank",
            "status": status,
        }
        if status == 400:
            body["type"] = f"{PROBLEMS}/invalid-request"
            body["errors"] = [{"message": message, "parameters": {}}]
            body.pop("status")
        return FakeResponse(status=status, json=body)

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        # X sends no Retry-After: the reset instant is in x-rate-limit-reset (epoch seconds).
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(math.ceil(time.time() + retry_after)),
        }

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        endpoint = _endpoint_of(request)
        limit = _LIMITS.get(endpoint, 900)
        user = self._bearer_user(request) or "app"
        now = time.time()
        with self._lock:
            start, used = self._windows.get((user, endpoint), (now, 0))
            if now - start >= WINDOW_S:
                start, used = now, 0
            used += 1
            self._windows[(user, endpoint)] = (start, used)
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": str(int(start + WINDOW_S)),
        }

    def authorized(self, request: ReceivedRequest) -> bool:
        return self._bearer_user(request) is not None

    def _bearer_user(self, request: ReceivedRequest) -> str | None:
        header = request.headers.get("authorization", "")
        return self.tokens.get(header[7:]) if header.startswith("Bearer ") else None

    def _user(self, request: ReceivedRequest) -> FakeUser | FakeResponse:
        user_id = self._bearer_user(request)
        if user_id is None:
            return self.error(401, "Unauthorized")
        return self.users[user_id]

    def _json_body(self, request: ReceivedRequest) -> dict[str, Any] | FakeResponse:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(400, "Content-Type must be application/json")
        try:
            body = request.json
        except ValueError:
            return self.error(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            return self.error(400, "Request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ OAuth 2.0
    def client_authenticated(self, request: ReceivedRequest, form: dict[str, Any]) -> bool:
        """Confidential clients authenticate with Basic; public clients send ``client_id`` only."""
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            return secrets.compare_digest(header[6:], expected)
        return form.get("client_id") == self.client_id

    def oauth_error(self, status: int, error: str, description: str) -> FakeResponse:
        # X calls a failed client authentication "unauthorized_client"
        return super().oauth_error(status, "unauthorized_client" if status == 401 else error, description)

    def token_answer(self, grant: Grant) -> dict[str, Any]:
        # Who approves the consent screen: the first account made, else a new one.
        user_id = (
            grant.subject
            or (next(iter(self.users.values()), None) or self.add_user("RegionOccitanie", "Région Occitanie")).id
        )
        access, refresh = self._issue_tokens(user_id, grant.scope)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": access,
            "scope": grant.scope,
        }
        if "offline.access" in grant.scope.split():
            body["refresh_token"] = refresh
        return body

    # ------------------------------------------------------------------ posts
    @route("POST", "/2/tweets")
    async def create_tweet(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        body = self._json_body(request)
        if isinstance(body, FakeResponse):
            return body
        problem = self._check_create(user, body)
        if problem is not None:
            return problem
        tweet = self._store_tweet(user, body)
        return FakeResponse(
            status=201,
            json={
                "data": {
                    "id": tweet.id,
                    "text": body.get("text", ""),
                    "edit_history_tweet_ids": [tweet.id],
                }
            },
            headers={"location": f"https://api.twitter.com/2/tweets/{tweet.id}"},
        )

    def _check_create(self, user: FakeUser, body: dict[str, Any]) -> FakeResponse | None:
        extra = sorted(set(body) - _CREATE_FIELDS)
        if extra:
            return self.error(
                400,
                f"$.{extra[0]}: is not defined in the schema and the schema does not allow additional properties",
            )
        text = body.get("text")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if text is not None and not isinstance(text, str):
            return self.error(400, "$.text: string expected")
        if not text and not media_ids:
            return self.error(400, "Post text or media is required")
        if sum(1 for key in ("media", "quote_tweet_id", "poll") if key in body) > 1:
            return self.error(400, "Only one of media, quote_tweet_id, poll may be given")
        if text and parse_tweet(text).weightedLength > MAX_WEIGHTED_LENGTH:
            return self.error(403, "You are not permitted to perform this action.")
        if text and any(t.author_id == user.id and t.text == text for t in self.tweets.values()):
            return self.error(403, "You are not allowed to create a Tweet with duplicate content.")
        return self._check_references(user, body, media_ids)

    def _check_references(self, user: FakeUser, body: dict[str, Any], media_ids: list[Any]) -> FakeResponse | None:
        if not 0 < len(media_ids) <= 4 and "media" in body:
            return self.error(400, "$.media.media_ids: must have 1 to 4 items")
        for media_id in media_ids:
            media = self.media.get(str(media_id))
            if media is None or media.owner != user.id or not media.ready:
                return self.error(400, f"Your media IDs are invalid: {media_id}")
        reply = body.get("reply")
        if reply is not None and str(reply.get("in_reply_to_tweet_id", "")) not in self.tweets:
            return self.error(
                400,
                "The Tweet you are replying to has been deleted or is not visible to you.",
            )
        quoted = body.get("quote_tweet_id")
        if quoted is not None and str(quoted) not in self.tweets:
            return self.error(
                400,
                "The Tweet you are quoting has been deleted or is not visible to you.",
            )
        return None

    def _store_tweet(self, user: FakeUser, body: dict[str, Any]) -> FakeTweet:
        reply = body.get("reply")
        parent = self.tweets[reply["in_reply_to_tweet_id"]] if reply else None
        tweet = self.add_tweet(user.id, body.get("text", ""), reply_to=parent)
        if "quote_tweet_id" in body:
            tweet.referenced.append({"type": "quoted", "id": body["quote_tweet_id"]})
            self.tweets[body["quote_tweet_id"]].quotes += 1
        tweet.media_keys = [self.media[str(m)].key for m in (body.get("media") or {}).get("media_ids", [])]
        return tweet

    @route("DELETE", "/2/tweets/{id}")
    async def delete_tweet(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        tweet = self.tweets.get(id)
        if tweet is None:
            return self._not_found("tweet", "id", id)
        if tweet.author_id != user.id:
            return self.error(403, "You are not authorized to delete this Tweet.")
        del self.tweets[id]
        return FakeResponse(json={"data": {"deleted": True}})

    @route("PUT", "/2/tweets/{id}/hidden")
    async def hide_reply(self, request: ReceivedRequest, id: str) -> FakeResponse:
        """Hide (or unhide) a reply: only the author of the conversation's first post may."""
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        body = self._json_body(request)
        if isinstance(body, FakeResponse):
            return body
        if set(body) != {"hidden"} or not isinstance(body["hidden"], bool):
            return self.error(400, "$.hidden: boolean expected, and nothing else")
        tweet = self.tweets.get(id)
        if tweet is None:
            return self._not_found("tweet", "id", id)
        root = self.tweets.get(tweet.conversation_id)
        if tweet.conversation_id == tweet.id or root is None or root.author_id != user.id:
            return self.error(403, "You can only hide or unhide replies to conversations you authored.")
        tweet.hidden = body["hidden"]
        return FakeResponse(json={"data": {"hidden": tweet.hidden}})

    def is_hidden(self, tweet_id: str) -> bool:
        """Whether the reply is hidden; conformance reads moderation state here."""
        return self.tweets[tweet_id].hidden

    @route("GET", "/2/tweets")
    async def lookup_tweets(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        ids = [i for i in (request.q("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return self.error(400, "The `ids` query parameter value [] is not between 1 and 100")
        fields = _fields(request, "tweet.fields")
        found = [self.tweets[i].public(fields) for i in ids if i in self.tweets]
        missing = [i for i in ids if i not in self.tweets]
        body: dict[str, Any] = {"data": found} if found else {}
        if missing:
            body["errors"] = [_missing("tweet", "ids", i) for i in missing]
        return FakeResponse(json=body)

    @route("POST", "/2/users/{id}/retweets")
    async def retweet(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        if id != user.id:
            return self.error(403, "You are not permitted to perform this action.")
        body = self._json_body(request)
        if isinstance(body, FakeResponse):
            return body
        if set(body) != {"tweet_id"}:
            return self.error(400, "$.tweet_id: is missing but it is required")
        source = self.tweets.get(str(body["tweet_id"]))
        if source is None:
            return self._not_found("tweet", "tweet_id", str(body["tweet_id"]))
        if (user.id, source.id) not in self.retweets:
            self.retweets.add((user.id, source.id))
            source.retweets += 1
        return FakeResponse(json={"data": {"retweeted": True, "rest_id": self.snowflake()}})

    @route("DELETE", "/2/users/{id}/retweets/{source_id}")
    async def unretweet(self, request: ReceivedRequest, id: str, source_id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        if (user.id, source_id) in self.retweets:
            self.retweets.discard((user.id, source_id))
            self.tweets[source_id].retweets -= 1
        return FakeResponse(json={"data": {"retweeted": False}})

    # ------------------------------------------------------------------ timelines
    @route("GET", "/2/users/{id}/tweets")
    async def user_tweets(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        start, end = request.q("start_time"), request.q("end_time")
        tweets = [t for t in self.tweets.values() if t.author_id == id]
        if start:
            tweets = [t for t in tweets if t.created_at >= parse_iso(start)]
        if end:
            tweets = [t for t in tweets if t.created_at <= parse_iso(end)]
        return self._page(request, tweets, minimum=5)

    @route("GET", "/2/users/{id}/mentions")
    async def mentions(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        if id not in self.users:
            return self._not_found("user", "id", id)
        handle = f"@{self.users[id].username}".lower()
        tweets = [t for t in self.tweets.values() if handle in t.text.lower() and t.author_id != id]
        since = request.q("since_id")
        if since:
            tweets = [t for t in tweets if int(t.id) > int(since)]
        return self._page(request, tweets, minimum=5)

    @route("GET", "/2/tweets/search/recent")
    async def search_recent(self, request: ReceivedRequest) -> FakeResponse:
        """Posts of the last 7 days matching ``query``: every term must appear (case-insensitive,
        ``#tag`` as a whole tag), ``-term`` excludes, ``-is:retweet`` leaves retweets out;
        ``since_id``, ``max_results`` 10–100, newest first."""
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        query = (request.q("query") or "").strip()
        if not query or len(query) > 512:
            return self.error(400, "The `query` query parameter value must be between 1 and 512 characters")
        week_ago = time.time() - 7 * 86400
        tweets = [t for t in self.tweets.values() if t.created_at >= week_ago and _matches(query, t)]
        since = request.q("since_id")
        if since:
            tweets = [t for t in tweets if int(t.id) > int(since)]
        return self._page(request, tweets, minimum=10)

    def _page(self, request: ReceivedRequest, tweets: list[FakeTweet], *, minimum: int) -> FakeResponse:
        """Newest first, ``max_results`` per page, ``meta.next_token`` while more remain."""
        raw = request.q("max_results") or "10"
        if not raw.isdigit() or not minimum <= int(raw) <= 100:
            return self.error(
                400,
                f"The `max_results` query parameter value [{raw}] is not between {minimum} and 100",
            )
        size = int(raw)
        tweets = sorted(tweets, key=lambda t: int(t.id), reverse=True)
        token = request.q("pagination_token")
        offset = _decode_token(token) if token else 0
        if offset is None:
            return self.error(400, "The `pagination_token` query parameter value is not valid")
        page = tweets[offset : offset + size]
        if not page:
            return FakeResponse(json={"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if offset + size < len(tweets):
            meta["next_token"] = _encode_token(offset + size)
        body: dict[str, Any] = {
            "data": [t.public(_fields(request, "tweet.fields")) for t in page],
            "meta": meta,
        }
        if "author_id" in (request.q("expansions") or "").split(","):
            authors = {t.author_id for t in page}
            body["includes"] = {"users": [self._user_json(self.users[a], set()) for a in authors if a in self.users]}
        return FakeResponse(json=body)

    # ------------------------------------------------------------------ users
    @route("GET", "/2/users/{id}")
    async def get_user(self, request: ReceivedRequest, id: str) -> FakeResponse:
        # one route for /2/users/me and /2/users/:id: the base router takes the first match
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        target = user if id == "me" else self.users.get(id)
        if target is None:
            return FakeResponse(json={"errors": [_missing("user", "id", id)]})
        return FakeResponse(json={"data": self._user_json(target, _fields(request, "user.fields"))})

    def _user_json(self, user: FakeUser, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": user.id,
            "name": user.name,
            "username": user.username,
        }
        if "public_metrics" in fields:
            tweet_count = sum(1 for t in self.tweets.values() if t.author_id == user.id)
            out["public_metrics"] = {
                "followers_count": user.followers,
                "following_count": user.following,
                "tweet_count": tweet_count,
                "listed_count": user.listed,
                "like_count": 0,
                "media_count": 0,
            }
        return out

    # ------------------------------------------------------------------ media
    @route("POST", "/2/media/upload")
    async def upload_simple(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        parts = _multipart(request)
        if parts is None or "media" not in parts:
            return self.error(400, "$.media: is missing but it is required (multipart/form-data)")
        category = parts.get("media_category", b"tweet_image").decode()
        if category not in _MEDIA_CATEGORIES:
            return self.error(
                400,
                f"$.media_category: does not have a value in the enumeration: {category}",
            )
        media = FakeMedia(
            id=self.snowflake(),
            owner=user.id,
            category=category,
            total_bytes=len(parts["media"]),
            finalized=True,
        )
        self.media[media.id] = media
        return FakeResponse(
            json={
                "data": {
                    "id": media.id,
                    "media_key": media.key,
                    "size": media.total_bytes,
                    "expires_after_secs": 86400,
                    "image": {"image_type": "image/png", "w": 1, "h": 1},
                }
            }
        )

    @route("POST", "/2/media/upload/initialize")
    async def upload_initialize(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        body = self._json_body(request)
        if isinstance(body, FakeResponse):
            return body
        if not isinstance(body.get("total_bytes"), int) or not body.get("media_type"):
            return self.error(400, "$.media_type and $.total_bytes are required")
        category = body.get("media_category", "tweet_video")
        if category not in _MEDIA_CATEGORIES:
            return self.error(
                400,
                f"$.media_category: does not have a value in the enumeration: {category}",
            )
        media = FakeMedia(
            id=self.snowflake(),
            owner=user.id,
            category=category,
            media_type=body["media_type"],
            total_bytes=body["total_bytes"],
        )
        self.media[media.id] = media
        return FakeResponse(
            json={
                "data": {
                    "id": media.id,
                    "media_key": media.key,
                    "expires_after_secs": 86400,
                }
            }
        )

    @route("POST", "/2/media/upload/{id}/append")
    async def upload_append(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        media = self.media.get(id)
        parts = _multipart(request)
        if media is None or media.owner != user.id or media.finalized:
            return self.error(400, f"Invalid media id or state: {id}")
        if parts is None or "media" not in parts or not parts.get("segment_index", b"").isdigit():
            return self.error(400, "$.media and $.segment_index are required (multipart/form-data)")
        index = int(parts["segment_index"])
        if index > 999:
            return self.error(400, "$.segment_index: must be between 0 and 999")
        media.received[index] = len(parts["media"])
        return FakeResponse(json={"data": {"expires_at": int(time.time()) + 86400}})

    @route("POST", "/2/media/upload/{id}/finalize")
    async def upload_finalize(self, request: ReceivedRequest, id: str) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        media = self.media.get(id)
        if media is None or media.owner != user.id:
            return self.error(400, f"Invalid media id: {id}")
        if sum(media.received.values()) != media.total_bytes or sorted(media.received) != list(
            range(len(media.received))
        ):
            return self.error(
                400,
                "File size does not match the total_bytes given at initialize, or a segment is missing",
            )
        media.finalized = True
        data: dict[str, Any] = {
            "id": media.id,
            "media_key": media.key,
            "size": media.total_bytes,
            "expires_after_secs": 86400,
        }
        if media.category in ("tweet_video", "amplify_video", "tweet_gif"):
            media.polls_left = self.video_processing_polls
            data["processing_info"] = {
                "state": "pending",
                "check_after_secs": self.video_check_after_secs,
            }
        return FakeResponse(json={"data": data})

    @route("GET", "/2/media/upload")
    async def upload_status(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        media = self.media.get(request.q("media_id") or "")
        if request.q("command") != "STATUS" or media is None or media.owner != user.id:
            return self.error(400, "command=STATUS and a valid media_id are required")
        if media.polls_left > 0:
            media.polls_left -= 1
            info = {
                "state": "in_progress",
                "check_after_secs": self.video_check_after_secs,
                "progress_percent": 50,
            }
        else:
            info = {"state": "succeeded", "progress_percent": 100}
        return FakeResponse(
            json={
                "data": {
                    "id": media.id,
                    "media_key": media.key,
                    "processing_info": info,
                }
            }
        )

    @route("POST", "/2/media/metadata")
    async def media_metadata(self, request: ReceivedRequest) -> FakeResponse:
        user = self._user(request)
        if isinstance(user, FakeResponse):
            return user
        body = self._json_body(request)
        if isinstance(body, FakeResponse):
            return body
        media = self.media.get(str(body.get("id", "")))
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if media is None or media.owner != user.id:
            return self.error(400, f"Invalid media id: {body.get('id')}")
        if not isinstance(alt, str) or len(alt) > 1000:
            return self.error(
                400,
                "$.metadata.alt_text.text: a string of at most 1000 characters is required",
            )
        media.alt_text = alt
        return FakeResponse(
            json={
                "data": {
                    "id": media.id,
                    "associated_metadata": {"alt_text": {"text": alt}},
                }
            }
        )

    def _not_found(self, resource: str, parameter: str, value: str) -> FakeResponse:
        body = {
            "title": "Not Found Error",
            "detail": f"Could not find {resource} with {parameter}: [{value}].",
            "type": f"{PROBLEMS}/resource-not-found",
            "status": 404,
        }
        return FakeResponse(status=404, json=body)


# ---------------------------------------------------------------------- module helpers
def _v1_time(ts: float) -> str:
    """The v1.1 time format of Account Activity payloads: ``Wed Oct 10 20:19:24 +0000 2018``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _v1_user(user: FakeUser) -> dict[str, Any]:
    return {"id": int(user.id), "id_str": user.id, "screen_name": user.username, "name": user.name}


def _dm_event(dm: FakeDM) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": dm.id,
        "created_timestamp": str(int(dm.created_at * 1000)),
        "message_create": {
            "target": {"recipient_id": dm.recipient_id},
            "sender_id": dm.sender_id,
            "message_data": {
                "text": dm.text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url_entity(start: int, short: str, expanded: str) -> dict[str, Any]:
    """One ``entities.urls`` entry: where the t.co link sits (code points) and what it stands for."""
    display = expanded.split("://", 1)[-1]
    return {
        "start": start,
        "end": start + len(short),
        "url": short,
        "expanded_url": expanded,
        "display_url": display if len(display) <= 26 else f"{display[:25]}…",
    }


def _missing(resource: str, parameter: str, value: str) -> dict[str, str]:
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


def _fields(request: ReceivedRequest, name: str) -> set[str]:
    return {f for f in (request.q(name) or "").split(",") if f}


def _encode_token(offset: int) -> str:
    return base64.b32encode(f"o{offset}".encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> int | None:
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except ValueError:
        return None
    return int(raw[1:]) if raw.startswith("o") and raw[1:].isdigit() else None


def _matches(query: str, tweet: FakeTweet) -> bool:
    """A small subset of X's search syntax: terms ANDed, ``-term`` negated, ``is:retweet``."""
    text = tweet.text.lower()
    words = set(re.findall(r"[#@]?\w+", text))
    for term in query.lower().split():
        negated, term = term.startswith("-"), term.lstrip("-")
        if term == "is:retweet":
            found = any(r.get("type") == "retweeted" for r in tweet.referenced)
        elif term.startswith(("#", "@")):
            found = term in words
        else:
            found = term.strip('"') in text
        if found == negated:
            return False
    return True


def _endpoint_of(request: ReceivedRequest) -> str:
    path = re.sub(r"/2/users/\d+", "/2/users/:id", request.path)
    path = re.sub(r"/2/tweets/\d+", "/2/tweets/:id", path)
    if re.match(r"/2/media/upload/(initialize|\d+/(append|finalize))$", path):
        path = "/2/media/upload/chunked"
    return f"{request.method} {path}"


def _multipart(request: ReceivedRequest) -> dict[str, bytes] | None:
    """The fields of a multipart/form-data body, or None when the body is not one."""
    parts = request.parts()
    return None if parts is None else {name: part.payload for name, part in parts.items()}
