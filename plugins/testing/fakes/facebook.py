"""A faithful fake of the Facebook Pages Graph API (reference §1).

One Page with its token, posts (text/link, photos, multi-photo, videos), comments,
Messenger conversations and insights; Facebook Login token endpoints; Graph errors, cursors
and usage headers (see :mod:`plugins.testing.fakes._meta`).

Inbox data, each with a chosen time (``created=``):

* :meth:`FakeFacebook.seed_comment` — a comment on a post, or a reply with ``parent_id`` (its id);
* :meth:`FakeFacebook.add_message` — a Messenger message from a person (the stored message);
  :meth:`FakeFacebook.seed_conversation` — a whole conversation at once;
* no mentions: Page mentions are only an unverified ``feed`` item, the plugin reads none.

Moderation: ``POST /{comment-id}`` ``is_hidden``, ``DELETE /{comment-id}`` (replies go too),
``POST /{page-id}/blocked``; state in :meth:`~FakeFacebook.is_hidden`, :meth:`~FakeFacebook.is_deleted`,
:meth:`~FakeFacebook.is_blocked`. Webhooks: :meth:`FakeFacebook.signed_webhook` builds the signed
request Meta would POST for a comment or message held here; :meth:`FakeFacebook.sign` signs a body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeResponse
from plugins.testing.fakes._meta import (
    GraphError,
    GraphFake,
    GraphRequest,
    graph,
    graph_time,
    no_object,
    page_of,
)

PAGE_ID = "104857600123456"
PAGE_NAME = "Région Occitanie"
PAGE_TOKEN = "EAAfake-page-token"
WEB = "https://www.facebook.com"
PAGE_METRICS = {
    "page_media_view": 5400,
    "page_total_media_view_unique": 3100,
    "page_post_engagements": 420,
    "page_daily_follows": 37,
    "page_follows": 175_000,
}
POST_METRICS: dict[str, Any] = {
    "post_total_media_view_unique": 2300,
    "post_reactions_by_type_total": {"like": 120, "love": 14, "wow": 3},
    "post_clicks": 87,
}
#: ``/{video-id}/video_insights`` (lifetime; the by-type ones are objects keyed by type)
VIDEO_METRICS: dict[str, Any] = {
    "total_video_impressions": 4100,
    "total_video_views": 1800,
    "total_video_views_unique": 1500,
    "total_video_reactions_by_type_total": {"like": 210, "love": 31},
    "total_video_stories_by_action_type": {"share": 12, "like": 241, "comment": 19},
}
#: a post's ``status_type`` by what made it
_STATUS_TYPES = {
    "status": "mobile_status_update",
    "photo": "added_photos",
    "album": "added_photos",
    "video": "added_video",
    "link": "shared_story",
}
# Removed by Meta (reference §1.5): asking for them is an "invalid metric" error.
DEPRECATED_METRICS = {
    "page_impressions",
    "page_impressions_unique",
    "page_fans",
    "page_engaged_users",
    "post_impressions_unique",
}


class FakeFacebook(GraphFake):
    key = "facebook"
    name = "Facebook (simulated)"
    buc_type = "pages"

    def __init__(self) -> None:
        self.page_id = PAGE_ID
        self.page_token = PAGE_TOKEN
        self.business_id = PAGE_ID
        super().__init__()
        self.tokens[self.page_token] = "page"

    def setup(self) -> None:
        super().setup()
        self.posts: dict[str, dict[str, Any]] = {}
        self.photos: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}  # comment id → comment (with "post_id")
        self.conversations: dict[str, dict[str, Any]] = {}
        #: comments deleted (with their replies): gone from every listing, ``DELETE`` again says 100/33
        self.deleted_comments: set[str] = set()
        #: people the Page blocked (``POST /{page-id}/blocked``), by user id → name
        self.blocked: dict[str, str] = {}
        #: permissions the Page token was not granted: the edges needing them answer code 230
        self.withheld_permissions: set[str] = set()
        self.followers_count = 175_000
        self.fan_count = 171_250

    # ------------------------------------------------------------------ helpers for tests
    def make_account(self) -> AccountRef:
        return AccountRef(
            external_id=self.page_id,
            handle="RegionOccitanie",
            credentials=Credentials(
                access_token=self.page_token,
                refresh_token=self.user_token,
                extra={"page_id": self.page_id},
            ),
        )

    def seed_post(self, message: str, *, created: datetime | None = None) -> str:
        post_id = f"{self.page_id}_{self.new_id()}"
        self.posts[post_id] = {
            "id": post_id,
            "message": message,
            "created": created or self.now(),
            "kind": "status",
        }
        return post_id

    def seed_comment(
        self,
        post_id: str,
        message: str,
        *,
        author: tuple[str, str] = ("6200000000000001", "Camille Martin"),
        parent_id: str | None = None,
        created: datetime | None = None,
    ) -> str:
        comment_id = f"{post_id.split('_')[-1]}_{self.new_id()}"
        self.comments[comment_id] = {
            "id": comment_id,
            "post_id": post_id,
            "message": message,
            "from": {"id": author[0], "name": author[1]},
            "created": created or self.now(),
            "parent_id": parent_id,
            "is_hidden": False,
        }
        return comment_id

    def is_hidden(self, comment_id: str) -> bool:
        """Whether the comment is hidden (``is_hidden``); conformance reads moderation state here."""
        return bool(self.comments[comment_id]["is_hidden"])

    def is_deleted(self, comment_id: str) -> bool:
        return comment_id in self.deleted_comments and comment_id not in self.comments

    def is_blocked(self, user_id: str) -> bool:
        return user_id in self.blocked

    def seed_conversation(self, psid: str, name: str, messages: list[str]) -> str:
        """A Messenger conversation where ``psid`` wrote ``messages`` (oldest first)."""
        conversation_id = f"t_{self.new_id()}"
        start = self.now() - timedelta(minutes=len(messages))
        self.conversations[conversation_id] = {
            "id": conversation_id,
            "participant": {"id": psid, "name": name},
            "messages": [
                {
                    "id": f"m_{secrets.token_urlsafe(12)}",
                    "message": text,
                    "from": {"id": psid, "name": name},
                    "created": start + timedelta(minutes=i),
                }
                for i, text in enumerate(messages)
            ],
        }
        return conversation_id

    def add_message(
        self, psid: str, text: str, *, name: str = "Camille Martin", created: datetime | None = None
    ) -> dict[str, Any]:
        """``psid`` writes ``text`` to the Page on Messenger (in their conversation, made if need be);
        returns the stored message (``id`` is its ``m_…`` mid)."""
        conversation = next((c for c in self.conversations.values() if c["participant"]["id"] == psid), None)
        if conversation is None:
            conversation = self.conversations[self.seed_conversation(psid, name, [])]
        message = {
            "id": f"m_{secrets.token_urlsafe(12)}",
            "message": text,
            "from": {"id": psid, "name": name},
            "created": created or self.now(),
        }
        conversation["messages"].append(message)
        conversation["messages"].sort(key=lambda m: m["created"])
        return message

    def sign(self, body: bytes, *, secret: str | None = None) -> str:
        """The ``X-Hub-Signature-256`` Meta would send for ``body`` (signed with the app secret)."""
        key = (secret or self.app_secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def signed_webhook(
        self, item_id: str, *, secret: str | None = None, verb: str = "add"
    ) -> tuple[dict[str, str], bytes]:
        """The webhook Meta would POST for a comment or a Messenger message this fake holds:
        ``(headers, raw body)``, headers lower-cased as in :class:`WebhookRequest`.

        A comment (or reply) is a ``feed`` change ``{"item": "comment", "verb": …}`` under the Page's
        entry; a message a ``messaging`` event. The body is JSON with non-ASCII escaped, as Meta
        sends it, signed with ``secret`` (default: the fake's app secret).
        """
        entry: dict[str, Any] = {"id": self.page_id, "time": int(self.now().timestamp() * 1000)}
        if item_id in self.comments:
            entry["changes"] = [{"field": "feed", "value": self._feed_value(self.comments[item_id], verb)}]
        else:
            entry["messaging"] = [self._messaging_value(item_id)]
        body = json.dumps({"object": "page", "entry": [entry]}).encode()
        return {"content-type": "application/json", "x-hub-signature-256": self.sign(body, secret=secret)}, body

    def _feed_value(self, comment: dict[str, Any], verb: str) -> dict[str, Any]:
        post_id = comment["post_id"]
        post = self.posts.get(post_id, {})
        return {
            "from": comment["from"],
            "post": {
                "id": post_id,
                "status_type": _STATUS_TYPES[post.get("kind", "status")],
                "is_published": True,
                "updated_time": graph_time(post.get("created", comment["created"])),
                "permalink_url": self.permalink(post_id),
                "promotion_status": "inactive",
            },
            "message": comment["message"],
            "post_id": post_id,
            "comment_id": comment["id"],
            "created_time": int(comment["created"].timestamp()),
            "item": "comment",
            # a top-level comment's parent is the post itself
            "parent_id": comment["parent_id"] or post_id,
            "verb": verb,
        }

    def _messaging_value(self, message_id: str) -> dict[str, Any]:
        for conversation in self.conversations.values():
            for message in conversation["messages"]:
                if message["id"] == message_id:
                    sender = message["from"]["id"]
                    recipient = conversation["participant"]["id"] if sender == self.page_id else self.page_id
                    event: dict[str, Any] = {
                        "sender": {"id": sender},
                        "recipient": {"id": recipient},
                        "timestamp": int(message["created"].timestamp() * 1000),
                        "message": {"mid": message_id, "text": message["message"]},
                    }
                    if sender == self.page_id:
                        event["message"] |= {"is_echo": True, "app_id": int(self.app_id)}
                    return event
        raise KeyError(f"no comment or message {message_id!r} on this fake")

    def permalink(self, post_id: str) -> str:
        page, _, short = post_id.partition("_")
        return f"{WEB}/{page}/posts/{short}"

    # ------------------------------------------------------------------ publishing
    @graph(
        "POST",
        "/{version}/{page_id}/feed",
        allowed=("message", "link", "published", "scheduled_publish_time", "attached_media[*]"),
        token="page",
    )
    async def create_post(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "post")
        params = request.params
        media = [self._attachable(params[k], k) for k in sorted(params) if k.startswith("attached_media[")]
        if not (params.get("message") or params.get("link") or media):
            raise GraphError(100, "(#100) Missing message or attachment")
        post_id = f"{page_id}_{self.new_id()}"
        self.posts[post_id] = {
            "id": post_id,
            "message": params.get("message", ""),
            "link": params.get("link"),
            "attached_media": media,
            "created": self.now(),
            "kind": "status" if not media else "album",
        }
        for fbid in media:
            self.photos[fbid]["post_id"] = post_id
        return FakeResponse(json={"id": post_id})

    def _attachable(self, raw: str, name: str) -> str:
        try:
            fbid = str(json.loads(raw)["media_fbid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GraphError(100, f"(#100) param {name} must be a JSON object with media_fbid") from exc
        photo = self.photos.get(fbid)
        if photo is None or photo["published"] or photo.get("post_id"):
            raise GraphError(100, f"(#100) {name}: media_fbid {fbid} is not an unpublished photo of this Page")
        return fbid

    @graph(
        "POST",
        "/{version}/{page_id}/photos",
        allowed=("url", "message", "caption", "published", "no_story"),
        token="page",
    )
    async def create_photo(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "post")
        params = request.params
        if not params.get("url") and "source" not in request.files:
            raise GraphError(324, "(#324) Requires upload file", type_="OAuthException")
        published = params.get("published", "true") != "false"
        photo_id = self.new_id()
        self.photos[photo_id] = {
            "id": photo_id,
            "url": params.get("url"),
            "published": published,
            "uploaded": request.files.get("source", ("", b""))[0],
        }
        if not published:
            return FakeResponse(json={"id": photo_id})
        post_id = f"{page_id}_{self.new_id()}"
        message = params.get("message") or params.get("caption", "")
        self.posts[post_id] = {
            "id": post_id,
            "message": message,
            "created": self.now(),
            "kind": "photo",
            "photo": photo_id,
        }
        self.photos[photo_id]["post_id"] = post_id
        return FakeResponse(json={"id": photo_id, "post_id": post_id})

    @graph(
        "POST",
        "/{version}/{page_id}/videos",
        allowed=("file_url", "description", "title", "published"),
        token="page",
    )
    async def create_video(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "post")
        if not request.params.get("file_url") and "source" not in request.files:
            raise GraphError(100, "(#100) The video file you selected is in a format that we don't support.")
        video_id = self.new_id()
        created = self.now()
        self.videos[video_id] = {
            "id": video_id,
            "file_url": request.params.get("file_url"),
            "description": request.params.get("description", ""),
            "title": request.params.get("title"),
            "created": created,
        }
        # A published video is also a post of the Page's feed, ``{page}_{video}``.
        post_id = f"{page_id}_{video_id}"
        self.posts[post_id] = {
            "id": post_id,
            "message": request.params.get("description", ""),
            "created": created,
            "kind": "video",
            "video": video_id,
        }
        return FakeResponse(json={"id": video_id})

    @graph("GET", "/{version}/{page_id}/videos", allowed=("fields", "limit", "after", "type"))
    async def read_videos(self, request: GraphRequest, page_id: str) -> FakeResponse:
        """The Page's uploaded videos, newest first (the Video node's id, description, created_time)."""
        self._own_page(page_id, "get")
        videos = sorted(self.videos.values(), key=lambda v: v["created"], reverse=True)
        names = request.field_names() or {"id", "description", "updated_time"}
        data = [self._video_fields(page_id, v, names) for v in videos]
        return FakeResponse(json=self.page(request, data, f"{page_id}/videos", keep=("fields", "type")))

    @staticmethod
    def _video_fields(page_id: str, video: dict[str, Any], names: set[str]) -> dict[str, Any]:
        values = {
            "id": video["id"],
            "description": video.get("description"),
            "title": video.get("title"),
            "created_time": graph_time(video["created"]),
            "updated_time": graph_time(video["created"]),
            "permalink_url": f"/{page_id}/videos/{video['id']}/",
        }
        return {k: v for k, v in values.items() if k in names | {"id"} and v not in (None, "")}

    @graph("DELETE", "/{version}/{object_id}", token="page")
    async def delete_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if object_id in self.comments:
            self._require("pages_manage_engagement")
            # a comment's replies go with it
            gone = {object_id} | {c["id"] for c in self.comments.values() if c["parent_id"] == object_id}
            for comment_id in gone:
                del self.comments[comment_id]
            self.deleted_comments |= gone
            return FakeResponse(json={"success": True})
        for store in (self.posts, self.videos, self.photos):
            if object_id in store:
                del store[object_id]
                self.posts.pop(f"{self.page_id}_{object_id}", None)  # a video's post goes with it
                return FakeResponse(json={"success": True})
        raise no_object(object_id, "delete")

    @graph("GET", "/{version}/{page_id}/feed", allowed=("fields", "since", "until", "limit", "after"))
    async def read_feed(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "get")
        since, until = _bound(request.params.get("since")), _bound(request.params.get("until"))
        posts = sorted(self.posts.values(), key=lambda p: p["created"], reverse=True)
        window = [
            p
            for p in posts
            if (since is None or p["created"].timestamp() >= since)
            and (until is None or p["created"].timestamp() <= until)
        ]
        names = request.field_names() or {"id", "message", "created_time"}
        data = [self._post_fields(p, names) for p in window]
        return FakeResponse(json=self.page(request, data, f"{page_id}/feed", keep=("fields", "since", "until")))

    def _post_fields(self, post: dict[str, Any], names: set[str]) -> dict[str, Any]:
        values = {
            "id": post["id"],
            "message": post.get("message"),
            "created_time": graph_time(post["created"]),
            "permalink_url": self.permalink(post["id"]),
            "status_type": _STATUS_TYPES[post.get("kind", "status")],
        }
        return {k: v for k, v in values.items() if k in names | {"id"} and v not in (None, "")}

    # ------------------------------------------------------------------ objects
    @graph("GET", "/{version}/{object_id}", allowed=("fields",))
    async def read_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        names = request.field_names() or {"id", "name"}
        if object_id == self.page_id:
            return FakeResponse(json=self._page_fields(request, names))
        if object_id in self.posts:
            return FakeResponse(json=self._post_fields(self.posts[object_id], names))
        if object_id in self.comments:
            return FakeResponse(json=self._comment_fields(self.comments[object_id], names))
        message = next((m for c in self.conversations.values() for m in c["messages"] if m["id"] == object_id), None)
        if message is not None:
            return FakeResponse(json=self._message_fields(message, names))
        raise no_object(object_id, "get")

    def _page_fields(self, request: GraphRequest, names: set[str]) -> dict[str, Any]:
        if "access_token" in names and self.tokens.get(request.token or "") != "user":
            raise GraphError(190, "(#190) A user access token is required to read a Page's access_token")
        values = {
            "id": self.page_id,
            "name": PAGE_NAME,
            "followers_count": self.followers_count,
            "fan_count": self.fan_count,
            "access_token": self.page_token,
        }
        unknown = names - values.keys()
        if unknown:
            raise GraphError(
                100,
                f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]}) on node type (Page)",
            )
        return {k: v for k, v in values.items() if k in names | {"id"}}

    @graph("GET", "/{version}/me/accounts", allowed=("fields", "limit", "after"), token="user")
    async def my_pages(self, request: GraphRequest) -> FakeResponse:
        names = request.field_names() or {"id", "name", "access_token"}
        page = {
            "id": self.page_id,
            "name": PAGE_NAME,
            "access_token": self.page_token,
            "category": "Government Organization",
            "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MESSAGING", "MANAGE"],
        }
        data = [{k: v for k, v in page.items() if k in names | {"id"}}]
        return FakeResponse(json=self.page(request, data, "me/accounts", keep=("fields",)))

    # ------------------------------------------------------------------ insights
    @graph(
        "GET",
        "/{version}/{object_id}/insights",
        allowed=("metric", "period", "since", "until", "date_preset"),
        required=("metric",),
    )
    async def insights(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if object_id == self.page_id:
            known: dict[str, Any] = PAGE_METRICS
        elif object_id in self.posts:
            known = POST_METRICS
        elif object_id in self.videos:
            # A Video node has no ``insights`` edge: its metrics are on ``video_insights``.
            raise GraphError(100, "(#100) Tried accessing nonexisting field (insights) on node type (Video)")
        else:
            raise no_object(object_id, "get")
        period = request.params.get("period", "lifetime" if object_id != self.page_id else "day")
        return FakeResponse(json={"data": self._metric_values(request, object_id, known, "insights", period)})

    @graph("GET", "/{version}/{video_id}/video_insights", allowed=("metric", "period"))
    async def video_insights(self, request: GraphRequest, video_id: str) -> FakeResponse:
        """``GET /{video-id}/video_insights``: lifetime totals (Video Insights reference); without
        ``metric``, every metric of the video."""
        if video_id not in self.videos:
            raise no_object(video_id, "get")
        if request.params.get("period", "lifetime") != "lifetime":
            raise GraphError(100, "(#100) period must be one of the following values: lifetime")
        if not request.params.get("metric"):
            request.params["metric"] = ",".join(VIDEO_METRICS)
        return FakeResponse(json={"data": self._metric_values(request, video_id, VIDEO_METRICS, "video_insights")})

    def _metric_values(
        self, request: GraphRequest, object_id: str, known: dict[str, Any], edge: str, period: str = "lifetime"
    ) -> list[dict[str, Any]]:
        data = []
        for name in request.params["metric"].split(","):
            if name in DEPRECATED_METRICS or name not in known:
                raise GraphError(100, f"(#100) The value must be a valid insights metric: {name}")
            value: dict[str, Any] = {"value": known[name]}
            if edge == "insights":  # lifetime video totals carry no end_time
                value["end_time"] = graph_time(self.now())
            data.append(
                {
                    "name": name,
                    "period": period,
                    "values": [value],
                    "title": name,
                    "description": name,
                    "id": f"{object_id}/{edge}/{name}/{period}",
                }
            )
        return data

    # ------------------------------------------------------------------ comments
    @graph(
        "GET",
        "/{version}/{object_id}/comments",
        allowed=("fields", "filter", "order", "limit", "after", "summary", "since"),
    )
    async def read_comments(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if object_id not in self.posts and object_id not in self.comments:
            raise no_object(object_id, "get")
        if request.params.get("filter", "toplevel") not in ("stream", "toplevel"):
            raise GraphError(100, "(#100) filter must be one of the following values: toplevel, stream")
        found = [
            c for c in self.comments.values() if self._under(c, object_id, request.params.get("filter", "toplevel"))
        ]
        found.sort(
            key=lambda c: c["created"],
            reverse=request.params.get("order") == "reverse_chronological",
        )
        names = request.field_names() or {"id", "message", "created_time", "from"}
        data = [self._comment_fields(c, names) for c in found]
        keep = ("fields", "filter", "order")
        return FakeResponse(json=self.page(request, data, f"{object_id}/comments", keep=keep))

    def _under(self, comment: dict[str, Any], object_id: str, filter_: str) -> bool:
        if object_id in self.comments:  # a comment's comments are its replies
            return bool(comment["parent_id"] == object_id)
        if comment["post_id"] != object_id:
            return False
        return filter_ == "stream" or comment["parent_id"] is None

    def _comment_fields(self, comment: dict[str, Any], names: set[str]) -> dict[str, Any]:
        post_id = comment["post_id"]
        values: dict[str, Any] = {
            "id": comment["id"],
            "message": comment["message"],
            "from": comment["from"],
            "created_time": graph_time(comment["created"]),
            "permalink_url": f"{self.permalink(post_id)}?comment_id={comment['id'].split('_')[-1]}",
            "like_count": 0,
            "comment_count": sum(1 for c in self.comments.values() if c["parent_id"] == comment["id"]),
            "is_hidden": comment.get("is_hidden", False),
            "can_hide": comment["from"]["id"] != self.page_id,
            "can_remove": True,
        }
        parent = self.comments.get(comment["parent_id"] or "")
        if parent is not None:
            values["parent"] = {
                "id": parent["id"],
                "message": parent["message"],
                "from": parent["from"],
                "created_time": graph_time(parent["created"]),
            }
        return {k: v for k, v in values.items() if k in names | {"id"}}

    @graph(
        "POST",
        "/{version}/{object_id}/comments",
        allowed=("message", "attachment_url", "attachment_id"),
        token="page",
    )
    async def create_comment(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if not request.params.get("message") and not request.params.get("attachment_url"):
            raise GraphError(100, "(#100) Missing message or attachment")
        if object_id in self.posts:
            post_id, parent = object_id, None
        elif object_id in self.comments:
            post_id, parent = self.comments[object_id]["post_id"], object_id
        else:
            raise no_object(object_id, "post")
        comment_id = self.seed_comment(
            post_id,
            request.params.get("message", ""),
            author=(self.page_id, PAGE_NAME),
            parent_id=parent,
        )
        return FakeResponse(json={"id": comment_id})

    # ------------------------------------------------------------------ moderation
    @graph("POST", "/{version}/{object_id}", allowed=("is_hidden", "message"), token="page")
    async def update_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        """``POST /{comment-id}`` with ``is_hidden=true|false`` (or ``message`` to edit the Page's own)."""
        comment = self.comments.get(object_id)
        if comment is None:
            raise no_object(object_id, "post")
        self._require("pages_manage_engagement")
        raw = request.params.get("is_hidden")
        if raw is not None:
            if raw not in ("true", "false"):
                raise GraphError(100, "(#100) Param is_hidden must be a boolean")
            if comment["from"]["id"] == self.page_id:
                raise GraphError(100, "(#100) A Page cannot hide its own comment")
            comment["is_hidden"] = raw == "true"
        elif request.params.get("message"):
            if comment["from"]["id"] != self.page_id:
                raise GraphError(200, "(#200) Only the author can edit a comment")
            comment["message"] = request.params["message"]
        else:
            raise GraphError(100, "(#100) Nothing to update: give is_hidden or message")
        return FakeResponse(json={"success": True})

    @graph("POST", "/{version}/{page_id}/blocked", allowed=("user", "uid", "asid", "psid"), token="page")
    async def block_person(self, request: GraphRequest, page_id: str) -> FakeResponse:
        """``POST /{page-id}/blocked`` with ``user=<id>``: answers ``{"<id>": true}``."""
        self._own_page(page_id, "post")
        user = request.params.get("user") or request.params.get("uid") or request.params.get("psid")
        if not user:
            raise GraphError(100, "(#100) One of the parameters uid, user, asid, psid is required")
        if user == self.page_id:
            raise GraphError(100, "(#100) A Page cannot block itself")
        names = [c["from"]["name"] for c in self.comments.values() if c["from"]["id"] == user]
        names += [c["participant"]["name"] for c in self.conversations.values() if c["participant"]["id"] == user]
        self.blocked[user] = names[0] if names else ""
        return FakeResponse(json={user: True})

    @graph("GET", "/{version}/{page_id}/blocked", allowed=("fields", "limit", "after", "user", "uid"), token="page")
    async def read_blocked(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "get")
        data = [{"id": uid, "name": name} for uid, name in self.blocked.items()]
        return FakeResponse(json=self.page(request, data, f"{page_id}/blocked", keep=("fields",)))

    # ------------------------------------------------------------------ Messenger
    @graph(
        "GET",
        "/{version}/{page_id}/conversations",
        allowed=("platform", "fields", "limit", "after", "folder", "user_id"),
        token="page",
    )
    async def read_conversations(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "get")
        self._require("pages_messaging")
        if request.params.get("platform", "messenger") != "messenger":
            raise GraphError(100, "(#100) platform must be one of the following values: instagram, messenger")
        conversations = sorted(self.conversations.values(), key=lambda c: c["messages"][-1]["created"], reverse=True)
        if request.params.get("user_id"):  # the conversation with one person (their page-scoped id)
            conversations = [c for c in conversations if c["participant"]["id"] == request.params["user_id"]]
        data = [self._conversation_fields(request, c) for c in conversations]
        return FakeResponse(json=self.page(request, data, f"{page_id}/conversations", keep=("platform", "fields")))

    def _conversation_fields(self, request: GraphRequest, conversation: dict[str, Any]) -> dict[str, Any]:
        latest = conversation["messages"][-1]
        values: dict[str, Any] = {
            "id": conversation["id"],
            "updated_time": graph_time(latest["created"]),
            "snippet": latest["message"][:100],
            "message_count": len(conversation["messages"]),
        }
        names = request.field_names() or {"id", "updated_time"}
        result = {k: v for k, v in values.items() if k in names | {"id"}}
        nested = request.field("messages")
        if nested is not None:
            sub_names = {f.name for f in nested.sub} or {"id", "created_time"}
            limit = int(nested.modifiers.get("limit", "25"))
            messages = [self._message_fields(m, sub_names) for m in reversed(conversation["messages"])]
            result["messages"] = page_of(
                messages,
                limit=limit,
                after=None,
                next_base=self.edge_url(request, f"{conversation['id']}/messages"),
            )
        return result

    @staticmethod
    def _message_fields(message: dict[str, Any], names: set[str]) -> dict[str, Any]:
        values = {
            "id": message["id"],
            "message": message["message"],
            "from": message["from"],
            "created_time": graph_time(message["created"]),
        }
        return {k: v for k, v in values.items() if k in names | {"id"}}

    @graph(
        "GET",
        "/{version}/{conversation_id}/messages",
        allowed=("fields", "limit", "after"),
        token="page",
    )
    async def read_messages(self, request: GraphRequest, conversation_id: str) -> FakeResponse:
        self._require("pages_messaging")
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise no_object(conversation_id, "get")
        names = request.field_names() or {"id", "created_time"}
        data = [self._message_fields(m, names) for m in reversed(conversation["messages"])]
        return FakeResponse(json=self.page(request, data, f"{conversation_id}/messages", keep=("fields",)))

    @graph(
        "POST",
        "/{version}/{page_id}/messages",
        allowed=("recipient", "messaging_type", "message", "tag", "notification_type"),
        required=("recipient", "messaging_type", "message"),
        token="page",
    )
    async def send_message(self, request: GraphRequest, page_id: str) -> FakeResponse:
        self._own_page(page_id, "post")
        self._require("pages_messaging")
        if request.params["messaging_type"] not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise GraphError(100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        recipient, text = (
            _json_param(request, "recipient").get("id"),
            _json_param(request, "message").get("text"),
        )
        conversation = next((c for c in self.conversations.values() if c["participant"]["id"] == recipient), None)
        if conversation is None:
            raise GraphError(100, "(#100) No matching user found", subcode=2018001)
        if not text:
            raise GraphError(100, "(#100) Must send either message or state")
        message_id = f"m_{secrets.token_urlsafe(12)}"
        conversation["messages"].append(
            {
                "id": message_id,
                "message": text,
                "from": {"id": page_id, "name": PAGE_NAME},
                "created": self.now(),
            }
        )
        return FakeResponse(json={"recipient_id": recipient, "message_id": message_id})

    # ------------------------------------------------------------------ checks
    def _require(self, permission: str) -> None:
        if permission in self.withheld_permissions:
            raise GraphError(230, f"(#230) Requires {permission} permission to manage the object")

    def _own_page(self, page_id: str, method: str) -> None:
        if page_id != self.page_id:
            raise no_object(page_id, method)


def _bound(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise GraphError(100, f"(#100) since/until must be a unix timestamp, got {raw!r}") from exc


def _json_param(request: GraphRequest, name: str) -> dict[str, Any]:
    try:
        value = json.loads(request.params[name])
    except ValueError as exc:
        raise GraphError(100, f"(#100) param {name} must be a JSON object") from exc
    if not isinstance(value, dict):
        raise GraphError(100, f"(#100) param {name} must be a JSON object")
    return value
