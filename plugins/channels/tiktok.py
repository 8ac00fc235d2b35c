"""TikTok through the Content Posting API v2 (Direct Post) and the Display API.

Facts this plugin relies on (channel-apis §5, developers.tiktok.com):

* every answer is ``{"data": …, "error": {"code", "message", "log_id"}}``; ``code == "ok"`` on
  success and a business error may come with HTTP 200, so the code decides, not the status;
* a Direct Post must first query ``creator_info`` and use a privacy level the creator offers,
  chosen explicitly by the user (TikTok's UX rules forbid picking one for them);
* the public post id arrives through ``status/fetch`` as ``publicaly_available_post_id`` (sic);
* there is no API to repost, delete, read or answer comments, or send messages for creator
  accounts (comments exist only in the separate TikTok API for Business): those operations
  stay ``NotSupported`` and are not declared;
* no rate-limit headers are documented (per-minute quotas per token): each response is
  reported to the usage recorder as one call.

Settings (``ChannelSettings.extra``):

``auth_base_url``     host of the authorize page (default ``https://www.tiktok.com``)
``poll_interval_s``   pause between status polls (default 5 s)
``poll_timeout_s``    how long publish waits for the public id (default 120 s)
``chunk_size``        FILE_UPLOAD chunk size in bytes (default 10,000,000; clamped to 5–64 MB)
``pkce``              ``base64url`` (default, web flow) or ``hex`` (TikTok's desktop flow)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import httpx
import msgspec

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    Ambiguous,
    AuthorizationRequest,
    Capabilities,
    ChannelError,
    ChannelPlugin,
    Credentials,
    CredentialsExpired,
    Draft,
    ErrorReading,
    Feature,
    Format,
    FormatRules,
    MediaItem,
    MediaKind,
    MediaRules,
    OAuthClient,
    OptionKind,
    PluginHttp,
    PostMetrics,
    PreparedRequest,
    PublishOption,
    PublishOptions,
    PublishResult,
    RateLimited,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    Transient,
    WebhookRequest,
    json_body,
    public_media_url_problem,
    same_text,
    single_match,
    token_set,
)

VIDEO_CAPTION_LIMIT = 2200
PHOTO_TITLE_LIMIT = 90
PHOTO_DESCRIPTION_LIMIT = 4000
MAX_PHOTOS = 35
#: the TikTok API version the metrics come from (``/v2/...``), stored with each sample
API_VERSION = "v2"
DEFAULT_SCOPES = ("user.info.basic", "user.info.stats", "video.publish", "video.list")
#: per-minute quotas (6 inits, 20 creator queries, 30 status polls per minute per token)
DEFAULT_BACKOFF_S = 60.0
MIN_CHUNK, MAX_CHUNK = 5 * 1024 * 1024, 64 * 1024 * 1024
VIDEO_URL = "https://www.tiktok.com/@{username}/video/{id}"
USER_FIELDS = "open_id,union_id,display_name,username,follower_count,following_count,likes_count,video_count"
#: a signed event older than this is refused (replay); TikTok's documented tolerance is 5 minutes
WEBHOOK_TOLERANCE_S = 300
#: the only privacy level whose posts the video list shows
PUBLIC = "PUBLIC_TO_EVERYONE"
VIDEO_FIELDS = "id,title,video_description,create_time,share_url,like_count,comment_count,share_count,view_count"

#: what TikTok's error codes mean, whatever the status that comes with them
_ERROR_CODES: dict[str, type[ChannelError]] = {
    "rate_limit_exceeded": RateLimited,
    **dict.fromkeys(
        (
            "access_token_invalid",
            "access_token_expired",
            "scope_not_authorized",
            "scope_permission_missed",
        ),
        CredentialsExpired,
    ),
    **dict.fromkeys(("internal_error", "server_error", "service_unavailable"), Transient),
}

#: every privacy level TikTok knows; creator_info says which of them one creator offers
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
_VIDEO_ONLY = frozenset({Format.VIDEO})
#: what TikTok's UX rules make the author choose before a Direct Post (channel-apis §5): the
#: privacy level (required, never preselected), the interactions, the commercial-content disclosure
OPTIONS = (
    PublishOption(name="privacy_level", label=N_("Who can see this post"), choices=PRIVACY_LEVELS, required=True),
    PublishOption(name="disable_comment", kind=OptionKind.BOOL, label=N_("Turn off comments"), default="false"),
    PublishOption(
        name="disable_duet", kind=OptionKind.BOOL, label=N_("Turn off Duet"), default="false", formats=_VIDEO_ONLY
    ),
    PublishOption(
        name="disable_stitch", kind=OptionKind.BOOL, label=N_("Turn off Stitch"), default="false", formats=_VIDEO_ONLY
    ),
    PublishOption(
        name="brand_organic_toggle", kind=OptionKind.BOOL, label=N_("Promotes your own brand"), default="false"
    ),
    PublishOption(
        name="brand_content_toggle",
        kind=OptionKind.BOOL,
        label=N_("Branded content (paid partnership)"),
        default="false",
    ),
)
_CREATOR_FLAGS = {
    "disable_comment": "comment_disabled",
    "disable_duet": "duet_disabled",
    "disable_stitch": "stitch_disabled",
}

_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=1,
    max_bytes=4 * 1024**3,
    content_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
    min_duration_s=3,
    max_duration_s=600,
)
_PHOTO = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=MAX_PHOTOS,
    max_bytes=20 * 1024**2,
    content_types=frozenset({"image/jpeg", "image/webp"}),
)


class TikTokPlugin(ChannelPlugin):
    key = "tiktok"
    name = "TikTok"
    default_base_url = "https://open.tiktokapis.com"
    capabilities = Capabilities(
        # One text limit per network in the contract: the video caption's 2,200 (UTF-16 units)
        # is the strictest; photo descriptions (4,000) are checked here at publish.
        text=TextRules(
            limit=VIDEO_CAPTION_LIMIT,
            counting=TextCounting.UTF16,
            title_limit=PHOTO_TITLE_LIMIT,
        ),
        formats=(
            FormatRules(format=Format.VIDEO, media=(_VIDEO,), min_media=1, max_media=1),
            FormatRules(format=Format.PHOTO, media=(_PHOTO,), min_media=1, max_media=MAX_PHOTOS),
        ),
        # WEBHOOKS: TikTok signs its events (post.publish.*, authorization.removed); none of them is
        # a comment or a message, so they feed no inbox (parse_webhook returns nothing).
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.PUBLISH_OPTIONS,
                Feature.RECONCILE,
                Feature.METRICS,
                Feature.OAUTH,
                Feature.WEBHOOKS,
            }
        ),
        options=OPTIONS,
        # message_reply_window stays None: TikTok's 48-hour window belongs to Business Messaging,
        # an API of business accounts this Content Posting app does not use; it has no inbox at all.
        notices=(
            (
                N_(
                    "Until TikTok audits the app, every post is private (SELF_ONLY), the account must be private "
                    "and at most 5 creators a day can post through it."
                )
            ),
            N_(
                "TikTok caps posts per creator per day (about 15–25, unpublished); "
                "beyond it posts are refused (spam_risk_too_many_posts)."
            ),
            N_("The author must choose the privacy level among the creator's options; Porte-voix never picks one."),
            N_(
                "Photos are pulled by TikTok from a public URL on a domain verified in the developer portal "
                "(JPEG/WebP)."
            ),
            N_("TikTok offers no API to repost, delete, or read and answer comments or messages."),
        ),
    )

    def _extra(self, name: str, default: float) -> float:
        return float(self.settings.extra.get(name, default))

    @property
    def auth_base(self) -> str:
        return self.settings.extra.get("auth_base_url", "https://www.tiktok.com").rstrip("/")

    # ------------------------------------------------------------------ HTTP
    @cached_property
    def api(self) -> PluginHttp:
        # No rate-limit headers are documented: the kit reports one call per response.
        return PluginHttp(self, read_error=_read_error, default_wait=DEFAULT_BACKOFF_S)

    async def _call(
        self,
        account: AccountRef,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of TikTok's envelope (the error part is the kit's, through ``_read_error``)."""
        headers = {
            "Authorization": f"Bearer {account.credentials.access_token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        content = json.dumps(body).encode() if body is not None else None
        answer = await self.api.json(
            method,
            f"{self.base_url}{path}",
            account=account,
            headers=headers,
            content=content,
            params=params,
        )
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    # ------------------------------------------------------------------ publishing
    async def creator_info(self, account: AccountRef) -> dict[str, Any]:
        """What the composer must show before a Direct Post: privacy options, interaction flags, max duration."""
        return await self._call(account, "POST", "/v2/post/publish/creator_info/query/")

    async def publish_options(self, account: AccountRef) -> PublishOptions:
        """The creator's options (``creator_info``): the privacy levels offered, and the interactions
        the creator turned off in the TikTok app (shown on, not changeable)."""
        creator = await self.creator_info(account)
        return creator_options(creator)

    def _post_info(self, draft: Draft, creator: dict[str, Any]) -> dict[str, Any]:
        allowed = list(creator.get("privacy_level_options", []))
        chosen = draft.options.get("privacy_level")
        if not chosen:
            raise Rejected(
                f"tiktok: choose a privacy level for this post: {', '.join(allowed)}",
                code="privacy_level_required",
            )
        if chosen not in allowed:
            raise Rejected(
                f"tiktok: privacy level {chosen} is not offered for this account; allowed: {', '.join(allowed)}",
                code="privacy_level_option_mismatch",
            )
        info: dict[str, Any] = {
            "privacy_level": chosen,
            # A setting the creator disabled in the app cannot be re-enabled by us.
            "disable_comment": bool(creator.get("comment_disabled")) or _flag(draft, "disable_comment"),
            "brand_content_toggle": _flag(draft, "brand_content_toggle"),
            "brand_organic_toggle": _flag(draft, "brand_organic_toggle"),
        }
        if draft.format is Format.VIDEO:
            info["disable_duet"] = bool(creator.get("duet_disabled")) or _flag(draft, "disable_duet")
            info["disable_stitch"] = bool(creator.get("stitch_disabled")) or _flag(draft, "disable_stitch")
            info["is_aigc"] = _flag(draft, "is_aigc")
            if "video_cover_timestamp_ms" in draft.options:
                info["video_cover_timestamp_ms"] = int(draft.options["video_cover_timestamp_ms"])
        else:
            info["auto_add_music"] = _flag(draft, "auto_add_music", default=True)
        return info

    def _check(self, draft: Draft, creator: dict[str, Any] | None = None) -> None:
        if draft.format is Format.VIDEO:
            if len(draft.media) != 1 or draft.media[0].kind is not MediaKind.VIDEO:
                raise Rejected(
                    "tiktok: a video post carries exactly one video",
                    code="media_invalid",
                )
            _limit(draft.text, VIDEO_CAPTION_LIMIT, "caption")
            video = draft.media[0]
            if not video.url and not video.path:
                raise Rejected(
                    "tiktok: the video needs a public URL or a local file",
                    code="media_missing_file",
                )
            if video.url and not video.path:
                self._check_url(video.url)  # with a local file, an unreachable URL falls back to FILE_UPLOAD
            longest = (creator or {}).get("max_video_post_duration_sec")
            if longest and video.duration_s and video.duration_s > float(longest):
                raise Rejected(
                    f"tiktok: this creator can post videos up to {longest} s; this one lasts {video.duration_s:.0f} s",
                    code="duration_check_failed",
                )
        elif draft.format is Format.PHOTO:
            if not 1 <= len(draft.media) <= MAX_PHOTOS or any(m.kind is not MediaKind.IMAGE for m in draft.media):
                raise Rejected(
                    f"tiktok: a photo post carries 1–{MAX_PHOTOS} images",
                    code="media_invalid",
                )
            if any(not m.url for m in draft.media):
                raise Rejected(
                    "tiktok: photos are pulled from a public URL (MediaItem.url); uploads are not offered",
                    code="media_missing_url",
                )
            for item in draft.media:
                self._check_url(str(item.url))
            _limit(draft.title or "", PHOTO_TITLE_LIMIT, "title")
            _limit(draft.text, PHOTO_DESCRIPTION_LIMIT, "description")
        else:
            raise Rejected(
                f"tiktok: format {draft.format.value} is not offered (video or photo)",
                code="format_unsupported",
            )

    def _url_problem(self, url: str) -> str | None:
        """TikTok pulls from a public HTTPS URL; the demo's simulated TikTok (``extra.simulated``,
        set by the demo only) also from the instance on 127.0.0.1."""
        return public_media_url_problem(url, allow_loopback=self.settings.extra.get("simulated") == "true")

    def _check_url(self, url: str) -> None:
        problem = self._url_problem(url)
        if problem:
            raise Rejected(f"tiktok: {problem} (set PORTEVOIX_PUBLIC_URL)", code="media_url_not_public")

    def _init_request(self, draft: Draft, post_info: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if draft.format is Format.PHOTO:
            body = {
                "media_type": "PHOTO",
                "post_mode": "DIRECT_POST",
                "post_info": {"title": draft.title or "", "description": draft.text} | post_info,
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_cover_index": int(draft.options.get("photo_cover_index", 0)),
                    "photo_images": [m.url for m in draft.media],
                },
            }
            return "/v2/post/publish/content/init/", body
        video = draft.media[0]
        return "/v2/post/publish/video/init/", {
            "post_info": {"title": draft.text} | post_info,
            "source_info": self._source(video),
        }

    def _source(self, video: MediaItem) -> dict[str, Any]:
        # TikTok fetches it (the domain must be verified in the developer portal)
        if video.url and (not video.path or self._url_problem(video.url) is None):
            return {"source": "PULL_FROM_URL", "video_url": video.url}
        size = video.size_bytes or os.path.getsize(video.path or "")
        chunk, count = _chunking(size, int(self._extra("chunk_size", 10_000_000)))
        return {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        }

    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        self._check(draft)
        headers = {
            "Authorization": "Bearer ***",
            "Content-Type": "application/json; charset=UTF-8",
        }
        placeholder = {"privacy_level_options": [draft.options.get("privacy_level", "")]}
        path, body = self._init_request(draft, self._post_info(draft, placeholder))
        return (
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/v2/post/publish/creator_info/query/",
                headers=headers,
                note="read the creator's options",
            ),
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}{path}",
                headers=headers,
                json=body,
                note="initialize the Direct Post",
            ),
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/v2/post/publish/status/fetch/",
                headers=headers,
                json={"publish_id": "<publish_id>"},
                note="poll until PUBLISH_COMPLETE",
            ),
        )

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        self._check(draft)
        creator = await self.creator_info(account)
        self._check(draft, creator)
        path, body = self._init_request(draft, self._post_info(draft, creator))
        data = await self._call(account, "POST", path, body=body)
        publish_id = str(data["publish_id"])
        if body["source_info"]["source"] == "FILE_UPLOAD":
            await self._upload(account, draft.media[0], data["upload_url"], body["source_info"])
        return await self._wait_published(account, publish_id, str(creator.get("creator_username", "")))

    async def _upload(self, account: AccountRef, video: MediaItem, upload_url: str, source: dict[str, Any]) -> None:
        """Sequential chunks; the last one takes the remainder (TikTok's media transfer guide)."""
        size, chunk, count = (
            source["video_size"],
            source["chunk_size"],
            source["total_chunk_count"],
        )
        for index in range(count):
            first = index * chunk
            last = size - 1 if index == count - 1 else first + chunk - 1
            data = await asyncio.to_thread(_read_range, video.path or "", first, last - first + 1)
            headers = {
                "Content-Type": video.content_type,
                "Content-Range": f"bytes {first}-{last}/{size}",
            }
            await self.api.request("PUT", upload_url, account=account, content=data, headers=headers)

    async def _wait_published(self, account: AccountRef, publish_id: str, username: str) -> PublishResult:
        interval = self._extra("poll_interval_s", 5.0)
        deadline = asyncio.get_running_loop().time() + self._extra("poll_timeout_s", 120.0)
        while True:
            data = await self._call(
                account,
                "POST",
                "/v2/post/publish/status/fetch/",
                body={"publish_id": publish_id},
            )
            status = data.get("status")
            if status == "FAILED":
                reason = str(data.get("fail_reason") or "unknown")
                raise Rejected(
                    f"tiktok: the post failed: {reason}",
                    code=reason,
                    network_message=reason,
                )
            post_ids = data.get("publicaly_available_post_id") or []  # sic: TikTok's spelling
            if status == "PUBLISH_COMPLETE" and post_ids:
                post_id = str(post_ids[0])
                return PublishResult(
                    remote_id=post_id,
                    url=VIDEO_URL.format(username=username, id=post_id) if username else None,
                    published_at=datetime.now(UTC),
                )
            if asyncio.get_running_loop().time() >= deadline:
                # TikTok has the post (private posts never get a public id; moderation can take
                # hours). Raising would make the host retry and post twice: report the
                # publish_id as the remote id instead.
                return PublishResult(remote_id=publish_id, published_at=datetime.now(UTC))
            await asyncio.sleep(interval)

    async def reconcile(
        self,
        account: AccountRef,
        draft: Draft,
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """By publish_id when the host kept it (``Draft.options["publish_id"]``): the one proof either
        way. Else the video list can prove a post is there, never that it is not: TikTok lists
        public posts only, and only once moderation passed (minutes, sometimes hours), so a post
        not (yet) listed raises :class:`Ambiguous` and a person decides."""
        publish_id = draft.options.get("publish_id")
        if publish_id:
            try:
                return await self._wait_published(account, publish_id, "")
            except Rejected:
                return None  # FAILED: certainly not there
        if draft.options.get("privacy_level") != PUBLIC:
            raise Ambiguous(
                "tiktok: the video list never shows a private post: without its publish_id nothing proves it absent",
                network_message="TikTok does not list private posts: check the TikTok app for this one.",
            )
        found = await self._find_in_videos(account, draft, not_before, not_after)
        if found is None:
            raise Ambiguous(
                "tiktok: not in the video list, which shows a post only after moderation: absence proves nothing",
                network_message="Not (yet) listed by TikTok, which lists posts after moderation: check the TikTok app.",
            )
        return found

    async def _find_in_videos(
        self,
        account: AccountRef,
        draft: Draft,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """The creator's videos of the window whose caption (and photo title) is exactly the draft's."""
        # create_time is in whole seconds, set by TikTok's clock: a second of rounding below, a
        # minute of skew above (the host's slack already reaches far back before the attempt).
        low, high = int(not_before.timestamp()) - 1, (not_after + timedelta(minutes=1)).timestamp()
        matches = [
            PublishResult(
                remote_id=str(video["id"]),
                url=video.get("share_url"),
                published_at=datetime.fromtimestamp(float(video["create_time"]), tz=UTC),
            )
            async for video in self._videos_since(account, low)
            if float(video.get("create_time", 0)) <= high and _same_caption(video, draft)
        ]
        return single_match(matches, channel=self.key)

    async def _videos_since(self, account: AccountRef, low: float) -> AsyncIterator[dict[str, Any]]:
        """The creator's videos, newest first, page after page back to ``low`` (unix seconds)."""
        cursor: int | None = None
        while True:
            body: dict[str, Any] = {"max_count": 20} | ({"cursor": cursor} if cursor else {})
            data = await self._call(account, "POST", "/v2/video/list/", body=body, params={"fields": VIDEO_FIELDS})
            videos = data.get("videos", [])
            for video in videos:
                if float(video.get("create_time", 0)) < low:
                    return
                yield video
            if not data.get("has_more") or not videos:
                return
            cursor = int(data["cursor"])

    # ------------------------------------------------------------------ metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        data = await self._call(account, "GET", "/v2/user/info/", params={"fields": USER_FIELDS})
        user = data.get("user", {})
        return AccountMetrics(
            followers=user.get("follower_count"),
            following=user.get("following_count"),
            posts=user.get("video_count"),
            extra={"likes": float(user["likes_count"])} if "likes_count" in user else {},
            api_version=API_VERSION,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        found: dict[str, PostMetrics] = {}
        for start in range(0, len(remote_ids), 20):  # video/query takes at most 20 ids
            body = {"filters": {"video_ids": remote_ids[start : start + 20]}}
            data = await self._call(
                account,
                "POST",
                "/v2/video/query/",
                body=body,
                params={"fields": VIDEO_FIELDS},
            )
            for video in data.get("videos", []):
                found[str(video["id"])] = PostMetrics(
                    remote_id=str(video["id"]),
                    impressions=video.get("view_count"),
                    likes=video.get("like_count"),
                    reposts=video.get("share_count"),
                    replies=video.get("comment_count"),
                    api_version=API_VERSION,
                )
        return [found[i] for i in remote_ids if i in found]

    # ------------------------------------------------------------------ OAuth
    @cached_property
    def oauth(self) -> OAuthClient:
        # TikTok's Login Kit deviates from RFC 6749 in three ways: the client id is called
        # ``client_key`` (URL and body), scopes are comma-separated, and its desktop flow wants
        # the hex SHA-256 of the verifier as PKCE challenge (the web flow: RFC 7636 base64url).
        hex_pkce = self.settings.extra.get("pkce") == "hex"
        return OAuthClient(
            self.api,
            authorize_url=f"{self.auth_base}/v2/auth/authorize/",
            token_url=f"{self.base_url}/v2/oauth/token/",
            client_id_name="client_key",
            scope_separator=",",
            **({"challenge": _hex_challenge} if hex_pkce else {}),
            headers={"Cache-Control": "no-cache"},
        )

    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        return self.oauth.authorization(state=state, scopes=scopes or DEFAULT_SCOPES)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        body = await self.oauth.exchange(code, code_verifier)
        return token_set(body, open_id=str(body.get("open_id", "")))

    async def refresh(self, credentials: Credentials) -> TokenSet:
        if not credentials.refresh_token:
            raise CredentialsExpired("tiktok: no refresh token: reconnect the account")
        # Refresh tokens rotate: the host must store the one returned, the old one stops working.
        body = await self.oauth.refresh(credentials.refresh_token)
        return token_set(body, open_id=str(body.get("open_id", "")))

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, request: WebhookRequest) -> bool:
        """``TikTok-Signature: t=<unix>,s=<hex HMAC-SHA256(client_secret, "<t>.<raw body>")>``.

        TikTok signs with the app's *client secret*; a timestamp older than 5 minutes (or more than
        5 minutes ahead) is a replay and is refused even when the signature matches.
        """
        secret = self.settings.client_secret
        parts = _signature_parts(request.headers.get("tiktok-signature", ""))
        stamp, signature = parts.get("t", ""), parts.get("s", "")
        if not secret or not stamp.isdigit() or not signature:
            return False
        if abs(time.time() - int(stamp)) > WEBHOOK_TOLERANCE_S:
            return False
        expected = hmac.new(secret.encode(), stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.lower(), expected)

    def parse_webhook(self, request: WebhookRequest) -> list[RemoteItem]:
        """TikTok's events (``post.publish.*``, ``authorization.removed``, ``video.*``) are about our
        posts and our authorization, never a comment or a message: no inbox item comes from them."""
        return []


# ---------------------------------------------------------------------- helpers


def _signature_parts(header: str) -> dict[str, str]:
    """``t=1633174587,s=1849…`` → ``{"t": "1633174587", "s": "1849…"}``."""
    pairs = (part.split("=", 1) for part in header.split(",") if "=" in part)
    return {name.strip(): value.strip() for name, value in pairs}


def _same_caption(video: dict[str, Any], draft: Draft) -> bool:
    """A video's caption is its description (its title too, for videos posted through the API);
    a photo post also has the title we sent."""
    if draft.format is Format.PHOTO:
        return same_text(video.get("video_description"), draft.text) and same_text(
            video.get("title"), draft.title or ""
        )
    return same_text(video.get("video_description") or video.get("title"), draft.text)


def creator_options(creator: dict[str, Any]) -> PublishOptions:
    """``creator_info``'s answer as the contract's options: the privacy levels this creator offers
    (in TikTok's order), and each interaction the creator turned off marked ``disabled`` (on)."""
    offered = tuple(str(level) for level in creator.get("privacy_level_options") or ())
    options = []
    for option in OPTIONS:
        if option.name == "privacy_level":
            option = msgspec.structs.replace(option, choices=offered)
        elif option.name in _CREATOR_FLAGS and creator.get(_CREATOR_FLAGS[option.name]):
            option = msgspec.structs.replace(option, disabled=True, default="true")
        options.append(option)
    longest = creator.get("max_video_post_duration_sec")
    return PublishOptions(
        options=tuple(options),
        # the longest video is a number, not a sentence: the host words it in the reader's language
        max_video_duration_s=float(longest) if longest else None,
    )


def _flag(draft: Draft, name: str, *, default: bool = False) -> bool:
    value = draft.options.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def _read_range(path: str, first: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(first)
        return handle.read(length)


def _limit(text: str, limit: int, what: str) -> None:
    length = len(text.encode("utf-16-le")) // 2
    if length > limit:
        raise Rejected(
            f"tiktok: {what} is {length} long; TikTok accepts {limit}",
            code=f"{what}_too_long",
        )


def _chunking(size: int, wanted: int) -> tuple[int, int]:
    """TikTok's rule: files under 5 MB in one chunk; chunks 5–64 MB; count = floor(size / chunk)."""
    if size < MIN_CHUNK:
        return size, 1
    chunk = min(max(wanted, MIN_CHUNK), MAX_CHUNK, size)
    return chunk, max(1, size // chunk)


def _hex_challenge(verifier: str) -> str:
    return hashlib.sha256(verifier.encode()).hexdigest()


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """TikTok's envelope ``{"data", "error": {code, message, log_id}}``: the code decides, not the
    status (a business error can come with HTTP 200). The token endpoint speaks OAuth's
    ``{error, error_description}`` instead."""
    body = json_body(response)
    raw = body.get("error")
    if isinstance(raw, str):
        return ErrorReading(message=str(body.get("error_description") or raw), code=raw)
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = str(error.get("code", "ok" if response.status_code < 400 else ""))
    if response.status_code < 400 and code == "ok":
        return None
    message = str(error.get("message") or response.reason_phrase)
    shown = f"{message} ({code})" if code else message
    return ErrorReading(message=message, code=code or None, error=_ERROR_CODES.get(code), log=shown)
