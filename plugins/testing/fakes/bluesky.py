"""A faithful fake of a Bluesky PDS (AT Protocol XRPC), for tests and the demo.

Procedures are ``POST /xrpc/<nsid>`` with JSON (raw bytes for ``uploadBlob``), queries are
``GET /xrpc/<nsid>?…``, as the lexicons (MarshalX/atproto ``lexicons/*.json``) define them.
Anything else gets the XRPC error body ``{"error": "<Name>", "message": "…"}``: unknown
method → 501 ``MethodNotImplemented``, wrong verb or invalid input → 400 ``InvalidRequest``,
no or bad token → 401 ``AuthenticationRequired`` / ``InvalidToken``, expired access token →
400 ``ExpiredToken`` (what the PDS answers), rate → 429 ``RateLimitExceeded``.

Records are validated like the PDS does for ``app.bsky.feed.post`` (300 graphemes and
3,000 bytes of text, facets within the text's UTF-8 bytes, images referencing uploaded
blobs, reply and quote strong refs that exist). Replies, mentions, quotes and reposts by
other accounts become notifications of the account concerned. Every answer carries the
IETF-draft ``ratelimit-*`` headers the PDS sends.

Inbox data: :meth:`FakeBluesky.add_post` by another account — a reply with ``reply_to`` (a
comment on our post, or a reply to a reply), a mention with ``mention=`` — at ``created_at``
(epoch seconds); returns the stored record. No direct messages (chat.bsky): the plugin reads
none. Blocks are ``app.bsky.graph.block`` records: :meth:`FakeBluesky.is_blocked`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import regex

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeNetwork, FakeResponse, ReceivedRequest, route

POST, REPOST, LIKE = "app.bsky.feed.post", "app.bsky.feed.repost", "app.bsky.feed.like"
BLOCK = "app.bsky.graph.block"
_COLLECTIONS = frozenset({POST, REPOST, LIKE, BLOCK})
_FEATURES = {
    "app.bsky.richtext.facet#mention": "did",
    "app.bsky.richtext.facet#link": "uri",
    "app.bsky.richtext.facet#tag": "tag",
}
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_ERRORS = {  # FakeNetwork failure kind -> (status, XRPC error name)
    "rate_limited": (429, "RateLimitExceeded"),
    "rejected": (400, "InvalidRequest"),
    "method": (400, "InvalidRequest"),
    "not_found": (501, "MethodNotImplemented"),
    # fail_next("expired"): credentials the PDS no longer accepts (a revoked session), which no
    # refresh cures; an access JWT past its exp is 400 ExpiredToken (see _session)
    "expired": (401, "InvalidToken"),
    "jwt_expired": (400, "ExpiredToken"),
    "server_error": (500, "InternalServerError"),
    "timeout": (504, "UpstreamTimeout"),
}
RATE_LIMIT, RATE_WINDOW_S = 3000, 300  # per IP, 5 minutes (bsky-docs rate-limits.md)


def iso_now(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cid(data: bytes, prefix: str = "bafyrei") -> str:
    return prefix + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


@dataclass
class FakeActor:
    did: str
    handle: str
    display_name: str
    app_passwords: set[str] = field(default_factory=set)
    followers: int = 0
    follows: int = 0

    def basic(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "handle": self.handle,
            "displayName": self.display_name,
            "labels": [],
        }


@dataclass
class FakeRecord:
    uri: str
    cid: str
    did: str
    collection: str
    rkey: str
    value: dict[str, Any]
    indexed_at: str
    seq: int
    likes: int = 0


class FakeBluesky(FakeNetwork):
    """A PDS + AppView in one, on 127.0.0.1 (or mounted in the demo app)."""

    key: ClassVar[str] = "bluesky"
    name: ClassVar[str] = "Bluesky (fake)"
    failure_messages = {
        **FakeNetwork.failure_messages,
        "rate_limited": "Rate Limit Exceeded",
        "expired": "Token has been revoked",
    }

    def __init__(self, *, access_ttl_s: int = 2 * 3600) -> None:
        super().__init__()
        self.access_ttl_s = access_ttl_s
        self.actors: dict[str, FakeActor] = {}
        self.records: dict[str, FakeRecord] = {}
        self.blobs: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.access_tokens: dict[str, tuple[str, float]] = {}  # accessJwt -> (did, exp)
        self.refresh_tokens: dict[str, str] = {}  # refreshJwt -> did
        self._seq = itertools.count(1)
        self._last_ts = 0.0
        self._window = (time.time(), 0)

    # ------------------------------------------------------------------ helpers for tests
    def make_account(
        self,
        handle: str = "occitanie.bsky.social",
        *,
        name: str = "Région Occitanie",
        followers: int = 12_400,
    ) -> AccountRef:
        """An account with an app password; the credentials are what the plugin expects."""
        actor = self.add_actor(handle, name, followers=followers)
        password = "-".join(secrets.token_hex(2) for _ in range(4))
        actor.app_passwords.add(password)
        return AccountRef(
            external_id=actor.did,
            handle=handle,
            credentials=Credentials(access_token=password, token_type="app_password"),
        )

    def add_actor(self, handle: str, name: str = "", *, followers: int = 0) -> FakeActor:
        existing = next((a for a in self.actors.values() if a.handle == handle), None)
        if existing is not None:
            return existing
        did = "did:plc:" + "".join(secrets.choice(string.ascii_lowercase + "234567") for _ in range(24))
        actor = FakeActor(
            did=did,
            handle=handle,
            display_name=name or handle.split(".")[0].title(),
            followers=followers,
            follows=80,
        )
        self.actors[did] = actor
        return actor

    def add_post(
        self,
        author: str,
        text: str,
        *,
        reply_to: str | None = None,
        quote: str | None = None,
        mention: AccountRef | None = None,
        created_at: float | None = None,
    ) -> FakeRecord:
        """Someone (``author`` handle) posts; replies, quotes and mentions notify the account concerned.
        ``created_at`` (epoch seconds) is the record's ``createdAt``; the network indexes it now."""
        actor = self.add_actor(author)
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": iso_now(created_at)}
        if reply_to:
            parent = self.records[reply_to]
            root = parent.value.get("reply", {}).get("root") or {
                "uri": parent.uri,
                "cid": parent.cid,
            }
            record["reply"] = {
                "root": root,
                "parent": {"uri": parent.uri, "cid": parent.cid},
            }
        if quote:
            record["embed"] = {
                "$type": "app.bsky.embed.record",
                "record": {"uri": quote, "cid": self.records[quote].cid},
            }
        if mention is not None:
            start = text.encode().find(f"@{mention.handle}".encode())
            if start >= 0:
                index = {
                    "byteStart": start,
                    "byteEnd": start + len(mention.handle.encode()) + 1,
                }
                record["facets"] = [
                    {
                        "index": index,
                        "features": [
                            {
                                "$type": "app.bsky.richtext.facet#mention",
                                "did": mention.external_id,
                            }
                        ],
                    }
                ]
        return self._store(actor.did, POST, record)

    def add_like(self, uri: str, count: int = 1) -> None:
        self.records[uri].likes += count

    def expire_sessions(self) -> None:
        """Every access token issued so far is now past its ``exp``."""
        self.access_tokens = {t: (did, 0.0) for t, (did, _) in self.access_tokens.items()}

    def revoke_app_passwords(self, did: str) -> None:
        """The user revoked the app passwords: sessions die and new logins fail."""
        self.actors[did].app_passwords.clear()
        self.access_tokens = {t: v for t, v in self.access_tokens.items() if v[0] != did}
        self.refresh_tokens = {t: d for t, d in self.refresh_tokens.items() if d != did}

    def reset(self) -> None:
        """Forget the requests, pending failures and the whole network state (between tests)."""
        super().reset()
        for store in (
            self.actors,
            self.records,
            self.blobs,
            self.access_tokens,
            self.refresh_tokens,
        ):
            store.clear()
        self.notifications.clear()
        self._window = (time.time(), 0)

    # ------------------------------------------------------------------ network shape
    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        status, name = _ERRORS.get(kind, (status, kind or "InvalidRequest"))
        return FakeResponse(status=status, json={"error": name, "message": message})

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(math.ceil(time.time() + retry_after)),
            "ratelimit-policy": f"{RATE_LIMIT};w={RATE_WINDOW_S}",
        }

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        now = time.time()
        with self._lock:
            start, used = self._window
            if now - start >= RATE_WINDOW_S:
                start, used = now, 0
            self._window = (start, used + 1)
        return {
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": str(max(0, RATE_LIMIT - used - 1)),
            "ratelimit-reset": str(int(start + RATE_WINDOW_S)),
            "ratelimit-policy": f"{RATE_LIMIT};w={RATE_WINDOW_S}",
        }

    def authorized(self, request: ReceivedRequest) -> bool:
        return isinstance(self._session(request), FakeActor)

    def _session(self, request: ReceivedRequest) -> FakeActor | FakeResponse:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return FakeResponse(
                status=401,
                json={
                    "error": "AuthenticationRequired",
                    "message": "Authentication Required",
                },
            )
        did, exp = self.access_tokens.get(header[7:], ("", 0.0))
        if not did:
            return FakeResponse(
                status=401,
                json={
                    "error": "InvalidToken",
                    "message": "Token could not be verified",
                },
            )
        if exp < time.time():
            return self.error(400, "Token has expired", kind="jwt_expired")
        return self.actors[did]

    def _input(self, request: ReceivedRequest) -> dict[str, Any] | FakeResponse:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return self.error(
                400,
                "Wrong request encoding (Content-Type): expected application/json",
                kind="rejected",
            )
        try:
            body = json.loads(request.body)
        except ValueError:
            return self.error(400, "Request body is not valid JSON", kind="rejected")
        return body if isinstance(body, dict) else self.error(400, "Input must be an object", kind="rejected")

    def _invalid(self, message: str) -> FakeResponse:
        return self.error(400, message, kind="rejected")

    # ------------------------------------------------------------------ sessions
    @route("POST", "/xrpc/com.atproto.server.createSession")
    async def create_session(self, request: ReceivedRequest) -> FakeResponse:
        body = self._input(request)
        if isinstance(body, FakeResponse):
            return body
        if not isinstance(body.get("identifier"), str) or not isinstance(body.get("password"), str):
            return self._invalid("Input must have the properties identifier and password")
        actor = next(
            (a for a in self.actors.values() if body["identifier"] in (a.did, a.handle)),
            None,
        )
        if actor is None or body["password"] not in actor.app_passwords:
            return FakeResponse(
                status=401,
                json={
                    "error": "AuthenticationRequired",
                    "message": "Invalid identifier or password",
                },
            )
        return FakeResponse(json={**self._issue(actor), "active": True})

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    async def refresh_session(self, request: ReceivedRequest) -> FakeResponse:
        header = request.headers.get("authorization", "")
        did = self.refresh_tokens.pop(header[7:], None) if header.startswith("Bearer ") else None
        if did is None:
            return self.error(400, "Token has expired", kind="jwt_expired")
        return FakeResponse(json={**self._issue(self.actors[did]), "active": True})

    def _issue(self, actor: FakeActor) -> dict[str, str]:
        now = int(time.time())
        access = self._jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": actor.did,
                "iat": now,
                "exp": now + self.access_ttl_s,
                "aud": "did:web:fake.pds",
            }
        )
        refresh = self._jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": actor.did,
                "iat": now,
                "exp": now + 90 * 86400,
                "jti": secrets.token_hex(8),
            }
        )
        self.access_tokens[access] = (actor.did, now + self.access_ttl_s)
        self.refresh_tokens[refresh] = actor.did
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": actor.handle,
            "did": actor.did,
        }

    @staticmethod
    def _jwt(claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
        payload = _b64url(json.dumps({**claims, "nonce": secrets.token_hex(4)}).encode())
        return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"

    @route("GET", "/xrpc/com.atproto.identity.resolveHandle")
    async def resolve_handle(self, request: ReceivedRequest) -> FakeResponse:
        actor = next((a for a in self.actors.values() if a.handle == request.q("handle")), None)
        if actor is None:
            return self._invalid("Unable to resolve handle")
        return FakeResponse(json={"did": actor.did})

    # ------------------------------------------------------------------ repo writes
    @route("POST", "/xrpc/com.atproto.repo.uploadBlob")
    async def upload_blob(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        mime = request.headers.get("content-type", "")
        if not mime or mime.startswith(("application/json", "multipart/")) or not request.body:
            return self._invalid("uploadBlob takes the raw bytes with their own Content-Type")
        blob: dict[str, Any] = {
            "$type": "blob",
            "ref": {"$link": _cid(request.body, "bafkrei")},
            "mimeType": mime,
            "size": len(request.body),
        }
        self.blobs[blob["ref"]["$link"]] = blob
        return FakeResponse(json={"blob": blob})

    @route("POST", "/xrpc/com.atproto.repo.createRecord")
    async def create_record(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        body = self._input(request)
        if isinstance(body, FakeResponse):
            return body
        problem = self._check_write(actor, body) or self._check_record(body["collection"], body.get("record"))
        if problem:
            return self._invalid(problem)
        record = self._store(actor.did, body["collection"], body["record"])
        return FakeResponse(
            json={
                "uri": record.uri,
                "cid": record.cid,
                "commit": {"cid": _cid(record.uri.encode()), "rev": record.rkey},
                "validationStatus": "valid",
            }
        )

    @route("POST", "/xrpc/com.atproto.repo.deleteRecord")
    async def delete_record(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        body = self._input(request)
        if isinstance(body, FakeResponse):
            return body
        problem = self._check_write(actor, body)
        if problem or not isinstance(body.get("rkey"), str):
            return self._invalid(problem or "Input must have the property rkey")
        uri = f"at://{actor.did}/{body['collection']}/{body['rkey']}"
        self.records.pop(uri, None)  # idempotent: "ensure it doesn't exist"
        self.notifications = [n for n in self.notifications if n["uri"] != uri]
        return FakeResponse(json={"commit": {"cid": _cid(uri.encode()), "rev": _tid()}})

    def _check_write(self, actor: FakeActor, body: dict[str, Any]) -> str | None:
        if body.get("repo") not in (actor.did, actor.handle):
            return "Input/repo must be the DID or handle of the authenticated account"
        if body.get("collection") not in _COLLECTIONS:
            return f"Input/collection must be one of {sorted(_COLLECTIONS)}"
        return None

    def _check_record(self, collection: str, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("$type") != collection:
            found = record.get("$type") if isinstance(record, dict) else None
            return f"Invalid $type: expected {collection}, got {found}"
        if not _is_datetime(record.get("createdAt")):
            return f"Invalid {collection} record: Record/createdAt must be a valid datetime"
        if collection == BLOCK:  # app.bsky.graph.block: the subject is a DID, not a strong ref
            subject = record.get("subject")
            ok = isinstance(subject, str) and subject.startswith("did:")
            return None if ok else f"Invalid {BLOCK} record: Record/subject must be a valid did"
        if collection != POST:
            return self._check_ref(record.get("subject"), "Record/subject")
        return self._check_post(record)

    def is_blocked(self, did: str, *, by: str | None = None) -> bool:
        """Whether an ``app.bsky.graph.block`` record (of ``by``, or of anyone) has ``did`` as subject;
        conformance reads moderation state here."""
        return any(
            r.collection == BLOCK and r.value.get("subject") == did and (by is None or r.did == by)
            for r in self.records.values()
        )

    def _check_post(self, record: dict[str, Any]) -> str | None:
        text = record.get("text")
        if not isinstance(text, str):
            return 'Invalid app.bsky.feed.post record: Record must have the property "text"'
        if graphemes(text) > 300 or len(text.encode()) > 3000:
            return "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
        if len(record.get("langs", [])) > 3:
            return "Invalid app.bsky.feed.post record: Record/langs must not have more than 3 elements"
        for check in (
            self._check_facets(record.get("facets", []), len(text.encode())),
            self._check_embed(record.get("embed")),
        ):
            if check:
                return check
        reply = record.get("reply")
        if reply is not None:
            return self._check_ref(reply.get("root"), "Record/reply/root") or self._check_ref(
                reply.get("parent"), "Record/reply/parent"
            )
        return None

    @staticmethod
    def _check_facets(facets: list[Any], size: int) -> str | None:
        for n, facet in enumerate(facets):
            index = facet.get("index", {})
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
                return (
                    f"Invalid app.bsky.feed.post record: Record/facets/{n}/index must lie within the text's UTF-8 bytes"
                )
            for feature in facet.get("features", []):
                needed = _FEATURES.get(feature.get("$type", ""))
                if needed is None or not feature.get(needed):
                    return f"Invalid app.bsky.feed.post record: Record/facets/{n}/features has an invalid feature"
        return None

    def _check_embed(self, embed: Any) -> str | None:
        if embed is None:
            return None
        kind = embed.get("$type")
        if kind == "app.bsky.embed.images":
            return self._check_images(embed.get("images"))
        if kind == "app.bsky.embed.external":
            external = embed.get("external") or {}
            ok = all(isinstance(external.get(k), str) for k in ("uri", "title", "description"))
            return (
                None
                if ok
                else "Invalid app.bsky.feed.post record: Record/embed/external must have uri, title and description"
            )
        if kind == "app.bsky.embed.record":
            return self._check_ref(embed.get("record"), "Record/embed/record")
        if kind == "app.bsky.embed.recordWithMedia":
            return self._check_ref(
                (embed.get("record") or {}).get("record"), "Record/embed/record/record"
            ) or self._check_embed(embed.get("media"))
        return f"Invalid app.bsky.feed.post record: Record/embed $type {kind} is not supported here"

    def _check_images(self, images: Any) -> str | None:
        if not isinstance(images, list) or not 1 <= len(images) <= 4:
            return "Invalid app.bsky.feed.post record: Record/embed/images must have 1 to 4 elements"
        for n, image in enumerate(images):
            blob = image.get("image") or {}
            if not isinstance(image.get("alt"), str):
                return f'Invalid app.bsky.feed.post record: Record/embed/images/{n} must have the property "alt"'
            if (blob.get("ref") or {}).get("$link") not in self.blobs:
                return f"Could not find blob: {(blob.get('ref') or {}).get('$link')}"
            if blob.get("size", 0) > 2_000_000:
                return f"Invalid app.bsky.feed.post record: Record/embed/images/{n}/image is too big"
        return None

    def _check_ref(self, ref: Any, where: str) -> str | None:
        if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str) or not isinstance(ref.get("cid"), str):
            return f"Invalid record: {where} must be a strong ref {{uri, cid}}"
        target = self.records.get(ref["uri"])
        if target is None or target.cid != ref["cid"]:
            return f"Invalid record: {where} does not reference an existing record"
        return None

    def _store(self, did: str, collection: str, value: dict[str, Any]) -> FakeRecord:
        with self._lock:
            now = max(time.time(), self._last_ts + 0.001)  # strictly increasing indexedAt
            self._last_ts = now
            seq = next(self._seq)
        rkey = _tid(now)
        uri = f"at://{did}/{collection}/{rkey}"
        record = FakeRecord(
            uri=uri,
            cid=_cid(json.dumps(value, sort_keys=True).encode() + uri.encode()),
            did=did,
            collection=collection,
            rkey=rkey,
            value=value,
            indexed_at=iso_now(now),
            seq=seq,
        )
        self.records[uri] = record
        self._notify(record)
        return record

    def _notify(self, record: FakeRecord) -> None:
        """Who hears about a new record: the author answered, quoted, reposted or mentioned."""
        value, targets = record.value, []
        if record.collection == REPOST:
            targets.append(("repost", value["subject"]["uri"]))
        parent = (value.get("reply") or {}).get("parent", {}).get("uri")
        if parent:
            targets.append(("reply", parent))
        embed = value.get("embed") or {}
        quoted = (embed.get("record") or {}).get("uri") or ((embed.get("record") or {}).get("record") or {}).get("uri")
        if quoted:
            targets.append(("quote", quoted))
        notified: set[str] = set()
        for reason, subject in targets:
            owner = subject.split("/")[2]
            if owner != record.did and owner not in notified:
                notified.add(owner)
                self._add_notification(owner, record, reason, subject)
        for facet in value.get("facets", []):
            for feature in facet.get("features", []):
                did = feature.get("did")
                if (
                    feature.get("$type", "").endswith("#mention")
                    and did in self.actors
                    and did != record.did
                    and did not in notified
                ):
                    notified.add(did)
                    self._add_notification(did, record, "mention", None)

    def _add_notification(self, owner: str, record: FakeRecord, reason: str, subject: str | None) -> None:
        note = {
            "uri": record.uri,
            "cid": record.cid,
            "author": self.actors[record.did].basic(),
            "reason": reason,
            "record": record.value,
            "isRead": False,
            "indexedAt": record.indexed_at,
            "labels": [],
            "_owner": owner,
            "_seq": record.seq,
        }
        if subject:
            note["reasonSubject"] = subject
        self.notifications.append(note)

    # ------------------------------------------------------------------ reads
    @route("GET", "/xrpc/com.atproto.repo.getRecord")
    async def get_record(self, request: ReceivedRequest) -> FakeResponse:
        repo, collection, rkey = (
            request.q("repo"),
            request.q("collection"),
            request.q("rkey"),
        )
        actor = next((a for a in self.actors.values() if repo in (a.did, a.handle)), None)
        uri = f"at://{actor.did if actor else repo}/{collection}/{rkey}"
        record = self.records.get(uri)
        if record is None:
            return self.error(400, f"Could not locate record: {uri}", kind="RecordNotFound")
        return FakeResponse(json={"uri": record.uri, "cid": record.cid, "value": record.value})

    @route("GET", "/xrpc/com.atproto.repo.listRecords")
    async def list_records(self, request: ReceivedRequest) -> FakeResponse:
        """A repo's records of one collection by record key, newest first (``reverse=true``: oldest
        first); the cursor is the last record key of the page. Public, like every repo read."""
        repo, collection = request.q("repo"), request.q("collection")
        actor = next((a for a in self.actors.values() if repo in (a.did, a.handle)), None)
        if actor is None:
            return self.error(400, f"Could not find repo: {repo}", kind="RepoNotFound")
        raw = request.q("limit") or "50"
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return self._invalid("Error: limit must be between 1 and 100")
        reverse = request.q("reverse") == "true"
        mine = sorted(
            (r for r in self.records.values() if r.did == actor.did and r.collection == collection),
            key=lambda r: r.rkey,
            reverse=not reverse,
        )
        cursor = request.q("cursor")
        if cursor:
            mine = [r for r in mine if (r.rkey > cursor if reverse else r.rkey < cursor)]
        page = mine[: int(raw)]
        body: dict[str, Any] = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in page]}
        if len(mine) > len(page):
            body["cursor"] = page[-1].rkey
        return FakeResponse(json=body)

    @route("GET", "/xrpc/app.bsky.feed.getAuthorFeed")
    async def get_author_feed(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        author = next(
            (a for a in self.actors.values() if request.q("actor") in (a.did, a.handle)),
            None,
        )
        if author is None:
            return self.error(400, "Profile not found", kind="InvalidRequest")
        mine = [r for r in self.records.values() if r.did == author.did and r.collection in (POST, REPOST)]
        if request.q("filter") == "posts_no_replies":
            mine = [r for r in mine if "reply" not in r.value]
        page = self._paged(request, sorted(mine, key=lambda r: r.seq, reverse=True), default=50)
        if isinstance(page, FakeResponse):
            return page
        items, cursor = page
        body: dict[str, Any] = {"feed": [self._feed_item(r) for r in items if self._feed_item(r)]}
        if cursor:
            body["cursor"] = cursor
        return FakeResponse(json=body)

    def _feed_item(self, record: FakeRecord) -> dict[str, Any] | None:
        if record.collection == POST:
            return {"post": self._post_view(record)}
        subject = self.records.get(record.value["subject"]["uri"])
        if subject is None:
            return None
        reason = {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": self.actors[record.did].basic(),
            "indexedAt": record.indexed_at,
        }
        return {"post": self._post_view(subject), "reason": reason}

    def _post_view(self, record: FakeRecord) -> dict[str, Any]:
        def count(test: Any) -> int:
            return sum(1 for r in self.records.values() if test(r))

        uri = record.uri
        return {
            "uri": uri,
            "cid": record.cid,
            "author": self.actors[record.did].basic(),
            "record": record.value,
            "replyCount": count(lambda r: (r.value.get("reply") or {}).get("parent", {}).get("uri") == uri),
            "repostCount": count(lambda r: r.collection == REPOST and r.value["subject"]["uri"] == uri),
            "likeCount": record.likes,
            "quoteCount": count(lambda r: ((r.value.get("embed") or {}).get("record") or {}).get("uri") == uri),
            "indexedAt": record.indexed_at,
            "labels": [],
        }

    @route("GET", "/xrpc/app.bsky.feed.getPosts")
    async def get_posts(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        uris = request.query.get("uris", [])
        if not 1 <= len(uris) <= 25:
            return self._invalid("Error: uris must not have more than 25 elements")
        return FakeResponse(json={"posts": [self._post_view(self.records[u]) for u in uris if u in self.records]})

    @route("GET", "/xrpc/app.bsky.feed.searchPosts")
    async def search_posts(self, request: ReceivedRequest) -> FakeResponse:
        """Posts whose text holds every term of ``q`` (case-insensitive; ``#tag`` also matches the
        record's ``tags``), ``sort=latest`` newest first (``top`` is taken as latest), ``limit``
        1–100 (25 by default), ``cursor``; answers ``{posts, cursor?, hitsTotal}``."""
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        terms = (request.q("q") or "").lower().split()
        if not terms:
            return self._invalid('Error: Params must have the property "q"')

        def hit(record: FakeRecord) -> bool:
            text = str(record.value.get("text", "")).lower()
            tags = {f"#{t}".lower() for t in record.value.get("tags", [])}
            return all(term in text or term in tags for term in terms)

        found = [r for r in self.records.values() if r.collection == POST and hit(r)]
        page = self._paged(request, sorted(found, key=lambda r: r.seq, reverse=True), default=25)
        if isinstance(page, FakeResponse):
            return page
        items, cursor = page
        body: dict[str, Any] = {"posts": [self._post_view(r) for r in items], "hitsTotal": len(found)}
        if cursor:
            body["cursor"] = cursor
        return FakeResponse(json=body)

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    async def list_notifications(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        reasons = set(request.query.get("reasons", []))
        mine = [n for n in self.notifications if n["_owner"] == actor.did and (not reasons or n["reason"] in reasons)]
        page = self._paged(request, sorted(mine, key=lambda n: n["_seq"], reverse=True), default=50)
        if isinstance(page, FakeResponse):
            return page
        items, cursor = page
        body: dict[str, Any] = {
            "notifications": [{k: v for k, v in n.items() if not k.startswith("_")} for n in items],
            "priority": False,
        }
        if cursor:
            body["cursor"] = cursor
        return FakeResponse(json=body)

    @route("GET", "/xrpc/app.bsky.actor.getProfile")
    async def get_profile(self, request: ReceivedRequest) -> FakeResponse:
        actor = self._session(request)
        if not isinstance(actor, FakeActor):
            return actor
        target = next(
            (a for a in self.actors.values() if request.q("actor") in (a.did, a.handle)),
            None,
        )
        if target is None:
            return self._invalid("Profile not found")
        posts = sum(1 for r in self.records.values() if r.did == target.did and r.collection == POST)
        return FakeResponse(
            json={
                **target.basic(),
                "followersCount": target.followers,
                "followsCount": target.follows,
                "postsCount": posts,
                "indexedAt": iso_now(),
                "viewer": {},
            }
        )

    def _paged(
        self, request: ReceivedRequest, items: list[Any], *, default: int
    ) -> tuple[list[Any], str | None] | FakeResponse:
        raw = request.q("limit") or str(default)
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return self._invalid("Error: limit must be between 1 and 100")
        cursor = request.q("cursor")
        offset = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode()) if cursor else 0
        size = int(raw)
        page = items[offset : offset + size]
        more = offset + size < len(items)
        return page, base64.urlsafe_b64encode(str(offset + size).encode()).decode().rstrip("=") if more else None


def _tid(ts: float | None = None) -> str:
    """A record key in the TID format: 13 sortable base32 characters of microseconds + clock id."""
    value = (int((ts or time.time()) * 1_000_000) << 10) | secrets.randbelow(1024)
    return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None
