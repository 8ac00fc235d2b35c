"""A faithful fake of the Instagram API with Facebook Login (graph.facebook.com, reference §2).

Professional accounts (IG users), each linked to its own Facebook Page and with its own access
token: :meth:`FakeInstagram.make_account` with no username gives the default one (``IG_USER_ID``,
``occitanie``, the fixed ``user_token``), with a username a separate user (its id, page and token
derived from the username, so they stay the same across resets and restarts). Every endpoint
finds the caller's user from the access token and answers Graph's "does not exist, cannot be
loaded due to missing permissions" (100/33) for another user's objects: its IG user id, its
media, containers and comments. Facebook Login (the consent page, ``/oauth/access_token``,
``/me/accounts``) connects the default account: the tokens it issues are the default user's.
Publishing follows the
container flow: ``POST /{ig-user-id}/media`` creates a container IN_PROGRESS that turns
FINISHED after ``processing_polls`` reads of its ``status_code`` (or ERROR when told with
:meth:`FakeInstagram.fail_next_container`), then ``POST /{ig-user-id}/media_publish``
publishes it against the ``content_publishing_limit`` quota.

Inbox data, each with a chosen time (``created=``), on the default account unless given another
(``account=``: an :class:`AccountRef` from :meth:`~FakeInstagram.make_account`, an IG user id or a
username; a comment is on its media's account): :meth:`FakeInstagram.seed_media` (our media),
:meth:`FakeInstagram.seed_comment` (a comment, or a reply with ``parent_id``; returns its id),
:meth:`FakeInstagram.seed_mention` (an @-mention in a comment or caption elsewhere; its id) and
:meth:`FakeInstagram.seed_message` (a direct message; the stored message, ``mid``). Mentions and
messages reach the plugin by webhook only (:meth:`FakeInstagram.signed_webhook`), as the plugin
polls comments only. Moderation: ``POST /{ig-comment-id}?hide=``, ``DELETE /{ig-comment-id}``;
state in :meth:`~FakeInstagram.is_hidden`, :meth:`~FakeInstagram.is_deleted`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from core.channels import AccountRef, Credentials
from plugins.testing.fake import FakeResponse
from plugins.testing.fakes._meta import (
    GraphError,
    GraphFake,
    GraphRequest,
    graph,
    graph_time,
    missing,
    no_object,
    page_of,
)

IG_USER_ID = "17841400000000001"
PAGE_ID = "104857600123456"
USERNAME = "occitanie"
#: distinct hashtags an IG user may query in a rolling 7 days (Meta's hashtag search limit)
HASHTAG_LIMIT = 30
HASHTAG_WINDOW = timedelta(days=7)
#: what ``/{hashtag-id}/recent_media`` may return (no owner, no username)
HASHTAG_MEDIA_FIELDS = frozenset(
    {"id", "caption", "media_type", "permalink", "timestamp", "comments_count", "like_count", "media_url"}
)
CONTAINER_PARAMS = (
    "image_url",
    "video_url",
    "media_type",
    "caption",
    "alt_text",
    "is_carousel_item",
    "children",
    "location_id",
    "user_tags",
    "product_tags",
    "collaborators",
    "share_to_feed",
    "cover_url",
    "thumb_offset",
    "audio_name",
)
USER_METRICS = {
    "reach": 8200,
    "views": 15400,
    "accounts_engaged": 610,
    "total_interactions": 1320,
    "follower_count": 41,
}
MEDIA_METRICS = {
    "views": 2100,
    "reach": 1800,
    "likes": 240,
    "comments": 12,
    "shares": 9,
    "saved": 31,
    "total_interactions": 292,
}
DEPRECATED_METRICS = {
    "impressions",
    "plays",
    "video_views",
    "clips_replays_count",
    "ig_reels_aggregated_all_plays_count",
}
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "ERROR": "Error: Media upload has failed with error code 2207026",
    "EXPIRED": "Expired: The container was not published within 24 hours.",
    "PUBLISHED": "Published: Media has been published.",
}


@dataclass
class IgUser:
    """One professional account: its identity (kept across resets, like its token) and its counters."""

    id: str
    username: str
    name: str
    token: str
    page_id: str
    page_name: str
    quota_total: int
    quota_usage: int = 0
    followers_count: int = 99_000
    follows_count: int = 180


#: an IG user is given as its AccountRef, its id or its username; None is the default account
Owner = AccountRef | str | None


def _digits(username: str, width: int) -> str:
    return str(int(hashlib.sha256(username.encode()).hexdigest(), 16) % 10**width).zfill(width)


class FakeInstagram(GraphFake):
    key = "instagram"
    name = "Instagram (simulated)"
    buc_type = "instagram"

    def __init__(self, *, quota_total: int = 100, processing_polls: int = 1, loopback_media: bool = False) -> None:
        #: fetch media from 127.0.0.1 over plain HTTP too: the demo's simulated Instagram, which runs
        #: beside the instance (the real one fetches public HTTPS URLs only)
        self.loopback_media = loopback_media
        self.ig_user_id = IG_USER_ID
        self.business_id = IG_USER_ID
        self.processing_polls = processing_polls
        self._quota_total = quota_total
        default = IgUser(IG_USER_ID, USERNAME, "Occitanie", self.user_token, PAGE_ID, "Région Occitanie", quota_total)
        #: the IG users by id; the default one first
        self.users: dict[str, IgUser] = {IG_USER_ID: default}
        super().__init__()

    def setup(self) -> None:
        super().setup()
        # Every object below carries its IG user's id (``owner``); the dicts are the whole network's.
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        #: @-mentions of an account elsewhere (in a comment or a caption of someone else's media), by id
        self.mentions: dict[str, dict[str, Any]] = {}
        #: direct messages received (Messenger API for Instagram), by mid
        self.messages: dict[str, dict[str, Any]] = {}
        #: comments deleted (with their replies): gone from every listing, ``DELETE`` again says 100/33
        self.deleted_comments: set[str] = set()
        for user in self.users.values():
            user.quota_usage, user.followers_count, user.follows_count = 0, 99_000, 180
        self._next_container_status: list[str] = []
        #: IG user id -> hashtag -> when it was first queried (the rolling 7-day window)
        self.hashtag_queries: dict[str, dict[str, datetime]] = {}
        self._hashtags: set[str] = set()

    # ------------------------------------------------------------------ the default account's counters
    @property
    def quota_usage(self) -> int:
        return self.users[IG_USER_ID].quota_usage

    @quota_usage.setter
    def quota_usage(self, value: int) -> None:
        self.users[IG_USER_ID].quota_usage = value

    @property
    def quota_total(self) -> int:
        return self.users[IG_USER_ID].quota_total

    @quota_total.setter
    def quota_total(self, value: int) -> None:
        self.users[IG_USER_ID].quota_total = value

    @property
    def followers_count(self) -> int:
        return self.users[IG_USER_ID].followers_count

    @followers_count.setter
    def followers_count(self, value: int) -> None:
        self.users[IG_USER_ID].followers_count = value

    # ------------------------------------------------------------------ helpers for tests
    def make_account(self, username: str | None = None, *, name: str = "") -> AccountRef:
        """The account the plugin receives: the default one without ``username`` (or with its
        username, ``occitanie``); otherwise the IG user of that username, created on first call
        with its own id, Facebook Page, token, media, comments, messages and publishing limit."""
        user = self.user(username) if username is None or username == USERNAME else self._named(username, name)
        return AccountRef(
            external_id=user.id,
            handle=user.username,
            credentials=Credentials(access_token=user.token, extra={"page_id": user.page_id}),
        )

    def _named(self, username: str, name: str) -> IgUser:
        user_id = "178414" + _digits(username, 11)
        if user_id not in self.users:
            token, page_id = f"EAAfake-ig-{_digits(username + '/token', 16)}", "1048576" + _digits(username, 8)
            label = name or username
            self.users[user_id] = IgUser(user_id, username, label, token, page_id, label, self._quota_total)
            self.tokens[token] = "user"
        return self.users[user_id]

    def user(self, account: Owner = None) -> IgUser:
        """The IG user ``account`` names (an AccountRef, an IG user id or a username; None: the default)."""
        if account is None:
            return self.users[IG_USER_ID]
        key = account.external_id if isinstance(account, AccountRef) else account
        found = self.users.get(key) or next((u for u in self.users.values() if u.username == key), None)
        if found is None:
            raise KeyError(f"no IG user {key!r} on this fake (make_account creates one)")
        return found

    def _caller(self, request: GraphRequest) -> IgUser:
        # Tokens of Facebook Login (short-lived ones included) are the default user's.
        return next((u for u in self.users.values() if u.token == request.token), self.users[IG_USER_ID])

    def _owned(self, store: dict[str, dict[str, Any]], object_id: str, request: GraphRequest) -> dict[str, Any] | None:
        """The caller's object of that id in ``store``; None when absent or another user's."""
        found = store.get(object_id)
        return found if found is not None and found["owner"] == self._caller(request).id else None

    def fail_next_container(self, status: str = "ERROR") -> None:
        """The next container created ends in ``status`` (ERROR or EXPIRED) instead of FINISHED."""
        self._next_container_status.append(status)

    def seed_media(
        self, caption: str, *, created: datetime | None = None, product: str = "FEED", account: Owner = None
    ) -> str:
        media_id = self.new_id()
        self.media[media_id] = {
            "id": media_id,
            "owner": self.user(account).id,
            "caption": caption,
            "media_type": "IMAGE",
            "media_product_type": product,
            "created": created or self.now(),
            "shortcode": f"C{media_id[-8:]}",
        }
        return media_id

    def seed_comment(
        self,
        media_id: str,
        text: str,
        *,
        username: str = "camille.m",
        user_id: str = "17800000000000999",
        parent_id: str | None = None,
        created: datetime | None = None,
    ) -> str:
        """A comment on ``media_id`` (on that media's account), by ``username``/``user_id``."""
        comment_id = self.new_id()
        self.comments[comment_id] = {
            "id": comment_id,
            "owner": self.media[media_id]["owner"],
            "media_id": media_id,
            "text": text,
            "username": username,
            "from": {"id": user_id, "username": username},
            "parent_id": parent_id,
            "created": created or self.now(),
            "hidden": False,
        }
        return comment_id

    def is_hidden(self, comment_id: str) -> bool:
        """Whether the comment is hidden (its ``hidden`` field); conformance reads moderation state here."""
        return bool(self.comments[comment_id]["hidden"])

    def is_deleted(self, comment_id: str) -> bool:
        return comment_id in self.deleted_comments and comment_id not in self.comments

    def seed_mention(
        self,
        text: str,
        *,
        username: str = "camille.m",
        user_id: str = "17800000000000999",
        in_caption: bool = False,
        created: datetime | None = None,
        account: Owner = None,
    ) -> str:
        """Someone mentions the account on *their* media: in a comment on it, or in its caption
        (``in_caption``). Returns the mention's id: the comment's, or the media's for a caption."""
        mentioned = self.user(account)
        media_id = self.new_id()
        comment_id = None if in_caption else self.new_id()
        mention_id = comment_id or media_id
        self.mentions[mention_id] = {
            "id": mention_id,
            "owner": mentioned.id,
            "media_id": media_id,
            "comment_id": comment_id,
            "text": text if f"@{mentioned.username}" in text else f"@{mentioned.username} {text}",
            "from": {"id": user_id, "username": username},
            "created": created or self.now(),
        }
        return mention_id

    def seed_message(
        self,
        text: str,
        *,
        user_id: str = "17800000000000999",
        created: datetime | None = None,
        account: Owner = None,
    ) -> dict[str, Any]:
        """The person ``user_id`` (an IGSID) sends the account a direct message; returns it (``mid``)."""
        recipient = self.user(account).id
        message = {
            "mid": f"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj{self.new_id()}",
            "owner": recipient,
            "text": text,
            "sender": user_id,
            "recipient": recipient,
            "created": created or self.now(),
        }
        self.messages[message["mid"]] = message
        return message

    def sign(self, body: bytes, *, secret: str | None = None) -> str:
        """The ``X-Hub-Signature-256`` Meta would send for ``body`` (signed with the app secret)."""
        key = (secret or self.app_secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def signed_webhook(self, item_id: str, *, secret: str | None = None) -> tuple[dict[str, str], bytes]:
        """The webhook Meta would POST (object ``instagram``) for a comment or reply, a mention or a
        direct message this fake holds: ``(headers, raw body)``, headers lower-cased.

        Comments come as a ``comments`` change (``id``, ``text``, ``from``, ``media``, ``parent_id``),
        mentions as a ``mentions`` change (``media_id``, ``comment_id``: ids only, as Meta sends
        them), messages as a ``messaging`` event (``sender``, ``recipient``, ``timestamp``,
        ``message.mid/text``), under the entry of the item's IG user (``entry.id``).
        """
        created = self.now()
        found = self.comments.get(item_id) or self.mentions.get(item_id) or self.messages.get(item_id) or {}
        entry: dict[str, Any] = {"id": found.get("owner", self.ig_user_id), "time": int(created.timestamp())}
        if item_id in self.comments:
            entry["changes"] = [{"field": "comments", "value": self._comment_value(self.comments[item_id])}]
        elif item_id in self.mentions:
            mention = self.mentions[item_id]
            value = {"media_id": mention["media_id"]} | (
                {"comment_id": mention["comment_id"]} if mention["comment_id"] else {}
            )
            entry["changes"] = [{"field": "mentions", "value": value}]
        elif item_id in self.messages:
            message = self.messages[item_id]
            entry["messaging"] = [
                {
                    "sender": {"id": message["sender"]},
                    "recipient": {"id": message["recipient"]},
                    "timestamp": int(message["created"].timestamp() * 1000),
                    "message": {"mid": message["mid"], "text": message["text"]},
                }
            ]
        else:
            raise KeyError(f"no comment, mention or message {item_id!r} on this fake")
        body = json.dumps({"object": "instagram", "entry": [entry]}).encode()
        return {"content-type": "application/json", "x-hub-signature-256": self.sign(body, secret=secret)}, body

    def _comment_value(self, comment: dict[str, Any]) -> dict[str, Any]:
        media = self.media.get(comment["media_id"], {})
        value: dict[str, Any] = {
            "from": comment["from"],
            "media": {"id": comment["media_id"], "media_product_type": media.get("media_product_type", "FEED")},
            "id": comment["id"],
            "text": comment["text"],
        }
        if comment["parent_id"]:
            value["parent_id"] = comment["parent_id"]
        return value

    # ------------------------------------------------------------------ containers
    @graph("POST", "/{version}/{ig_user_id}/media", allowed=CONTAINER_PARAMS)
    async def create_container(self, request: GraphRequest, ig_user_id: str) -> FakeResponse:
        user = self._own_user(request, ig_user_id, "post")
        container = self._container_from(request.params, user)
        container_id = self.new_id()
        final = self._next_container_status.pop(0) if self._next_container_status else "FINISHED"
        self.containers[container_id] = {
            **container,
            "id": container_id,
            "owner": user.id,
            "polls_left": self.processing_polls,
            "final": final,
            "status_code": "IN_PROGRESS",
            "created": self.now(),
        }
        return FakeResponse(json={"id": container_id})

    def _container_from(self, params: dict[str, str], user: IgUser) -> dict[str, Any]:
        media_type = params.get("media_type", "IMAGE")
        carousel_item = params.get("is_carousel_item") == "true"
        checks = {
            "IMAGE": self._image_container,
            "REELS": self._reel_container,
            "VIDEO": self._video_item_container,
            "STORIES": self._story_container,
            # a carousel's children must be containers of the same user
            "CAROUSEL": lambda p, _: self._carousel_container(p, user),
        }
        if media_type not in checks:
            raise GraphError(
                100,
                "(#100) media_type must be one of the following values: CAROUSEL, REELS, STORIES, VIDEO",
            )
        if carousel_item and params.get("caption"):
            raise GraphError(100, "(#100) The parameter caption is not supported for carousel items")
        if carousel_item and media_type not in ("IMAGE", "VIDEO"):
            raise GraphError(100, "(#100) Only images and videos can be carousel items")
        checks[media_type](params, carousel_item)
        for url_param in ("image_url", "video_url"):
            if params.get(url_param) and not self._fetchable(params[url_param]):
                raise GraphError(9004, "The media could not be fetched from this URI", subcode=2207052)
        return {"media_type": media_type, "params": dict(params), "carousel_item": carousel_item}

    def _fetchable(self, url: str) -> bool:
        if url.startswith("https://"):
            return True
        host = urlsplit(url).hostname or ""
        return self.loopback_media and url.startswith("http://") and host in ("127.0.0.1", "localhost", "::1")

    @staticmethod
    def _image_container(params: dict[str, str], carousel_item: bool) -> None:
        if not params.get("image_url"):
            raise GraphError(100, "(#100) The parameter image_url is required")
        if params.get("video_url"):
            raise GraphError(100, "(#100) video_url requires media_type REELS, STORIES or VIDEO")

    @staticmethod
    def _reel_container(params: dict[str, str], carousel_item: bool) -> None:
        if not params.get("video_url"):
            raise GraphError(100, "(#100) The parameter video_url is required")
        if params.get("image_url") or params.get("alt_text"):
            raise GraphError(100, "(#100) image_url and alt_text are not supported for REELS")

    @staticmethod
    def _video_item_container(params: dict[str, str], carousel_item: bool) -> None:
        # Since 2023 a single feed video is a reel; VIDEO only exists as a carousel child.
        if not carousel_item:
            raise GraphError(100, "(#100) media_type VIDEO is only supported for carousel items; use REELS")
        if not params.get("video_url") or params.get("alt_text"):
            raise GraphError(100, "(#100) A VIDEO carousel item needs video_url and takes no alt_text")

    @staticmethod
    def _story_container(params: dict[str, str], carousel_item: bool) -> None:
        if bool(params.get("image_url")) == bool(params.get("video_url")):
            raise GraphError(100, "(#100) A story needs exactly one of image_url or video_url")
        if params.get("caption") or params.get("alt_text"):
            raise GraphError(100, "(#100) caption and alt_text are not supported for STORIES")

    def _carousel_container(self, params: dict[str, str], user: IgUser) -> None:
        children = [c for c in params.get("children", "").split(",") if c]
        if not 2 <= len(children) <= 10:
            raise GraphError(100, "(#100) The carousel needs between 2 and 10 children", subcode=2207027)
        for child in children:
            container = self.containers.get(child)
            if container is None or container["owner"] != user.id or not container["carousel_item"]:
                raise GraphError(100, f"(#100) {child} is not a carousel item container of this account")
            if container["status_code"] != "FINISHED":
                raise GraphError(
                    9007,
                    "The media is not ready for publishing, please wait for a moment",
                    subcode=2207027,
                )
        if params.get("image_url") or params.get("video_url") or params.get("alt_text"):
            raise GraphError(100, "(#100) A CAROUSEL container takes children, not media URLs")

    # ------------------------------------------------------------------ publishing
    @graph(
        "POST",
        "/{version}/{ig_user_id}/media_publish",
        allowed=("creation_id",),
        required=("creation_id",),
    )
    async def publish(self, request: GraphRequest, ig_user_id: str) -> FakeResponse:
        user = self._own_user(request, ig_user_id, "post")
        container = self._owned(self.containers, request.params["creation_id"], request)
        if container is None or container["carousel_item"]:
            raise GraphError(100, "(#100) creation_id is not a publishable container", subcode=2207027)
        if container["status_code"] != "FINISHED":
            raise GraphError(
                9007,
                "The media is not ready for publishing, please wait for a moment",
                subcode=2207027,
            )
        if user.quota_usage >= user.quota_total:
            raise GraphError(
                9,
                "Application request limit reached",
                subcode=2207042,
                user_title="Publishing limit",
                user_msg="You reached maximum number of posts that is allowed to be published.",
            )
        user.quota_usage += 1
        container["status_code"] = "PUBLISHED"
        media_id = self.new_id()
        kind = {
            "REELS": ("VIDEO", "REELS"),
            "STORIES": ("IMAGE", "STORY"),
            "CAROUSEL": ("CAROUSEL_ALBUM", "FEED"),
        }
        media_type, product = kind.get(container["media_type"], ("IMAGE", "FEED"))
        self.media[media_id] = {
            "id": media_id,
            "owner": user.id,
            "caption": container["params"].get("caption"),
            "media_type": media_type,
            "media_product_type": product,
            "created": self.now(),
            "shortcode": f"C{media_id[-8:]}",
            "container": container["id"],
        }
        return FakeResponse(json={"id": media_id})

    @graph("GET", "/{version}/{ig_user_id}/content_publishing_limit", allowed=("fields", "since"))
    async def publishing_limit(self, request: GraphRequest, ig_user_id: str) -> FakeResponse:
        user = self._own_user(request, ig_user_id, "get")
        names = request.field_names() or {"quota_usage"}
        entry: dict[str, Any] = {"quota_usage": user.quota_usage}
        if "config" in names:
            entry["config"] = {"quota_total": user.quota_total, "quota_duration": 86400}
        return FakeResponse(json={"data": [entry]})

    # ------------------------------------------------------------------ hashtags
    @graph("GET", "/{version}/ig_hashtag_search", allowed=("user_id", "q"), required=("user_id", "q"))
    async def hashtag_search(self, request: GraphRequest) -> FakeResponse:
        """A hashtag's id, for an IG user: at most :data:`HASHTAG_LIMIT` distinct hashtags in a
        rolling 7 days per IG user (a repeated query of a tag already counted is free)."""
        user = self._own_user(request, request.params["user_id"], "get")
        tag = request.params["q"].strip().lstrip("#").lower()
        if not re.fullmatch(r"\w+", tag):
            raise GraphError(100, "(#100) Invalid hashtag", subcode=2207035)
        now = self.now()
        queried = self.hashtag_queries.setdefault(user.id, {})
        for old in [t for t, at in queried.items() if now - at > HASHTAG_WINDOW]:
            del queried[old]
        if tag not in queried and len(queried) >= HASHTAG_LIMIT:
            raise GraphError(
                24,
                f"(#24) You have reached the limit of {HASHTAG_LIMIT} unique hashtags queried in 7 days",
                subcode=2207034,
            )
        queried.setdefault(tag, now)
        return FakeResponse(json={"data": [{"id": self.hashtag_id(tag)}]})

    @graph(
        "GET",
        "/{version}/{hashtag_id}/recent_media",
        allowed=("user_id", "fields", "limit", "after"),
        required=("user_id",),
    )
    async def hashtag_recent_media(self, request: GraphRequest, hashtag_id: str) -> FakeResponse:
        """Public media of the last 24 hours carrying the hashtag in their caption, newest first;
        no owner or username (Graph does not give them for hashtag media)."""
        self._own_user(request, request.params["user_id"], "get")
        tag = next((t for t in self._hashtags if self.hashtag_id(t) == hashtag_id), None)
        if tag is None:
            raise no_object(hashtag_id, "get")
        names = request.field_names() or {"id"}
        unknown = names - HASHTAG_MEDIA_FIELDS
        if unknown:
            raise GraphError(100, f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]})")
        since = self.now() - timedelta(hours=24)
        found = [
            m
            for m in self.media.values()
            if m["created"] >= since and f"#{tag}" in {w.lower() for w in re.findall(r"#\w+", m.get("caption") or "")}
        ]
        found.sort(key=lambda m: m["created"], reverse=True)
        rows = [{k: v for k, v in self._media_fields(m).items() if k in names | {"id"}} for m in found]
        keep = ("user_id", "fields")
        return FakeResponse(json=self.page(request, rows, f"{hashtag_id}/recent_media", keep=keep))

    def hashtag_id(self, tag: str) -> str:
        tag = tag.lstrip("#").lower()
        self._hashtags.add(tag)
        return "178438" + _digits("#" + tag, 11)

    # ------------------------------------------------------------------ objects
    @graph("GET", "/{version}/{object_id}", allowed=("fields",))
    async def read_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        names = request.field_names() or {"id"}
        user = self._caller(request)
        if object_id == user.id:
            values: dict[str, Any] = {
                "id": object_id,
                "username": user.username,
                "name": user.name,
                "followers_count": user.followers_count,
                "follows_count": user.follows_count,
                "media_count": sum(1 for m in self.media.values() if m["owner"] == user.id),
            }
        elif container := self._owned(self.containers, object_id, request):
            values = self._poll(container)
        elif media := self._owned(self.media, object_id, request):
            values = self._media_fields(media)
        elif comment := self._owned(self.comments, object_id, request):
            # A top-level comment has no parent_id: Graph leaves the field out, it is no error.
            values = {"parent_id": None, **self._plain_comment(comment, names)}
        else:
            raise no_object(object_id, "get")
        unknown = names - values.keys()
        if unknown:
            raise GraphError(100, f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]})")
        return FakeResponse(json={k: v for k, v in values.items() if k in names | {"id"} and v is not None})

    def _poll(self, container: dict[str, Any]) -> dict[str, Any]:
        if container["status_code"] == "IN_PROGRESS":
            if container["polls_left"] > 0:
                container["polls_left"] -= 1
            else:
                container["status_code"] = container["final"]
        status = container["status_code"]
        return {"id": container["id"], "status_code": status, "status": STATUS_TEXT[status]}

    def _media_fields(self, media: dict[str, Any]) -> dict[str, Any]:
        values = {
            "id": media["id"],
            "caption": media.get("caption"),
            "media_type": media["media_type"],
            "media_product_type": media["media_product_type"],
            "timestamp": graph_time(media["created"]),
            "permalink": f"https://www.instagram.com/p/{media['shortcode']}/",
            "username": self.users[media["owner"]].username,
            "comments_count": sum(1 for c in self.comments.values() if c["media_id"] == media["id"]),
        }
        return {k: v for k, v in values.items() if v is not None}

    @graph("DELETE", "/{version}/{object_id}")
    async def delete_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if self._owned(self.media, object_id, request):
            del self.media[object_id]
        elif self._owned(self.comments, object_id, request):
            # a comment's replies go with it
            gone = {object_id} | {c["id"] for c in self.comments.values() if c["parent_id"] == object_id}
            for comment_id in gone:
                del self.comments[comment_id]
            self.deleted_comments |= gone
        else:
            raise no_object(object_id, "delete")
        return FakeResponse(json={"success": True})

    @graph("POST", "/{version}/{object_id}", allowed=("hide", "comment_enabled"))
    async def update_object(self, request: GraphRequest, object_id: str) -> FakeResponse:
        """``POST /{ig-comment-id}?hide=true|false``; ``POST /{ig-media-id}?comment_enabled=…``."""
        if self._owned(self.comments, object_id, request):
            raw = request.params.get("hide")
            if raw not in ("true", "false"):
                raise GraphError(100, "(#100) Param hide must be a boolean") if raw else missing("hide")
            self.comments[object_id]["hidden"] = raw == "true"
        elif self._owned(self.media, object_id, request):
            raw = request.params.get("comment_enabled")
            if raw not in ("true", "false"):
                raise missing("comment_enabled")
            self.media[object_id]["comment_enabled"] = raw == "true"
        else:
            raise no_object(object_id, "post")
        return FakeResponse(json={"success": True})

    @graph(
        "GET",
        "/{version}/{ig_user_id}/media",
        allowed=("fields", "since", "until", "limit", "after"),
    )
    async def list_media(self, request: GraphRequest, ig_user_id: str) -> FakeResponse:
        return self._list(request, ig_user_id, stories=False)

    @graph("GET", "/{version}/{ig_user_id}/stories", allowed=("fields", "limit", "after"))
    async def list_stories(self, request: GraphRequest, ig_user_id: str) -> FakeResponse:
        return self._list(request, ig_user_id, stories=True)

    def _list(self, request: GraphRequest, ig_user_id: str, *, stories: bool) -> FakeResponse:
        user = self._own_user(request, ig_user_id, "get")
        since, until = request.params.get("since"), request.params.get("until")
        found = [
            m
            for m in self.media.values()
            if m["owner"] == user.id
            and (m["media_product_type"] == "STORY") == stories
            and (not since or m["created"].timestamp() >= float(since))
            and (not until or m["created"].timestamp() <= float(until))
        ]
        found.sort(key=lambda m: m["created"], reverse=True)
        names = request.field_names() or {"id"}
        data = [{k: v for k, v in self._media_fields(m).items() if k in names | {"id"}} for m in found]
        edge = "stories" if stories else "media"
        return FakeResponse(json=self.page(request, data, f"{ig_user_id}/{edge}", keep=("fields", "since", "until")))

    # ------------------------------------------------------------------ comments
    @graph("GET", "/{version}/{media_id}/comments", allowed=("fields", "limit", "after"))
    async def list_comments(self, request: GraphRequest, media_id: str) -> FakeResponse:
        if not self._owned(self.media, media_id, request):
            raise no_object(media_id, "get")
        top = sorted(
            (c for c in self.comments.values() if c["media_id"] == media_id and not c["parent_id"]),
            key=lambda c: c["created"],
        )
        data = [self._comment_fields(request, c) for c in top]
        return FakeResponse(json=self.page(request, data, f"{media_id}/comments", keep=("fields",)))

    @graph("GET", "/{version}/{comment_id}/replies", allowed=("fields", "limit", "after"))
    async def list_replies(self, request: GraphRequest, comment_id: str) -> FakeResponse:
        if not self._owned(self.comments, comment_id, request):
            raise no_object(comment_id, "get")
        names = request.field_names() or {"id", "text", "timestamp"}
        data = [self._plain_comment(c, names) for c in self._replies(comment_id)]
        return FakeResponse(json=self.page(request, data, f"{comment_id}/replies", keep=("fields",)))

    def _replies(self, comment_id: str) -> list[dict[str, Any]]:
        return sorted(
            (c for c in self.comments.values() if c["parent_id"] == comment_id),
            key=lambda c: c["created"],
        )

    def _comment_fields(self, request: GraphRequest, comment: dict[str, Any]) -> dict[str, Any]:
        result = self._plain_comment(comment, request.field_names() or {"id", "text", "timestamp"})
        nested = request.field("replies")
        if nested is not None:
            sub = {f.name for f in nested.sub} or {"id", "text", "timestamp"}
            replies = [self._plain_comment(r, sub) for r in self._replies(comment["id"])]
            limit = int(nested.modifiers.get("limit", "25"))
            if replies:
                result["replies"] = page_of(
                    replies,
                    limit=limit,
                    after=None,
                    next_base=self.edge_url(request, f"{comment['id']}/replies"),
                )
        return result

    @staticmethod
    def _plain_comment(comment: dict[str, Any], names: set[str]) -> dict[str, Any]:
        values = {
            "id": comment["id"],
            "text": comment["text"],
            "timestamp": graph_time(comment["created"]),
            "username": comment["username"],
            "from": comment["from"],
            "parent_id": comment["parent_id"],
            "like_count": 0,
            "hidden": comment.get("hidden", False),
            "media": {"id": comment["media_id"]},
        }
        return {k: v for k, v in values.items() if k in names | {"id"} and v is not None}

    @graph("POST", "/{version}/{comment_id}/replies", allowed=("message",), required=("message",))
    async def create_reply(self, request: GraphRequest, comment_id: str) -> FakeResponse:
        comment = self._owned(self.comments, comment_id, request)
        if comment is None:
            raise no_object(comment_id, "post")
        if comment["parent_id"]:
            raise GraphError(100, "(#100) Replies can only be made to top-level comments")
        user = self._caller(request)
        reply_id = self.seed_comment(
            comment["media_id"],
            request.params["message"],
            username=user.username,
            user_id=user.id,
            parent_id=comment_id,
        )
        return FakeResponse(json={"id": reply_id})

    @graph("POST", "/{version}/{media_id}/comments", allowed=("message",), required=("message",))
    async def create_comment(self, request: GraphRequest, media_id: str) -> FakeResponse:
        if not self._owned(self.media, media_id, request):
            raise no_object(media_id, "post")
        user = self._caller(request)
        comment_id = self.seed_comment(media_id, request.params["message"], username=user.username, user_id=user.id)
        return FakeResponse(json={"id": comment_id})

    # ------------------------------------------------------------------ insights
    @graph(
        "GET",
        "/{version}/{object_id}/insights",
        allowed=("metric", "period", "metric_type", "since", "until", "breakdown", "timeframe"),
        required=("metric",),
    )
    async def insights(self, request: GraphRequest, object_id: str) -> FakeResponse:
        if object_id == self._caller(request).id:
            known, period = USER_METRICS, request.params.get("period")
            if not period:
                raise GraphError(100, "(#100) The parameter period is required")
        elif self._owned(self.media, object_id, request):
            known, period = MEDIA_METRICS, "lifetime"
        else:
            raise no_object(object_id, "get")
        total = request.params.get("metric_type") == "total_value"
        data = []
        for name in request.params["metric"].split(","):
            if name in DEPRECATED_METRICS or name not in known:
                raise GraphError(100, f"(#100) metric[0] must be one of the following values: {', '.join(known)}")
            entry: dict[str, Any] = {
                "name": name,
                "period": period,
                "title": name,
                "description": name,
                "id": f"{object_id}/insights/{name}/{period}",
            }
            if total:
                entry["total_value"] = {"value": known[name]}
            else:
                entry["values"] = [{"value": known[name], "end_time": graph_time(self.now())}]
            data.append(entry)
        return FakeResponse(json={"data": data})

    # ------------------------------------------------------------------ account discovery
    @graph("GET", "/{version}/me/accounts", allowed=("fields", "limit", "after"), token="user")
    async def my_pages(self, request: GraphRequest) -> FakeResponse:
        # The person's Page: the default account's for a Facebook Login token, a named user's for its own.
        names = request.field_names() or {"id", "name"}
        user = self._caller(request)
        page = {"id": user.page_id, "name": user.page_name, "instagram_business_account": {"id": user.id}}
        data = [{k: v for k, v in page.items() if k in names | {"id"}}]
        return FakeResponse(json=self.page(request, data, "me/accounts", keep=("fields",)))

    def _own_user(self, request: GraphRequest, ig_user_id: str, method: str) -> IgUser:
        """The caller's IG user, when the path names it; another user's id is no object to this token."""
        user = self._caller(request)
        if ig_user_id != user.id:
            raise no_object(ig_user_id, method)
        return user
