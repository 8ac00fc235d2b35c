"""LinkedIn organization pages through the versioned REST API (``/rest/*``, Rest.li 2.0).

Facts this plugin relies on (see docs/reference channel-apis §3):

* every call carries ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` and
  ``X-Restli-Protocol-Version: 2.0.0``; with protocol 2.0.0 every URN in a path or query
  is URL-encoded;
* ``POST /rest/posts`` answers 201 with an empty body; the new URN is in the
  ``x-restli-id`` header (sometimes URL-encoded);
* commentary is "little text": reserved characters are backslash-escaped or LinkedIn
  silently truncates the post at the first one;
* there are no rate-limit headers (each response is reported as one call); a 429 may or may
  not carry ``Retry-After``.

Settings (``ChannelSettings.extra``):

``linkedin_version``      YYYYMM sent in ``LinkedIn-Version`` (default :data:`DEFAULT_VERSION`)
``oauth_base_url``        host of the OAuth endpoints (default ``https://www.linkedin.com``)
``rate_limit_backoff_s``  wait after a 429 without ``Retry-After`` (default 600 s)
``poll_interval_s``       pause between image-status polls (default 1 s)
``inbox_posts``           how many recent posts the inbox scans for comments (default 10)
``page_size``             comments (and replies under a comment) per page (default 50)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    AuthorizationRequest,
    Capabilities,
    ChannelPlugin,
    Credentials,
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
    OAuthClient,
    PluginHttp,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    Transient,
    json_body,
    same_text,
    single_match,
    token_set,
)

#: A recent monthly version; LinkedIn supports each one for about a year, so bump it yearly.
DEFAULT_VERSION = "202610"
#: LinkedIn publishes no reset time and rarely a Retry-After: quotas are daily and reset at
#: midnight UTC, but a 429 can also be short-lived infrastructure protection. Ten minutes
#: keeps the account quiet without losing a whole day on a transient throttle.
DEFAULT_BACKOFF_S = 600.0
DEFAULT_SCOPES = (
    "r_organization_social",
    "w_organization_social",
    "rw_organization_admin",
)
POST_URL = "https://www.linkedin.com/feed/update/{urn}"
#: posts per page of the reconcile walk (the finder's maximum)
RECONCILE_PAGE = 100
TEXT_LIMIT = 3000
MAX_IMAGES = 20

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
# Little text: these are syntax unless escaped (learn.microsoft.com "little text format").
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
# Kept verbatim: mention templates, links (so they still auto-link) and hashtags (clickable).
_VERBATIM = re.compile(
    r"@\[[^\]]*\]\(urn:li:(?:person|organization):[^)]+\)"
    r"|https?://\S+"
    r"|(?<![\w#])#\w+"
)


def escape_little_text(text: str) -> str:
    """Escape LinkedIn's reserved characters, leaving mentions, links and hashtags usable."""
    out: list[str] = []
    position = 0
    for match in _VERBATIM.finditer(text):
        out.append(_RESERVED.sub(r"\\\1", text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_RESERVED.sub(r"\\\1", text[position:]))
    return "".join(out)


def _enc(urn: str) -> str:
    """Rest.li 2.0 wants every URN in a path or query fully URL-encoded."""
    return quote(urn, safe="")


def _has_next(body: dict[str, Any]) -> bool:
    """Rest.li paging says more remain with a ``next`` link (no total on the posts finder)."""
    return any(link.get("rel") == "next" for link in body.get("paging", {}).get("links", []))


def _has_replies(comment: dict[str, Any]) -> bool:
    """Whether a comment has replies to read; without a summary, look rather than miss them."""
    summary = comment.get("commentsSummary")
    if not isinstance(summary, dict):
        return "commentUrn" in comment and not comment.get("parentComment")
    return int(summary.get("totalFirstLevelComments") or summary.get("aggregatedTotalComments") or 0) > 0


def _same_article(post: dict[str, Any], draft: Draft) -> bool:
    """A text post's link is its article card: the same text with another link is another post."""
    if draft.media:
        return True  # with images, LinkedIn shows no card: the link is not sent
    source = ((post.get("content") or {}).get("article") or {}).get("source")
    return source == draft.link


def _ms_to_dt(ms: float | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000, tz=UTC)


class LinkedInPlugin(ChannelPlugin):
    key = "linkedin"
    name = "LinkedIn"
    default_base_url = "https://api.linkedin.com"
    capabilities = Capabilities(
        text=TextRules(limit=TEXT_LIMIT, counting=TextCounting.UTF16),
        formats=(
            FormatRules(
                format=Format.POST,
                media=(
                    MediaRules(
                        kind=MediaKind.IMAGE,
                        max_count=MAX_IMAGES,
                        content_types=_IMAGE_TYPES,
                    ),
                ),
                min_media=0,
                max_media=MAX_IMAGES,
            ),
        ),
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.REPOST,
                Feature.DELETE,
                Feature.RECONCILE,
                Feature.INBOX,
                Feature.REPLY,
                Feature.METRICS,
                Feature.OAUTH,
            }
        ),
        notices=(
            N_("LinkedIn counts daily quotas per app and per member and publishes no rate-limit headers."),
            N_("A link is shown as an article card only when the post has no image."),
        ),
    )

    # ------------------------------------------------------------------ settings
    @property
    def version(self) -> str:
        return self.settings.extra.get("linkedin_version", DEFAULT_VERSION)

    @property
    def oauth_base(self) -> str:
        return self.settings.extra.get("oauth_base_url", "https://www.linkedin.com").rstrip("/")

    def _float(self, name: str, default: float) -> float:
        return float(self.settings.extra.get(name, default))

    def _headers(self, account: AccountRef | Credentials, method: str | None = None) -> dict[str, str]:
        credentials = account.credentials if isinstance(account, AccountRef) else account
        headers = {
            "Authorization": f"Bearer {credentials.access_token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        if method:
            headers["X-RestLi-Method"] = method
        return headers

    # ------------------------------------------------------------------ HTTP
    @cached_property
    def api(self) -> PluginHttp:
        # No rate-limit headers: the kit reports one call per response, and a 429 without
        # Retry-After waits the configured backoff.
        wait = self._float("rate_limit_backoff_s", DEFAULT_BACKOFF_S)
        return PluginHttp(self, read_error=_read_error, default_wait=wait)

    async def _rest(
        self,
        account: AccountRef,
        method: str,
        path: str,
        restli: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = self._headers(account, restli) | kwargs.pop("headers", {})
        return await self.api.request(method, f"{self.base_url}{path}", account=account, headers=headers, **kwargs)

    # ------------------------------------------------------------------ publishing
    def _post_body(self, account: AccountRef, commentary: str) -> dict[str, Any]:
        return {
            "author": account.external_id,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }

    @staticmethod
    def _content(draft: Draft, image_urns: list[str]) -> dict[str, Any] | None:
        alts = [item.alt_text for item in draft.media]
        if len(image_urns) == 1:
            media: dict[str, Any] = {"id": image_urns[0]}
            if alts[0]:
                media["altText"] = alts[0]
            return {"media": media}
        if image_urns:
            images = [
                {"id": urn, **({"altText": alt} if alt else {})} for urn, alt in zip(image_urns, alts, strict=True)
            ]
            return {"multiImage": {"images": images}}
        if draft.link:
            # LinkedIn does not fetch the card's title: send ours (or the link itself).
            return {"article": {"source": draft.link, "title": draft.title or draft.link}}
        return None

    def _check(self, draft: Draft) -> None:
        if len(draft.text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
            raise Rejected(
                f"linkedin: commentary longer than {TEXT_LIMIT} characters",
                code="text_too_long",
            )
        if len(draft.media) > MAX_IMAGES or any(item.kind is not MediaKind.IMAGE for item in draft.media):
            raise Rejected(
                f"linkedin: this plugin posts text, a link or 1–{MAX_IMAGES} images",
                code="media_unsupported",
            )
        if any(item.path is None for item in draft.media):
            raise Rejected(
                "linkedin: images are uploaded from a local file (MediaItem.path)",
                code="media_missing_file",
            )

    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        self._check(draft)
        redacted = self._headers(account) | {"Authorization": "Bearer ***"}
        steps = [
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/rest/images?action=initializeUpload",
                headers=redacted,
                json={"initializeUploadRequest": {"owner": account.external_id}},
                note=f"image {index}: initialize the upload, then PUT {item.path} to the upload URL",
            )
            for index, item in enumerate(draft.media, start=1)
        ]
        body = self._post_body(account, escape_little_text(draft.text))
        content = self._content(
            draft,
            [f"urn:li:image:<upload {i}>" for i in range(1, len(draft.media) + 1)],
        )
        if content:
            body["content"] = content
        steps.append(
            PreparedRequest(
                method="POST",
                url=f"{self.base_url}/rest/posts",
                headers=redacted,
                json=body,
                note="create the post",
            )
        )
        return tuple(steps)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        self._check(draft)
        image_urns = [await self._upload_image(account, item) for item in draft.media]
        body = self._post_body(account, escape_little_text(draft.text))
        content = self._content(draft, image_urns)
        if content:
            body["content"] = content
        return await self._create_post(account, body)

    async def _create_post(self, account: AccountRef, body: dict[str, Any]) -> PublishResult:
        response = await self._rest(account, "POST", "/rest/posts", "CREATE", json=body)
        raw_id = response.headers.get("x-restli-id")
        if not raw_id:
            # The post may exist: a Transient here would risk a double post, so the host
            # must reconcile; Rejected stops retries and shows the anomaly.
            raise Rejected(
                "linkedin: post created without an x-restli-id header",
                code="missing_id",
                status=response.status_code,
            )
        urn = unquote(raw_id)
        return PublishResult(remote_id=urn, url=POST_URL.format(urn=urn), published_at=datetime.now(UTC))

    async def _upload_image(self, account: AccountRef, item: MediaItem) -> str:
        init = await self._rest(
            account,
            "POST",
            "/rest/images?action=initializeUpload",
            "ACTION",
            json={"initializeUploadRequest": {"owner": account.external_id}},
        )
        value = init.json()["value"]
        data = await asyncio.to_thread(Path(item.path or "").read_bytes)
        # One PUT with the whole file (LinkedIn does not chunk images); the upload host wants the token too.
        await self.api.request(
            "PUT",
            value["uploadUrl"],
            account=account,
            content=data,
            headers={
                "Authorization": f"Bearer {account.credentials.access_token}",
                "Content-Type": item.content_type,
            },
        )
        await self._wait_available(account, value["image"])
        return str(value["image"])

    async def _wait_available(self, account: AccountRef, image_urn: str, attempts: int = 30) -> None:
        """A post referencing an image still PROCESSING fails: wait until it is AVAILABLE."""
        interval = self._float("poll_interval_s", 1.0)
        for _ in range(attempts):
            response = await self._rest(account, "GET", f"/rest/images/{_enc(image_urn)}")
            status = response.json().get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise Rejected(
                    f"linkedin: image {image_urn} failed processing",
                    code="image_processing_failed",
                )
            await asyncio.sleep(interval)
        raise Transient(f"linkedin: image {image_urn} still not available")

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        body = self._post_body(account, "") | {"reshareContext": {"parent": remote_id}}
        return await self._create_post(account, body)

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        try:
            await self._rest(account, "DELETE", f"/rest/posts/{_enc(remote_id)}", "DELETE")
        except Rejected as exc:
            # A retried delete whose first attempt went through finds nothing: that is success.
            if exc.status != 404:
                raise

    async def reconcile(
        self,
        account: AccountRef,
        draft: Draft,
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> PublishResult | None:
        """The page's posts created in the window whose commentary is the one we sent (escaped as
        we sent it) and whose article is the draft's link. LinkedIn takes no client reference.
        A reply is looked for where :meth:`reply` sent it: among the comments of the item answered."""
        if draft.reply_to:
            return await self._reconcile_comment(account, draft, not_before, not_after)
        expected = escape_little_text(draft.text)
        matches = [
            PublishResult(remote_id=str(post["id"]), url=POST_URL.format(urn=post["id"]), published_at=created)
            async for post, created in self._posts_since(account, not_before)
            if created <= not_after and same_text(post.get("commentary"), expected) and _same_article(post, draft)
        ]
        return single_match(matches, channel=self.key)

    async def _reconcile_comment(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> PublishResult | None:
        target, start, matches = str(draft.reply_to), 0, []
        while True:
            elements, more = await self._comments_page(account, target, start, RECONCILE_PAGE)
            for comment in elements:
                created = _ms_to_dt(comment.get("created", {}).get("time"))
                if (
                    comment.get("actor") == account.external_id
                    and not_before <= created <= not_after
                    and same_text(comment.get("message", {}).get("text"), draft.text)
                ):
                    urn = str(comment.get("commentUrn") or comment["id"])
                    post = str(comment.get("object") or target)
                    matches.append(PublishResult(remote_id=urn, url=POST_URL.format(urn=post), published_at=created))
            if not more:
                return single_match(matches, channel=self.key)
            start += RECONCILE_PAGE

    async def _posts_since(
        self, account: AccountRef, not_before: datetime
    ) -> AsyncIterator[tuple[dict[str, Any], datetime]]:
        """The page's posts, newest first by creation, back to ``not_before``: bounded by time,
        however many posts a backlog put in front of the one we look for."""
        start, count = 0, RECONCILE_PAGE
        while True:
            query = f"author={_enc(account.external_id)}&q=author&sortBy=CREATED&start={start}&count={count}"
            body = (await self._rest(account, "GET", f"/rest/posts?{query}", "FINDER")).json()
            elements = list(body.get("elements", []))
            for post in elements:
                created = _ms_to_dt(post.get("createdAt") or post.get("publishedAt"))
                if created < not_before:
                    return
                yield post, created
            if len(elements) < count or not _has_next(body):
                return
            start += count

    async def _recent_posts(self, account: AccountRef, count: int) -> list[dict[str, Any]]:
        query = f"author={_enc(account.external_id)}&q=author&count={count}&sortBy=LAST_MODIFIED"
        response = await self._rest(account, "GET", f"/rest/posts?{query}", "FINDER")
        return list(response.json().get("elements", []))

    # ------------------------------------------------------------------ conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        """Comments on the page's recent posts and the replies under each comment.

        The cursor is the walk's queue of ``[target, post, start]``: a post's comments, then the
        replies of each comment that has some (``socialActions/{comment}/comments``: LinkedIn
        does not list replies under the post), then the rest of the post's comments.
        """
        queue = await self._inbox_queue(account, cursor)
        size = int(self._float("page_size", 50))
        while queue:
            target, post_urn, start = queue.pop(0)
            elements, more = await self._comments_page(account, target, start, size)
            follow = [[str(e["commentUrn"]), post_urn, 0] for e in elements if _has_replies(e)]
            queue[:0] = follow + ([[target, post_urn, start + size]] if more else [])
            items = [self._comment_item(e, post_urn) for e in elements if e.get("actor") != account.external_id]
            if items:
                return InboxPage(items=tuple(items), next_cursor=json.dumps({"queue": queue}) if queue else None)
        return InboxPage(items=(), next_cursor=None)

    async def _inbox_queue(self, account: AccountRef, cursor: str | None) -> list[list[Any]]:
        state = json.loads(cursor) if cursor else None
        if state is None:
            posts = await self._recent_posts(account, count=int(self._float("inbox_posts", 10)))
            return [[str(p["id"]), str(p["id"]), 0] for p in posts]
        if "queue" in state:
            return list(state["queue"])
        # A cursor of the previous format (posts, index, start) resumes where it stopped.
        rest = state["posts"][state["i"] :]
        return [[urn, urn, state["start"] if n == 0 else 0] for n, urn in enumerate(rest)]

    async def _comments_page(
        self, account: AccountRef, target_urn: str, start: int, count: int
    ) -> tuple[list[dict[str, Any]], bool]:
        path = f"/rest/socialActions/{_enc(target_urn)}/comments?start={start}&count={count}"
        body = (await self._rest(account, "GET", path, "GET_ALL")).json()
        elements = list(body.get("elements", []))
        paging = body.get("paging", {})
        total = paging.get("total")
        more = start + len(elements) < total if isinstance(total, int) else len(elements) == count
        return elements, more

    @staticmethod
    def _comment_item(element: dict[str, Any], post_urn: str) -> RemoteItem:
        parent = element.get("parentComment")
        return RemoteItem(
            remote_id=str(element.get("commentUrn") or element["id"]),
            kind=InboxKind.REPLY if parent else InboxKind.COMMENT,
            text=str(element.get("message", {}).get("text", "")),
            author_id=str(element.get("actor", "")),
            created_at=_ms_to_dt(element.get("created", {}).get("time")),
            thread_id=str(element.get("object") or post_urn),
            parent_id=parent,
            url=POST_URL.format(urn=post_urn),
        )

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        """Comment on the post (``item`` is a post) or answer a comment in its thread."""
        is_comment = item.remote_id.startswith("urn:li:comment:")
        post_urn = item.thread_id or item.remote_id
        body: dict[str, Any] = {
            "actor": account.external_id,
            "object": post_urn,
            "message": {"text": draft.text},
        }
        if is_comment:
            body["parentComment"] = item.remote_id
        target = item.remote_id if is_comment else post_urn
        response = await self._rest(
            account,
            "POST",
            f"/rest/socialActions/{_enc(target)}/comments",
            "CREATE",
            json=body,
        )
        created = response.json() if response.content else {}
        remote_id = created.get("commentUrn") or unquote(response.headers.get("x-restli-id", ""))
        if not remote_id:
            raise Rejected("linkedin: comment created without an id", code="missing_id")
        return PublishResult(
            remote_id=str(remote_id),
            url=POST_URL.format(urn=post_urn),
            published_at=datetime.now(UTC),
        )

    # ------------------------------------------------------------------ metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        org = _enc(account.external_id)
        sizes = await self._rest(
            account,
            "GET",
            f"/rest/networkSizes/{org}?edgeType=COMPANY_FOLLOWED_BY_MEMBER",
        )
        stats = await self._rest(
            account,
            "GET",
            f"/rest/organizationalEntityFollowerStatistics?q=organizationalEntity&organizationalEntity={org}",
            "FINDER",
        )
        organic = paid = 0
        for element in stats.json().get("elements", []):
            for row in element.get("followerCountsByAssociationType", []):
                organic += int(row.get("followerCounts", {}).get("organicFollowerCount", 0))
                paid += int(row.get("followerCounts", {}).get("paidFollowerCount", 0))
        return AccountMetrics(
            followers=int(sizes.json().get("firstDegreeSize", 0)),
            extra={"organic_followers": float(organic), "paid_followers": float(paid)},
            api_version=self.version,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        shares = [u for u in remote_ids if u.startswith("urn:li:share:")]
        ugc = [u for u in remote_ids if not u.startswith("urn:li:share:")]
        query = f"q=organizationalEntity&organizationalEntity={_enc(account.external_id)}"
        if shares:
            query += f"&shares=List({','.join(map(_enc, shares))})"
        if ugc:
            query += f"&ugcPosts=List({','.join(map(_enc, ugc))})"
        response = await self._rest(
            account,
            "GET",
            f"/rest/organizationalEntityShareStatistics?{query}",
            "FINDER",
        )
        found: dict[str, PostMetrics] = {}
        for element in response.json().get("elements", []):
            urn = str(element.get("share") or element.get("ugcPost"))
            stats = element.get("totalShareStatistics", {})
            found[urn] = PostMetrics(
                remote_id=urn,
                impressions=stats.get("impressionCount"),
                likes=stats.get("likeCount"),
                reposts=stats.get("shareCount"),
                replies=stats.get("commentCount"),
                extra={
                    k: float(stats[k]) for k in ("clickCount", "uniqueImpressionsCount", "engagement") if k in stats
                },
                api_version=self.version,
            )
        return [found[urn] for urn in remote_ids if urn in found]

    # ------------------------------------------------------------------ OAuth
    @cached_property
    def oauth(self) -> OAuthClient:
        # No PKCE for LinkedIn's web flow; the client authenticates in the body.
        return OAuthClient(
            self.api,
            authorize_url=f"{self.oauth_base}/oauth/v2/authorization",
            token_url=f"{self.oauth_base}/oauth/v2/accessToken",
            pkce=False,
        )

    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        return self.oauth.authorization(state=state, scopes=scopes or DEFAULT_SCOPES)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        return token_set(await self.oauth.exchange(code))

    async def refresh(self, credentials: Credentials) -> TokenSet:
        if not credentials.refresh_token:
            raise CredentialsExpired(
                "linkedin: no refresh token (only approved partners get one): reconnect the account"
            )
        return token_set(await self.oauth.refresh(credentials.refresh_token))


def _read_error(response: httpx.Response) -> ErrorReading | None:
    """LinkedIn errors: ``{message, serviceErrorCode, status}`` (API), ``{code, message}``
    (gateway), ``{error, error_description}`` (OAuth)."""
    if response.status_code < 400:
        return None
    body = json_body(response)
    if not body:
        return ErrorReading(message=response.text or response.reason_phrase)
    message = body.get("message") or body.get("error_description") or body.get("error") or response.reason_phrase
    code = body.get("serviceErrorCode") or body.get("code") or body.get("error")
    return ErrorReading(message=str(message), code=str(code) if code is not None else None)
