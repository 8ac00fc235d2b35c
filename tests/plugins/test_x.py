"""The X plugin against the fake X API v2 served on 127.0.0.1: exact requests, state, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
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
    Transient,
    UsageReport,
    WebhookRequest,
    validate_draft,
)
from plugins.channels.x import XPlugin
from plugins.testing import FakeNetwork, serve_in_thread
from plugins.testing.conformance import ChannelConformance
from plugins.testing.fakes.x import FakeX

CLIENT_ID, CLIENT_SECRET, WEBHOOK_SECRET = (
    "fake-x-client",
    "fake-x-secret",
    "consumer-secret",
)
REDIRECT = "https://portevoix.example/oauth/x/callback"


class Recorder:
    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeX, str]) -> FakeX:
    fake = server[0]
    fake.reset()
    fake.video_check_after_secs = 0
    return fake


@pytest.fixture
def usage() -> Recorder:
    return Recorder()


def settings_for(url: str, **extra: str) -> ChannelSettings:
    return ChannelSettings(
        base_url=url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT,
        webhook_secret=WEBHOOK_SECRET,
        extra={
            "authorize_url": f"{url}/i/oauth2/authorize",
            "media_chunk_bytes": "1000",
            "inbox_page_size": "5",
            **extra,
        },
    )


@pytest.fixture
async def plugin(server: tuple[FakeX, str], usage: Recorder) -> AsyncIterator[XPlugin]:
    instance = XPlugin(settings_for(server[1]), usage=usage)
    yield instance
    await instance.aclose()


@pytest.fixture
def account(fake: FakeX) -> AccountRef:
    return fake.make_account()


def media_file(tmp_path: Path, name: str, size: int) -> str:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (size // 256) + b"\0" * (size % 256))
    return str(path)


# ---------------------------------------------------------------------- publishing
@pytest.mark.anyio
async def test_publish_text_sends_the_documented_request(
    plugin: XPlugin, fake: FakeX, account: AccountRef, usage: Recorder
) -> None:
    result = await plugin.publish(account, Draft(text="Bonjour l'Occitanie !"))

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/2/tweets")
    assert request.headers["authorization"] == f"Bearer {account.credentials.access_token}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"text": "Bonjour l'Occitanie !"}
    assert fake.tweets[result.remote_id].text == "Bonjour l'Occitanie !"
    assert result.url == f"https://x.com/{account.handle}/status/{result.remote_id}"
    [report] = usage.reports
    assert (report.channel, report.endpoint, report.limit, report.remaining) == (
        "x",
        "POST /2/tweets",
        100,
        99,
    )
    assert report.account_external_id == account.external_id and report.reset_at is not None


@pytest.mark.anyio
async def test_publish_link_goes_at_the_end_of_the_text(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    await plugin.publish(account, Draft(text="Le budget 2026", link="https://www.laregion.fr/budget"))
    assert fake.received[-1].json == {"text": "Le budget 2026\nhttps://www.laregion.fr/budget"}


@pytest.mark.anyio
async def test_publish_images_with_alt_text(plugin: XPlugin, fake: FakeX, account: AccountRef, tmp_path: Path) -> None:
    images = tuple(
        MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/png",
            alt_text=f"Pont du Gard, vue {i}",
            path=media_file(tmp_path, f"p{i}.png", 600),
        )
        for i in (1, 2)
    )
    result = await plugin.publish(account, Draft(text="Le Pont du Gard", format=Format.PHOTO, media=images))

    uploads = fake.requests_to("POST", r"^/2/media/upload$")
    metadata = fake.requests_to("POST", r"^/2/media/metadata$")
    assert len(uploads) == 2 and len(metadata) == 2
    for upload in uploads:
        assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
        assert b'name="media_category"\r\n\r\ntweet_image' in upload.body
        assert b'name="media"; filename="p' in upload.body
    media_ids = fake.received[-1].json["media"]["media_ids"]
    assert [m.json for m in metadata] == [
        {
            "id": media_ids[i],
            "metadata": {"alt_text": {"text": f"Pont du Gard, vue {i + 1}"}},
        }
        for i in range(2)
    ]
    assert metadata[0].headers["content-type"] == "application/json"
    assert fake.received[-1].json == {
        "text": "Le Pont du Gard",
        "media": {"media_ids": media_ids},
    }
    assert [fake.media[m].alt_text for m in media_ids] == [
        "Pont du Gard, vue 1",
        "Pont du Gard, vue 2",
    ]
    assert fake.tweets[result.remote_id].media_keys == [fake.media[m].key for m in media_ids]


@pytest.mark.anyio
async def test_publish_video_uses_chunked_upload_and_waits_for_processing(
    plugin: XPlugin, fake: FakeX, account: AccountRef, tmp_path: Path
) -> None:
    video = MediaItem(
        kind=MediaKind.VIDEO,
        content_type="video/mp4",
        path=media_file(tmp_path, "clip.mp4", 2500),
        duration_s=12,
    )
    await plugin.publish(account, Draft(text="La session plénière", format=Format.VIDEO, media=(video,)))

    steps = [(r.method, r.path) for r in fake.received]
    media_id = fake.received[-1].json["media"]["media_ids"][0]
    assert steps == [
        ("POST", "/2/media/upload/initialize"),
        ("POST", f"/2/media/upload/{media_id}/append"),
        ("POST", f"/2/media/upload/{media_id}/append"),
        ("POST", f"/2/media/upload/{media_id}/append"),
        ("POST", f"/2/media/upload/{media_id}/finalize"),
        ("GET", "/2/media/upload"),
        ("GET", "/2/media/upload"),
        ("POST", "/2/tweets"),
    ]
    assert fake.received[0].json == {
        "media_type": "video/mp4",
        "total_bytes": 2500,
        "media_category": "tweet_video",
    }
    segments = [r.body.split(b'name="segment_index"\r\n\r\n')[1][:1] for r in fake.received[1:4]]
    assert segments == [b"0", b"1", b"2"]
    assert fake.received[5].query == {"command": ["STATUS"], "media_id": [media_id]}
    assert fake.received[-1].json["media"] == {"media_ids": [media_id]}


@pytest.mark.anyio
async def test_quote_and_reply(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    source = fake.add_tweet(fake.add_user("occitanie_info").id, "Une annonce")
    quote = await plugin.publish(account, Draft(text="À lire", quote_of=source.id))
    assert fake.received[-1].json == {"text": "À lire", "quote_tweet_id": source.id}
    assert fake.tweets[quote.remote_id].referenced == [{"type": "quoted", "id": source.id}]

    reply = await plugin.publish(account, Draft(text="Merci !", reply_to=source.id))
    assert fake.received[-1].json == {
        "text": "Merci !",
        "reply": {"in_reply_to_tweet_id": source.id},
    }
    assert fake.tweets[reply.remote_id].conversation_id == source.id


@pytest.mark.anyio
async def test_reply_to_an_inbox_item(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    fake.add_mention(account, "Quand ouvre le lycée ?", author="parent_eleve")
    page = await plugin.fetch_inbox(account, None)
    await plugin.reply(account, page.items[0], Draft(text="À la rentrée de septembre."))
    assert fake.received[-1].json == {
        "text": "À la rentrée de septembre.",
        "reply": {"in_reply_to_tweet_id": page.items[0].remote_id},
    }


@pytest.mark.anyio
async def test_repost_and_undo(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    source = fake.add_tweet(fake.add_user("presidente").id, "Discours")
    result = await plugin.repost(account, source.id)
    request = fake.received[-1]
    assert (request.method, request.path, request.json) == (
        "POST",
        f"/2/users/{account.external_id}/retweets",
        {"tweet_id": source.id},
    )
    assert (account.external_id, source.id) in fake.retweets

    await plugin.delete(account, result.remote_id)
    assert (fake.received[-1].method, fake.received[-1].path) == (
        "DELETE",
        f"/2/users/{account.external_id}/retweets/{source.id}",
    )
    assert (account.external_id, source.id) not in fake.retweets


@pytest.mark.anyio
async def test_delete(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    result = await plugin.publish(account, Draft(text="Erreur de frappe"))
    await plugin.delete(account, result.remote_id)
    request = fake.received[-1]
    assert (request.method, request.path, request.body) == (
        "DELETE",
        f"/2/tweets/{result.remote_id}",
        b"",
    )
    assert result.remote_id not in fake.tweets


# ---------------------------------------------------------------------- reconcile
@pytest.mark.anyio
async def test_reconcile_finds_the_post_despite_tco_links_and_escaping(
    plugin: XPlugin, fake: FakeX, account: AccountRef
) -> None:
    draft = Draft(text="Budget & climat : https://www.laregion.fr/budget")
    before = datetime.now(UTC) - timedelta(minutes=1)
    published = await plugin.publish(account, draft)
    fake.add_tweet(account.external_id, "Autre chose")

    found = await plugin.reconcile(
        account,
        draft,
        not_before=before,
        not_after=datetime.now(UTC) + timedelta(minutes=1),
    )

    assert found is not None and found.remote_id == published.remote_id
    request = fake.received[-1]
    assert (request.method, request.path) == (
        "GET",
        f"/2/users/{account.external_id}/tweets",
    )
    assert request.q("start_time") == before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert request.q("max_results") == "100"


@pytest.mark.anyio
async def test_reconcile_not_found_outside_window_or_other_text(
    plugin: XPlugin, fake: FakeX, account: AccountRef
) -> None:
    fake.add_tweet(account.external_id, "Bonjour", created_at=time.time() - 3600)
    now = datetime.now(UTC)
    assert (
        await plugin.reconcile(
            account,
            Draft(text="Bonjour"),
            not_before=now - timedelta(minutes=5),
            not_after=now,
        )
        is None
    )
    await plugin.publish(account, Draft(text="Bonsoir"))
    assert (
        await plugin.reconcile(
            account,
            Draft(text="Bonjour"),
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(minutes=1),
        )
        is None
    )


def _window(before: datetime) -> dict[str, datetime]:
    return {"not_before": before, "not_after": datetime.now(UTC) + timedelta(minutes=1)}


@pytest.mark.anyio
async def test_reconcile_tells_apart_two_posts_that_differ_by_their_link(
    plugin: XPlugin, fake: FakeX, account: AccountRef
) -> None:
    """Issue 10 (3): with every URL removed, B was "found" as A: B lost, A's id recorded twice."""
    before = datetime.now(UTC) - timedelta(minutes=1)
    first = Draft(text="Le budget est voté : https://www.laregion.fr/budget-2027")
    second = Draft(text="Le budget est voté : https://www.laregion.fr/budget-2027-annexes")
    a = await plugin.publish(account, first)
    assert await plugin.reconcile(account, second, **_window(before)) is None
    b = await plugin.publish(account, second)
    found_a = await plugin.reconcile(account, first, **_window(before))
    found_b = await plugin.reconcile(account, second, **_window(before))
    assert found_a is not None and found_a.remote_id == a.remote_id
    assert found_b is not None and found_b.remote_id == b.remote_id
    assert "entities" in fake.received[-1].q("tweet.fields").split(",")


@pytest.mark.anyio
async def test_reconcile_unescapes_the_network_side_only(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    """Issue 10 (4): a text holding ``&amp;`` never matched (the draft was unescaped too)."""
    before = datetime.now(UTC) - timedelta(minutes=1)
    literal = Draft(text="Écrire &amp; dans un post, et <b> aussi &lt;")
    plain = Draft(text="Écrire & dans un post, et <b> aussi <")
    published = await plugin.publish(account, literal)
    assert fake.tweets[published.remote_id].public({"text"})["text"].startswith("Écrire &amp;amp; dans")
    found = await plugin.reconcile(account, literal, **_window(before))
    assert found is not None and found.remote_id == published.remote_id
    assert await plugin.reconcile(account, plain, **_window(before)) is None


@pytest.mark.anyio
async def test_reconcile_compares_whitespace_exactly(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    await plugin.publish(account, Draft(text="Deux  espaces\net une ligne"))
    for look_alike in ("Deux espaces\net une ligne", "Deux  espaces et une ligne"):
        assert await plugin.reconcile(account, Draft(text=look_alike), **_window(before)) is None
    assert await plugin.reconcile(account, Draft(text="Deux  espaces\net une ligne"), **_window(before))


@pytest.mark.anyio
async def test_reconcile_drops_the_link_x_adds_for_media(
    plugin: XPlugin, fake: FakeX, account: AccountRef, tmp_path: Path
) -> None:
    photo = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", path=media_file(tmp_path, "p.png", 300))
    before = datetime.now(UTC) - timedelta(minutes=1)
    draft = Draft(text="Photo du jour https://www.laregion.fr", media=(photo,))
    published = await plugin.publish(account, draft)
    assert fake.tweets[published.remote_id].public({"text"})["text"].count("https://t.co/") == 2
    found = await plugin.reconcile(account, draft, **_window(before))
    assert found is not None and found.remote_id == published.remote_id


@pytest.mark.anyio
async def test_reconcile_pages_to_the_window_start_and_refuses_to_guess(
    plugin: XPlugin, fake: FakeX, account: AccountRef
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    ours = fake.add_tweet(account.external_id, "Bonne rentrée à tous les lycéens !")
    for n in range(1100):  # more than the ten pages of 100 the old walk read
        fake.add_tweet(account.external_id, f"Post suivant n°{n}")
    found = await plugin.reconcile(account, Draft(text="Bonne rentrée à tous les lycéens !"), **_window(before))
    assert found is not None and found.remote_id == ours.id
    twin = fake.add_tweet(account.external_id, "Bonne rentrée à tous les lycéens !")
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Bonne rentrée à tous les lycéens !"), **_window(before))
    assert set(caught.value.candidates) == {ours.id, twin.id}


@pytest.mark.anyio
async def test_reconcile_tells_a_reply_by_the_post_it_answers(
    plugin: XPlugin, fake: FakeX, account: AccountRef
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    asked, other = (fake.add_mention(account, text, author="citoyen") for text in ("Une question ?", "Une autre ?"))
    answer = Draft(text="Merci, voici la réponse", reply_to=asked.id)
    sent = await plugin.publish(account, answer)
    found = await plugin.reconcile(account, answer, **_window(before))
    assert found is not None and found.remote_id == sent.remote_id
    for look_alike in (Draft(text=answer.text), Draft(text=answer.text, reply_to=other.id)):
        assert await plugin.reconcile(account, look_alike, **_window(before)) is None


# ---------------------------------------------------------------------- inbox
@pytest.mark.anyio
async def test_inbox_paginates_then_resumes_from_newest(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    own = fake.add_tweet(account.external_id, "Ouverture des inscriptions")
    mentions = [fake.add_mention(account, f"question {i}", author=f"user{i % 3}") for i in range(11)]
    reply = fake.add_mention(account, "et pour les apprentis ?", author="apprenti", reply_to=own)

    pages, cursor = [], None
    for _ in range(4):
        page = await plugin.fetch_inbox(account, cursor)
        pages.append(page)
        cursor = page.next_cursor
        if cursor and cursor.startswith("since="):
            break
    assert [len(p.items) for p in pages] == [5, 5, 2]
    seen = [item.remote_id for p in pages for item in p.items]
    assert seen == [t.id for t in sorted([*mentions, reply], key=lambda t: int(t.id), reverse=True)]
    assert fake.received[1].q("pagination_token") and fake.received[0].q("max_results") == "5"
    assert fake.received[0].q("expansions") == "author_id"
    first = pages[0].items[0]
    assert (first.kind, first.author_handle, first.parent_id, first.thread_id) == (
        InboxKind.REPLY,
        "apprenti",
        own.id,
        own.id,
    )
    assert pages[0].items[1].kind is InboxKind.MENTION and pages[0].items[1].text.startswith(
        f"@{account.handle} question 10"
    )
    assert cursor == f"since={reply.id}"

    assert await plugin.fetch_inbox(account, cursor) == type(pages[0])(items=(), next_cursor=cursor)  # caught up
    assert fake.received[-1].q("since_id") == reply.id
    late = fake.add_mention(account, "encore une", author="user1")
    page = await plugin.fetch_inbox(account, cursor)
    assert [i.remote_id for i in page.items] == [late.id] and page.next_cursor == f"since={late.id}"


# ---------------------------------------------------------------------- metrics
@pytest.mark.anyio
async def test_metrics(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    post = await plugin.publish(account, Draft(text="Chiffres"))
    fake.tweets[post.remote_id].likes, fake.tweets[post.remote_id].impressions = (
        12,
        3400,
    )

    metrics = await plugin.fetch_account_metrics(account)
    assert (metrics.followers, metrics.following, metrics.posts) == (82_000, 120, 1)
    assert (
        fake.received[-1].path == f"/2/users/{account.external_id}"
        and fake.received[-1].q("user.fields") == "public_metrics"
    )

    [post_metrics] = await plugin.fetch_post_metrics(account, [post.remote_id, "999"])
    assert (
        post_metrics.remote_id,
        post_metrics.likes,
        post_metrics.impressions,
        post_metrics.reposts,
    ) == (post.remote_id, 12, 3400, 0)
    assert fake.received[-1].query == {
        "ids": [f"{post.remote_id},999"],
        "tweet.fields": ["public_metrics"],
    }


# ---------------------------------------------------------------------- OAuth
@pytest.mark.anyio
async def test_oauth_pkce_exchange_and_refresh(plugin: XPlugin, fake: FakeX, server: tuple[FakeX, str]) -> None:
    auth = plugin.authorization_url(state="st4te")
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.url).query).items()}
    assert auth.url.startswith(f"{server[1]}/i/oauth2/authorize?")
    assert query["state"] == "st4te" and query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
    assert (
        query["scope"] == "tweet.read tweet.write users.read offline.access media.write tweet.moderate.write"
        and query["redirect_uri"] == REDIRECT
    )
    assert auth.code_verifier and 43 <= len(auth.code_verifier) <= 128
    digest = hashlib.sha256(auth.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async with httpx.AsyncClient() as browser:  # the user's browser, approving at once
        consent = await browser.get(auth.url)
    callback = parse_qs(urlsplit(consent.headers["location"]).query)
    assert consent.status_code == 302 and callback["state"] == ["st4te"]

    tokens = await plugin.exchange_code(code=callback["code"][0], code_verifier=auth.code_verifier)
    token_request = fake.requests_to("POST", "/2/oauth2/token")[0]
    assert (
        token_request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_request.form == {
        "code": callback["code"][0],
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": auth.code_verifier,
        "client_id": CLIENT_ID,
    }
    assert tokens.access_token in fake.tokens and tokens.refresh_token and tokens.expires_at is not None
    assert tokens.extra["user_id"] == fake.tokens[tokens.access_token] and tokens.extra["username"]

    renewed = await plugin.refresh(Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token))
    assert fake.received[-1].form == {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "client_id": CLIENT_ID,
    }
    assert renewed.access_token in fake.tokens and renewed.refresh_token != tokens.refresh_token
    with pytest.raises(CredentialsExpired):  # refresh tokens are single use
        await plugin.refresh(Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token))


@pytest.mark.anyio
async def test_exchange_with_a_wrong_verifier_is_rejected(plugin: XPlugin, fake: FakeX) -> None:
    auth = plugin.authorization_url(state="s")
    async with httpx.AsyncClient() as browser:
        code = parse_qs(urlsplit((await browser.get(auth.url)).headers["location"]).query)["code"][0]
    with pytest.raises(Rejected) as caught:
        await plugin.exchange_code(code=code, code_verifier="not-the-verifier-" * 3)
    assert "code verifier" in caught.value.network_message


# ---------------------------------------------------------------------- webhooks
def test_webhook_crc_and_signature(server: tuple[FakeX, str]) -> None:
    plugin = XPlugin(settings_for(server[1]))
    challenge = plugin.webhook_challenge(
        WebhookRequest(method="GET", headers={}, query={"crc_token": "abc123"}, body=b"")
    )
    expected = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), b"abc123", hashlib.sha256).digest()).decode()
    assert challenge is not None and challenge.status == 200 and challenge.content_type == "application/json"
    assert json.loads(challenge.body) == {"response_token": f"sha256={expected}"}
    assert plugin.webhook_challenge(WebhookRequest(method="POST", headers={}, query={}, body=b"{}")) is None

    body = json.dumps(
        {
            "for_user_id": "42",
            "tweet_create_events": [
                {
                    "id_str": "7",
                    "text": "@Region merci &amp; bravo",
                    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                    "in_reply_to_status_id_str": "5",
                    "in_reply_to_user_id_str": "42",
                    "user": {"id_str": "9", "screen_name": "ana", "name": "Ana"},
                },
                {
                    "id_str": "8",
                    "text": "our own post",
                    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                    "user": {"id_str": "42"},
                },
            ],
        }
    ).encode()
    signature = "sha256=" + base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    signed = WebhookRequest(
        method="POST",
        headers={"x-twitter-webhooks-signature": signature},
        query={},
        body=body,
    )
    assert plugin.verify_webhook(signed)
    assert not plugin.verify_webhook(
        WebhookRequest(
            method="POST",
            headers={"x-twitter-webhooks-signature": signature},
            query={},
            body=body + b" ",
        )
    )
    assert not plugin.verify_webhook(WebhookRequest(method="POST", headers={}, query={}, body=body))
    [item] = plugin.parse_webhook(signed)
    assert (
        item.remote_id,
        item.kind,
        item.text,
        item.author_handle,
        item.parent_id,
    ) == ("7", InboxKind.REPLY, "@Region merci & bravo", "ana", "5")


# ---------------------------------------------------------------------- errors
@pytest.mark.anyio
async def test_rate_limited_uses_the_reset_header(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    fake.fail_next("rate_limited", retry_after=30)
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(account, Draft(text="trop vite"))
    assert 28 <= caught.value.retry_after <= 31 and caught.value.status == 429
    assert caught.value.network_message == "Too Many Requests"


@pytest.mark.anyio
async def test_expired_token(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    fake.expire_token(account.credentials.access_token)
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(account, Draft(text="bonjour"))
    assert caught.value.status == 401 and caught.value.network_message == "Unauthorized"
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired):
        await plugin.fetch_account_metrics(fake.make_account("autre"))


@pytest.mark.anyio
async def test_rejections_carry_the_network_message(plugin: XPlugin, fake: FakeX, account: AccountRef) -> None:
    fake.fail_next("rejected", message="The Tweet contains an invalid URL.")
    with pytest.raises(Rejected) as caught:
        await plugin.publish(account, Draft(text="lien cassé"))
    assert caught.value.network_message == "The Tweet contains an invalid URL." and caught.value.status == 400
    assert caught.value.code == "invalid-request"

    await plugin.publish(account, Draft(text="deux fois"))
    with pytest.raises(Rejected) as duplicate:
        await plugin.publish(account, Draft(text="deux fois"))
    assert duplicate.value.status == 403
    assert duplicate.value.network_message == "You are not allowed to create a Tweet with duplicate content."


@pytest.mark.anyio
async def test_server_error_timeout_and_drop_are_transient(
    server: tuple[FakeX, str], fake: FakeX, account: AccountRef
) -> None:
    plugin = XPlugin(settings_for(server[1]), http=httpx.AsyncClient(timeout=0.5))
    try:
        fake.fail_next("server_error")
        with pytest.raises(Transient) as caught:
            await plugin.publish(account, Draft(text="a"))
        assert caught.value.status == 500 and caught.value.network_message == "Internal Server Error"
        fake.fail_next("timeout", delay=2)
        with pytest.raises(Transient):
            await plugin.publish(account, Draft(text="b"))
        fake.fail_next("drop")
        with pytest.raises(Transient):
            await plugin.publish(account, Draft(text="c"))
    finally:
        await plugin.aclose()


# ---------------------------------------------------------------------- dry run and validation
@pytest.mark.anyio
async def test_prepare_publish_builds_requests_without_sending(
    plugin: XPlugin, fake: FakeX, account: AccountRef, tmp_path: Path
) -> None:
    image = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        alt_text="Carte",
        path=media_file(tmp_path, "c.jpg", 300),
    )
    steps = await plugin.prepare_publish(account, Draft(text="Carte", media=(image,)))
    assert fake.received == []
    assert [(s.method, s.url.removeprefix(plugin.base_url)) for s in steps] == [
        ("POST", "/2/media/upload"),
        ("POST", "/2/media/metadata"),
        ("POST", "/2/tweets"),
    ]
    assert all(s.headers["Authorization"] == "Bearer [redacted]" for s in steps)
    assert account.credentials.access_token not in repr(steps)
    assert steps[0].form is not None and steps[0].form["media_category"] == "tweet_image"
    assert steps[1].json == {
        "id": "{media_id_1}",
        "metadata": {"alt_text": {"text": "Carte"}},
    }
    assert steps[2].json == {"text": "Carte", "media": {"media_ids": ["{media_id_1}"]}}


@pytest.mark.anyio
async def test_shape_errors_are_refused_before_any_request(
    plugin: XPlugin, fake: FakeX, account: AccountRef, tmp_path: Path
) -> None:
    image = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/png",
        path=media_file(tmp_path, "i.png", 10),
    )
    video = MediaItem(
        kind=MediaKind.VIDEO,
        content_type="video/mp4",
        path=media_file(tmp_path, "v.mp4", 10),
    )
    with pytest.raises(Rejected, match="media or a quote"):
        await plugin.publish(account, Draft(text="x", media=(image,), quote_of="1"))
    with pytest.raises(Rejected, match="1 video"):
        await plugin.publish(account, Draft(text="x", media=(image, video)))
    assert fake.received == []


def test_validate_draft_limits() -> None:
    caps = XPlugin.capabilities
    assert validate_draft(caps, Draft(text="a" * 280)) == []
    [too_long] = validate_draft(caps, Draft(text="a" * 281))
    assert too_long.code == "text_too_long" and too_long.params["length"] == 281
    assert [v.code for v in validate_draft(caps, Draft(text="漢" * 141))] == ["text_too_long"]  # CJK weighs 2
    assert validate_draft(caps, Draft(text="https://example.com/" + "x" * 300)) == []  # a URL weighs 23

    image = MediaItem(kind=MediaKind.IMAGE, content_type="image/png")
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.PHOTO, media=(image,) * 5))] == [
        "too_many_media"
    ]
    video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", duration_s=200)
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.VIDEO, media=(video, video)))] == [
        "too_many_media",
        "media_too_long",
        "media_too_long",
    ]
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.POST, media=(video,)))] == [
        "media_kind_unsupported"
    ]
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.STORY))] == ["format_unsupported"]


# ---------------------------------------------------------------------- the fake's own strictness
@pytest.mark.anyio
async def test_fake_refuses_malformed_requests(server: tuple[FakeX, str], fake: FakeX, account: AccountRef) -> None:
    auth = {"Authorization": f"Bearer {account.credentials.access_token}"}
    async with httpx.AsyncClient(base_url=server[1], headers=auth) as client:
        form = await client.post("/2/tweets", data={"text": "form"})
        extra = await client.post("/2/tweets", json={"text": "x", "status": "v1 field"})
        unknown = await client.get("/1.1/statuses/home_timeline.json")
        wrong_verb = await client.put("/2/tweets")
    assert form.status_code == 400 and form.json()["detail"] == "Content-Type must be application/json"
    assert extra.status_code == 400 and "$.status" in extra.json()["errors"][0]["message"]
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == 34
    assert wrong_verb.status_code == 405 and wrong_verb.json()["title"] == "Method Not Allowed"


# ---------------------------------------------------------------------- the host's conformance suite
class TestXConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[XPlugin]:
        return XPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeX:
        fake = FakeX(
            client_id="conformance-client",
            client_secret="conformance-client-secret-7f3a9c",
            standing_code="conformance-code",
        )
        fake.video_check_after_secs = 0
        return fake

    @pytest.fixture
    def sample_drafts(self, tmp_path: Path) -> dict[Format, Draft]:
        photo = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            alt_text="La place du Capitole",
            path=media_file(tmp_path, "capitole.jpg", 700),
        )
        video = MediaItem(
            kind=MediaKind.VIDEO,
            content_type="video/mp4",
            path=media_file(tmp_path, "session.mp4", 1500),
            duration_s=30,
        )
        return {
            Format.POST: Draft(
                text="La Région vote son budget aujourd'hui.",
                link="https://www.laregion.fr/budget",
            ),
            Format.PHOTO: Draft(text="La place du Capitole.", format=Format.PHOTO, media=(photo,)),
            Format.VIDEO: Draft(
                text="La session plénière en vidéo.",
                format=Format.VIDEO,
                media=(video,),
            ),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeX)
        post = fake.tweets[remote_id]
        return [
            fake.add_mention(account, f"Réponse n°{n}", author=f"citoyen{n % 4}", reply_to=post).id for n in range(230)
        ]
