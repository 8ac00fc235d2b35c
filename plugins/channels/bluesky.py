"""Bluesky channel plugin: AT Protocol XRPC over httpx, with app-password sessions.

Credentials: ``access_token`` holds an **app password** (Settings → Privacy and security →
App passwords), ``external_id`` the account's DID and ``handle`` its handle; an optional
``credentials.extra["pds"]`` names the account's PDS when it is not ``settings.base_url``.
Why not store the session JWTs instead: the contract has no way for an operation to hand
renewed tokens back to the host, and ``refresh()`` belongs to OAuth, which Bluesky offers
only as atproto OAuth (PAR + DPoP), not implemented here. So the plugin logs in with
``com.atproto.server.createSession`` once per process and account, keeps the JWT pair in
memory, renews it with ``com.atproto.server.refreshSession`` before the access JWT's
``exp``, and logs in again when the refresh JWT is dead. That keeps far below the
createSession limits (30 per 5 minutes, 300 per day). An access JWT the PDS calls expired
anyway (``ExpiredToken``: its clock is ahead of ours) renews the session and the call is sent
again; only a token it calls invalid (app password revoked) or a renewal that fails drops the
session and raises CredentialsExpired.

Posts are ``app.bsky.feed.post`` records made with ``com.atproto.repo.createRecord``: text,
``createdAt``, ``langs``, facets for links, mentions and hashtags with UTF-8 byte offsets,
images uploaded with ``com.atproto.repo.uploadBlob`` (alt text required by the lexicon), an
external link card, quote and reply strong refs. Every response's ``ratelimit-*`` headers
go to the usage recorder.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import httpx
import msgspec
import regex

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    Capabilities,
    ChannelError,
    ChannelPlugin,
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
    PluginHttp,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    RateLimited,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    json_body,
    same_text,
    single_match,
)

POST, REPOST = "app.bsky.feed.post", "app.bsky.feed.repost"
BLOCK = "app.bsky.graph.block"
MAX_TEXT_BYTES = 3000
#: what produced the metrics: the ``app.bsky`` lexicons over XRPC (unversioned; their names are the version)
API_VERSION = "app.bsky"
# app.bsky.embed.images: ≤4 images; the current lexicon allows 2,000,000 bytes each
# ("formerly limited to 1 MB"; bsky-docs still says 1 MB: reference §9.7).
_IMAGE = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=4,
    max_bytes=2_000_000,
    content_types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
)
_AUTH_ERRORS = frozenset(
    {
        "ExpiredToken",
        "InvalidToken",
        "AuthenticationRequired",
        "AccountTakedown",
        "AuthFactorTokenRequired",
        "AccountDeactivated",
    }
)
_URL = re.compile(r"https?://[^\s<>\"]+")
_MENTION = re.compile(r"(?<![\w@])@([a-zA-Z0-9][a-zA-Z0-9-]*(?:\.[a-zA-Z0-9-]+)+)")
_TAG = regex.compile(r"(?<![\p{L}\p{N}_&#])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)")
_TRAILING = ".,;:!?)\"'"
_REFRESH_MARGIN_S = 120  # renew the access JWT that long before its exp
_INBOX_REASONS = ("mention", "reply", "quote")
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable


class _AccessExpired(CredentialsExpired):
    """``ExpiredToken``: a JWT past its ``exp``. For the access JWT, renewing the session cures it;
    only when that fails too does the account need reconnecting."""


@dataclass
class _Session:
    access: str
    refresh: str
    did: str
    handle: str
    expires: float  # access JWT's exp (epoch seconds)
    secret: str  # digest of the app password it came from


class BlueskyPlugin(ChannelPlugin):
    key: ClassVar[str] = "bluesky"
    name: ClassVar[str] = "Bluesky"
    default_base_url: ClassVar[str] = "https://bsky.social"
    capabilities: ClassVar[Capabilities] = Capabilities(
        text=TextRules(limit=300, counting=TextCounting.GRAPHEMES),
        formats=(
            FormatRules(format=Format.POST, media=(_IMAGE,), max_media=4),
            FormatRules(format=Format.PHOTO, media=(_IMAGE,), min_media=1, max_media=4),
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
                Feature.RECONCILE,
                Feature.SEARCH,
                # a block of the author by our account; no hide (threadgate hidden replies are
                # unverified) and no deleting others' posts
                Feature.BAN,
            }
        ),
        notices=(
            N_("Bluesky counts 300 graphemes and at most 3,000 bytes of text."),
            N_("Connect with an app password, never the account password; revoking it disconnects Porte-voix."),
            N_("Video posts are not supported by this plugin yet."),
        ),
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._sessions: dict[str, _Session] = {}

    # ================================================================== publishing
    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        self._check_shape(draft)
        steps = [
            self._prepared(
                account,
                "com.atproto.server.createSession",
                {"identifier": account.external_id, "password": "[redacted]"},
                "log in with the app password (once per process; the session is reused)",
            )
        ]
        blobs: list[dict[str, Any]] = []
        for index, item in enumerate(draft.media, start=1):
            steps.append(
                self._prepared(
                    account,
                    "com.atproto.repo.uploadBlob",
                    None,
                    f"image {index}: raw bytes of {item.path or item.url}",
                    content_type=item.content_type,
                )
            )
            blobs.append(
                {
                    "$type": "blob",
                    "ref": {"$link": f"{{blob_{index}}}"},
                    "mimeType": item.content_type,
                    "size": item.size_bytes or 0,
                }
            )
        record = self._record(
            draft,
            _facets(draft.text, {}),
            blobs,
            quote=_placeholder_ref(draft.quote_of),
            reply=_placeholder_reply(draft.reply_to),
        )
        body = {"repo": account.external_id, "collection": POST, "record": record}
        steps.append(
            self._prepared(
                account,
                "com.atproto.repo.createRecord",
                body,
                "create the post (mention DIDs and strong-ref CIDs are resolved when sending)",
            )
        )
        return tuple(steps)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        self._check_shape(draft)
        dids = await self._resolve_mentions(account, draft.text)
        blobs = [await self._upload(account, item) for item in draft.media]
        quote = await self._strong_ref(account, draft.quote_of) if draft.quote_of else None
        reply = await self._reply_refs(account, draft.reply_to) if draft.reply_to else None
        record = self._record(draft, _facets(draft.text, dids), blobs, quote=quote, reply=reply)
        created = await self._create(account, POST, record)
        return PublishResult(
            remote_id=created["uri"],
            url=self._web_url(account, created["uri"]),
            published_at=_parse(record["createdAt"]),
        )

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        return await self.publish(
            account,
            msgspec.structs.replace(draft, reply_to=item.remote_id, quote_of=None),
        )

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        subject = await self._strong_ref(account, remote_id)
        created = await self._create(
            account,
            REPOST,
            {"$type": REPOST, "subject": subject, "createdAt": _now_iso()},
        )
        return PublishResult(
            remote_id=created["uri"],
            url=self._web_url(account, remote_id),
            published_at=datetime.now(UTC),
        )

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        did, collection, rkey = _split_uri(remote_id)
        await self._call(
            account,
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": did, "collection": collection, "rkey": rkey},
        )

    async def ban_author(self, account: AccountRef, item: RemoteItem) -> None:
        """An ``app.bsky.graph.block`` record in our repo whose subject is the author's DID: they can no
        longer reply to, mention or quote the account."""
        if not item.author_id.startswith("did:"):
            raise Rejected(f"bluesky: {item.author_id!r} is not a DID", code="not_a_did")
        await self._create(account, BLOCK, {"$type": BLOCK, "subject": item.author_id, "createdAt": _now_iso()})

    async def reconcile(
        self,
        account: AccountRef,
        draft: Draft,
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """Our own post records of the window with exactly the draft's text, link card and parent.

        Read from the PDS (``com.atproto.repo.listRecords``), which has a record the moment it is
        written, not from the AppView, which may not have indexed it yet; the PDS keeps the text
        as sent. Record keys are TIDs, the PDS's creation time: they bound the walk.
        """
        matches = [
            PublishResult(
                remote_id=record["uri"],
                url=self._web_url(account, record["uri"]),
                published_at=_parse(record.get("value", {}).get("createdAt")) or created,
            )
            async for record, created in self._posts_since(account, not_before)
            if created <= not_after and _same_post(record.get("value", {}), draft)
        ]
        return single_match(matches, channel=self.key)

    async def _posts_since(
        self, account: AccountRef, not_before: datetime
    ) -> AsyncIterator[tuple[dict[str, Any], datetime]]:
        """The account's post records, newest first, back to ``not_before`` (by record key)."""
        params: dict[str, Any] = {"repo": account.external_id, "collection": POST, "limit": 100}
        while True:
            body = await self._call(account, "GET", "com.atproto.repo.listRecords", params=params)
            for record in body.get("records", []):
                created = _tid_time(str(record.get("uri", "")).rsplit("/", 1)[-1])
                if created is None or created < not_before:
                    return
                yield record, created
            if not body.get("cursor") or not body.get("records"):
                return
            params = {**params, "cursor": body["cursor"]}

    # ================================================================== conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        """Mentions, replies and quotes from ``listNotifications``, newest first.

        The cursor is ``page=<cursor>;since=<indexedAt>;newest=<indexedAt>`` while the sweep
        goes on and ``since=<indexedAt>`` once it is done; nothing new since: the same cursor back.
        """
        state = _decode_cursor(cursor)
        params: dict[str, Any] = {
            "limit": int(self.settings.extra.get("inbox_page_size", "50")),
            "reasons": list(_INBOX_REASONS),
        }
        if state.get("page"):
            params["cursor"] = state["page"]
        body = await self._call(account, "GET", "app.bsky.notification.listNotifications", params=params)
        notes = body.get("notifications", [])
        since = state.get("since", "")
        fresh = [n for n in notes if _newer(n["indexedAt"], since)]
        newest = state.get("newest") or (fresh[0]["indexedAt"] if fresh else None)
        items = tuple(self._remote_item(n) for n in fresh if n.get("reason") in _INBOX_REASONS)
        if body.get("cursor") and len(fresh) == len(notes):  # older pages may hold more new items
            return InboxPage(
                items=items,
                next_cursor=_encode_cursor(page=body["cursor"], since=since, newest=newest),
            )
        caught_up = newest or since
        return InboxPage(items=items, next_cursor=_encode_cursor(since=caught_up) if caught_up else None)

    async def search(self, account: AccountRef, query: str, cursor: str | None) -> InboxPage:
        """Posts matching ``query`` (words, a ``#tag``) from ``app.bsky.feed.searchPosts``, sorted
        latest first; the cursor works as the inbox's (``since`` = the newest ``indexedAt`` seen)."""
        state = _decode_cursor(cursor)
        params: dict[str, Any] = {
            "q": query,
            "sort": "latest",
            "limit": int(self.settings.extra.get("search_page_size", "50")),
        }
        if state.get("page"):
            params["cursor"] = state["page"]
        body = await self._call(account, "GET", "app.bsky.feed.searchPosts", params=params)
        posts = body.get("posts", [])
        since = state.get("since", "")
        fresh = [p for p in posts if _newer(p.get("indexedAt", ""), since)]
        newest = state.get("newest") or (fresh[0]["indexedAt"] if fresh else None)
        items = tuple(self._search_hit(p) for p in fresh)
        if body.get("cursor") and posts and len(fresh) == len(posts):
            return InboxPage(items=items, next_cursor=_encode_cursor(page=body["cursor"], since=since, newest=newest))
        caught_up = newest or since
        return InboxPage(items=items, next_cursor=_encode_cursor(since=caught_up) if caught_up else None)

    def _search_hit(self, post: dict[str, Any]) -> RemoteItem:
        record, author = post.get("record", {}), post.get("author", {})
        return RemoteItem(
            remote_id=post["uri"],
            kind=InboxKind.MENTION,
            text=record.get("text", ""),
            author_id=author.get("did", ""),
            author_handle=author.get("handle", ""),
            author_name=author.get("displayName", ""),
            created_at=_parse(record.get("createdAt")) or _parse(post.get("indexedAt")) or datetime.now(UTC),
            thread_id=post["uri"],
            url=self._post_url(author.get("handle") or author.get("did", ""), post["uri"]),
        )

    def _remote_item(self, note: dict[str, Any]) -> RemoteItem:
        record, author = note.get("record", {}), note.get("author", {})
        reply = record.get("reply") or {}
        kind = {"reply": InboxKind.REPLY}.get(note["reason"], InboxKind.MENTION)
        return RemoteItem(
            remote_id=note["uri"],
            kind=kind,
            text=record.get("text", ""),
            author_id=author.get("did", ""),
            author_handle=author.get("handle", ""),
            author_name=author.get("displayName", ""),
            created_at=_parse(record.get("createdAt")) or _parse(note["indexedAt"]) or datetime.now(UTC),
            thread_id=reply.get("root", {}).get("uri") or note.get("reasonSubject"),
            parent_id=reply.get("parent", {}).get("uri"),
            url=self._post_url(author.get("handle") or author.get("did", ""), note["uri"]),
        )

    # ================================================================== metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        body = await self._call(
            account,
            "GET",
            "app.bsky.actor.getProfile",
            params={"actor": account.external_id},
        )
        return AccountMetrics(
            followers=body.get("followersCount"),
            following=body.get("followsCount"),
            posts=body.get("postsCount"),
            api_version=API_VERSION,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        found: list[PostMetrics] = []
        for chunk in _chunks(remote_ids, 25):  # getPosts takes at most 25 URIs
            body = await self._call(account, "GET", "app.bsky.feed.getPosts", params={"uris": chunk})
            found += [
                PostMetrics(
                    remote_id=p["uri"],
                    likes=p.get("likeCount"),
                    reposts=p.get("repostCount"),
                    replies=p.get("replyCount"),
                    extra={"quote_count": float(p.get("quoteCount", 0))},
                    api_version=API_VERSION,
                )
                for p in body.get("posts", [])
            ]
        return found

    # ================================================================== records
    def _check_shape(self, draft: Draft) -> None:
        if len(draft.text.encode()) > MAX_TEXT_BYTES:
            raise Rejected(
                f"Bluesky: the text is {len(draft.text.encode())} bytes long; limit {MAX_TEXT_BYTES}",
                code="text_too_many_bytes",
            )
        if any(item.kind is not MediaKind.IMAGE for item in draft.media) or len(draft.media) > 4:
            raise Rejected(
                "Bluesky: this plugin posts up to 4 images; video and GIF are not supported",
                code="media_unsupported",
            )
        if not draft.text and not draft.media and not draft.link and not draft.quote_of:
            raise Rejected("Bluesky: a post needs text or an embed", code="empty")

    def _record(
        self,
        draft: Draft,
        facets: list[dict[str, Any]],
        blobs: list[dict[str, Any]],
        *,
        quote: dict[str, str] | None,
        reply: dict[str, Any] | None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST,
            "text": draft.text,
            "createdAt": _now_iso(),
        }
        langs = [
            lang.strip()
            for lang in (draft.options.get("langs") or self.settings.extra.get("langs", "")).split(",")
            if lang.strip()
        ]
        if langs:
            record["langs"] = langs[:3]
        if facets:
            record["facets"] = facets
        embed = self._embed(draft, blobs, quote)
        if embed:
            record["embed"] = embed
        if reply:
            record["reply"] = reply
        return record

    @staticmethod
    def _embed(draft: Draft, blobs: list[dict[str, Any]], quote: dict[str, str] | None) -> dict[str, Any] | None:
        images = None
        if blobs:
            images = {
                "$type": "app.bsky.embed.images",
                "images": [_image(item, blob) for item, blob in zip(draft.media, blobs, strict=True)],
            }
        if quote and images:
            return {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": quote},
                "media": images,
            }
        if quote:
            return {"$type": "app.bsky.embed.record", "record": quote}
        if images:
            return images
        if draft.link:  # a card: Bluesky builds none itself, the client sends title and description
            return {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": draft.link,
                    "title": draft.title or draft.link,
                    "description": draft.options.get("link_description", ""),
                },
            }
        return None

    async def _resolve_mentions(self, account: AccountRef, text: str) -> dict[str, str]:
        """Handle → DID for every @mention; an unknown handle stays plain text, as in the app."""
        dids: dict[str, str] = {}
        for handle in {m.group(1).rstrip(_TRAILING) for m in _MENTION.finditer(text)}:
            try:
                body = await self._call(
                    account,
                    "GET",
                    "com.atproto.identity.resolveHandle",
                    params={"handle": handle},
                    auth=False,
                )
            except Rejected:
                continue
            dids[handle] = body["did"]
        return dids

    async def _upload(self, account: AccountRef, item: MediaItem) -> dict[str, Any]:
        if not item.path:
            raise Rejected(
                "Bluesky uploads images from a local file; this media has no path",
                code="media_path_missing",
            )
        data = await asyncio.to_thread(Path(item.path).read_bytes)
        body = await self._call(
            account,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=data,
            content_type=item.content_type,
        )
        return dict(body["blob"])

    async def _strong_ref(self, account: AccountRef, uri: str) -> dict[str, str]:
        return {"uri": uri, "cid": (await self._get_record(account, uri))["cid"]}

    async def _reply_refs(self, account: AccountRef, uri: str) -> dict[str, Any]:
        """``parent`` is the post answered; ``root`` its thread's root (itself when not a reply)."""
        parent = await self._get_record(account, uri)
        parent_ref = {"uri": parent["uri"], "cid": parent["cid"]}
        root = (parent.get("value", {}).get("reply") or {}).get("root") or parent_ref
        return {"root": root, "parent": parent_ref}

    async def _get_record(self, account: AccountRef, uri: str) -> dict[str, Any]:
        did, collection, rkey = _split_uri(uri)
        return await self._call(
            account,
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": did, "collection": collection, "rkey": rkey},
        )

    async def _create(self, account: AccountRef, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        body = {"repo": account.external_id, "collection": collection, "record": record}
        return await self._call(account, "POST", "com.atproto.repo.createRecord", json=body)

    def _web_url(self, account: AccountRef, uri: str) -> str:
        return self._post_url(account.handle or account.external_id, uri)

    def _post_url(self, actor: str, uri: str) -> str:
        return f"{self.settings.extra.get('web_url', 'https://bsky.app')}/profile/{actor}/post/{uri.rsplit('/', 1)[-1]}"

    def _prepared(
        self,
        account: AccountRef,
        nsid: str,
        body: Any,
        note: str,
        *,
        content_type: str = "application/json",
    ) -> PreparedRequest:
        headers = {"Content-Type": content_type}
        if nsid != "com.atproto.server.createSession":
            headers["Authorization"] = "Bearer [redacted]"
        return PreparedRequest(
            method="POST",
            url=f"{self._pds(account)}/xrpc/{nsid}",
            headers=headers,
            json=body,
            note=note,
        )

    # ================================================================== session
    def _pds(self, account: AccountRef) -> str:
        return account.credentials.extra.get("pds", self.base_url).rstrip("/")

    async def _session(self, account: AccountRef) -> _Session:
        secret = hashlib.sha256(account.credentials.access_token.encode()).hexdigest()
        session = self._sessions.get(account.external_id)
        if session is not None and session.secret == secret:
            if session.expires - _REFRESH_MARGIN_S > time.time():
                return session
            renewed = await self._refresh_session(account, session)
            if renewed is not None:
                return renewed
        return await self._create_session(account, secret)

    async def _create_session(self, account: AccountRef, secret: str) -> _Session:
        body = {
            "identifier": account.external_id or account.handle,
            "password": account.credentials.access_token,
        }
        answer = await self._xrpc(account, "POST", "com.atproto.server.createSession", None, json=body)
        return self._keep(account, answer, secret)

    async def _refresh_session(self, account: AccountRef, session: _Session) -> _Session | None:
        try:
            answer = await self._xrpc(account, "POST", "com.atproto.server.refreshSession", session.refresh)
        except CredentialsExpired:
            return None  # the refresh JWT is dead too: log in again
        return self._keep(account, answer, session.secret)

    def _keep(self, account: AccountRef, answer: dict[str, Any], secret: str) -> _Session:
        session = _Session(
            access=answer["accessJwt"],
            refresh=answer["refreshJwt"],
            did=answer["did"],
            handle=answer.get("handle", ""),
            expires=_jwt_exp(answer["accessJwt"]),
            secret=secret,
        )
        self._sessions[account.external_id] = session
        return session

    # ================================================================== HTTP and errors
    async def _call(
        self,
        account: AccountRef,
        method: str,
        nsid: str,
        *,
        auth: bool = True,
        **kw: Any,
    ) -> dict[str, Any]:
        if not auth:
            return await self._xrpc(account, method, nsid, None, **kw)
        session = await self._session(account)
        try:
            try:
                return await self._xrpc(account, method, nsid, session.access, **kw)
            except _AccessExpired:
                # The PDS says the access JWT expired (early, or our clock is behind its): the
                # refused call did nothing, so renew the session once and send it again.
                renewed = await self._refresh_session(account, session) or await self._create_session(
                    account, session.secret
                )
                return await self._xrpc(account, method, nsid, renewed.access, **kw)
        except CredentialsExpired:
            self._sessions.pop(account.external_id, None)  # never reuse a session the PDS refused
            raise

    @cached_property
    def api(self) -> PluginHttp:
        return PluginHttp(self, read_error=_read_error, label="Bluesky")

    async def _xrpc(
        self,
        account: AccountRef,
        method: str,
        nsid: str,
        token: str | None,
        *,
        content_type: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        url = f"{self._pds(account)}/xrpc/{nsid}"
        return await self.api.json(method, url, endpoint=nsid, account=account, headers=headers, **kw)


# ---------------------------------------------------------------------- helpers
def _now_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _newer(indexed_at: str, since: str) -> bool:
    """Whether a notification came after the last sweep (everything counts without one)."""
    moment, limit = _parse(indexed_at), _parse(since)
    return limit is None or moment is None or moment > limit


def _tid_time(rkey: str) -> datetime | None:
    """The creation time a TID record key holds (53 bits of microseconds above a 10-bit clock id)."""
    if len(rkey) != 13 or any(c not in _TID_CHARS for c in rkey):
        return None
    value = 0
    for char in rkey:
        value = value * 32 + _TID_CHARS.index(char)
    return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)


def _same_post(record: dict[str, Any], draft: Draft) -> bool:
    """Whether a post record is the draft as we would have sent it: the text exactly, the same link
    card (the only embed text-alike posts differ by) and the same parent for a reply."""
    embed = record.get("embed") or {}
    card = (embed.get("external") or {}).get("uri") if embed.get("$type") == "app.bsky.embed.external" else None
    expected_card = draft.link if draft.link and not draft.media and not draft.quote_of else None
    parent = ((record.get("reply") or {}).get("parent") or {}).get("uri")
    return same_text(record.get("text"), draft.text) and card == expected_card and parent == draft.reply_to


def _split_uri(uri: str) -> tuple[str, str, str]:
    """``at://<did>/<collection>/<rkey>`` → its three parts."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or not all(parts):
        raise Rejected(f"Bluesky: {uri!r} is not a record AT-URI", code="invalid_uri")
    return parts[0], parts[1], parts[2]


def _byte_span(text: str, start: int, end: int) -> dict[str, int]:
    """Facet index: UTF-8 byte offsets, end exclusive, from Python string indices."""
    byte_start = len(text[:start].encode())
    return {
        "byteStart": byte_start,
        "byteEnd": byte_start + len(text[start:end].encode()),
    }


def _facets(text: str, dids: dict[str, str]) -> list[dict[str, Any]]:
    found: list[tuple[int, dict[str, Any]]] = []
    for m in _URL.finditer(text):
        uri = m.group().rstrip(_TRAILING)
        found.append(
            (
                m.start(),
                {
                    "index": _byte_span(text, m.start(), m.start() + len(uri)),
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
                },
            )
        )
    for m in _MENTION.finditer(text):
        handle = m.group(1).rstrip(_TRAILING)
        if handle in dids:
            span = _byte_span(text, m.start(), m.start() + 1 + len(handle))
            found.append(
                (
                    m.start(),
                    {
                        "index": span,
                        "features": [
                            {
                                "$type": "app.bsky.richtext.facet#mention",
                                "did": dids[handle],
                            }
                        ],
                    },
                )
            )
    for m in _TAG.finditer(text):
        if regex.match(r"^\X{1,64}$", m.group(1)) and not _inside_url(text, m.start()):
            span = _byte_span(text, m.start(), m.end())
            found.append(
                (
                    m.start(),
                    {
                        "index": span,
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}],
                    },
                )
            )
    return [facet for _, facet in sorted(found, key=lambda pair: pair[0])]


def _inside_url(text: str, position: int) -> bool:
    return any(m.start() <= position < m.end() for m in _URL.finditer(text))


def _image(item: MediaItem, blob: dict[str, Any]) -> dict[str, Any]:
    image: dict[str, Any] = {
        "image": blob,
        "alt": item.alt_text,
    }  # alt is required, may be ""
    if item.width and item.height:
        image["aspectRatio"] = {"width": item.width, "height": item.height}
    return image


def _placeholder_ref(uri: str | None) -> dict[str, str] | None:
    return {"uri": uri, "cid": "{cid}"} if uri else None


def _placeholder_reply(uri: str | None) -> dict[str, Any] | None:
    return (
        {
            "root": {"uri": "{root of the thread}", "cid": "{cid}"},
            "parent": {"uri": uri, "cid": "{cid}"},
        }
        if uri
        else None
    )


def _jwt_exp(token: str) -> float:
    """The ``exp`` claim of a JWT (not verified: the PDS does that); unknown → treat as short-lived."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError):
        return time.time() + 300


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """XRPC errors: ``{"error": Name, "message"}``; the name says more than the status (an expired
    token comes as 400 ``ExpiredToken``)."""
    body = json_body(response)
    name = str(body.get("error", ""))
    if response.status_code < 400:
        return None
    message = str(body.get("message") or name or response.reason_phrase)
    error = _ERROR_NAMES.get(name) or (CredentialsExpired if name in _AUTH_ERRORS else None)
    return ErrorReading(
        message=message,
        code=name or None,
        error=error,
        log=f"{name or response.status_code}: {message}",
    )


#: XRPC error names that say more than their status: a rate, and an access JWT to renew
_ERROR_NAMES: dict[str, type[ChannelError]] = {"RateLimitExceeded": RateLimited, "ExpiredToken": _AccessExpired}


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_cursor(**parts: str | None) -> str:
    return ";".join(f"{k}={v}" for k, v in parts.items() if v)


def _decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    return dict(part.split("=", 1) for part in cursor.split(";") if "=" in part)
