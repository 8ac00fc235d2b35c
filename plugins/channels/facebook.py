"""Facebook Pages through the Meta Graph API.

The account is a Page: ``AccountRef.external_id`` is the page id and
``Credentials.access_token`` a Page access token. ``Credentials.refresh_token`` holds the
long-lived *user* token the Page token was derived from, so ``refresh`` can derive a new one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from core.channels import (
    N_,
    AccountMetrics,
    AccountRef,
    AuthorizationRequest,
    Capabilities,
    ChannelPlugin,
    ChannelSettings,
    Credentials,
    Draft,
    Feature,
    Format,
    FormatRules,
    InboxKind,
    InboxPage,
    MediaItem,
    MediaKind,
    MediaRules,
    NotSupported,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    Rejected,
    RemoteItem,
    TextCounting,
    TextRules,
    TokenSet,
    UsageRecorder,
    WebhookChallenge,
    WebhookRequest,
    same_text,
    single_match,
)
from plugins.channels import _meta
from plugins.channels._meta import Fetch, GraphCall, Upload

_IMAGE = MediaRules(
    kind=MediaKind.IMAGE,
    max_count=10,
    # Postiz sees subcode 1366046 above 4 MB or for other formats (reference §1.6).
    max_bytes=4 * 1024 * 1024,
    content_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"}),
)
_VIDEO = MediaRules(
    kind=MediaKind.VIDEO,
    max_count=1,
    content_types=frozenset({"video/mp4", "video/quicktime"}),
)

DEFAULT_SCOPES = (
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_read_user_engagement",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "pages_messaging",
    "read_insights",
    "publish_video",
)
COMMENT_FIELDS = "id,message,from,created_time,parent,permalink_url"
MESSAGE_FIELDS = "id,message,from,created_time"
DEFAULT_PAGE_METRICS = "page_media_view,page_total_media_view_unique,page_post_engagements,page_daily_follows"
DEFAULT_POST_METRICS = "post_total_media_view_unique,post_reactions_by_type_total,post_clicks"
#: a video's metrics on its own edge, ``/{video-id}/video_insights`` (Video Insights reference)
DEFAULT_VIDEO_METRICS = (
    "total_video_impressions,total_video_views,total_video_reactions_by_type_total,total_video_stories_by_action_type"
)
WEB = "https://www.facebook.com"


class FacebookPlugin(ChannelPlugin):
    key: ClassVar[str] = "facebook"
    name: ClassVar[str] = "Facebook (Pages)"
    default_base_url: ClassVar[str] = "https://graph.facebook.com"
    capabilities: ClassVar[Capabilities] = Capabilities(
        text=TextRules(limit=63_206, counting=TextCounting.UTF16),
        formats=(
            # A text post, optionally with a link (the "link" format is POST + Draft.link).
            FormatRules(format=Format.POST, media=(_IMAGE,), min_media=0, max_media=10),
            FormatRules(format=Format.PHOTO, media=(_IMAGE,), min_media=1, max_media=10),
            FormatRules(format=Format.VIDEO, media=(_VIDEO,), min_media=1, max_media=1),
        ),
        features=frozenset(
            {
                Feature.PUBLISH,
                Feature.REPOST,
                Feature.REPLY,
                Feature.PRIVATE_MESSAGES,
                Feature.DELETE,
                Feature.INBOX,
                Feature.METRICS,
                Feature.OAUTH,
                Feature.RECONCILE,
                Feature.WEBHOOKS,
                Feature.HIDE,
                Feature.DELETE_COMMENTS,
                Feature.BAN,
            }
        ),
        # Messenger: a Page answers a person within 24 hours of their last message (standard window).
        message_reply_window=timedelta(hours=24),
        notices=(
            N_("A repost is a Page post linking to the shared URL: Graph has no share endpoint."),
            N_("Private replies are only possible within Messenger's 24-hour window after the person wrote."),
            N_(
                "Hiding and deleting apply to comments, not to private messages; a blocked person can no longer "
                "comment on or message the Page."
            ),
        ),
    )

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        http: httpx.AsyncClient | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        super().__init__(settings, http=http, usage=usage)
        self.graph = _meta.graph_for(self)
        self.page_size = _meta.int_setting(settings, "inbox_page_size", 25)
        self.inbox_lookback = timedelta(days=_meta.int_setting(settings, "inbox_lookback_days", 14))

    # ------------------------------------------------------------------ publishing
    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        page = account.external_id
        videos, images = _split_media(draft)
        if videos:
            calls = [_video_call(page, draft, videos[0])]
        elif len(images) == 1:
            calls = [_photo_call(page, images[0], published=True, message=draft.text)]
        elif images:
            uploads = [_photo_call(page, item, published=False) for item in images]
            placeholders = [f"{{photo-{i}-id}}" for i in range(1, len(images) + 1)]
            calls = [*uploads, _feed_call(page, draft, placeholders)]
        else:
            calls = [_feed_call(page, draft, ())]
        total = len(calls)
        return tuple(
            self.graph.prepare(_noted(call, f"step {i} of {total}: {call.note}")) for i, call in enumerate(calls, 1)
        )

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        videos, images = _split_media(draft)
        if videos:
            return await self._publish_video(account, draft, videos[0])
        if len(images) == 1:
            return await self._publish_photo(account, draft, images[0])
        if images:
            return await self._publish_album(account, draft, images)
        body = await self._send(account, _feed_call(account.external_id, draft, ()))
        return _post_result(str(body["id"]))

    async def _publish_photo(self, account: AccountRef, draft: Draft, item: MediaItem) -> PublishResult:
        body = await self._send(account, _photo_call(account.external_id, item, published=True, message=draft.text))
        # A published photo answers {"id": <photo id>, "post_id": <page>_<post>}; the post is what we track.
        return _post_result(str(body.get("post_id") or body["id"]))

    async def _publish_album(self, account: AccountRef, draft: Draft, images: Sequence[MediaItem]) -> PublishResult:
        # Unpublished photos are invisible until attached: if the feed call fails they are
        # orphans nobody sees, never a half-published post.
        photo_ids = []
        for item in images:
            body = await self._send(account, _photo_call(account.external_id, item, published=False))
            photo_ids.append(str(body["id"]))
        body = await self._send(account, _feed_call(account.external_id, draft, photo_ids))
        return _post_result(str(body["id"]))

    async def _publish_video(self, account: AccountRef, draft: Draft, item: MediaItem) -> PublishResult:
        body = await self._send(account, _video_call(account.external_id, draft, item))
        return _video_result(account.external_id, str(body["id"]), datetime.now(UTC))

    async def repost(self, account: AccountRef, remote_id: str) -> PublishResult:
        # Graph has no share endpoint; a Page post whose `link` is the shared post is what
        # Facebook shows as a share card (reference §1.3).
        link = remote_id if remote_id.startswith(("http://", "https://")) else f"{WEB}/{remote_id}"
        call = GraphCall(
            "POST",
            f"/{account.external_id}/feed",
            form={"link": link},
            note="share a link on the Page",
        )
        body = await self._send(account, call)
        return _post_result(str(body["id"]))

    async def delete(self, account: AccountRef, remote_id: str) -> None:
        body = await self._send(account, GraphCall("DELETE", f"/{remote_id}"))
        if body.get("success") is not True:
            raise Rejected(f"facebook: deletion of {remote_id} not confirmed", network_message=json.dumps(body))

    async def reconcile(
        self, account: AccountRef, draft: Draft, *, not_before: datetime, not_after: datetime
    ) -> PublishResult | None:
        """The Page's posts of the window whose message is exactly the draft's text (Graph takes no
        client reference). A video is looked for among the Page's videos and answered by its video
        id, as its publish answers: one object, one id."""
        if draft.reply_to:
            found = self._messages_like if _is_message(draft.reply_to) else self._comments_like
        else:
            videos, _ = _split_media(draft)
            found = self._videos_like if videos else self._posts_like
        return single_match([m async for m in found(account, draft, not_before, not_after)], channel=self.key)

    async def _comments_like(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> AsyncIterator[PublishResult]:
        """The Page's comments with the draft's text where :meth:`reply` put them: under the comment
        answered, or under its parent when it is a reply (threads are two levels deep)."""
        answered = await self._send(account, GraphCall("GET", f"/{draft.reply_to}", params={"fields": "id,parent"}))
        target = _meta.as_dict(answered.get("parent")).get("id") or draft.reply_to
        params = {"fields": "id,message,from,created_time,permalink_url", "limit": "100"}
        start = _meta.whole_second(not_before)
        async for comment in self._edge(account, f"/{target}/comments", params):
            created = _meta.parse_time(comment.get("created_time"))
            mine = _author(comment.get("from"))[0] == account.external_id
            if mine and start <= created <= not_after and same_text(comment.get("message"), draft.text):
                yield PublishResult(
                    remote_id=str(comment["id"]), url=comment.get("permalink_url"), published_at=created
                )

    async def _messages_like(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> AsyncIterator[PublishResult]:
        """The Page's Messenger messages with the draft's text in the conversation of the message answered."""
        answered = await self._send(account, GraphCall("GET", f"/{draft.reply_to}", params={"fields": "id,from"}))
        person = _author(answered.get("from"))[0]
        query = {"platform": "messenger", "user_id": person, "fields": "id"}
        listing = await self._send(account, GraphCall("GET", f"/{account.external_id}/conversations", params=query))
        start = _meta.whole_second(not_before)
        for conversation in _meta.data_of(listing):
            params = {"fields": MESSAGE_FIELDS, "limit": "100"}
            async for message in self._edge(account, f"/{conversation['id']}/messages", params):
                created = _meta.parse_time(message.get("created_time"))
                if created < start:
                    break  # newest first: the rest came before the attempt
                mine = _author(message.get("from"))[0] == account.external_id
                if mine and created <= not_after and same_text(message.get("message"), draft.text):
                    yield PublishResult(remote_id=str(message["id"]), published_at=created)

    async def _posts_like(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> AsyncIterator[PublishResult]:
        params = {
            "fields": "id,message,created_time,permalink_url,status_type",
            "since": _meta.unix(not_before),
            "until": _meta.unix(not_after),
            "limit": "100",
        }
        async for post in self._edge(account, f"/{account.external_id}/feed", params):
            # A video's own post carries its description: it is the video, found by id below.
            if post.get("status_type") != "added_video" and same_text(post.get("message"), draft.text):
                yield PublishResult(
                    remote_id=str(post["id"]),
                    url=post.get("permalink_url"),
                    published_at=_meta.parse_time(post.get("created_time")),
                )

    async def _videos_like(
        self, account: AccountRef, draft: Draft, not_before: datetime, not_after: datetime
    ) -> AsyncIterator[PublishResult]:
        params = {"fields": "id,description,created_time", "limit": "100"}
        async for video in self._edge(account, f"/{account.external_id}/videos", params):
            created = _meta.parse_time(video.get("created_time"))
            if created < _meta.whole_second(not_before):
                return  # newest first: the rest is older than the attempt
            if created <= not_after and same_text(video.get("description"), draft.text):
                yield _video_result(account.external_id, str(video["id"]), created)

    def _edge(self, account: AccountRef, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        token = account.credentials.access_token
        return _meta.edge_items(self.graph, path, params, token=token, account_id=account.external_id)

    # ------------------------------------------------------------------ conversation
    async def fetch_inbox(self, account: AccountRef, cursor: str | None) -> InboxPage:
        page, size = account.external_id, str(self.page_size)
        since = _meta.unix(datetime.now(UTC) - self.inbox_lookback)
        start = [
            Fetch("posts", f"/{page}/feed", {"fields": "id", "since": since, "limit": size}),
            Fetch(
                "conversations",
                f"/{page}/conversations",
                {
                    "platform": "messenger",
                    "fields": f"id,updated_time,messages.limit({size}){{{MESSAGE_FIELDS}}}",
                    "limit": size,
                },
            ),
        ]
        handlers = {
            "posts": self._on_posts,
            "comments": lambda fetch, body: (_comments(page, fetch.ctx["post"], body), []),
            "conversations": lambda fetch, body: _conversations(page, size, body),
            "messages": lambda fetch, body: (_messages(page, fetch.ctx["conversation"], body), []),
        }
        return await _meta.walk_inbox(
            self.graph,
            token=account.credentials.access_token,
            account_id=page,
            cursor=cursor,
            start=start,
            handlers=handlers,
        )

    def _on_posts(self, fetch: Fetch, body: dict[str, Any]) -> tuple[list[RemoteItem], list[Fetch]]:
        params = {
            "filter": "stream",
            "order": "chronological",
            "fields": COMMENT_FIELDS,
            "limit": str(self.page_size),
        }
        follow = [
            Fetch("comments", f"/{post['id']}/comments", dict(params), ctx={"post": str(post["id"])})
            for post in _meta.data_of(body)
        ]
        return [], follow

    async def reply(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        if item.kind is InboxKind.MESSAGE:
            return await self._send_message(account, item, draft)
        # Facebook threads are two levels deep: an answer to a reply goes under its parent comment.
        target = item.parent_id if item.kind is InboxKind.REPLY and item.parent_id else item.remote_id
        body = await self._send(account, GraphCall("POST", f"/{target}/comments", form={"message": draft.text}))
        return PublishResult(remote_id=str(body["id"]), url=body.get("permalink_url"), published_at=datetime.now(UTC))

    async def _send_message(self, account: AccountRef, item: RemoteItem, draft: Draft) -> PublishResult:
        form = {
            "recipient": json.dumps({"id": item.author_id}),
            # RESPONSE: an answer within the 24-hour window opened by the person's message.
            "messaging_type": "RESPONSE",
            "message": json.dumps({"text": draft.text}),
        }
        body = await self._send(account, GraphCall("POST", f"/{account.external_id}/messages", form=form))
        return PublishResult(remote_id=str(body["message_id"]), published_at=datetime.now(UTC))

    # ------------------------------------------------------------------ moderation
    async def hide_item(self, account: AccountRef, item: RemoteItem, *, hidden: bool = True) -> None:
        """``POST /{comment-id}`` with ``is_hidden``: hidden from everyone but its author and friends."""
        _comment_only(item, "hide")
        form = {"is_hidden": "true" if hidden else "false"}
        body = await self._send(account, GraphCall("POST", f"/{item.remote_id}", form=form))
        _meta.confirmed(body, f"{'hiding' if hidden else 'showing'} {item.remote_id}", "facebook")

    async def delete_item(self, account: AccountRef, item: RemoteItem) -> None:
        """``DELETE /{comment-id}``; a comment already gone ("does not exist", 100/33) counts as deleted."""
        _comment_only(item, "delete")
        await _meta.delete_comment(lambda call: self._send(account, call), item.remote_id, "facebook")

    async def ban_author(self, account: AccountRef, item: RemoteItem) -> None:
        """``POST /{page-id}/blocked`` with ``user=<id>``: the person can no longer comment on or message
        the Page. UNVERIFIED against Meta's reference: the edge is the one several Graph clients use
        (reference inbox-usage-veille §1.3)."""
        if not item.author_id:
            raise Rejected("facebook: the item has no author to block")
        body = await self._send(
            account, GraphCall("POST", f"/{account.external_id}/blocked", form={"user": item.author_id})
        )
        # Graph answers {"<user id>": true} per person blocked.
        if body.get(item.author_id) is not True and body.get("success") is not True:
            raise Rejected(f"facebook: blocking {item.author_id} not confirmed", network_message=json.dumps(body))

    # ------------------------------------------------------------------ metrics
    async def fetch_account_metrics(self, account: AccountRef) -> AccountMetrics:
        page = account.external_id
        fields = await self._send(account, GraphCall("GET", f"/{page}", params={"fields": "followers_count,fan_count"}))
        metrics = self.settings.extra.get("page_insights_metrics", DEFAULT_PAGE_METRICS)
        insights = await self._send(
            account,
            GraphCall("GET", f"/{page}/insights", params={"metric": metrics, "period": "day"}),
        )
        values = _insight_values(insights)
        extra = {**values, "fan_count": float(fields.get("fan_count") or 0)}
        impressions = values.get("page_media_view")
        return AccountMetrics(
            followers=_int_or_none(fields.get("followers_count")),
            impressions=int(impressions) if impressions is not None else None,
            extra=extra,
            api_version=self.graph.version,
        )

    async def fetch_post_metrics(self, account: AccountRef, remote_ids: list[str]) -> list[PostMetrics]:
        """Posts from ``/{post-id}/insights``; videos (tracked by their video id, see
        :func:`_video_result`) from ``/{video-id}/video_insights``: a Video node has no ``insights``
        edge. A post or video deleted on the network has no metrics; any other error is raised."""
        results = []
        for remote_id in remote_ids:
            read = self._video_metrics if _is_video(remote_id) else self._post_metrics
            try:
                results.append(await read(account, remote_id))
            except Rejected as exc:
                if exc.code == _meta.OBJECT_GONE:  # deleted on the network: no metrics, not an error
                    continue
                raise
        return results

    async def _post_metrics(self, account: AccountRef, remote_id: str) -> PostMetrics:
        metrics = self.settings.extra.get("post_insights_metrics", DEFAULT_POST_METRICS)
        body = await self._send(account, GraphCall("GET", f"/{remote_id}/insights", params={"metric": metrics}))
        values = _insight_values(body)
        views = values.pop("post_total_media_view_unique", None)
        likes = values.pop("post_reactions_by_type_total", None)
        return PostMetrics(
            remote_id=remote_id,
            impressions=int(views) if views is not None else None,
            likes=int(likes) if likes is not None else None,
            extra=values,
            api_version=self.graph.version,
        )

    async def _video_metrics(self, account: AccountRef, remote_id: str) -> PostMetrics:
        metrics = self.settings.extra.get("video_insights_metrics", DEFAULT_VIDEO_METRICS)
        params = {"metric": metrics, "period": "lifetime"}
        body = await self._send(account, GraphCall("GET", f"/{remote_id}/video_insights", params=params))
        raw = _insight_raw(body)
        values = _insight_values(body)
        # "stories" are the shares, comments and likes of the video's posts, keyed by action
        stories = raw.get("total_video_stories_by_action_type")
        by_action = stories if isinstance(stories, dict) else {}
        impressions = values.pop("total_video_impressions", None)
        reactions = values.pop("total_video_reactions_by_type_total", None)
        values.pop("total_video_stories_by_action_type", None)
        return PostMetrics(
            remote_id=remote_id,
            impressions=int(impressions) if impressions is not None else None,
            likes=int(reactions) if reactions is not None else None,
            reposts=_int_or_none(by_action.get("share")),
            replies=_int_or_none(by_action.get("comment")),
            extra=values,
            api_version=self.graph.version,
        )

    # ------------------------------------------------------------------ OAuth
    def authorization_url(self, *, state: str, scopes: list[str] | None = None) -> AuthorizationRequest:
        return _meta.authorization_request(self.graph, state=state, scopes=scopes or DEFAULT_SCOPES)

    async def exchange_code(self, *, code: str, code_verifier: str | None = None) -> TokenSet:
        """Code → long-lived user token → the Page token of the chosen Page.

        The Page is ``extra["page_id"]`` if configured, else the first Page the person
        manages; every managed Page is listed in ``TokenSet.extra["pages"]`` (JSON) so the
        host can pick another and call ``refresh`` with ``Credentials.extra["page_id"]``.
        """
        user = await _meta.user_token(self.graph, self.settings, code)
        return await self._page_tokens(user, self.settings.extra.get("page_id"))

    async def refresh(self, credentials: Credentials) -> TokenSet:
        """A new long-lived user token (``fb_exchange_token``), then a Page token derived from it."""
        user_token = credentials.refresh_token or credentials.access_token
        user = await self.graph.send(_meta.long_lived_call(self.settings, user_token), token=None)
        return await self._page_tokens(user, credentials.extra.get("page_id"))

    async def _page_tokens(self, user: dict[str, Any], page_id: str | None) -> TokenSet:
        token = str(user["access_token"])
        params = {"fields": "id,name,access_token,tasks"}
        pages = _meta.data_of(await self.graph.send(GraphCall("GET", "/me/accounts", params=params), token=token))
        chosen = next((p for p in pages if str(p.get("id")) == page_id), None) if page_id else None
        chosen = chosen or (pages[0] if pages and not page_id else None)
        if chosen is None:
            raise Rejected(
                "facebook: the person manages no such Page",
                network_message="No Facebook Page available",
            )
        user_expiry = _meta.expires_at(user)
        listing = [{"id": str(p.get("id")), "name": str(p.get("name", "")), "tasks": p.get("tasks", [])} for p in pages]
        extra = {
            "page_id": str(chosen["id"]),
            "page_name": str(chosen.get("name", "")),
            "pages": json.dumps(listing),
        }
        if user_expiry is not None:
            extra["user_token_expires_at"] = user_expiry.isoformat()
        # A Page token derived from a long-lived user token has no expiry of its own.
        return TokenSet(
            access_token=str(chosen["access_token"]),
            refresh_token=token,
            expires_at=None,
            extra=extra,
        )

    # ------------------------------------------------------------------ webhooks
    def webhook_challenge(self, request: WebhookRequest) -> WebhookChallenge | None:
        return _meta.webhook_challenge(self.settings, request)

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return _meta.verify_signature(self.settings, request)

    def parse_webhook(self, request: WebhookRequest) -> list[RemoteItem]:
        body = _meta.webhook_body(request)
        if body.get("object") != "page":
            return []
        items: list[RemoteItem] = []
        for entry in body.get("entry") or []:
            page_id = str(entry.get("id", ""))
            for change in entry.get("changes") or []:
                if change.get("field") == "feed":
                    items.extend(_feed_change(page_id, change.get("value") or {}))
            for event in entry.get("messaging") or []:
                items.extend(_messaging_event(page_id, event))
        return items

    # ------------------------------------------------------------------ plumbing
    async def _send(self, account: AccountRef, call: GraphCall) -> dict[str, Any]:
        return await self.graph.send(call, token=account.credentials.access_token, account_id=account.external_id)


# --------------------------------------------------------------------------- request builders


def _split_media(draft: Draft) -> tuple[list[MediaItem], list[MediaItem]]:
    videos = [m for m in draft.media if m.kind is MediaKind.VIDEO]
    images = [m for m in draft.media if m.kind is not MediaKind.VIDEO]
    if videos and (images or len(videos) > 1):
        raise Rejected("facebook: a video post carries exactly one video and nothing else")
    if draft.format is Format.VIDEO and not videos:
        raise Rejected("facebook: a video post needs a video")
    return videos, images


def _source(item: MediaItem, url_param: str) -> tuple[dict[str, str], Upload | None]:
    """Graph fetches a public URL itself; a local file goes up as the multipart ``source``."""
    if item.url:
        return {url_param: item.url}, None
    if item.path:
        return {}, Upload("source", item.path, item.content_type)
    raise Rejected(
        "facebook: a media item needs a public URL or a local file",
        network_message="media without URL",
    )


def _photo_call(page: str, item: MediaItem, *, published: bool, message: str = "") -> GraphCall:
    source, upload = _source(item, "url")
    form = {**source, "published": "true" if published else "false"}
    if published and message:
        form["message"] = message
    note = "publish the photo" if published else "upload an unpublished photo"
    return GraphCall("POST", f"/{page}/photos", form=form, upload=upload, note=note)


def _feed_call(page: str, draft: Draft, media_fbids: Sequence[str]) -> GraphCall:
    form: dict[str, str] = {}
    if draft.text:
        form["message"] = draft.text
    if draft.link:
        form["link"] = draft.link
    for index, fbid in enumerate(media_fbids):
        # The documented form encoding: attached_media[0]={"media_fbid":"…"}
        form[f"attached_media[{index}]"] = json.dumps({"media_fbid": fbid})
    if not form:
        raise Rejected("facebook: nothing to publish (no text, link or media)")
    note = "publish the post with its photos" if media_fbids else "publish the post"
    return GraphCall("POST", f"/{page}/feed", form=form, note=note)


def _video_call(page: str, draft: Draft, item: MediaItem) -> GraphCall:
    source, upload = _source(item, "file_url")
    form = {**source, "published": "true"}
    if draft.text:
        form["description"] = draft.text
    if draft.title:
        form["title"] = draft.title
    return GraphCall("POST", f"/{page}/videos", form=form, upload=upload, note="publish the video")


def _noted(call: GraphCall, note: str) -> GraphCall:
    return GraphCall(call.method, call.path, call.params, call.form, call.upload, note, call.authenticated)


def _comment_only(item: RemoteItem, what: str) -> None:
    """Hiding and deleting apply to comments: a Messenger message can be neither."""
    if item.kind is InboxKind.MESSAGE or _is_message(item.remote_id):
        raise NotSupported(f"facebook: cannot {what} a private message")


def _is_message(remote_id: str) -> bool:
    """Messenger message ids are ``m_…``; comment ids are ``{post}_{comment}``."""
    return remote_id.startswith("m_")


def _is_video(remote_id: str) -> bool:
    """A video is tracked by its video id, bare digits; posts are ``{page-id}_{post-id}``."""
    return remote_id.isdigit()


def _video_result(page: str, video_id: str, published_at: datetime) -> PublishResult:
    # A video is tracked by its video id (what /videos answers), by publish and reconcile alike.
    return PublishResult(remote_id=video_id, url=f"{WEB}/{page}/videos/{video_id}", published_at=published_at)


def _post_result(post_id: str) -> PublishResult:
    # Post ids are "{page-id}_{post-id}"; facebook.com/{that id} resolves to the post. No
    # follow-up GET for the permalink: it could fail after the post exists and cause a retry.
    return PublishResult(remote_id=post_id, url=f"{WEB}/{post_id}", published_at=datetime.now(UTC))


# --------------------------------------------------------------------------- mapping


def _author(raw: Any) -> tuple[str, str]:
    author = raw if isinstance(raw, dict) else {}
    return str(author.get("id", "")), str(author.get("name", ""))


def _comments(page: str, post_id: str, body: dict[str, Any]) -> list[RemoteItem]:
    items = []
    for comment in _meta.data_of(body):
        author_id, author_name = _author(comment.get("from"))
        if author_id == page:  # the Page's own answers are not inbox items
            continue
        parent = comment.get("parent")
        parent_id = str(parent["id"]) if isinstance(parent, dict) and parent.get("id") else None
        items.append(
            RemoteItem(
                remote_id=str(comment["id"]),
                kind=InboxKind.REPLY if parent_id else InboxKind.COMMENT,
                text=str(comment.get("message", "")),
                author_id=author_id,
                author_name=author_name,
                created_at=_meta.parse_time(comment.get("created_time")),
                thread_id=post_id,
                parent_id=parent_id,
                url=comment.get("permalink_url"),
            )
        )
    return items


def _conversations(page: str, size: str, body: dict[str, Any]) -> tuple[list[RemoteItem], list[Fetch]]:
    items: list[RemoteItem] = []
    follow: list[Fetch] = []
    for conversation in _meta.data_of(body):
        conversation_id = str(conversation["id"])
        nested = _meta.as_dict(conversation.get("messages"))
        items.extend(_messages(page, conversation_id, nested))
        after = _meta.next_after(nested)
        if after:  # the rest of a long conversation comes from its own messages edge
            params = {"fields": MESSAGE_FIELDS, "limit": size}
            follow.append(
                Fetch(
                    "messages",
                    f"/{conversation_id}/messages",
                    params,
                    after,
                    ctx={"conversation": conversation_id},
                )
            )
    return items, follow


def _messages(page: str, conversation_id: str, body: dict[str, Any]) -> list[RemoteItem]:
    items = []
    for message in _meta.data_of(body):
        author_id, author_name = _author(message.get("from"))
        if author_id == page:
            continue
        items.append(
            RemoteItem(
                remote_id=str(message["id"]),
                kind=InboxKind.MESSAGE,
                text=str(message.get("message", "")),
                author_id=author_id,
                author_name=author_name,
                created_at=_meta.parse_time(message.get("created_time")),
                # Threaded by the person's page-scoped id: the webhook knows it, not the
                # conversation id, and a Page has one conversation per person.
                thread_id=author_id,
            )
        )
    return items


def _feed_change(page_id: str, value: dict[str, Any]) -> list[RemoteItem]:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return []
    author_id, author_name = _author(value.get("from"))
    if author_id == page_id:
        return []
    post_id = str(value.get("post_id", ""))
    parent_id = str(value.get("parent_id") or post_id)
    is_reply = parent_id != post_id
    return [
        RemoteItem(
            remote_id=str(value.get("comment_id", "")),
            kind=InboxKind.REPLY if is_reply else InboxKind.COMMENT,
            text=str(value.get("message", "")),
            author_id=author_id,
            author_name=author_name,
            created_at=_meta.parse_time(value.get("created_time")),
            thread_id=post_id,
            parent_id=parent_id if is_reply else None,
            account_id=page_id,
        )
    ]


def _messaging_event(page_id: str, event: dict[str, Any]) -> list[RemoteItem]:
    message = event.get("message")
    sender = str((event.get("sender") or {}).get("id", ""))
    if not isinstance(message, dict) or message.get("is_echo") or sender == page_id:
        return []  # deliveries, reads, reactions and our own echoes are not inbox items
    return [
        RemoteItem(
            remote_id=str(message.get("mid", "")),
            kind=InboxKind.MESSAGE,
            text=str(message.get("text", "")),
            author_id=sender,
            created_at=_meta.parse_time(event.get("timestamp")),
            thread_id=sender,
            account_id=page_id,
        )
    ]


def _insight_values(body: dict[str, Any]) -> dict[str, float]:
    """The latest value of each insights metric; object values (split by type) are summed."""
    values: dict[str, float] = {}
    for metric in _meta.data_of(body):
        points = metric.get("values") or []
        if not points:
            continue
        value = points[-1].get("value") if isinstance(points[-1], dict) else None
        if isinstance(value, dict):
            value = sum(v for v in value.values() if isinstance(v, int | float))
        if isinstance(value, int | float):
            values[str(metric.get("name"))] = float(value)
    return values


def _insight_raw(body: dict[str, Any]) -> dict[str, Any]:
    """The latest value of each insights metric as Graph gave it (objects kept)."""
    raw: dict[str, Any] = {}
    for metric in _meta.data_of(body):
        points = metric.get("values") or []
        if points and isinstance(points[-1], dict):
            raw[str(metric.get("name"))] = points[-1].get("value")
    return raw


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
