"""The Facebook Pages plugin against its fake Graph API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
    Format,
    InboxKind,
    MediaItem,
    MediaKind,
    RateLimited,
    Rejected,
    RemoteItem,
    Transient,
    UsageReport,
    WebhookRequest,
)
from plugins.channels.facebook import FacebookPlugin
from plugins.testing import ReceivedRequest, serve_in_thread
from plugins.testing.fakes.facebook import PAGE_ID, PAGE_TOKEN, FakeFacebook

pytestmark = pytest.mark.anyio

AUTH = f"Bearer {PAGE_TOKEN}"
PHOTO = "https://cdn.example.org/pont-du-gard.jpg"


class Recorder:
    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeFacebook, str]]:
    fake = FakeFacebook()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeFacebook, str]) -> FakeFacebook:
    served[0].reset()
    return served[0]


def settings_for(url: str) -> ChannelSettings:
    return ChannelSettings(
        base_url=url,
        client_id=FakeFacebook.app_id,
        client_secret=FakeFacebook.app_secret,
        redirect_uri="https://portevoix.example/oauth/facebook/callback",
        webhook_secret="verify-me",
        extra={"graph_version": "v23.0", "oauth_dialog_base": url, "inbox_page_size": "2"},
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def plugin(
    served: tuple[FakeFacebook, str], fake: FakeFacebook, recorder: Recorder
) -> AsyncIterator[FacebookPlugin]:
    client = httpx.AsyncClient(timeout=httpx.Timeout(1.0))
    plugin = FacebookPlugin(settings_for(served[1]), http=client, usage=recorder)
    yield plugin
    await plugin.aclose()


@pytest.fixture
def account(fake: FakeFacebook) -> AccountRef:
    return fake.make_account()


def only(fake: FakeFacebook, method: str, path: str) -> ReceivedRequest:
    found = fake.requests_to(method, path)
    assert len(found) == 1, [(r.method, r.path) for r in fake.received]
    return found[0]


# --------------------------------------------------------------------------- publishing


async def test_publish_text_post_sends_the_documented_request(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef, recorder: Recorder
) -> None:
    result = await plugin.publish(account, Draft(text="Bonjour l'Occitanie ☀️"))

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/feed$")
    assert request.form == {"message": "Bonjour l'Occitanie ☀️"}
    assert request.headers["authorization"] == AUTH
    assert "access_token" not in request.query  # the token never travels in the URL
    assert result.remote_id in fake.posts and result.remote_id.startswith(f"{PAGE_ID}_")
    assert result.url == f"https://www.facebook.com/{result.remote_id}"
    quotas = {r.endpoint for r in recorder.reports}
    assert {"app", "buc:pages"} <= quotas
    assert all(r.used_percent is not None for r in recorder.reports)


async def test_publish_link_post(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    draft = Draft(text="Le programme du festival", link="https://www.laregion.fr/festival")
    result = await plugin.publish(account, draft)

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/feed$")
    assert request.form == {"message": "Le programme du festival", "link": "https://www.laregion.fr/festival"}
    assert fake.posts[result.remote_id]["link"] == "https://www.laregion.fr/festival"


async def test_publish_single_photo(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    image = MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url=PHOTO, alt_text="Le pont du Gard")
    result = await plugin.publish(account, Draft(text="Le pont du Gard", format=Format.PHOTO, media=(image,)))

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/photos$")
    assert request.form == {"url": PHOTO, "published": "true", "message": "Le pont du Gard"}
    # the tracked id is the post's, not the photo's
    assert fake.posts[result.remote_id]["kind"] == "photo"


async def test_publish_multi_photo_uses_unpublished_photos_and_attached_media(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    images = tuple(
        MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url=f"https://cdn.example.org/{n}.jpg")
        for n in (1, 2)
    )
    result = await plugin.publish(account, Draft(text="Deux vues", format=Format.PHOTO, media=images))

    uploads = fake.requests_to("POST", rf"^/v23\.0/{PAGE_ID}/photos$")
    assert [u.form for u in uploads] == [
        {"url": "https://cdn.example.org/1.jpg", "published": "false"},
        {"url": "https://cdn.example.org/2.jpg", "published": "false"},
    ]
    feed = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/feed$")
    photo_ids = [pid for pid, photo in fake.photos.items() if not photo["published"]]
    assert feed.form == {
        "message": "Deux vues",
        "attached_media[0]": json.dumps({"media_fbid": photo_ids[0]}),
        "attached_media[1]": json.dumps({"media_fbid": photo_ids[1]}),
    }
    assert fake.posts[result.remote_id]["attached_media"] == photo_ids


async def test_publish_photo_from_a_local_file_is_a_multipart_upload(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef, tmp_path: Path
) -> None:
    path = tmp_path / "carcassonne.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg")
    image = MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", path=str(path))
    await plugin.publish(account, Draft(text="Carcassonne", format=Format.PHOTO, media=(image,)))

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/photos$")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b"fake-jpeg" in request.body and b'name="source"' in request.body
    assert [p["uploaded"] for p in fake.photos.values()] == ["carcassonne.jpg"]


async def test_publish_video_by_url(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", url="https://cdn.example.org/clip.mp4")
    draft = Draft(text="La région en images", title="Occitanie", format=Format.VIDEO, media=(video,))
    result = await plugin.publish(account, draft)

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/videos$")
    assert request.form == {
        "file_url": "https://cdn.example.org/clip.mp4",
        "published": "true",
        "description": "La région en images",
        "title": "Occitanie",
    }
    assert result.remote_id in fake.videos
    assert result.url == f"https://www.facebook.com/{PAGE_ID}/videos/{result.remote_id}"


async def test_prepare_publish_builds_the_requests_without_sending_them(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    images = tuple(
        MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url=f"https://cdn.example.org/{n}.jpg")
        for n in (1, 2)
    )
    prepared = await plugin.prepare_publish(account, Draft(text="Deux vues", format=Format.PHOTO, media=images))

    assert fake.received == []
    assert [(p.method, urlsplit(p.url).path) for p in prepared] == [
        ("POST", f"/v23.0/{PAGE_ID}/photos"),
        ("POST", f"/v23.0/{PAGE_ID}/photos"),
        ("POST", f"/v23.0/{PAGE_ID}/feed"),
    ]
    assert all(p.headers["Authorization"] == "Bearer [redacted]" for p in prepared)
    assert all(PAGE_TOKEN not in json.dumps([p.url, p.headers, p.form]) for p in prepared)
    assert prepared[2].form == {
        "message": "Deux vues",
        "attached_media[0]": '{"media_fbid": "{photo-1-id}"}',
        "attached_media[1]": '{"media_fbid": "{photo-2-id}"}',
    }
    assert prepared[0].note.startswith("step 1 of 3")


async def test_repost_shares_the_post_link(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    result = await plugin.repost(account, "20531316728_10158407654328553")

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/feed$")
    assert request.form == {"link": "https://www.facebook.com/20531316728_10158407654328553"}
    assert fake.posts[result.remote_id]["link"] == "https://www.facebook.com/20531316728_10158407654328553"


async def test_delete(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    post_id = fake.seed_post("À supprimer")
    await plugin.delete(account, post_id)

    assert only(fake, "DELETE", rf"^/v23\.0/{post_id}$").headers["authorization"] == AUTH
    assert post_id not in fake.posts
    with pytest.raises(Rejected) as caught:
        await plugin.delete(account, post_id)
    assert caught.value.code == "100/33"


# --------------------------------------------------------------------------- reconcile


async def test_reconcile_finds_the_post_in_the_window(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    fake.seed_post("Autre chose")
    post_id = fake.seed_post("Le texte envoyé avant la panne")
    now = datetime.now(UTC)

    found = await plugin.reconcile(
        account,
        Draft(text="Le texte envoyé avant la panne"),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(minutes=1),
    )

    assert found is not None and found.remote_id == post_id
    assert found.url == fake.permalink(post_id)
    request = only(fake, "GET", rf"^/v23\.0/{PAGE_ID}/feed$")
    assert request.q("fields") == "id,message,created_time,permalink_url,status_type"
    assert int(request.q("since") or 0) == int((now - timedelta(minutes=5)).timestamp())
    assert int(request.q("until") or 0) == int((now + timedelta(minutes=1)).timestamp())


def _window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}


async def test_reconcile_compares_the_message_exactly(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    """Issue 10 (3): squashed whitespace made two different posts "the same"."""
    post_id = fake.seed_post("Deux  espaces\net une ligne")
    for look_alike in ("Deux espaces\net une ligne", "Deux  espaces et une ligne"):
        assert await plugin.reconcile(account, Draft(text=look_alike), **_window()) is None
    found = await plugin.reconcile(account, Draft(text="Deux  espaces\net une ligne"), **_window())
    assert found is not None and found.remote_id == post_id


async def test_reconcile_pages_back_to_the_window_start_and_refuses_to_guess(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    ours = fake.seed_post("Bonne rentrée !", created=start)
    for n in range(1050):  # more than the ten pages of 100 the old walk read
        fake.seed_post(f"Publication suivante n°{n}", created=start + timedelta(seconds=1 + n / 100))
    found = await plugin.reconcile(account, Draft(text="Bonne rentrée !"), **_window())
    assert found is not None and found.remote_id == ours
    twin = fake.seed_post("Bonne rentrée !")
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Bonne rentrée !"), **_window())
    assert set(caught.value.candidates) == {ours, twin}


async def test_reconcile_of_a_video_answers_the_id_its_publish_answered(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    """Issue 10 (9): publish answered the video id, reconcile the feed's {page}_{video}: one object, two ids."""
    video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", url="https://cdn.example.org/clip.mp4")
    draft = Draft(text="La session plénière en vidéo", format=Format.VIDEO, media=(video,))
    published = await plugin.publish(account, draft)
    assert f"{PAGE_ID}_{published.remote_id}" in fake.posts  # the feed shows the video as a post
    found = await plugin.reconcile(account, draft, **_window())
    assert found is not None and (found.remote_id, found.url) == (published.remote_id, published.url)
    # A text post with the video's words is another post: the video is not it.
    assert await plugin.reconcile(account, Draft(text="La session plénière en vidéo"), **_window()) is None


async def test_reconcile_not_found_outside_the_window(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    fake.seed_post("Le texte envoyé", created=datetime.now(UTC) - timedelta(days=2))
    now = datetime.now(UTC)

    found = await plugin.reconcile(
        account, Draft(text="Le texte envoyé"), not_before=now - timedelta(hours=1), not_after=now
    )

    assert found is None


# --------------------------------------------------------------------------- inbox


async def test_inbox_walks_comments_and_messages_across_pages(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    post = fake.seed_post("Le festival commence")
    start = datetime.now(UTC) - timedelta(minutes=30)
    first = fake.seed_comment(post, "Super !", created=start)
    fake.seed_comment(post, "Quand ?", created=start + timedelta(minutes=1))
    fake.seed_comment(post, "Merci", created=start + timedelta(minutes=2))
    reply = fake.seed_comment(post, "Moi aussi", parent_id=first, created=start + timedelta(minutes=3))
    fake.seed_comment(
        post, "Réponse de la Région", author=(PAGE_ID, "Région"), parent_id=first, created=start + timedelta(minutes=4)
    )
    fake.seed_conversation("7100000000000001", "Léa", ["Bonjour", "Une question", "sur les bus", "merci"])
    fake.seed_conversation("7100000000000002", "Paul", ["Salut"])

    pages, cursor = [], None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break

    items = [item for page in pages for item in page.items]
    comments = [i for i in items if i.kind is InboxKind.COMMENT]
    replies = [i for i in items if i.kind is InboxKind.REPLY]
    messages = [i for i in items if i.kind is InboxKind.MESSAGE]
    assert [c.text for c in comments] == ["Super !", "Quand ?", "Merci"]
    assert [(r.remote_id, r.parent_id, r.thread_id) for r in replies] == [(reply, first, post)]
    assert sorted(m.text for m in messages) == ["Bonjour", "Salut", "Une question", "merci", "sur les bus"]
    assert {m.thread_id for m in messages if m.author_name == "Léa"} == {"7100000000000001"}
    assert all(i.author_id != PAGE_ID for i in items)
    assert len(pages) >= 4
    # five comments (page size 2) came in three Graph pages, the long conversation's tail from its messages edge
    comment_reads = fake.requests_to("GET", rf"^/v23\.0/{post}/comments$")
    assert [r.q("after") is not None for r in comment_reads] == [False, True, True]
    assert comment_reads[0].q("filter") == "stream" and comment_reads[0].q("limit") == "2"
    conversations = only(fake, "GET", rf"^/v23\.0/{PAGE_ID}/conversations$")
    assert conversations.q("platform") == "messenger"
    assert conversations.q("fields") == "id,updated_time,messages.limit(2){id,message,from,created_time}"
    tails = [r for r in fake.requests_to("GET", r"/messages$")]
    assert tails and all(r.q("after") for r in tails)


async def test_a_token_without_messaging_still_brings_the_comments(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    """Issue 11 (1): the conversations edge refused (no pages_messaging) stopped the whole inbox."""
    post = fake.seed_post("Le festival commence")
    comments = [fake.seed_comment(post, f"Commentaire {n}") for n in range(5)]
    fake.seed_conversation("7100000000000001", "Léa", ["Bonjour"])
    fake.withheld_permissions = {"pages_messaging"}

    seen, unavailable, cursor = [], {}, None
    for _ in range(20):
        page = await plugin.fetch_inbox(account, cursor)
        seen += [item.remote_id for item in page.items]
        unavailable |= page.unavailable
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen) == sorted(comments) and cursor is None
    assert unavailable == {"conversations": "(#230) Requires pages_messaging permission to manage the object"}


async def test_reply_to_a_comment_and_to_a_reply(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    post = fake.seed_post("Post")
    comment = fake.seed_comment(post, "Question ?")
    reply = fake.seed_comment(post, "Précision", parent_id=comment)
    now = datetime.now(UTC)
    item = RemoteItem(
        remote_id=comment, kind=InboxKind.COMMENT, text="Question ?", author_id="1", created_at=now, thread_id=post
    )
    nested = RemoteItem(
        remote_id=reply, kind=InboxKind.REPLY, text="Précision", author_id="1", created_at=now, parent_id=comment
    )

    first = await plugin.reply(account, item, Draft(text="Réponse"))
    second = await plugin.reply(account, nested, Draft(text="Encore"))

    requests = fake.requests_to("POST", rf"^/v23\.0/{comment}/comments$")
    assert [r.form for r in requests] == [{"message": "Réponse"}, {"message": "Encore"}]
    assert fake.comments[first.remote_id]["parent_id"] == comment
    assert fake.comments[second.remote_id]["parent_id"] == comment  # threads are two levels deep


async def test_reply_to_a_private_message(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    conversation = fake.seed_conversation("7100000000000001", "Léa", ["Bonjour"])
    item = RemoteItem(
        remote_id="m_1",
        kind=InboxKind.MESSAGE,
        text="Bonjour",
        author_id="7100000000000001",
        created_at=datetime.now(UTC),
        thread_id="7100000000000001",
    )

    result = await plugin.reply(account, item, Draft(text="Bonjour Léa"))

    request = only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/messages$")
    assert request.form == {
        "recipient": json.dumps({"id": "7100000000000001"}),
        "messaging_type": "RESPONSE",
        "message": json.dumps({"text": "Bonjour Léa"}),
    }
    assert fake.conversations[conversation]["messages"][-1]["id"] == result.remote_id


async def test_reconcile_of_replies_looks_where_they_were_sent(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    """A reply is a delivery: under the comment answered (its parent for a reply), or in Messenger."""
    post = fake.seed_post("Post")
    comment = fake.seed_comment(post, "Question ?")
    nested = fake.seed_comment(post, "Précision", parent_id=comment)
    fake.seed_conversation("7100000000000001", "Léa", ["Bonjour"])
    now = datetime.now(UTC)
    items = (
        RemoteItem(remote_id=comment, kind=InboxKind.COMMENT, text="?", author_id="1", created_at=now, thread_id=post),
        RemoteItem(remote_id=nested, kind=InboxKind.REPLY, text="?", author_id="1", created_at=now, parent_id=comment),
    )
    [conversation] = fake.conversations.values()
    message = conversation["messages"][0]
    items += (
        RemoteItem(
            remote_id=message["id"],
            kind=InboxKind.MESSAGE,
            text="Bonjour",
            author_id="7100000000000001",
            created_at=now,
            thread_id="7100000000000001",
        ),
    )
    for n, item in enumerate(items):
        answer = Draft(text=f"Réponse n°{n}", reply_to=item.remote_id)
        sent = await plugin.reply(account, item, answer)
        found = await plugin.reconcile(account, answer, **_window())
        assert found is not None and found.remote_id == sent.remote_id, item.kind
        never = Draft(text=f"Autre réponse n°{n}", reply_to=item.remote_id)
        assert await plugin.reconcile(account, never, **_window()) is None, item.kind


# --------------------------------------------------------------------------- metrics


async def test_account_and_post_metrics(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    post = fake.seed_post("Post mesuré")
    metrics = await plugin.fetch_account_metrics(account)
    [post_metrics] = await plugin.fetch_post_metrics(account, [post])

    assert metrics.followers == 175_000 and metrics.impressions == 5400
    assert metrics.extra["fan_count"] == 171_250 and metrics.extra["page_daily_follows"] == 37
    assert only(fake, "GET", rf"^/v23\.0/{PAGE_ID}$").q("fields") == "followers_count,fan_count"
    insights = only(fake, "GET", rf"^/v23\.0/{PAGE_ID}/insights$")
    assert insights.q("period") == "day" and "page_media_view" in (insights.q("metric") or "")
    assert post_metrics.impressions == 2300 and post_metrics.likes == 137  # reactions by type, summed
    assert post_metrics.extra == {"post_clicks": 87.0}


async def test_deprecated_metric_is_rejected(
    served: tuple[FakeFacebook, str], fake: FakeFacebook, account: AccountRef
) -> None:
    settings = settings_for(served[1])
    settings = ChannelSettings(
        base_url=settings.base_url, extra={**settings.extra, "page_insights_metrics": "page_fans"}
    )
    plugin = FacebookPlugin(settings)
    try:
        with pytest.raises(Rejected, match="valid insights metric"):
            await plugin.fetch_account_metrics(account)
    finally:
        await plugin.aclose()


# --------------------------------------------------------------------------- OAuth


async def test_authorization_url(plugin: FacebookPlugin, served: tuple[FakeFacebook, str]) -> None:
    request = plugin.authorization_url(state="st4te", scopes=["pages_show_list", "pages_manage_posts"])

    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}" == served[1] and parts.path == "/v23.0/dialog/oauth"
    assert parse_qs(parts.query) == {
        "client_id": [FakeFacebook.app_id],
        "redirect_uri": ["https://portevoix.example/oauth/facebook/callback"],
        "state": ["st4te"],
        "response_type": ["code"],
        "scope": ["pages_show_list,pages_manage_posts"],
    }
    assert request.state == "st4te"


async def test_exchange_code_then_refresh(plugin: FacebookPlugin, fake: FakeFacebook) -> None:
    code = fake.issue_code()
    tokens = await plugin.exchange_code(code=code)

    exchange, long_lived = fake.requests_to("GET", r"^/v23\.0/oauth/access_token$")
    assert exchange.q("code") == code and exchange.q("client_secret") == FakeFacebook.app_secret
    assert exchange.q("redirect_uri") == "https://portevoix.example/oauth/facebook/callback"
    assert (
        long_lived.q("grant_type") == "fb_exchange_token"
        and long_lived.q("fb_exchange_token") != FakeFacebook.user_token
    )
    accounts = only(fake, "GET", r"^/v23\.0/me/accounts$")
    assert accounts.headers["authorization"] == f"Bearer {FakeFacebook.user_token}"
    assert tokens.access_token == PAGE_TOKEN and tokens.refresh_token == FakeFacebook.user_token
    assert tokens.extra["page_id"] == PAGE_ID and json.loads(tokens.extra["pages"])[0]["id"] == PAGE_ID
    assert "user_token_expires_at" in tokens.extra

    with pytest.raises(Rejected):  # a code is single-use
        await plugin.exchange_code(code=code)

    fake.reset()
    refreshed = await plugin.refresh(fake.make_account().credentials)
    [exchange] = fake.requests_to("GET", r"^/v23\.0/oauth/access_token$")
    assert (
        exchange.q("grant_type") == "fb_exchange_token" and exchange.q("fb_exchange_token") == FakeFacebook.user_token
    )
    assert refreshed.access_token == PAGE_TOKEN and refreshed.extra["page_id"] == PAGE_ID


# --------------------------------------------------------------------------- webhooks


def webhook(
    method: str, body: bytes = b"", headers: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> WebhookRequest:
    return WebhookRequest(method=method, headers=headers or {}, query=query or {}, body=body)


def test_webhook_challenge(served: tuple[FakeFacebook, str]) -> None:
    plugin = FacebookPlugin(settings_for(served[1]))
    ok = plugin.webhook_challenge(
        webhook("GET", query={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    )
    bad = plugin.webhook_challenge(
        webhook("GET", query={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    )

    assert ok is not None and (ok.status, ok.body) == (200, "1158201444")
    assert bad is not None and bad.status == 403
    assert plugin.webhook_challenge(webhook("POST", b"{}")) is None


def test_webhook_signature_and_parsing(served: tuple[FakeFacebook, str]) -> None:
    fake, url = served
    plugin = FacebookPlugin(settings_for(url))
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1752000000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": "111_222",
                            "post_id": f"{PAGE_ID}_111",
                            "parent_id": f"{PAGE_ID}_111",
                            "created_time": 1752000000,
                            "from": {"id": "42", "name": "Zoé"},
                            "message": "Génial ! äöå",
                        },
                    },
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": "111_333",
                            "post_id": f"{PAGE_ID}_111",
                            "parent_id": "111_222",
                            "created_time": 1752000060,
                            "from": {"id": "43", "name": "Tom"},
                            "message": "+1",
                        },
                    },
                    {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "love"}},
                ],
                "messaging": [
                    {
                        "sender": {"id": "7100"},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 1752000000123,
                        "message": {"mid": "m_abc", "text": "Bonjour"},
                    },
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": "7100"},
                        "timestamp": 1752000000456,
                        "message": {"mid": "m_echo", "text": "Bonjour !", "is_echo": True, "app_id": 1},
                    },
                ],
            }
        ],
    }
    # Meta signs the escaped-unicode form: hash exactly these bytes
    body = json.dumps(payload).encode()
    signed = webhook("POST", body, {"x-hub-signature-256": fake.sign(body)})

    assert plugin.verify_webhook(signed)
    assert not plugin.verify_webhook(webhook("POST", body + b" ", {"x-hub-signature-256": fake.sign(body)}))
    assert not plugin.verify_webhook(webhook("POST", body))
    items = plugin.parse_webhook(signed)
    assert [(i.kind, i.remote_id, i.parent_id, i.text) for i in items] == [
        (InboxKind.COMMENT, "111_222", None, "Génial ! äöå"),
        (InboxKind.REPLY, "111_333", "111_222", "+1"),
        (InboxKind.MESSAGE, "m_abc", None, "Bonjour"),
    ]
    assert items[2].created_at == datetime.fromtimestamp(1752000000.123, UTC)
    assert items[0].thread_id == f"{PAGE_ID}_111" and items[2].thread_id == "7100"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("code", [4, 32])
async def test_rate_limit_codes(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef, code: int) -> None:
    fake.rate_limit_code = code
    fake.fail_next("rate_limited", retry_after=120)
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(account, Draft(text="Trop vite"))
    assert caught.value.retry_after == 120  # from the BUC header's estimated_time_to_regain_access
    assert f"Graph error {code}" in str(caught.value)
    assert fake.posts == {}


async def test_expired_token(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired, match="190/463"):
        await plugin.publish(account, Draft(text="Bonjour"))


async def test_unknown_token_is_credentials_expired(plugin: FacebookPlugin, fake: FakeFacebook) -> None:
    stranger = AccountRef(external_id=PAGE_ID, handle="x", credentials=Credentials(access_token="EAAwrong"))
    with pytest.raises(CredentialsExpired):
        await plugin.publish(stranger, Draft(text="Bonjour"))
    assert fake.posts == {}


async def test_rejected_carries_the_user_message(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef
) -> None:
    fake.fail_next("rejected", message="Ce contenu enfreint nos Standards de la communauté.")
    with pytest.raises(Rejected) as caught:
        await plugin.publish(account, Draft(text="Bonjour"))
    assert caught.value.network_message == "Ce contenu enfreint nos Standards de la communauté."
    assert caught.value.status == 400 and caught.value.code == "100"


async def test_server_error_is_transient(plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef) -> None:
    fake.fail_next("server_error")
    with pytest.raises(Transient) as caught:
        await plugin.publish(account, Draft(text="Bonjour"))
    assert caught.value.status == 500


@pytest.mark.parametrize("kind", ["timeout", "drop"])
async def test_timeout_and_dropped_connection_are_transient(
    plugin: FacebookPlugin, fake: FakeFacebook, account: AccountRef, kind: str
) -> None:
    fake.fail_next(kind, delay=3)  # type: ignore[arg-type]
    with pytest.raises(Transient):
        await plugin.publish(account, Draft(text="Bonjour"))


async def test_fake_refuses_undocumented_parameters(served: tuple[FakeFacebook, str], fake: FakeFacebook) -> None:
    async with httpx.AsyncClient(base_url=served[1]) as client:
        typo = await client.post(f"/v23.0/{PAGE_ID}/feed", data={"mesage": "x"}, headers={"Authorization": AUTH})
        no_version = await client.post(f"/{PAGE_ID}/feed", data={"message": "x"}, headers={"Authorization": AUTH})
        wrong_method = await client.put(
            f"/v23.0/{PAGE_ID}/feed", data={"message": "x"}, headers={"Authorization": AUTH}
        )
        query_token = await client.get(f"/v23.0/{PAGE_ID}", params={"fields": "fan_count", "access_token": PAGE_TOKEN})
    assert typo.status_code == 400 and typo.json()["error"]["code"] == 100
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] in (100, 2500)
    assert wrong_method.status_code == 400 and wrong_method.json()["error"]["error_subcode"] == 33
    assert query_token.status_code == 200 and query_token.json() == {"id": PAGE_ID, "fan_count": 171_250}
    assert "x-app-usage" in query_token.headers and "x-business-use-case-usage" in query_token.headers


async def test_fake_works_mounted_under_a_prefix(fake: FakeFacebook) -> None:
    # As a "simulated network" inside the app, the fake sits under a mount prefix (root_path).
    transport = httpx.ASGITransport(app=fake, root_path="/simulated/facebook")  # type: ignore[arg-type]  # base class types scope as dict
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/simulated/facebook") as client:
        plugin = FacebookPlugin(
            ChannelSettings(base_url="http://testserver/simulated/facebook", extra={"graph_version": "v23.0"}),
            http=client,
        )
        result = await plugin.publish(fake.make_account(), Draft(text="Depuis la démo"))
    assert fake.posts[result.remote_id]["message"] == "Depuis la démo"
    assert only(fake, "POST", rf"^/v23\.0/{PAGE_ID}/feed$").path == f"/v23.0/{PAGE_ID}/feed"
