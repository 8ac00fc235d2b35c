"""LinkedIn plugin against the fake LinkedIn on 127.0.0.1: exact requests, state and typed errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import msgspec
import pytest

from core.channels import (
    Ambiguous,
    ChannelSettings,
    Credentials,
    CredentialsExpired,
    Draft,
    Feature,
    InboxKind,
    MediaItem,
    MediaKind,
    NotSupported,
    RateLimited,
    Rejected,
    Transient,
    validate_draft,
)
from plugins.channels.linkedin import (
    DEFAULT_BACKOFF_S,
    LinkedInPlugin,
    escape_little_text,
)
from plugins.testing.fake import serve_in_thread
from plugins.testing.fakes.linkedin import FakeLinkedIn

VERSION = "202609"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeLinkedIn, str]]:
    fake = FakeLinkedIn()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeLinkedIn, str]) -> FakeLinkedIn:
    server[0].reset()
    return server[0]


def settings(url: str, **extra: str) -> ChannelSettings:
    return ChannelSettings(
        base_url=url,
        client_id="li-client",
        client_secret="li-secret",
        redirect_uri="https://portevoix.example/oauth/linkedin",
        extra={
            "linkedin_version": VERSION,
            "oauth_base_url": url,
            "poll_interval_s": "0.01",
            "page_size": "2",
            **extra,
        },
    )


@pytest.fixture
async def plugin(server: tuple[FakeLinkedIn, str], fake: FakeLinkedIn) -> AsyncIterator[LinkedInPlugin]:
    instance = LinkedInPlugin(settings(server[1]), http=httpx.AsyncClient(timeout=httpx.Timeout(1.0)))
    yield instance
    await instance.aclose()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "canal.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 64)
    return path


def assert_rest_headers(headers: dict[str, str], token: str) -> None:
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["linkedin-version"] == VERSION
    assert headers["x-restli-protocol-version"] == "2.0.0"


# ---------------------------------------------------------------------- publishing


@pytest.mark.anyio
async def test_publish_text_sends_documented_post_and_reads_restli_id(
    plugin: LinkedInPlugin, fake: FakeLinkedIn
) -> None:
    account = fake.make_account()
    result = await plugin.publish(account, Draft(text="Le canal du Midi (UNESCO) #patrimoine", client_ref="d1"))

    [sent] = fake.requests_to("POST", r"^/rest/posts$")
    assert_rest_headers(sent.headers, account.credentials.access_token)
    assert sent.json == {
        "author": fake.organization,
        "commentary": r"Le canal du Midi \(UNESCO\) #patrimoine",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert result.remote_id.startswith("urn:li:share:")  # decoded from the URL-encoded header
    assert result.remote_id in fake.posts
    assert result.url == f"https://www.linkedin.com/feed/update/{result.remote_id}"


def test_little_text_escaping_keeps_mentions_links_and_hashtags() -> None:
    text = "Merci @[Devtestco](urn:li:organization:2414183) ! [info] a_b *x* <y> {z} ~ | \\ https://ex.fr/a_b #tag"
    assert escape_little_text(text) == (
        r"Merci @[Devtestco](urn:li:organization:2414183) ! \[info\] a\_b \*x\* \<y\> \{z\} \~ \| \\ "
        r"https://ex.fr/a_b #tag"
    )
    assert escape_little_text("prix #1 et C# @home") == r"prix #1 et C\# \@home"


@pytest.mark.anyio
async def test_publish_single_image_uploads_then_references_it_with_alt_text(
    plugin: LinkedInPlugin, fake: FakeLinkedIn, image: Path
) -> None:
    account = fake.make_account()
    media = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/png",
        path=str(image),
        alt_text="Écluse sur le canal",
    )
    result = await plugin.publish(account, Draft(text="Photo", media=(media,)))

    [init] = fake.requests_to("POST", r"^/rest/images$")
    assert init.q("action") == "initializeUpload"
    assert init.json == {"initializeUploadRequest": {"owner": fake.organization}}
    assert_rest_headers(init.headers, account.credentials.access_token)
    [upload] = fake.requests_to("PUT", r"^/dms-uploads/")
    assert upload.body == image.read_bytes()
    assert upload.headers["content-type"] == "image/png"
    assert len(fake.requests_to("GET", r"^/rest/images/")) == 2  # PROCESSING, then AVAILABLE
    [image_urn] = fake.images
    assert fake.posts[result.remote_id]["content"] == {"media": {"id": image_urn, "altText": "Écluse sur le canal"}}


@pytest.mark.anyio
async def test_publish_multi_image(plugin: LinkedInPlugin, fake: FakeLinkedIn, image: Path) -> None:
    media = tuple(
        MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/png",
            path=str(image),
            alt_text=f"vue {i}",
        )
        for i in (1, 2, 3)
    )
    result = await plugin.publish(fake.make_account(), Draft(text="Trois vues", media=media))

    [sent] = fake.requests_to("POST", r"^/rest/posts$")
    images = sent.json["content"]["multiImage"]["images"]
    assert [i["altText"] for i in images] == ["vue 1", "vue 2", "vue 3"]
    assert [i["id"] for i in images] == list(fake.images)
    assert result.remote_id in fake.posts


@pytest.mark.anyio
async def test_publish_link_as_article(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    draft = Draft(
        text="Notre rapport",
        link="https://www.laregion.fr/rapport",
        title="Rapport 2026",
    )
    await plugin.publish(fake.make_account(), draft)
    [sent] = fake.requests_to("POST", r"^/rest/posts$")
    assert sent.json["content"] == {
        "article": {
            "source": "https://www.laregion.fr/rapport",
            "title": "Rapport 2026",
        }
    }


@pytest.mark.anyio
async def test_prepare_publish_redacts_the_token(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    [prepared] = await plugin.prepare_publish(fake.make_account(), Draft(text="dry"))
    assert prepared.headers["Authorization"] == "Bearer ***"
    assert prepared.json["commentary"] == "dry"
    assert fake.received == []


def test_capabilities_validate_text_limit() -> None:
    assert validate_draft(LinkedInPlugin.capabilities, Draft(text="x" * 3000)) == []
    [violation] = validate_draft(LinkedInPlugin.capabilities, Draft(text="x" * 3001))
    assert violation.code == "text_too_long"


@pytest.mark.anyio
async def test_repost_is_a_reshare(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    parent = fake.add_post("original")
    result = await plugin.repost(fake.make_account(), parent)
    [sent] = fake.requests_to("POST", r"^/rest/posts$")
    assert sent.json["reshareContext"] == {"parent": parent}
    assert sent.json["commentary"] == ""
    assert fake.posts[result.remote_id]["reshareContext"]["parent"] == parent


@pytest.mark.anyio
async def test_delete_encodes_the_urn(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    urn = fake.add_post("à supprimer")
    await plugin.delete(fake.make_account(), urn)
    [sent] = fake.requests_to("DELETE", r"^/rest/posts/")
    assert sent.path == f"/rest/posts/{urn}"
    assert urn not in fake.posts
    await plugin.delete(fake.make_account(), urn)  # already gone: a retried delete is a success


@pytest.mark.anyio
async def test_fake_refuses_unencoded_urns_and_missing_version(
    server: tuple[FakeLinkedIn, str], fake: FakeLinkedIn
) -> None:
    urn = fake.add_post("x")
    token = fake.make_account().credentials.access_token
    headers = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    async with httpx.AsyncClient(base_url=server[1]) as client:
        raw = await client.delete(f"/rest/posts/{urn}", headers=headers)
        no_version = await client.get("/rest/posts", headers={"Authorization": f"Bearer {token}"})
        sunset = await client.get("/rest/posts", headers=headers | {"LinkedIn-Version": "202201"})
    assert raw.status_code == 400 and "URL-encoded" in raw.json()["message"]
    assert no_version.status_code == 400 and no_version.json()["code"] == "VERSION_MISSING"
    assert sunset.status_code == 426 and sunset.json()["code"] == "NONEXISTENT_VERSION"
    assert urn in fake.posts


@pytest.mark.anyio
async def test_sunset_version_is_rejected(server: tuple[FakeLinkedIn, str], fake: FakeLinkedIn) -> None:
    plugin = LinkedInPlugin(settings(server[1], linkedin_version="202101"))
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    await plugin.aclose()
    assert caught.value.status == 426 and "not active" in caught.value.network_message


# ---------------------------------------------------------------------- reconcile


@pytest.mark.anyio
async def test_reconcile_finds_the_post_in_the_window(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    fake.add_post("autre chose")
    urn = fake.add_post(escape_little_text("Le message (du jour)"))
    now = datetime.now(UTC)
    found = await plugin.reconcile(
        account,
        Draft(text="Le message (du jour)"),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(minutes=1),
    )
    assert found is not None and found.remote_id == urn
    [sent] = fake.requests_to("GET", r"^/rest/posts$")
    assert (sent.q("q"), sent.q("author"), sent.q("sortBy")) == ("author", fake.organization, "CREATED")


@pytest.mark.anyio
async def test_reconcile_not_found_outside_window_or_other_text(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    old = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    fake.add_post("Le message", created_ms=old)
    fake.add_post("Un autre message")
    now = datetime.now(UTC)
    assert (
        await plugin.reconcile(
            account,
            Draft(text="Le message"),
            not_before=now - timedelta(minutes=5),
            not_after=now,
        )
        is None
    )


@pytest.mark.anyio
async def test_reconcile_pages_back_to_the_attempt_past_many_newer_posts(
    plugin: LinkedInPlugin, fake: FakeLinkedIn
) -> None:
    """Issue 10 (2): a backlog of 50 posts or more after the interrupted attempt hid it from a
    50-post read; here 150, so that the walk needs a second page of 100."""
    account, start = fake.make_account(), datetime.now(UTC)
    urn = fake.add_post(escape_little_text("Forum de l'emploi à Montpellier"))
    for n in range(150):
        fake.add_post(f"Publication suivante n°{n}")
    found = await plugin.reconcile(
        account,
        Draft(text="Forum de l'emploi à Montpellier"),
        not_before=start - timedelta(minutes=10),
        not_after=datetime.now(UTC) + timedelta(minutes=1),
    )
    assert found is not None and found.remote_id == urn
    pages = fake.requests_to("GET", r"^/rest/posts$")
    assert {p.q("sortBy") for p in pages} == {"CREATED"} and len(pages) >= 2


@pytest.mark.anyio
async def test_reconcile_stops_at_the_window_start(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    """Bounded by time: posts older than not_before are never read past one page."""
    account, now = fake.make_account(), datetime.now(UTC)
    old = int((now - timedelta(days=3)).timestamp() * 1000)
    for n in range(250):
        fake.add_post(f"Archive n°{n}", created_ms=old + n)
    fake.add_post("Aujourd'hui")
    window = {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}
    assert await plugin.reconcile(account, Draft(text="Archive n°3"), **window) is None
    assert len(fake.requests_to("GET", r"^/rest/posts$")) == 1


@pytest.mark.anyio
async def test_reconcile_same_text_twice(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    """An identical post before the window is a deliberate earlier one; two inside it, a guess refused."""
    account, now = fake.make_account(), datetime.now(UTC)
    fake.add_post("Bonne année", created_ms=int((now - timedelta(days=365)).timestamp() * 1000))
    window = {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}
    assert await plugin.reconcile(account, Draft(text="Bonne année"), **window) is None
    ours = fake.add_post("Bonne année")
    found = await plugin.reconcile(account, Draft(text="Bonne année"), **window)
    assert found is not None and found.remote_id == ours
    other = fake.add_post("Bonne année")
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Bonne année"), **window)
    assert set(caught.value.candidates) == {ours, other}


# ---------------------------------------------------------------------- inbox and replies


@pytest.mark.anyio
async def test_inbox_pages_through_comments_of_recent_posts(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    first = fake.add_post("post 1")
    second = fake.add_post("post 2")
    fake.add_comment(first, "c1")
    fake.add_comment(first, "c2")
    fake.add_comment(first, "c3")
    fake.add_comment(first, "notre réponse", actor=fake.organization)  # our own: not inbox
    fake.add_comment(second, "d1")

    pages, cursor = [], None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        pages.append([item.text for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    # newest post first; page size 2 → post 2, then post 1 in two pages
    assert pages == [["d1"], ["c1", "c2"], ["c3"]]
    comment_calls = fake.requests_to("GET", r"/comments$")
    assert [(c.q("start"), c.q("count")) for c in comment_calls] == [
        ("0", "2"),
        ("0", "2"),
        ("2", "2"),
    ]
    assert_rest_headers(comment_calls[0].headers, account.credentials.access_token)


@pytest.mark.anyio
async def test_inbox_reads_the_replies_to_comments(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    """Issue 11 (1): replies live under ``socialActions/{comment}/comments``, not under the post."""
    account = fake.make_account()
    post = fake.add_post("Appel à projets")
    question = fake.add_comment(post, "Quelle date limite ?", actor="urn:li:person:lea")
    reply = fake.add_comment(post, "Le 30 juin, je crois", actor="urn:li:person:marc", parent=question)
    ours = fake.add_comment(post, "Le 30 juin.", actor=fake.organization, parent=question)
    later = fake.add_comment(post, "Et pour les associations ?", actor="urn:li:person:lea", parent=question)

    items = []
    cursor = None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        items += page.items
        if (cursor := page.next_cursor) is None:
            break
    by_id = {item.remote_id: item for item in items}
    assert set(by_id) == {question, reply, later} and ours not in by_id
    assert by_id[reply].kind is InboxKind.REPLY and by_id[reply].parent_id == question
    assert by_id[reply].thread_id == post
    encoded = quote(question, safe="")
    assert any(r.raw_path.startswith(f"/rest/socialActions/{encoded}/comments") for r in fake.received)


@pytest.mark.anyio
async def test_reply_to_comment_is_threaded(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    post = fake.add_post("post")
    fake.add_comment(post, "Question ?")
    [item] = (await plugin.fetch_inbox(account, None)).items
    assert item.kind is InboxKind.COMMENT and item.thread_id == post

    result = await plugin.reply(account, item, Draft(text="Merci pour votre question"))
    [sent] = fake.requests_to("POST", r"/comments$")
    assert sent.path == f"/rest/socialActions/{item.remote_id}/comments"
    assert sent.json == {
        "actor": fake.organization,
        "object": post,
        "message": {"text": "Merci pour votre question"},
        "parentComment": item.remote_id,
    }
    assert fake.comments[post][-1]["commentUrn"] == result.remote_id


# ---------------------------------------------------------------------- metrics


@pytest.mark.anyio
async def test_reconcile_of_a_reply_looks_among_the_comments_it_answers(
    plugin: LinkedInPlugin, fake: FakeLinkedIn
) -> None:
    """A reply is a delivery: after an interrupted answer, look where it was sent, not among the posts."""
    account = fake.make_account()
    post = fake.add_post("Appel à projets")
    fake.add_comment(post, "Quelle date ?", actor="urn:li:person:lea")
    [item] = (await plugin.fetch_inbox(account, None)).items
    answer = Draft(text="Le 30 juin (à minuit)", reply_to=item.remote_id)
    sent = await plugin.reply(account, item, answer)
    window = {
        "not_before": datetime.now(UTC) - timedelta(minutes=10),
        "not_after": datetime.now(UTC) + timedelta(minutes=1),
    }
    found = await plugin.reconcile(account, answer, **window)
    assert found is not None and found.remote_id == sent.remote_id
    other = msgspec.structs.replace(answer, text="Le 30 juin")
    assert await plugin.reconcile(account, other, **window) is None


@pytest.mark.anyio
async def test_account_and_post_metrics(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    urn = fake.add_post("post")
    fake.add_comment(urn, "c")
    metrics = await plugin.fetch_account_metrics(account)
    assert metrics.followers == 117_900
    assert metrics.extra["paid_followers"] == 50
    [size] = fake.requests_to("GET", r"^/rest/networkSizes/")
    assert size.q("edgeType") == "COMPANY_FOLLOWED_BY_MEMBER"

    [post] = await plugin.fetch_post_metrics(account, [urn])
    assert (post.remote_id, post.impressions, post.replies) == (urn, 1000, 1)
    [stats] = fake.requests_to("GET", r"ShareStatistics$")
    assert stats.q("shares") == f"List({urn})"
    assert stats.q("organizationalEntity") == fake.organization


# ---------------------------------------------------------------------- OAuth


@pytest.mark.anyio
async def test_oauth_authorize_exchange_and_refresh(
    plugin: LinkedInPlugin, fake: FakeLinkedIn, server: tuple[FakeLinkedIn, str]
) -> None:
    request = plugin.authorization_url(state="st-1")
    parts = urlsplit(request.url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth/v2/authorization"
    assert query["state"] == ["st-1"] and query["client_id"] == ["li-client"] and query["response_type"] == ["code"]
    async with httpx.AsyncClient() as client:  # the simulated consent redirects back with a code
        consent = await client.get(request.url)
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]

    tokens = await plugin.exchange_code(code=code)
    [sent] = fake.requests_to("POST", r"^/oauth/v2/accessToken$")
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://portevoix.example/oauth/linkedin",
        "client_id": "li-client",
        "client_secret": "li-secret",
    }
    assert tokens.refresh_token and tokens.expires_at and "refresh_expires_at" in tokens.extra

    refreshed = await plugin.refresh(Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token))
    assert fake.requests_to("POST", r"accessToken$")[-1].form["grant_type"] == "refresh_token"
    assert refreshed.access_token != tokens.access_token
    with pytest.raises(CredentialsExpired):
        await plugin.refresh(Credentials(access_token="x", refresh_token="revoked"))


# ---------------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_429_without_headers_uses_documented_backoff(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    fake.fail_next("rate_limited")
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert caught.value.retry_after == DEFAULT_BACKOFF_S
    assert fake.posts == {}


@pytest.mark.anyio
async def test_429_honours_retry_after_when_present(server: tuple[FakeLinkedIn, str], fake: FakeLinkedIn) -> None:
    class Throttled(FakeLinkedIn):
        def rate_limit_error(self, retry_after: float):  # type: ignore[no-untyped-def]
            response = super().rate_limit_error(retry_after)
            response.headers["retry-after"] = "42"
            return response

    throttled = Throttled()
    throttled.fail_next("rate_limited")
    with serve_in_thread(throttled) as url:
        plugin = LinkedInPlugin(settings(url))
        with pytest.raises(RateLimited) as caught:
            await plugin.publish(throttled.make_account(), Draft(text="x"))
        await plugin.aclose()
    assert caught.value.retry_after == 42


@pytest.mark.anyio
async def test_401_is_credentials_expired(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert caught.value.status == 401 and "expired" in caught.value.network_message


@pytest.mark.anyio
async def test_revoked_token_is_credentials_expired(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    account = fake.make_account()
    fake.revoked.add(account.credentials.access_token)
    with pytest.raises(CredentialsExpired):
        await plugin.fetch_account_metrics(account)


@pytest.mark.anyio
async def test_400_is_rejected_with_the_network_message(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    fake.fail_next("rejected", message="Content is a duplicate of urn:li:share:1")
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert caught.value.network_message == "Content is a duplicate of urn:li:share:1"
    assert caught.value.status == 400


@pytest.mark.anyio
async def test_422_validation_is_rejected(plugin: LinkedInPlugin, fake: FakeLinkedIn) -> None:
    with pytest.raises(Rejected) as caught:
        await plugin.repost(fake.make_account(), "urn:li:share:404")
    assert caught.value.status == 422 and "does not exist" in caught.value.network_message


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["server_error", "timeout", "drop"])
async def test_server_error_timeout_and_drop_are_transient(
    plugin: LinkedInPlugin, fake: FakeLinkedIn, kind: str
) -> None:
    fake.fail_next(kind, delay=2.0)  # type: ignore[arg-type]
    with pytest.raises(Transient):
        await plugin.publish(fake.make_account(), Draft(text="x"))


def test_features_are_declared_honestly() -> None:
    features = LinkedInPlugin.capabilities.features
    assert {
        Feature.REPOST,
        Feature.DELETE,
        Feature.INBOX,
        Feature.REPLY,
        Feature.METRICS,
    } <= features
    assert Feature.PRIVATE_MESSAGES not in features


@pytest.mark.anyio
async def test_unoffered_operations_raise_not_supported(plugin: LinkedInPlugin) -> None:
    with pytest.raises(NotSupported):
        plugin.webhook_challenge(None)  # type: ignore[arg-type]


class Mounted:
    """Mounts an ASGI app under a prefix the way Litestar/Starlette do (``root_path`` + full path)."""

    def __init__(self, app: FakeLinkedIn, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            if not scope["path"].startswith(self.prefix):  # a real router answers 404 outside the mount
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            scope = dict(scope, root_path=self.prefix)
        await self.app(scope, receive, send)


@pytest.mark.anyio
async def test_fake_works_under_a_mount_prefix(image: Path) -> None:
    fake = FakeLinkedIn()
    with serve_in_thread(Mounted(fake, "/simulated/linkedin")) as url:
        plugin = LinkedInPlugin(settings(f"{url}/simulated/linkedin"))
        media = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", path=str(image))
        result = await plugin.publish(fake.make_account(), Draft(text="monté", media=(media,)))
        await plugin.aclose()
    assert result.remote_id in fake.posts
    # the upload URL pointed back through the mount, and the fake saw paths without the prefix
    assert [r.path for r in fake.received][:2] == [
        "/rest/images",
        fake.received[1].path,
    ]
    assert fake.received[1].method == "PUT" and fake.received[1].path.startswith("/dms-uploads/")
