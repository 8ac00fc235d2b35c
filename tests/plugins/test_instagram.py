"""The Instagram plugin against its fake Graph API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.channels import (
    AccountRef,
    Ambiguous,
    ChannelSettings,
    Credentials,
    CredentialsExpired,
    Draft,
    Feature,
    Format,
    InboxKind,
    MediaItem,
    MediaKind,
    NotSupported,
    RateLimited,
    Rejected,
    RemoteItem,
    Transient,
    UsageReport,
    validate_draft,
)
from plugins.channels.instagram import InstagramPlugin
from plugins.testing import ReceivedRequest, serve_in_thread
from plugins.testing.fakes.instagram import IG_USER_ID, FakeInstagram

pytestmark = pytest.mark.anyio

TOKEN = FakeInstagram.user_token
AUTH = f"Bearer {TOKEN}"
V = r"^/v23\.0"


def image(n: int = 1, **kw: object) -> MediaItem:
    return MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url=f"https://cdn.example.org/{n}.jpg", **kw)  # type: ignore[arg-type]


def video(n: int = 1) -> MediaItem:
    return MediaItem(
        kind=MediaKind.VIDEO, content_type="video/mp4", url=f"https://cdn.example.org/{n}.mp4", duration_s=20
    )


class Recorder:
    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeInstagram, str]]:
    fake = FakeInstagram(processing_polls=1)
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeInstagram, str]) -> FakeInstagram:
    served[0].reset()
    return served[0]


def settings_for(url: str, **extra: str) -> ChannelSettings:
    return ChannelSettings(
        base_url=url,
        client_id=FakeInstagram.app_id,
        client_secret=FakeInstagram.app_secret,
        redirect_uri="https://portevoix.example/oauth/instagram/callback",
        extra={
            "graph_version": "v23.0",
            "oauth_dialog_base": url,
            "poll_interval": "0.01",
            "poll_attempts": "5",
            "inbox_page_size": "2",
            **extra,
        },
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def plugin(
    served: tuple[FakeInstagram, str], fake: FakeInstagram, recorder: Recorder
) -> AsyncIterator[InstagramPlugin]:
    plugin = InstagramPlugin(
        settings_for(served[1]), http=httpx.AsyncClient(timeout=httpx.Timeout(1.0)), usage=recorder
    )
    yield plugin
    await plugin.aclose()


@pytest.fixture
def account(fake: FakeInstagram) -> AccountRef:
    return fake.make_account()


def trail(fake: FakeInstagram) -> list[tuple[str, str]]:
    """The calls received, ids replaced by their role, to compare whole flows."""
    names = {
        IG_USER_ID: "{ig}",
        **{cid: "{container}" for cid in fake.containers},
        **{mid: "{media}" for mid in fake.media},
    }
    return [(r.method, "/".join(names.get(part, part) for part in r.path.split("/"))) for r in fake.received]


def container_forms(fake: FakeInstagram) -> list[dict[str, str]]:
    return [r.form for r in fake.requests_to("POST", rf"{V}/{IG_USER_ID}/media$")]


# --------------------------------------------------------------------------- publishing


async def test_publish_photo_runs_the_container_flow(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef, recorder: Recorder
) -> None:
    draft = Draft(
        text="Le cirque de Gavarnie #occitanie", format=Format.PHOTO, media=(image(alt_text="Le cirque enneigé"),)
    )
    result = await plugin.publish(account, draft)

    assert trail(fake) == [
        ("GET", "/v23.0/{ig}/content_publishing_limit"),
        ("POST", "/v23.0/{ig}/media"),
        ("GET", "/v23.0/{container}"),  # IN_PROGRESS
        ("GET", "/v23.0/{container}"),  # FINISHED
        ("POST", "/v23.0/{ig}/media_publish"),
        ("GET", "/v23.0/{media}"),
    ]
    limit, create, poll, _, publish, permalink = fake.received
    assert limit.q("fields") == "quota_usage,config"
    assert create.form == {
        "image_url": "https://cdn.example.org/1.jpg",
        "alt_text": "Le cirque enneigé",
        "caption": "Le cirque de Gavarnie #occitanie",
    }
    assert poll.q("fields") == "status_code,status"
    [container_id] = fake.containers
    assert publish.form == {"creation_id": container_id}
    assert permalink.q("fields") == "permalink"
    assert all(r.headers["authorization"] == AUTH and "access_token" not in r.query for r in fake.received)
    assert (
        result.remote_id in fake.media
        and result.url == f"https://www.instagram.com/p/{fake.media[result.remote_id]['shortcode']}/"
    )
    assert fake.quota_usage == 1
    assert {"app", "buc:instagram"} <= {r.endpoint for r in recorder.reports}
    assert {r.account_external_id for r in recorder.reports if r.endpoint == "buc:instagram"} == {IG_USER_ID}


async def test_a_single_image_post_is_a_photo(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    await plugin.publish(account, Draft(text="Post", format=Format.POST, media=(image(),)))
    assert container_forms(fake) == [{"image_url": "https://cdn.example.org/1.jpg", "caption": "Post"}]


async def test_publish_carousel_creates_children_then_the_album(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    result = await plugin.publish(
        account, Draft(text="Trois vues", format=Format.CAROUSEL, media=(image(1), video(2), image(3)))
    )

    forms = container_forms(fake)
    children = list(fake.containers)[:3]
    assert forms == [
        {"image_url": "https://cdn.example.org/1.jpg", "is_carousel_item": "true"},
        {"media_type": "VIDEO", "video_url": "https://cdn.example.org/2.mp4", "is_carousel_item": "true"},
        {"image_url": "https://cdn.example.org/3.jpg", "is_carousel_item": "true"},
        {"media_type": "CAROUSEL", "children": ",".join(children), "caption": "Trois vues"},
    ]
    [publish] = fake.requests_to("POST", rf"{V}/{IG_USER_ID}/media_publish$")
    assert publish.form == {"creation_id": list(fake.containers)[3]}
    assert fake.media[result.remote_id]["media_type"] == "CAROUSEL_ALBUM"
    assert fake.quota_usage == 1  # a carousel counts once


async def test_publish_reel(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    result = await plugin.publish(account, Draft(text="La Garonne", format=Format.REEL, media=(video(),)))

    assert container_forms(fake) == [
        {"media_type": "REELS", "video_url": "https://cdn.example.org/1.mp4", "caption": "La Garonne"}
    ]
    assert fake.media[result.remote_id]["media_product_type"] == "REELS"


@pytest.mark.parametrize("media", [image(), video()], ids=["image", "video"])
async def test_publish_story(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef, media: MediaItem
) -> None:
    result = await plugin.publish(account, Draft(text="", format=Format.STORY, media=(media,)))

    url_param = "image_url" if media.kind is MediaKind.IMAGE else "video_url"
    assert container_forms(fake) == [{"media_type": "STORIES", url_param: str(media.url)}]
    assert fake.media[result.remote_id]["media_product_type"] == "STORY"


async def test_media_without_url_is_rejected_before_any_call(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    local = MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", path="/tmp/local.jpg")
    with pytest.raises(Rejected, match="public URL"):
        await plugin.publish(account, Draft(text="x", format=Format.PHOTO, media=(local,)))
    with pytest.raises(Rejected, match="no text-only post"):
        await plugin.publish(account, Draft(text="Texte seul"))
    assert fake.received == []


async def test_prepare_publish_carousel(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    prepared = await plugin.prepare_publish(
        account, Draft(text="Deux", format=Format.CAROUSEL, media=(image(1), image(2)))
    )

    assert fake.received == []
    steps = [(p.method, urlsplit(p.url).path, p.form) for p in prepared]
    assert steps == [
        ("GET", f"/v23.0/{IG_USER_ID}/content_publishing_limit", None),
        (
            "POST",
            f"/v23.0/{IG_USER_ID}/media",
            {"image_url": "https://cdn.example.org/1.jpg", "is_carousel_item": "true"},
        ),
        ("GET", "/v23.0/{child-1-id}", None),
        (
            "POST",
            f"/v23.0/{IG_USER_ID}/media",
            {"image_url": "https://cdn.example.org/2.jpg", "is_carousel_item": "true"},
        ),
        ("GET", "/v23.0/{child-2-id}", None),
        (
            "POST",
            f"/v23.0/{IG_USER_ID}/media",
            {"media_type": "CAROUSEL", "children": "{child-1-id},{child-2-id}", "caption": "Deux"},
        ),
        ("GET", "/v23.0/{container-id}", None),
        ("POST", f"/v23.0/{IG_USER_ID}/media_publish", {"creation_id": "{container-id}"}),
    ]
    assert all(p.headers["Authorization"] == "Bearer [redacted]" and TOKEN not in p.url for p in prepared)
    assert prepared[-1].note == "step 8 of 8: publish the container"


async def test_publishing_limit_reached(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    fake.quota_usage = fake.quota_total
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(account, Draft(text="Encore", format=Format.PHOTO, media=(image(),)))
    assert caught.value.retry_after == 3600
    assert f"{fake.quota_total} of {fake.quota_total}" in caught.value.network_message
    assert fake.containers == {}  # no container spent


@pytest.mark.parametrize("status", ["ERROR", "EXPIRED"])
async def test_container_error_is_rejected(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef, status: str
) -> None:
    fake.fail_next_container(status)
    with pytest.raises(Rejected) as caught:
        await plugin.publish(account, Draft(text="Flou", format=Format.PHOTO, media=(image(),)))
    assert caught.value.code == status and caught.value.network_message.startswith(status.capitalize())
    assert fake.requests_to("POST", "media_publish") == [] and fake.media == {}


async def test_polling_is_bounded(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    fake.processing_polls = 100
    try:
        with pytest.raises(Transient, match="still processing after 5 polls"):
            await plugin.publish(account, Draft(text="Lent", format=Format.REEL, media=(video(),)))
    finally:
        fake.processing_polls = 1
    assert len(fake.requests_to("GET", rf"{V}/\d+$")) == 5 and fake.media == {}


# --------------------------------------------------------------------------- reconcile / delete


async def test_reconcile_found_and_not_found(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    now = datetime.now(UTC)
    fake.seed_media("Ancien", created=now - timedelta(days=3))
    media_id = fake.seed_media("Le  texte\nenvoyé", created=now - timedelta(minutes=2))

    found = await plugin.reconcile(
        account, Draft(text="Le  texte\nenvoyé"), not_before=now - timedelta(minutes=10), not_after=now
    )
    look_alike = await plugin.reconcile(
        account, Draft(text="Le texte envoyé"), not_before=now - timedelta(minutes=10), not_after=now
    )
    assert look_alike is None  # issue 10 (3): whitespace is compared exactly
    missing = await plugin.reconcile(
        account, Draft(text="Ancien"), not_before=now - timedelta(minutes=10), not_after=now
    )

    assert (
        found is not None
        and found.remote_id == media_id
        and found.url
        and found.url.startswith("https://www.instagram.com/p/")
    )
    assert missing is None
    request = fake.requests_to("GET", rf"{V}/{IG_USER_ID}/media$")[0]
    assert request.q("fields") == "id,caption,timestamp,permalink"
    assert request.q("since") == str(int((now - timedelta(minutes=10)).timestamp()))


async def test_reconcile_story_by_window(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    now = datetime.now(UTC)
    story = fake.seed_media("", created=now - timedelta(minutes=1), product="STORY")
    draft = Draft(text="", format=Format.STORY, media=(image(),))

    found = await plugin.reconcile(account, draft, not_before=now - timedelta(minutes=5), not_after=now)
    assert found is not None and found.remote_id == story
    assert fake.requests_to("GET", rf"{V}/{IG_USER_ID}/stories$")


async def test_reconcile_pages_back_to_the_window_and_refuses_to_guess(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    """A backlog of 60 posts after the attempt pushed it off the single page of 50 read."""
    now = datetime.now(UTC)
    ours = fake.seed_media("Le marché de Sète", created=now - timedelta(minutes=5))
    for n in range(60):
        fake.seed_media(f"Publication suivante n°{n}", created=now - timedelta(minutes=4, seconds=-n))
    window = {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}
    found = await plugin.reconcile(account, Draft(text="Le marché de Sète"), **window)
    assert found is not None and found.remote_id == ours
    twin = fake.seed_media("Le marché de Sète", created=now)
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Le marché de Sète"), **window)
    assert set(caught.value.candidates) == {ours, twin}


async def test_reconcile_story_refuses_to_choose_between_two(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    """A story has no caption: with two stories in the window, nothing tells which is ours."""
    now = datetime.now(UTC)
    first = fake.seed_media("", created=now - timedelta(minutes=2), product="STORY")
    second = fake.seed_media("", created=now - timedelta(minutes=1), product="STORY")
    draft = Draft(text="", format=Format.STORY, media=(image(),))
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, draft, not_before=now - timedelta(minutes=5), not_after=now)
    assert set(caught.value.candidates) == {first, second}


async def test_delete_is_opt_in(
    served: tuple[FakeInstagram, str], plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    media_id = fake.seed_media("À retirer")
    assert not plugin.capabilities.supports(Feature.DELETE)
    with pytest.raises(NotSupported):
        await plugin.delete(account, media_id)

    enabled = InstagramPlugin(settings_for(served[1], enable_delete="true"))
    try:
        assert enabled.capabilities.supports(Feature.DELETE)
        await enabled.delete(account, media_id)
    finally:
        await enabled.aclose()
    assert media_id not in fake.media and len(fake.requests_to("DELETE", rf"{V}/{media_id}$")) == 1


# --------------------------------------------------------------------------- inbox


async def test_inbox_walks_comments_and_replies_across_pages(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    media = fake.seed_media("Photo", created=start)
    first = fake.seed_comment(media, "Magnifique", created=start + timedelta(minutes=1))
    fake.seed_comment(media, "Où est-ce ?", created=start + timedelta(minutes=2))
    fake.seed_comment(media, "😍", created=start + timedelta(minutes=3))
    replies = [
        fake.seed_comment(media, f"réponse {n}", parent_id=first, created=start + timedelta(minutes=4 + n))
        for n in range(3)
    ]
    fake.seed_comment(
        media,
        "Merci !",
        username="occitanie",
        user_id=IG_USER_ID,
        parent_id=first,
        created=start + timedelta(minutes=9),
    )

    pages, cursor = [], None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        pages.append(page)
        if (cursor := page.next_cursor) is None:
            break

    items = [i for p in pages for i in p.items]
    assert [i.text for i in items if i.kind is InboxKind.COMMENT] == ["Magnifique", "Où est-ce ?", "😍"]
    found_replies = [i for i in items if i.kind is InboxKind.REPLY]
    assert sorted(r.remote_id for r in found_replies) == sorted(replies)
    assert {(r.parent_id, r.thread_id) for r in found_replies} == {(first, media)}
    assert all(i.author_handle != "occitanie" for i in items)
    assert len(pages) >= 3
    comment_reads = fake.requests_to("GET", rf"{V}/{media}/comments$")
    assert [r.q("after") is not None for r in comment_reads] == [False, True]
    assert comment_reads[0].q("fields") == (
        "id,text,timestamp,username,from,parent_id,replies.limit(2){id,text,timestamp,username,from,parent_id}"
    )
    [tail] = fake.requests_to("GET", rf"{V}/{first}/replies$")  # the replies beyond the nested page
    assert tail.q("after")


async def test_reconcile_of_a_reply_looks_under_the_comment_answered(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    media = fake.seed_media("Photo")
    comment = fake.seed_comment(media, "Question")
    nested = fake.seed_comment(media, "Précision", parent_id=comment)
    now = datetime.now(UTC)
    window = {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}
    for n, item in enumerate(
        (
            RemoteItem(remote_id=comment, kind=InboxKind.COMMENT, text="Q", author_id="1", created_at=now),
            RemoteItem(
                remote_id=nested, kind=InboxKind.REPLY, text="P", author_id="1", created_at=now, parent_id=comment
            ),
        )
    ):
        answer = Draft(text=f"Réponse n°{n}", reply_to=item.remote_id)
        sent = await plugin.reply(account, item, answer)
        found = await plugin.reconcile(account, answer, **window)
        assert found is not None and found.remote_id == sent.remote_id
        assert await plugin.reconcile(account, Draft(text="Autre", reply_to=item.remote_id), **window) is None


async def test_reply_goes_to_the_top_level_comment(
    plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef
) -> None:
    media = fake.seed_media("Photo")
    comment = fake.seed_comment(media, "Question")
    nested = fake.seed_comment(media, "Précision", parent_id=comment)
    now = datetime.now(UTC)

    first = await plugin.reply(
        account,
        RemoteItem(remote_id=comment, kind=InboxKind.COMMENT, text="Q", author_id="1", created_at=now),
        Draft(text="Réponse"),
    )
    await plugin.reply(
        account,
        RemoteItem(remote_id=nested, kind=InboxKind.REPLY, text="P", author_id="1", created_at=now, parent_id=comment),
        Draft(text="Bis"),
    )

    assert [r.form for r in fake.requests_to("POST", rf"{V}/{comment}/replies$")] == [
        {"message": "Réponse"},
        {"message": "Bis"},
    ]
    assert fake.comments[first.remote_id]["parent_id"] == comment


# --------------------------------------------------------------------------- metrics


async def test_account_and_media_metrics(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef) -> None:
    media = fake.seed_media("Photo")
    metrics = await plugin.fetch_account_metrics(account)
    [post] = await plugin.fetch_post_metrics(account, [media])

    assert (metrics.followers, metrics.following, metrics.posts, metrics.impressions) == (99_000, 180, 1, 15_400)
    assert metrics.extra["reach"] == 8200
    insights = fake.requests_to("GET", rf"{V}/{IG_USER_ID}/insights$")[0]
    assert (insights.q("period"), insights.q("metric_type")) == ("day", "total_value")
    assert (post.impressions, post.likes, post.replies, post.reposts) == (2100, 240, 12, 9)
    assert post.extra == {"reach": 1800.0, "saved": 31.0}
    assert (
        fake.requests_to("GET", rf"{V}/{media}/insights$")[0].q("metric") == "views,reach,likes,comments,shares,saved"
    )


# --------------------------------------------------------------------------- OAuth


async def test_oauth_url_exchange_and_refresh(
    plugin: InstagramPlugin, fake: FakeInstagram, served: tuple[FakeInstagram, str]
) -> None:
    auth = plugin.authorization_url(state="abc")
    query = parse_qs(urlsplit(auth.url).query)
    assert auth.url.startswith(f"{served[1]}/v23.0/dialog/oauth?")
    assert query["state"] == ["abc"] and "instagram_content_publish" in query["scope"][0].split(",")

    tokens = await plugin.exchange_code(code=fake.issue_code())
    assert tokens.access_token == TOKEN and tokens.expires_at is not None
    assert tokens.extra["ig_user_id"] == IG_USER_ID
    assert [r.q("grant_type") for r in fake.requests_to("GET", r"/oauth/access_token$")] == [None, "fb_exchange_token"]
    assert fake.requests_to("GET", r"/me/accounts$")[0].q("fields") == "id,name,instagram_business_account"

    refreshed = await plugin.refresh(Credentials(access_token=TOKEN, extra={"page_id": "1"}))
    last = fake.requests_to("GET", r"/oauth/access_token$")[-1]
    assert (last.q("fb_exchange_token"), last.q("client_id")) == (TOKEN, FakeInstagram.app_id)
    assert refreshed.access_token == TOKEN and refreshed.extra == {"page_id": "1"}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        ("rate_limited", {"retry_after": 180}, RateLimited),
        ("expired", {}, CredentialsExpired),
        ("rejected", {"message": "Le média est trop lourd (8 Mo maximum)."}, Rejected),
        ("server_error", {}, Transient),
        ("timeout", {"delay": 3}, Transient),
        ("drop", {}, Transient),
    ],
)
async def test_typed_errors(
    plugin: InstagramPlugin,
    fake: FakeInstagram,
    account: AccountRef,
    kind: str,
    options: dict[str, object],
    error: type[Exception],
) -> None:
    fake.fail_next(kind, path=r"/media$", **options)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        await plugin.publish(account, Draft(text="x", format=Format.PHOTO, media=(image(),)))
    failed: ReceivedRequest = fake.requests_to("POST", rf"{V}/{IG_USER_ID}/media$")[0]
    assert failed.form == {"image_url": "https://cdn.example.org/1.jpg", "caption": "x"}
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 180
    if kind == "rejected":
        assert caught.value.network_message == "Le média est trop lourd (8 Mo maximum)."  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", [4, 32])
async def test_rate_limit_codes(plugin: InstagramPlugin, fake: FakeInstagram, account: AccountRef, code: int) -> None:
    fake.rate_limit_code = code
    fake.fail_next("rate_limited", retry_after=60)
    with pytest.raises(RateLimited, match=f"Graph error {code}"):
        await plugin.fetch_account_metrics(account)


async def test_fake_refuses_what_the_docs_do_not_allow(served: tuple[FakeInstagram, str], fake: FakeInstagram) -> None:
    async with httpx.AsyncClient(base_url=served[1], headers={"Authorization": AUTH}) as client:
        video_feed = await client.post(
            f"/v23.0/{IG_USER_ID}/media", data={"media_type": "VIDEO", "video_url": "https://x/v.mp4"}
        )
        story_caption = await client.post(
            f"/v23.0/{IG_USER_ID}/media", data={"media_type": "STORIES", "image_url": "https://x/i.jpg", "caption": "c"}
        )
        lonely_carousel = await client.post(
            f"/v23.0/{IG_USER_ID}/media", data={"media_type": "CAROUSEL", "children": "1"}
        )
        no_token = await client.get(
            f"/v23.0/{IG_USER_ID}", params={"fields": "followers_count"}, headers={"Authorization": ""}
        )
    for response in (video_feed, story_caption, lonely_carousel):
        assert response.status_code == 400 and response.json()["error"]["code"] == 100
    assert no_token.json()["error"]["code"] == 104
    assert fake.containers == {}


# --------------------------------------------------------------------------- validation


def codes(draft: Draft, capabilities=InstagramPlugin.capabilities) -> list[str]:  # type: ignore[no-untyped-def]
    return [v.code for v in validate_draft(capabilities, draft)]


def test_validate_text_only_draft_misses_media() -> None:
    assert codes(Draft(text="Bonjour l'Occitanie")) == ["media_missing"]


def test_validate_too_many_carousel_items() -> None:
    assert codes(Draft(text="", format=Format.CAROUSEL, media=tuple(image(n) for n in range(11)))) == ["too_many_media"]
    assert codes(Draft(text="", format=Format.CAROUSEL, media=(image(),))) == ["media_missing"]


def test_validate_aspect_ratio_and_format() -> None:
    portrait = image(width=1080, height=1920)  # 9:16 is for stories, not the feed
    assert codes(Draft(text="", format=Format.PHOTO, media=(portrait,))) == ["media_aspect_ratio"]
    assert codes(Draft(text="", format=Format.STORY, media=(portrait,))) == []
    assert codes(Draft(text="", format=Format.PHOTO, media=(image(width=1080, height=1350),))) == []
    png = MediaItem(
        kind=MediaKind.IMAGE, content_type="image/png", url="https://cdn.example.org/x.png", size_bytes=9 * 1024 * 1024
    )
    assert codes(Draft(text="", format=Format.PHOTO, media=(png,))) == ["media_type_unsupported", "media_too_large"]
    assert codes(Draft(text="Légende", format=Format.STORY, media=(image(),))) == ["text_not_allowed"]


async def test_hashtag_cap_is_configurable(served: tuple[FakeInstagram, str]) -> None:
    text = " ".join(f"#tag{n}" for n in range(6))
    draft = Draft(text=text, format=Format.PHOTO, media=(image(),))
    assert codes(draft) == []
    strict = InstagramPlugin(settings_for(served[1], max_hashtags="5"))
    try:
        assert codes(draft, strict.capabilities) == ["too_many_hashtags"]
        assert InstagramPlugin.capabilities.text.max_hashtags == 30  # the class declaration is untouched
    finally:
        await strict.aclose()
    assert (
        json.dumps(codes(Draft(text=" ".join(f"#t{n}" for n in range(31)), format=Format.PHOTO, media=(image(),))))
        == '["too_many_hashtags"]'
    )
