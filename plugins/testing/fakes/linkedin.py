"""A faithful fake of LinkedIn's versioned REST API for organization pages.

What it enforces, as LinkedIn does:

* ``/rest/*`` needs ``Authorization: Bearer`` (401 ``{message, serviceErrorCode, status}``),
  ``LinkedIn-Version`` (missing → 400 ``VERSION_MISSING``; malformed, unreleased or older
  than a year → 426 ``NONEXISTENT_VERSION``) and ``X-Restli-Protocol-Version: 2.0.0``
  (else 400: this fake only speaks protocol 2.0.0);
* URNs in paths must be URL-encoded (checked on the raw path);
* ``POST /rest/posts`` → 201, empty body, ``x-restli-id`` header (URL-encoded, as LinkedIn
  sometimes sends it); missing required fields → 422 with LinkedIn's field messages;
* 429 carries no rate-limit headers (LinkedIn documents none).

Seed with :meth:`add_post` and :meth:`add_comment` (a comment, or a reply with ``parent``, at
``created_ms``); read ``posts``, ``comments``, ``images``. No mentions nor private messages: the
plugin reads no notifications and LinkedIn has no Page messaging API.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeResponse, ReceivedRequest, route
from plugins.testing.oauth import Grant, OAuthServer

_REQUIRED_POST_FIELDS = (
    "author",
    "commentary",
    "visibility",
    "distribution",
    "lifecycleState",
)
TOKEN_PREFIX = "AQV"
#: the posts finder's ``sortBy`` values and the field each one orders by
_SORT_KEYS = {"LAST_MODIFIED": "lastModifiedAt", "CREATED": "createdAt"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _month_index(version: str) -> int:
    return int(version[:4]) * 12 + int(version[4:6]) - 1


class FakeLinkedIn(OAuthServer):
    key: ClassVar[str] = "linkedin"
    name: ClassVar[str] = "LinkedIn (simulated)"
    authorize_path = "/oauth/v2/authorization"
    token_path = "/oauth/v2/accessToken"
    authorize_params = ("response_type", "client_id", "redirect_uri", "state", "scope")
    rotate_refresh = False  # LinkedIn's refresh token lives a year and is reused
    failure_messages = {
        **OAuthServer.failure_messages,
        "rate_limited": "Resource level throttle limit for calls to this resource is reached.",
        "expired": "The token used in the request has expired",
    }

    def __init__(self, *, organization_id: str = "2414183", followers: int = 117_900) -> None:
        super().__init__()
        self.organization = f"urn:li:organization:{organization_id}"
        self.followers = followers
        self.revoked: set[str] = set()
        self._init_state()

    def _init_state(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.images: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.revoked.clear()
            self._init_state()

    # ------------------------------------------------------------------ helpers for tests and the demo
    def make_account(self, token: str | None = None) -> AccountRef:
        return AccountRef(
            external_id=self.organization,
            handle="region-occitanie",
            credentials=Credentials(access_token=token or f"{TOKEN_PREFIX}-{self.next_id()}-token"),
        )

    def add_post(self, text: str, *, created_ms: int | None = None, author: str | None = None) -> str:
        urn = f"urn:li:share:{7_000_000_000_000_000_000 + self.next_id()}"
        created = created_ms or _now_ms()
        self.posts[urn] = {
            "id": urn,
            "author": author or self.organization,
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
            "createdAt": created,
            "publishedAt": created,
            "lastModifiedAt": created,
        }
        self.comments.setdefault(urn, [])
        return urn

    def add_comment(
        self,
        post_urn: str,
        text: str,
        *,
        actor: str = "urn:li:person:abc123",
        parent: str | None = None,
        created_ms: int | None = None,
    ) -> str:
        """A comment on ``post_urn`` by ``actor`` (a reply when ``parent`` is a comment URN), made at
        ``created_ms`` (epoch milliseconds, default now); returns its comment URN."""
        number = 6_800_000_000_000_000_000 + self.next_id()
        activity = post_urn.replace("urn:li:share:", "urn:li:activity:")
        comment_urn = f"urn:li:comment:({activity},{number})"
        now = created_ms or _now_ms()
        comment: dict[str, Any] = {
            "id": str(number),
            "commentUrn": comment_urn,
            "actor": actor,
            "object": post_urn,
            "message": {"text": text, "attributes": []},
            "created": {"actor": actor, "time": now},
            "lastModified": {"actor": actor, "time": now},
        }
        if parent:
            comment["parentComment"] = parent
        self.comments.setdefault(post_urn, []).append(comment)
        return comment_urn

    # ------------------------------------------------------------------ network shapes
    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        return FakeResponse(
            status=status,
            json={
                "message": message,
                "serviceErrorCode": _SERVICE_CODES.get(status, 0),
                "status": status,
            },
        )

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        return {}  # LinkedIn documents no Retry-After: clients use their default

    def plugin_settings(self, url: str) -> dict[str, str]:
        return {
            "client_id": "portevoix-demo",
            "client_secret": "portevoix-demo-secret",
            "extra_oauth_base_url": url,
        }

    def authorized(self, request: ReceivedRequest) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return header.startswith("Bearer ") and token.startswith(TOKEN_PREFIX) and token not in self.revoked

    async def _dispatch(self, request: ReceivedRequest) -> FakeResponse:
        if request.path.startswith("/rest/"):
            refused = self._check_rest_headers(request)
            if refused is not None:
                return refused
        return await super()._dispatch(request)

    def _check_rest_headers(self, request: ReceivedRequest) -> FakeResponse | None:
        if not self.authorized(request):
            token = request.headers.get("authorization", "")
            return self.error(
                401,
                "Empty oauth2_access_token" if not token else "Invalid access token",
            )
        version = request.headers.get("linkedin-version")
        if not version:
            return FakeResponse(
                status=400,
                json={
                    "status": 400,
                    "code": "VERSION_MISSING",
                    "message": "A version must be present. "
                    "Please specify a version by adding the LinkedIn-Version header.",
                },
            )
        if not self._version_active(version):
            return FakeResponse(
                status=426,
                json={
                    "status": 426,
                    "code": "NONEXISTENT_VERSION",
                    "message": f"Requested version {version} is not active",
                },
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return self.error(400, "X-Restli-Protocol-Version 2.0.0 is required")
        if "urn:li:" in request.raw_path:
            return self.error(400, "Invalid Rest.li 2.0 key: URNs in the path must be URL-encoded")
        return None

    @staticmethod
    def _version_active(version: str) -> bool:
        if len(version) != 6 or not version.isdigit() or not 1 <= int(version[4:]) <= 12:
            return False
        today = datetime.now(UTC)
        current = today.year * 12 + today.month - 1
        return current - 12 <= _month_index(version) <= current

    # ------------------------------------------------------------------ images
    @route("POST", "/rest/images")
    async def initialize_upload(self, request: ReceivedRequest) -> FakeResponse:
        if request.q("action") != "initializeUpload":
            return self.error(400, "Unsupported action; expected action=initializeUpload")
        owner = ((request.json or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner != self.organization:
            return self.error(403, f"Not enough permissions to access: owner {owner}")
        image_id = f"D4E{self.next_id():010d}"
        urn = f"urn:li:image:{image_id}"
        self.images[urn] = {
            "id": urn,
            "status": "WAITING_UPLOAD",
            "owner": owner,
            "bytes": b"",
        }
        upload_url = f"{request.base_url}/dms-uploads/{image_id}?ca=vector_feedshare"
        expires = _now_ms() + 86_400_000
        return FakeResponse(
            json={
                "value": {
                    "uploadUrlExpiresAt": expires,
                    "uploadUrl": upload_url,
                    "image": urn,
                }
            }
        )

    @route("PUT", "/dms-uploads/{image_id}")
    async def upload(self, request: ReceivedRequest, image_id: str) -> FakeResponse:
        if not self.authorized(request):
            return self.error(401, "Invalid access token")
        image = self.images.get(f"urn:li:image:{image_id}")
        if image is None or not request.body:
            return self.error(400, "Invalid upload")
        image.update(
            bytes=request.body,
            status="PROCESSING",
            content_type=request.headers.get("content-type"),
        )
        return FakeResponse(status=201)

    @route("GET", "/rest/images/{urn}")
    async def image_status(self, request: ReceivedRequest, urn: str) -> FakeResponse:
        image = self.images.get(urn)
        if image is None:
            return self.error(404, f"Image {urn} not found")
        body = {"id": urn, "status": image["status"], "owner": image["owner"]}
        if image["status"] == "PROCESSING":  # one poll sees it processing, the next available
            image["status"] = "AVAILABLE"
        return FakeResponse(json=body)

    # ------------------------------------------------------------------ posts
    @route("POST", "/rest/posts")
    async def create_post(self, request: ReceivedRequest) -> FakeResponse:
        body = request.json or {}
        missing = [f for f in _REQUIRED_POST_FIELDS if f not in body]
        if missing:
            lines = "".join(
                f"ERROR :: /{f} :: field is required but not found and has no default value\n" for f in missing
            )
            return self.error(422, lines)
        refused = self._validate_post(body)
        if refused is not None:
            return refused
        urn = self.add_post(body["commentary"])
        post = self.posts[urn]
        for name in (
            "visibility",
            "distribution",
            "lifecycleState",
            "isReshareDisabledByAuthor",
            "content",
            "reshareContext",
        ):
            if name in body:
                post[name] = body[name]
        return FakeResponse(
            status=201,
            headers={
                "x-restli-id": quote(urn, safe=""),
                "location": f"/rest/posts/{quote(urn, safe='')}",
            },
        )

    def _validate_post(self, body: dict[str, Any]) -> FakeResponse | None:
        if body["author"] != self.organization:
            return self.error(403, f"Not enough permissions to access: author {body['author']}")
        if len(body["commentary"].encode("utf-16-le")) // 2 > 3000:
            return self.error(422, "ERROR :: /commentary :: length exceeds 3000")
        if body["distribution"].get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            return self.error(422, "ERROR :: /distribution/feedDistribution :: invalid value")
        parent = (body.get("reshareContext") or {}).get("parent")
        if parent is not None and parent not in self.posts:
            return self.error(422, f"ERROR :: /reshareContext/parent :: {parent} does not exist")
        for urn in _image_urns(body.get("content") or {}):
            if self.images.get(urn, {}).get("status") != "AVAILABLE":
                return self.error(422, f"ERROR :: /content :: media {urn} is not available")
        return None

    @route("GET", "/rest/posts")
    async def find_posts(self, request: ReceivedRequest) -> FakeResponse:
        """The author finder: ``start``/``count`` (at most 100) paging, newest first by ``sortBy``
        (``LAST_MODIFIED``, the default, or ``CREATED``), a ``next`` link while more remain."""
        if request.q("q") != "author" or not request.q("author"):
            return self.error(400, "Invalid finder: q=author and author are required")
        sort = request.q("sortBy") or "LAST_MODIFIED"
        if sort not in _SORT_KEYS:
            return self.error(400, f"Invalid value {sort} for parameter sortBy")
        start, count = (
            int(request.q("start") or 0),
            min(int(request.q("count") or 10), 100),
        )
        mine = sorted(
            (p for p in self.posts.values() if p["author"] == request.q("author")),
            key=lambda p: (p[_SORT_KEYS[sort]], p["id"]),
            reverse=True,
        )
        page = mine[start : start + count]
        links = []
        if start + count < len(mine):
            query = urlencode(
                {"author": request.q("author"), "q": "author", "sortBy": sort, "start": start + count, "count": count}
            )
            links.append({"rel": "next", "type": "application/json", "href": f"/rest/posts?{query}"})
        return FakeResponse(json={"elements": page, "paging": {"start": start, "count": count, "links": links}})

    @route("DELETE", "/rest/posts/{urn}")
    async def delete_post(self, request: ReceivedRequest, urn: str) -> FakeResponse:
        if self.posts.pop(urn, None) is None:
            return self.error(404, f"Post {urn} not found")
        return FakeResponse(status=204)

    # ------------------------------------------------------------------ comments
    @route("GET", "/rest/socialActions/{urn}/comments")
    async def list_comments(self, request: ReceivedRequest, urn: str) -> FakeResponse:
        """A post's first-level comments, or a comment's replies when ``urn`` is a comment's:
        LinkedIn nests replies under their comment, each comment says how many it has."""
        every = self._thread(urn)
        if every is None:
            return self.error(404, f"{urn} not found")
        start, count = (
            int(request.q("start") or 0),
            min(int(request.q("count") or 10), 100),
        )
        page = [self._with_summary(c) for c in every[start : start + count]]
        links = []
        if start + count < len(every):
            query = urlencode({"start": start + count, "count": count})
            links.append(
                {
                    "rel": "next",
                    "type": "application/json",
                    "href": f"/rest/socialActions/{quote(urn, safe='')}/comments?{query}",
                }
            )
        return FakeResponse(
            json={
                "elements": page,
                "paging": {
                    "start": start,
                    "count": count,
                    "total": len(every),
                    "links": links,
                },
            }
        )

    def _thread(self, urn: str) -> list[dict[str, Any]] | None:
        if urn in self.posts:
            return [c for c in self.comments.get(urn, []) if "parentComment" not in c]
        if any(c["commentUrn"] == urn for thread in self.comments.values() for c in thread):
            return self._replies(urn)
        return None

    def _replies(self, comment_urn: str) -> list[dict[str, Any]]:
        return [c for thread in self.comments.values() for c in thread if c.get("parentComment") == comment_urn]

    def _with_summary(self, comment: dict[str, Any]) -> dict[str, Any]:
        replies = len(self._replies(comment["commentUrn"]))
        summary = {"totalFirstLevelComments": replies, "aggregatedTotalComments": replies, "selectedComments": []}
        return comment | {"commentsSummary": summary}

    @route("POST", "/rest/socialActions/{urn}/comments")
    async def create_comment(self, request: ReceivedRequest, urn: str) -> FakeResponse:
        body = request.json or {}
        missing = [f for f in ("actor", "object", "message") if f not in body]
        if missing:
            lines = "".join(
                f"ERROR :: /{f} :: field is required but not found and has no default value\n" for f in missing
            )
            return self.error(422, lines)
        post_urn = body["object"]
        if post_urn not in self.posts:
            return self.error(404, f"{post_urn} not found")
        parent = body.get("parentComment")
        if parent is not None and urn != parent:
            return self.error(400, "A reply must be posted on the parent comment's socialActions")
        if parent is None and urn != post_urn:
            return self.error(400, "The path entity and object differ")
        comment_urn = self.add_comment(
            post_urn,
            body["message"].get("text", ""),
            actor=body["actor"],
            parent=parent,
        )
        comment = self.comments[post_urn][-1]
        return FakeResponse(
            status=201,
            json=comment,
            headers={"x-restli-id": quote(comment_urn, safe="")},
        )

    # ------------------------------------------------------------------ statistics
    @route("GET", "/rest/networkSizes/{urn}")
    async def network_size(self, request: ReceivedRequest, urn: str) -> FakeResponse:
        if request.q("edgeType") not in (
            "COMPANY_FOLLOWED_BY_MEMBER",
            "CompanyFollowedByMember",
        ):
            return self.error(400, "edgeType is required")
        if urn != self.organization:
            return self.error(403, f"Not enough permissions to access: {urn}")
        return FakeResponse(json={"firstDegreeSize": self.followers})

    @route("GET", "/rest/organizationalEntityFollowerStatistics")
    async def follower_statistics(self, request: ReceivedRequest) -> FakeResponse:
        if request.q("q") != "organizationalEntity" or request.q("organizationalEntity") != self.organization:
            return self.error(
                400,
                "q=organizationalEntity and a valid organizationalEntity are required",
            )
        staff = max(1, self.followers // 100)
        element = {
            "organizationalEntity": self.organization,
            "followerCountsByAssociationType": [
                {
                    "associationType": "EMPLOYEE",
                    "followerCounts": {
                        "organicFollowerCount": staff,
                        "paidFollowerCount": 0,
                    },
                },
                {
                    "followerCounts": {
                        "organicFollowerCount": self.followers - staff - 50,
                        "paidFollowerCount": 50,
                    }
                },
            ],
        }
        return FakeResponse(
            json={
                "elements": [element],
                "paging": {"start": 0, "count": 10, "links": []},
            }
        )

    @route("GET", "/rest/organizationalEntityShareStatistics")
    async def share_statistics(self, request: ReceivedRequest) -> FakeResponse:
        if request.q("q") != "organizationalEntity" or request.q("organizationalEntity") != self.organization:
            return self.error(
                400,
                "q=organizationalEntity and a valid organizationalEntity are required",
            )
        elements = []
        for key in ("shares", "ugcPosts"):
            value = request.q(key)
            if value is None:
                continue
            if not (value.startswith("List(") and value.endswith(")")):
                return self.error(400, f"{key} must be a List(...)")
            for urn in filter(None, value[5:-1].split(",")):
                if urn in self.posts:
                    elements.append(
                        {
                            "share" if key == "shares" else "ugcPost": urn,
                            "organizationalEntity": self.organization,
                            "totalShareStatistics": self._stats(urn),
                        }
                    )
        return FakeResponse(
            json={
                "elements": elements,
                "paging": {"start": 0, "count": 10, "links": []},
            }
        )

    def _stats(self, urn: str) -> dict[str, Any]:
        comments = len(self.comments.get(urn, []))
        reshares = sum(1 for p in self.posts.values() if (p.get("reshareContext") or {}).get("parent") == urn)
        return {
            "impressionCount": 1000,
            "uniqueImpressionsCount": 800,
            "clickCount": 40,
            "likeCount": 25,
            "commentCount": comments,
            "shareCount": reshares,
            "engagement": 0.07,
        }

    # ------------------------------------------------------------------ OAuth
    def token_answer(self, grant: Grant) -> dict[str, Any]:
        return {
            "access_token": f"{TOKEN_PREFIX}-{self.next_id()}-token",
            "expires_in": 5_184_000,
            "refresh_token": self.keep_refresh(f"AQX-{self.next_id()}-refresh", grant),
            "refresh_token_expires_in": 31_536_000,
            "scope": "r_organization_social,w_organization_social,rw_organization_admin",
        }

    # ------------------------------------------------------------------ helpers for the demo seed
    def comment_urns(self, post_urn: str) -> list[str]:
        return [c["commentUrn"] for c in self.comments.get(post_urn, [])]


_SERVICE_CODES = {400: 100, 401: 65600, 403: 100, 404: 0, 422: 100, 429: 101, 500: 0}


def _image_urns(content: dict[str, Any]) -> list[str]:
    if "media" in content:
        return [content["media"]["id"]]
    if "multiImage" in content:
        return [image["id"] for image in content["multiImage"].get("images", [])]
    return []
