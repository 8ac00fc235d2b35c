"""A faithful fake of TikTok's Content Posting API v2, Display API and Login Kit OAuth.

What it does as TikTok does:

* every answer is ``{"data": …, "error": {"code", "message", "log_id"}}`` (``code`` "ok" on success);
* ``Authorization: Bearer act.…`` and ``Content-Type: application/json`` on the JSON APIs;
* Direct Post checks the privacy level against the creator's options, the creator's disabled
  interactions, the chunking rules of FILE_UPLOAD, the verified URL prefixes of PULL_FROM_URL
  (nothing is ever fetched), unaudited clients (SELF_ONLY only), a daily cap per creator
  (``spam_risk_too_many_posts``) and 6 inits per minute per token;
* publish jobs progress over ``status/fetch`` polls: PROCESSING_UPLOAD / PROCESSING_DOWNLOAD →
  PUBLISH_COMPLETE with ``publicaly_available_post_id`` (sic), or FAILED with ``fail_reason``
  (see :meth:`fail_next_publish`);
* OAuth refresh tokens rotate: the old one stops working.

Seed with :meth:`add_video`; read ``jobs`` and ``videos``. No inbox (no comments or messages
in these APIs); :meth:`signed_webhook` builds the signed ``post.publish.*`` event TikTok would send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, ClassVar
from urllib.parse import urlencode

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeResponse, ReceivedRequest, route
from plugins.testing.oauth import Grant, OAuthServer, s256

TOKEN_PREFIX = "act."
MIN_CHUNK, MAX_CHUNK = 5 * 1024 * 1024, 64 * 1024 * 1024
_CODES = {
    400: "invalid_params",
    401: "access_token_invalid",
    403: "invalid_params",
    404: "invalid_params",
    405: "invalid_params",
    429: "rate_limit_exceeded",
}
_PRIVACY = [
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTikTok(OAuthServer):
    key: ClassVar[str] = "tiktok"
    name: ClassVar[str] = "TikTok (simulated)"
    # Login Kit: the client id is "client_key", scopes are comma-separated, codes carry "*!"
    authorize_path = "/v2/auth/authorize/"
    token_path = "/v2/oauth/token/"
    client_id_param = "client_key"
    authorize_params = ("client_key", "scope", "response_type", "redirect_uri", "state")
    code_suffix = "*!"
    #: the app's client key and secret (the secret signs the webhooks)
    client_key: ClassVar[str] = "portevoix-demo"
    client_secret: ClassVar[str] = "portevoix-demo-secret"
    default_scope = "user.info.basic,video.publish"
    failure_messages = {
        **OAuthServer.failure_messages,
        "rate_limited": "The API rate limit was exceeded. Please try again later.",
        "expired": "The access token is invalid or not found in the request.",
    }

    def __init__(
        self,
        *,
        audited: bool = True,
        daily_cap: int = 15,
        polls_to_complete: int = 2,
        processing_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.audited = audited
        self.daily_cap = daily_cap
        self.polls_to_complete = polls_to_complete
        # TikTok processes a post whether or not anyone polls its status: once its media is
        # all there, a job is done after ``polls_to_complete`` polls or ``processing_s``
        # seconds, whichever comes first (so a post whose init answer was lost still appears).
        self.processing_s = processing_s
        self._init_state()

    def _init_state(self) -> None:
        self.creator: dict[str, Any] = {
            "creator_avatar_url": "https://p16-sign.tiktokcdn.example/avatar.jpeg",
            "creator_username": "carole.presidente",
            "creator_nickname": "Carole",
            "privacy_level_options": list(_PRIVACY),
            "comment_disabled": False,
            "duet_disabled": False,
            "stitch_disabled": True,
            "max_video_post_duration_sec": 600,
        }
        self.user: dict[str, Any] = {
            "open_id": "-000OxPqLfHgKvg7gYHZTT9ZgzoWIsAHK3Jq",
            "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
            "display_name": "Carole",
            "username": "carole.presidente",
            "follower_count": 25_300,
            "following_count": 80,
            "likes_count": 410_000,
            "video_count": 0,
        }
        self.verified_url_prefixes: tuple[str, ...] = ("https://", "http://")
        self.revoked: set[str] = set()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self._failures_planned: list[str] = []
        self._inits: dict[str, list[float]] = {}

    def reset(self) -> None:
        super().reset()
        self._init_state()

    # ------------------------------------------------------------------ helpers for tests and the demo
    def make_account(self, token: str | None = None) -> AccountRef:
        return AccountRef(
            external_id=self.user["open_id"],
            handle=self.user["username"],
            credentials=Credentials(
                access_token=token or f"{TOKEN_PREFIX}{self.next_id():06d}fake",
                refresh_token=f"rft.{self.next_id()}",
            ),
        )

    def fail_next_publish(self, reason: str = "picture_size_check_failed") -> None:
        """The next publish job ends FAILED with ``fail_reason`` (TikTok's async refusal)."""
        self._failures_planned.append(reason)

    def add_video(
        self,
        title: str,
        *,
        description: str | None = None,
        create_time: int | None = None,
        privacy_level: str = "PUBLIC_TO_EVERYONE",
    ) -> dict[str, Any]:
        video_id = str(7_300_000_000_000_000_000 + self.next_id())
        video = {
            "id": video_id,
            "_privacy_level": privacy_level,
            "title": title,
            "video_description": title if description is None else description,
            "create_time": create_time or int(time.time()),
            "share_url": f"https://www.tiktok.com/@{self.user['username']}/video/{video_id}",
            "cover_image_url": f"https://p16-sign.tiktokcdn.example/{video_id}.jpeg",
            "duration": 15,
            "like_count": 120,
            "comment_count": 8,
            "share_count": 5,
            "view_count": 3400,
        }
        self.videos[video_id] = video
        self.user["video_count"] += 1
        return video

    # ------------------------------------------------------------------ webhooks
    def webhook_signature(self, body: bytes, *, at: int, secret: str | None = None) -> str:
        """``TikTok-Signature: t=<at>,s=<hex HMAC-SHA256(client_secret, "<at>.<raw body>")>``."""
        key = (secret or self.client_secret).encode()
        digest = hmac.new(key, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={at},s={digest}"

    def signed_webhook(
        self,
        subject: dict[str, Any],
        *,
        event: str = "post.publish.publicly_available",
        secret: str | None = None,
        at: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The event TikTok would POST about a publish job or a video this fake holds:
        ``(headers, raw body)``, headers lower-cased. ``at`` is the signing time (default now; an
        old one makes a replay). The body is ``{client_key, event, create_time, user_openid,
        content}`` with ``content`` a JSON-encoded string, as TikTok sends it."""
        moment = int(time.time()) if at is None else at
        body = json.dumps(
            {
                "client_key": self.client_key,
                "event": event,
                "create_time": moment,
                "user_openid": self.user["open_id"],
                "content": json.dumps(self._event_content(subject, event)),
            }
        ).encode()
        headers = {
            "content-type": "application/json",
            "tiktok-signature": self.webhook_signature(body, at=moment, secret=secret),
        }
        return headers, body

    @staticmethod
    def _event_content(subject: dict[str, Any], event: str) -> dict[str, Any]:
        if event == "authorization.removed":
            return {"reason": 1}  # the user disconnected the app
        content: dict[str, Any] = {"publish_id": subject.get("publish_id", ""), "publish_type": "DIRECT_PUBLISH"}
        if event == "post.publish.failed":
            content["reason"] = subject.get("fail_reason") or "internal"
        post_id = subject.get("post_id") or subject.get("id")
        if event in ("post.publish.publicly_available", "post.publish.no_longer_publicly_available") and post_id:
            content["post_id"] = str(post_id)
        return content

    # ------------------------------------------------------------------ network shapes
    @staticmethod
    def envelope(data: Any = None, *, code: str = "ok", message: str = "", status: int = 200) -> FakeResponse:
        log_id = time.strftime("%Y%m%d%H%M%S") + "A1B2C3D4E5F6"
        return FakeResponse(
            status=status,
            json={
                "data": data if data is not None else {},
                "error": {"code": code, "message": message, "log_id": log_id},
            },
        )

    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        code = "internal_error" if status >= 500 else _CODES.get(status, "invalid_params")
        return self.envelope(code=code, message=message, status=status)

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        return {}  # TikTok documents no rate-limit headers: none are sent

    def plugin_settings(self, url: str) -> dict[str, str]:
        return {
            "client_id": self.client_key,
            "client_secret": self.client_secret,
            "extra_auth_base_url": url,
        }

    def authorized(self, request: ReceivedRequest) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return header.startswith("Bearer ") and token.startswith(TOKEN_PREFIX) and token not in self.revoked

    async def _dispatch(self, request: ReceivedRequest) -> FakeResponse:
        api = request.path.startswith(("/v2/post/", "/v2/video/", "/v2/user/"))
        if api and not self.authorized(request):
            return self.expired_error()
        if (
            api
            and request.method == "POST"
            and not request.headers.get("content-type", "").startswith("application/json")
        ):
            return self.error(400, "Content-Type must be application/json; charset=UTF-8")
        return await super()._dispatch(request)

    # ------------------------------------------------------------------ Content Posting API
    @route("POST", "/v2/post/publish/creator_info/query/")
    async def creator_info(self, request: ReceivedRequest) -> FakeResponse:
        info = dict(self.creator)
        if not self.audited:  # unaudited clients may only post privately
            info["privacy_level_options"] = ["SELF_ONLY"]
        return self.envelope(info)

    @route("POST", "/v2/post/publish/video/init/")
    async def video_init(self, request: ReceivedRequest) -> FakeResponse:
        body = request.json or {}
        post_info, source = body.get("post_info") or {}, body.get("source_info") or {}
        refused = (
            self._check_post_info(post_info, video=True)
            or self._check_quota(request)
            or self._check_video_source(source)
        )
        if refused is not None:
            return refused
        kind = "file" if source["source"] == "FILE_UPLOAD" else "url"
        publish_id = f"v_pub_{kind}~v2-1.{7_300_000_000_000_000_000 + self.next_id()}"
        job = self._new_job(publish_id, "VIDEO", post_info, source)
        data: dict[str, Any] = {"publish_id": publish_id}
        if kind == "file":
            data["upload_url"] = f"{request.base_url}/video/upload/?" + urlencode(
                {"upload_id": publish_id, "upload_token": job["upload_token"]}
            )
        return self.envelope(data)

    @route("POST", "/v2/post/publish/content/init/")
    async def content_init(self, request: ReceivedRequest) -> FakeResponse:
        body = request.json or {}
        if body.get("media_type") != "PHOTO" or body.get("post_mode") not in (
            "DIRECT_POST",
            "MEDIA_UPLOAD",
        ):
            return self.error(
                400,
                "media_type must be PHOTO and post_mode DIRECT_POST or MEDIA_UPLOAD",
            )
        post_info, source = body.get("post_info") or {}, body.get("source_info") or {}
        refused = (
            self._check_post_info(post_info, video=False)
            or self._check_quota(request)
            or self._check_photo_source(source)
        )
        if refused is not None:
            return refused
        publish_id = f"p_pub_url~v2.{7_300_000_000_000_000_000 + self.next_id()}"
        self._new_job(publish_id, "PHOTO", post_info, source)
        return self.envelope({"publish_id": publish_id})

    def _check_post_info(self, info: dict[str, Any], *, video: bool) -> FakeResponse | None:
        privacy = info.get("privacy_level")
        offered = ["SELF_ONLY"] if not self.audited else self.creator["privacy_level_options"]
        if privacy not in _PRIVACY:
            return self.error(400, "post_info.privacy_level is required")
        if not self.audited and privacy != "SELF_ONLY":
            return self.envelope(
                code="unaudited_client_can_only_post_to_private_accounts",
                message="Unaudited clients can only post to private accounts.",
                status=403,
            )
        if privacy not in offered:
            return self.envelope(
                code="privacy_level_option_mismatch",
                message=f"privacy_level {privacy} is not among the creator's options.",
                status=400,
            )
        for flag, creator_flag in (
            ("disable_comment", "comment_disabled"),
            ("disable_duet", "duet_disabled"),
            ("disable_stitch", "stitch_disabled"),
        ):
            if (video or flag == "disable_comment") and self.creator[creator_flag] and info.get(flag) is not True:
                return self.error(400, f"{flag} must be true: the creator turned it off in the app")
        title, description = (
            str(info.get("title") or ""),
            str(info.get("description") or ""),
        )
        if video and _utf16(title) > 2200:
            return self.error(400, "post_info.title exceeds 2200 UTF-16 runes")
        if not video and (_utf16(title) > 90 or _utf16(description) > 4000):
            return self.error(400, "post_info.title exceeds 90 or description exceeds 4000 characters")
        if sum(1 for j in self.jobs.values() if time.time() - j["created"] < 86_400) >= self.daily_cap:
            return self.envelope(
                code="spam_risk_too_many_posts",
                message="The daily post cap from the API is reached for the current user.",
                status=403,
            )
        return None

    def _check_quota(self, request: ReceivedRequest) -> FakeResponse | None:
        token, now = request.headers.get("authorization", ""), time.time()
        recent = [t for t in self._inits.get(token, []) if now - t < 60]
        if len(recent) >= 6:  # 6 init requests per minute per user token
            return self.rate_limit_error(60)
        self._inits[token] = recent + [now]
        return None

    def _check_video_source(self, source: dict[str, Any]) -> FakeResponse | None:
        if source.get("source") == "PULL_FROM_URL":
            url = str(source.get("video_url") or "")
            if not url:
                return self.error(400, "source_info.video_url is required")
            if not url.startswith(self.verified_url_prefixes):
                return self.envelope(
                    code="url_ownership_unverified",
                    message="The URL prefix or domain is not verified.",
                    status=403,
                )
            return None  # the fake never fetches it
        if source.get("source") != "FILE_UPLOAD":
            return self.error(400, "source_info.source must be FILE_UPLOAD or PULL_FROM_URL")
        size, chunk, count = (int(source.get(k) or 0) for k in ("video_size", "chunk_size", "total_chunk_count"))
        small_ok = size < MIN_CHUNK and chunk == size and count == 1
        large_ok = size >= MIN_CHUNK and MIN_CHUNK <= chunk <= MAX_CHUNK and count == size // chunk
        if size <= 0 or not (small_ok or large_ok) or count > 1000:
            return self.envelope(
                code="invalid_params",
                message="Invalid chunk_size or total_chunk_count for video_size.",
                status=400,
            )
        return None

    def _check_photo_source(self, source: dict[str, Any]) -> FakeResponse | None:
        images = source.get("photo_images") or []
        if source.get("source") != "PULL_FROM_URL":
            return self.error(400, "photo posts only support source PULL_FROM_URL")
        if not 1 <= len(images) <= 35 or not 0 <= int(source.get("photo_cover_index", -1)) < len(images):
            return self.error(400, "photo_images needs 1 to 35 URLs and a valid photo_cover_index")
        if not all(str(url).startswith(self.verified_url_prefixes) for url in images):
            return self.envelope(
                code="url_ownership_unverified",
                message="The URL prefix or domain is not verified.",
                status=403,
            )
        return None

    def _new_job(
        self,
        publish_id: str,
        media_type: str,
        post_info: dict[str, Any],
        source: dict[str, Any],
    ) -> dict[str, Any]:
        job = {
            "publish_id": publish_id,
            "media_type": media_type,
            "post_info": post_info,
            "source": source,
            "created": time.time(),
            "polls": 0,
            "uploaded": 0,
            "upload_token": f"tok{self.next_id()}",
            "fail_reason": self._failures_planned.pop(0) if self._failures_planned else None,
            "post_id": None,
        }
        self.jobs[publish_id] = job
        return job

    @route("PUT", "/video/upload/")
    async def upload_chunk(self, request: ReceivedRequest) -> FakeResponse:
        job = self.jobs.get(request.q("upload_id") or "")
        if job is None or request.q("upload_token") != job["upload_token"]:
            return self.error(404, "upload_id not found")
        if not request.headers.get("content-type", "").startswith("video/"):
            return self.envelope(
                code="invalid_file_upload",
                message="Content-Type must be video/mp4, video/quicktime or video/webm",
                status=400,
            )
        size = int(job["source"]["video_size"])
        try:
            unit, _, spec = request.headers.get("content-range", "").partition(" ")
            span, _, total = spec.partition("/")
            first, last = (int(v) for v in span.split("-"))
        except ValueError:
            return self.envelope(
                code="invalid_file_upload",
                message="Content-Range is required: bytes {first}-{last}/{total}",
                status=400,
            )
        if unit != "bytes" or int(total) != size or first != job["uploaded"] or last - first + 1 != len(request.body):
            return self.envelope(
                code="invalid_file_upload",
                message="Content-Range does not match the upload state",
                status=400,
            )
        job["uploaded"] = last + 1
        return FakeResponse(status=201 if job["uploaded"] == size else 206)

    @route("POST", "/v2/post/publish/status/fetch/")
    async def status_fetch(self, request: ReceivedRequest) -> FakeResponse:
        job = self.jobs.get(str((request.json or {}).get("publish_id")))
        if job is None:
            return self.error(400, "publish_id is invalid")
        return self.envelope(self._advance(job))

    def _advance(self, job: dict[str, Any]) -> dict[str, Any]:
        source = job["source"]
        file_upload = source.get("source") == "FILE_UPLOAD"
        data: dict[str, Any] = {
            "publicaly_available_post_id": [],
            "uploaded_bytes": job["uploaded"],
        }
        if file_upload and job["uploaded"] < int(source["video_size"]):
            return data | {"status": "PROCESSING_UPLOAD"}
        job["polls"] += 1
        if not self._processed(job):
            return data | {"status": "PROCESSING_UPLOAD" if file_upload else "PROCESSING_DOWNLOAD"}
        if job["fail_reason"]:
            return data | {"status": "FAILED", "fail_reason": job["fail_reason"]}
        self._finish(job)
        return data | {
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [int(job["post_id"])],
        }

    def _processed(self, job: dict[str, Any]) -> bool:
        source = job["source"]
        if source.get("source") == "FILE_UPLOAD" and job["uploaded"] < int(source["video_size"]):
            return False  # nothing to process until every byte has arrived
        return job["polls"] >= self.polls_to_complete or time.time() - job["created"] >= self.processing_s

    def _finish(self, job: dict[str, Any]) -> None:
        if job["post_id"] is None:
            info = job["post_info"]
            text = info.get("title", "") if job["media_type"] == "VIDEO" else info.get("description", "")
            job["post_id"] = self.add_video(
                str(info.get("title") or ""),
                description=str(text),
                privacy_level=str(info.get("privacy_level") or "SELF_ONLY"),
            )["id"]

    def _settle(self) -> None:
        """Publish every job TikTok has finished processing, polled or not."""
        for job in list(self.jobs.values()):
            if job["post_id"] is None and not job["fail_reason"] and self._processed(job):
                self._finish(job)

    # ------------------------------------------------------------------ Display API
    @route("GET", "/v2/user/info/")
    async def user_info(self, request: ReceivedRequest) -> FakeResponse:
        self._settle()
        fields = [f for f in (request.q("fields") or "").split(",") if f]
        if not fields:
            return self.error(400, "fields is required")
        return self.envelope({"user": {f: self.user[f] for f in fields if f in self.user}})

    @route("POST", "/v2/video/list/")
    async def video_list(self, request: ReceivedRequest) -> FakeResponse:
        self._settle()
        fields = [f for f in (request.q("fields") or "").split(",") if f]
        body = request.json or {}
        max_count = int(body.get("max_count", 10))
        if not fields or not 1 <= max_count <= 20:
            return self.error(400, "fields is required and max_count must be 1..20")
        cursor = body.get("cursor")
        ordered = sorted(
            # "the given user's public TikTok video posts" (tiktok-api-v2-video-list): never a private one
            (v for v in self.videos.values() if v["_privacy_level"] == "PUBLIC_TO_EVERYONE"),
            key=lambda v: (v["create_time"], v["id"]),
            reverse=True,
        )
        if cursor:
            ordered = [v for v in ordered if v["create_time"] * 1000 < int(cursor)]
        page = ordered[:max_count]
        next_cursor = page[-1]["create_time"] * 1000 if page else 0
        videos = [{f: v[f] for f in fields if f in v and not f.startswith("_")} for v in page]
        return self.envelope(
            {
                "videos": videos,
                "cursor": next_cursor,
                "has_more": len(ordered) > max_count,
            }
        )

    @route("POST", "/v2/video/query/")
    async def video_query(self, request: ReceivedRequest) -> FakeResponse:
        self._settle()
        fields = [f for f in (request.q("fields") or "").split(",") if f]
        ids = ((request.json or {}).get("filters") or {}).get("video_ids") or []
        if not fields or not 1 <= len(ids) <= 20:
            return self.error(400, "fields is required and filters.video_ids must hold 1..20 ids")
        videos = [{f: self.videos[i][f] for f in fields if f in self.videos[i]} for i in ids if i in self.videos]
        return self.envelope({"videos": videos, "cursor": 0, "has_more": False})

    # ------------------------------------------------------------------ OAuth (Login Kit)
    def redirect_extras(self, query: dict[str, str]) -> dict[str, str]:
        return {"scopes": query.get("scope", "")}

    def challenge_matches(self, verifier: str, grant: Grant) -> bool:
        # the web flow's RFC 7636 S256, or the desktop flow's hex digest
        return grant.challenge in (s256(verifier), hashlib.sha256(verifier.encode()).hexdigest())

    def oauth_error(self, status: int, error: str, description: str) -> FakeResponse:
        response = super().oauth_error(status, error, description)
        response.json["log_id"] = time.strftime("%Y%m%d%H%M%S") + "0AUTH"
        return response

    def token_answer(self, grant: Grant) -> dict[str, Any]:
        # refresh tokens rotate: the one used stops working (OAuthServer.rotate_refresh)
        return {
            "access_token": f"{TOKEN_PREFIX}{self.next_id():06d}fake",
            "expires_in": 7200,
            "open_id": self.user["open_id"],
            "refresh_expires_in": 15_552_000,
            "refresh_token": self.keep_refresh(f"rft.{self.next_id()}fake", grant),
            "scope": grant.scope,
            "token_type": "Bearer",
        }
