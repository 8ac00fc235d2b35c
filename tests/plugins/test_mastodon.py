"""Mastodon plugin against the fake instance on 127.0.0.1: exact requests, idempotency, pagination, errors."""

from __future__ import annotations

import base64
import hashlib
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
    InboxKind,
    MediaItem,
    MediaKind,
    NotSupported,
    RateLimited,
    Rejected,
    RemoteItem,
    Transient,
    UsageReport,
)
from plugins.channels.mastodon import MastodonPlugin, plain_text
from plugins.testing.fake import serve_in_thread
from plugins.testing.fakes.mastodon import FakeMastodon, render_html


class Recorder:
    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeMastodon, str]]:
    fake = FakeMastodon()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeMastodon, str]) -> FakeMastodon:
    server[0].reset()
    return server[0]


@pytest.fixture
def usage() -> Recorder:
    return Recorder()


@pytest.fixture
async def plugin(
    server: tuple[FakeMastodon, str], fake: FakeMastodon, usage: Recorder
) -> AsyncIterator[MastodonPlugin]:
    settings = ChannelSettings(
        base_url=server[1],
        client_id="md-client",
        client_secret="md-secret",
        redirect_uri="https://portevoix.example/oauth/mastodon",
        extra={"poll_interval_s": "0.01", "page_size": "2"},
    )
    instance = MastodonPlugin(settings, http=httpx.AsyncClient(timeout=httpx.Timeout(1.0)), usage=usage)
    yield instance
    await instance.aclose()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "pont.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"j" * 100)
    return path


# ---------------------------------------------------------------------- publishing


@pytest.mark.anyio
async def test_publish_sends_status_with_idempotency_key(
    plugin: MastodonPlugin, fake: FakeMastodon, usage: Recorder
) -> None:
    account = fake.make_account()
    draft = Draft(
        text="Bonjour le Fédivers",
        client_ref="delivery-17",
        options={"language": "fr", "visibility": "unlisted"},
    )
    result = await plugin.publish(account, draft)

    [sent] = fake.requests_to("POST", r"^/api/v1/statuses$")
    assert sent.headers["authorization"] == f"Bearer {account.credentials.access_token}"
    assert sent.headers["idempotency-key"] == "delivery-17"
    assert sent.json == {
        "status": "Bonjour le Fédivers",
        "visibility": "unlisted",
        "language": "fr",
    }
    status = fake.statuses[result.remote_id]
    assert status["visibility"] == "unlisted" and result.url == status["url"]
    assert result.published_at is not None
    [report] = usage.reports
    assert report.channel == "mastodon" and report.endpoint == "POST /api/v1/statuses"
    assert (report.limit, report.remaining) == (300, 299)
    assert report.reset_at is not None and report.reset_at > datetime.now(UTC)
    assert report.account_external_id == account.external_id


@pytest.mark.anyio
async def test_same_idempotency_key_twice_creates_one_status(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    draft = Draft(text="Une seule fois", client_ref="delivery-18")
    first = await plugin.publish(account, draft)
    second = await plugin.publish(account, draft)
    assert first.remote_id == second.remote_id
    assert [s["id"] for s in fake.statuses.values()] == [first.remote_id]
    other = await plugin.publish(account, Draft(text="Une seule fois", client_ref="delivery-19"))
    assert other.remote_id != first.remote_id


@pytest.mark.anyio
async def test_publish_with_image_uploads_multipart_with_alt_text(
    plugin: MastodonPlugin, fake: FakeMastodon, image: Path
) -> None:
    media = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        path=str(image),
        alt_text="Le pont du Gard",
    )
    result = await plugin.publish(fake.make_account(), Draft(text="Photo", media=(media,), client_ref="d-img"))

    [upload] = fake.requests_to("POST", r"^/api/v2/media$")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="description"' in upload.body and b"Le pont du Gard" in upload.body
    assert image.read_bytes() in upload.body
    [media_id] = fake.media
    assert fake.media[media_id]["description"] == "Le pont du Gard"
    assert fake.requests_to("POST", r"^/api/v1/statuses$")[0].json["media_ids"] == [media_id]
    assert fake.statuses[result.remote_id]["media_attachments"][0]["id"] == media_id
    assert fake.requests_to("GET", r"^/api/v1/media/") == []  # 200 at once: no polling


@pytest.mark.anyio
async def test_publish_video_polls_until_processed(plugin: MastodonPlugin, fake: FakeMastodon, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"v" * 100)
    media = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", path=str(video), alt_text="Clip")
    result = await plugin.publish(fake.make_account(), Draft(text="Vidéo", media=(media,)))
    polls = fake.requests_to("GET", r"^/api/v1/media/")
    assert len(polls) == 2  # 206 while processing, then 200 with url
    assert fake.statuses[result.remote_id]["media_attachments"][0]["url"]


@pytest.mark.anyio
async def test_repost_is_a_boost(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    original = fake.add_status("À partager", author=fake._remote("alice"))
    result = await plugin.repost(fake.make_account(), original["id"])
    [sent] = fake.requests_to("POST", r"/reblog$")
    assert sent.path == f"/api/v1/statuses/{original['id']}/reblog"
    assert fake.statuses[result.remote_id]["reblog"]["id"] == original["id"]
    assert original["reblogs_count"] == 1


@pytest.mark.anyio
async def test_delete(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    status = fake.add_status("Erreur")
    await plugin.delete(fake.make_account(), status["id"])
    [sent] = fake.requests_to("DELETE", r"^/api/v1/statuses/")
    assert sent.path == f"/api/v1/statuses/{status['id']}"
    assert status["id"] not in fake.statuses
    await plugin.delete(fake.make_account(), status["id"])  # already gone: success


def test_plain_text_roundtrip_of_rendered_content() -> None:
    text = "Ligne 1 & <2>\nLigne 3 https://laregion.fr/a_b?x=1\n\nParagraphe"
    assert plain_text(render_html(text)) == text


# ---------------------------------------------------------------------- reconcile


@pytest.mark.anyio
async def test_reconcile_finds_the_status_by_text_in_window(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    target = fake.add_status("Le message du jour\n\nhttps://laregion.fr/actu")  # what publish sends
    for n in range(3):  # newer statuses push it to the second page
        fake.add_status(f"autre {n}")
    now = datetime.now(UTC)
    found = await plugin.reconcile(
        account,
        Draft(text="Le message du jour", link="https://laregion.fr/actu"),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(minutes=1),
    )
    assert found is not None and found.remote_id == target["id"]
    calls = fake.requests_to("GET", r"/statuses$")
    assert len(calls) >= 2 and calls[1].q("max_id") is not None  # the whole window is read
    assert calls[0].path == f"/api/v1/accounts/{account.external_id}/statuses"
    assert calls[0].q("exclude_reblogs") == "true" and calls[0].q("limit") == "2"


@pytest.mark.anyio
async def test_reconcile_not_found(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    fake.add_status("Le message", created_at=(datetime.now(UTC) - timedelta(days=2)).timestamp())
    fake.add_status("Autre chose")
    now = datetime.now(UTC)
    assert (
        await plugin.reconcile(
            fake.make_account(),
            Draft(text="Le message"),
            not_before=now - timedelta(minutes=5),
            not_after=now,
        )
        is None
    )


def _window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}


@pytest.mark.anyio
async def test_reconcile_compares_the_source_text_exactly(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    """Issue 10 (3): ``content`` is HTML, and squashing its whitespace made look-alikes equal."""
    account = fake.make_account()
    ours = fake.add_status("Deux  espaces\n\n\ntrois lignes & <balises>")
    for look_alike in ("Deux espaces\n\n\ntrois lignes & <balises>", "Deux  espaces\n\ntrois lignes & <balises>"):
        assert await plugin.reconcile(account, Draft(text=look_alike), **_window()) is None
    found = await plugin.reconcile(account, Draft(text="Deux  espaces\n\n\ntrois lignes & <balises>"), **_window())
    assert found is not None and found.remote_id == ours["id"]
    assert fake.requests_to("GET", rf"^/api/v1/statuses/{ours['id']}/source$")


@pytest.mark.anyio
async def test_reconcile_pages_back_to_the_window_and_refuses_to_guess(
    plugin: MastodonPlugin, fake: FakeMastodon
) -> None:
    account = fake.make_account()
    fake.add_status("Bonne année", created_at=(datetime.now(UTC) - timedelta(days=365)).timestamp())
    ours = fake.add_status("Bonne année")
    for n in range(60):
        fake.add_status(f"Publication suivante n°{n}")
    found = await plugin.reconcile(account, Draft(text="Bonne année"), **_window())
    assert found is not None and found.remote_id == ours["id"]
    twin = fake.add_status("Bonne année")
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Bonne année"), **_window())
    assert set(caught.value.candidates) == {ours["id"], twin["id"]}


# ---------------------------------------------------------------------- inbox and replies


@pytest.mark.anyio
async def test_inbox_follows_link_headers_for_mentions_and_conversations(
    plugin: MastodonPlugin, fake: FakeMastodon
) -> None:
    account = fake.make_account()
    for n in range(3):
        fake.add_mention(f"question {n}", from_acct=f"user{n}")
    fake.add_direct_message("message privé", from_acct="bob")

    texts, cursor, pages = [], None, 0
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        pages += 1
        texts += [(item.kind, item.text) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages >= 2
    me = f"@{fake.me['acct']}"
    assert [t for k, t in texts if k is InboxKind.MENTION] == [
        f"{me} question 2",
        f"{me} question 1",
        f"{me} question 0",
    ]
    assert [t for k, t in texts if k is InboxKind.MESSAGE] == [f"{me} message privé"]
    calls = fake.requests_to("GET", r"^/api/v1/notifications$")
    assert all(c.query["types[]"] == ["mention"] for c in calls)
    assert calls[0].q("max_id") is None and calls[1].q("max_id") is not None  # the Link header's next
    assert fake.requests_to("GET", r"^/api/v1/conversations$")


async def _whole_inbox(plugin: MastodonPlugin, account: AccountRef) -> tuple[list[RemoteItem], dict[str, str]]:
    items: list[RemoteItem] = []
    unavailable: dict[str, str] = {}
    cursor = None
    for _ in range(20):
        page = await plugin.fetch_inbox(account, cursor)
        items += page.items
        unavailable |= page.unavailable
        if (cursor := page.next_cursor) is None:
            return items, unavailable
    raise AssertionError("the inbox never ended")


@pytest.mark.anyio
async def test_a_refused_private_message_source_does_not_hide_the_mentions(
    plugin: MastodonPlugin, fake: FakeMastodon
) -> None:
    """Issue 11 (1): a token without ``read:statuses`` lost every mention with the conversations."""
    account = fake.make_account()
    mentions = [fake.add_mention(f"question {n}", from_acct=f"user{n}")["id"] for n in range(3)]
    fake.add_direct_message("message privé", from_acct="bob")
    fake.withheld_scopes = {"read:statuses"}
    items, unavailable = await _whole_inbox(plugin, account)
    assert sorted(i.remote_id for i in items) == sorted(mentions)
    assert unavailable == {"conversations": "This action is outside the authorized scopes"}


@pytest.mark.anyio
async def test_a_transient_failure_of_one_source_keeps_the_other_and_retries(
    plugin: MastodonPlugin, fake: FakeMastodon
) -> None:
    account = fake.make_account()
    mention = fake.add_mention("question", from_acct="alice")["id"]
    message = fake.add_direct_message("message privé", from_acct="bob")["id"]
    fake.fail_next("server_error", path=r"^/api/v1/conversations$")
    first = await plugin.fetch_inbox(account, None)
    assert [i.remote_id for i in first.items] == [mention] and "conversations" in first.unavailable
    assert first.next_cursor is not None  # the conversations are asked again
    items, unavailable = await _whole_inbox(plugin, account)
    assert message in {i.remote_id for i in items} and not unavailable


@pytest.mark.anyio
async def test_reply_to_mention_and_to_private_message(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    fake.add_mention("une question ?", from_acct="alice")
    fake.add_direct_message("en privé", from_acct="bob")
    page = await plugin.fetch_inbox(account, None)
    mention = next(i for i in page.items if i.kind is InboxKind.MENTION)
    message = next(i for i in page.items if i.kind is InboxKind.MESSAGE)

    await plugin.reply(account, mention, Draft(text="Voici la réponse", client_ref="r-1"))
    await plugin.reply(account, message, Draft(text="Réponse privée", client_ref="r-2"))
    public, private = fake.requests_to("POST", r"^/api/v1/statuses$")
    assert public.json == {
        "status": "@alice Voici la réponse",
        "visibility": "public",
        "in_reply_to_id": mention.remote_id,
    }
    assert public.headers["idempotency-key"] == "r-1"
    assert private.json == {
        "status": "@bob Réponse privée",
        "visibility": "direct",
        "in_reply_to_id": message.remote_id,
    }


@pytest.mark.anyio
async def test_reconcile_finds_a_reply_with_the_mention_publish_added(
    plugin: MastodonPlugin, fake: FakeMastodon
) -> None:
    """A reply is a delivery too: its status starts with the @mention ``reply`` adds, and answers its item."""
    account = fake.make_account()
    question = fake.add_mention("une question ?", from_acct="alice")
    [item] = (await plugin.fetch_inbox(account, None)).items
    answer = Draft(text="Voici la réponse", client_ref="r-1", reply_to=item.remote_id)
    sent = await plugin.reply(account, item, answer)
    found = await plugin.reconcile(account, answer, **_window())
    assert found is not None and found.remote_id == sent.remote_id
    # The same words as a post, or answering another item, are other statuses.
    assert await plugin.reconcile(account, Draft(text="Voici la réponse"), **_window()) is None
    other = fake.add_mention("une autre ?", from_acct="alice")
    elsewhere = Draft(text="Voici la réponse", reply_to=other["id"])
    assert await plugin.reconcile(account, elsewhere, **_window()) is None and question["id"] != other["id"]


# ---------------------------------------------------------------------- metrics


@pytest.mark.anyio
async def test_metrics(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    status = fake.add_status("populaire")
    status.update(favourites_count=7, reblogs_count=3)
    fake.add_mention("réponse", in_reply_to_id=status["id"])
    metrics = await plugin.fetch_account_metrics(account)
    assert (metrics.followers, metrics.posts) == (42_000, 1)
    assert fake.requests_to("GET", r"verify_credentials$")
    [post] = await plugin.fetch_post_metrics(account, [status["id"], "999"])
    assert (post.likes, post.reposts, post.replies) == (7, 3, 1)


@pytest.mark.anyio
async def test_instance_max_characters(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    assert await plugin.max_characters() == 500


# ---------------------------------------------------------------------- OAuth


@pytest.mark.anyio
async def test_oauth_with_pkce_and_no_refresh(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    request = plugin.authorization_url(state="st-9", scopes=["write:statuses"])
    query = parse_qs(urlsplit(request.url).query)
    assert urlsplit(request.url).path == "/oauth/authorize"
    assert (
        query["code_challenge_method"] == ["S256"]
        and query["state"] == ["st-9"]
        and query["scope"] == ["write:statuses"]
    )
    assert request.code_verifier
    expected = base64.urlsafe_b64encode(hashlib.sha256(request.code_verifier.encode()).digest()).decode().rstrip("=")
    assert query["code_challenge"] == [expected]
    async with httpx.AsyncClient() as client:
        consent = await client.get(request.url)
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]

    tokens = await plugin.exchange_code(code=code, code_verifier=request.code_verifier)
    [sent] = fake.requests_to("POST", r"^/oauth/token$")
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "md-client",
        "client_secret": "md-secret",
        "redirect_uri": "https://portevoix.example/oauth/mastodon",
        "code_verifier": request.code_verifier,
    }
    assert tokens.access_token and tokens.expires_at is None and tokens.refresh_token is None
    assert await plugin.fetch_account_metrics(fake.make_account(tokens.access_token))
    with pytest.raises(NotSupported):
        await plugin.refresh(Credentials(access_token=tokens.access_token))


@pytest.mark.anyio
async def test_oauth_wrong_verifier_is_rejected(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    request = plugin.authorization_url(state="s")
    async with httpx.AsyncClient() as client:
        code = parse_qs(urlsplit((await client.get(request.url)).headers["location"]).query)["code"][0]
    with pytest.raises(Rejected) as caught:
        await plugin.exchange_code(code=code, code_verifier="wrong")
    assert caught.value.code == "invalid_grant"


# ---------------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_429_waits_until_the_reset_header(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    fake.fail_next("rate_limited", retry_after=120)
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert 115 <= caught.value.retry_after <= 120
    assert fake.statuses == {}


@pytest.mark.anyio
async def test_real_rate_limit_exhaustion(
    server: tuple[FakeMastodon, str],
    fake: FakeMastodon,
    plugin: MastodonPlugin,
    usage: Recorder,
) -> None:
    fake.rate_limit = 2
    account = fake.make_account()
    await plugin.fetch_account_metrics(account)
    await plugin.fetch_account_metrics(account)
    with pytest.raises(RateLimited) as caught:
        await plugin.fetch_account_metrics(account)
    fake.rate_limit = 300
    assert 290 <= caught.value.retry_after <= 300
    assert [r.remaining for r in usage.reports] == [1, 0, 0]


@pytest.mark.anyio
async def test_401_is_credentials_expired(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert caught.value.network_message == "The access token is invalid"


@pytest.mark.anyio
async def test_revoked_token_is_credentials_expired(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    fake.revoked.add(account.credentials.access_token)
    with pytest.raises(CredentialsExpired):
        await plugin.publish(account, Draft(text="x"))


@pytest.mark.anyio
async def test_400_is_rejected_with_the_network_message(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    fake.fail_next("rejected", message="Validation failed: Text can't be blank")
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x"))
    assert caught.value.network_message == "Validation failed: Text can't be blank" and caught.value.status == 400


@pytest.mark.anyio
async def test_422_too_long_is_rejected(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), Draft(text="x" * 501))
    assert caught.value.status == 422 and "character limit of 500" in caught.value.network_message


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["server_error", "timeout", "drop"])
async def test_server_error_timeout_and_drop_are_transient(
    plugin: MastodonPlugin, fake: FakeMastodon, kind: str
) -> None:
    fake.fail_next(kind, delay=2.0)  # type: ignore[arg-type]
    with pytest.raises(Transient):
        await plugin.publish(fake.make_account(), Draft(text="x", client_ref="t-1"))


@pytest.mark.anyio
async def test_retry_after_a_dropped_answer_does_not_double_post(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    """The work is done but the answer is lost: the retry with the same key returns the same status."""
    fake.fail_next("slow", delay=2.0)
    draft = Draft(text="Annonce", client_ref="lost-answer")
    with pytest.raises(Transient):
        await plugin.publish(fake.make_account(), draft)
    result = await plugin.publish(fake.make_account(), draft)
    assert list(fake.statuses) == [result.remote_id]


class Mounted:
    """Mounts an ASGI app under a prefix the way Litestar/Starlette do (``root_path`` + full path)."""

    def __init__(self, app: FakeMastodon, prefix: str) -> None:
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
async def test_fake_works_under_a_mount_prefix() -> None:
    fake = FakeMastodon()
    for n in range(3):
        fake.add_mention(f"m{n}")
    with serve_in_thread(Mounted(fake, "/simulated/mastodon")) as url:
        plugin = MastodonPlugin(ChannelSettings(base_url=f"{url}/simulated/mastodon", extra={"page_size": "2"}))
        first = await plugin.fetch_inbox(fake.make_account(), None)
        second = await plugin.fetch_inbox(fake.make_account(), first.next_cursor)
        await plugin.aclose()
    assert len(first.items) == 2 and len(second.items) == 1
    assert fake.received[0].path == "/api/v1/notifications"  # the prefix is stripped


# ---------------------------------------------------------------------- search (veille)


@pytest.mark.anyio
async def test_search_pages_through_matching_statuses(plugin: MastodonPlugin, fake: FakeMastodon) -> None:
    account = fake.make_account()
    wanted = [fake.add_status(f"Les vendanges commencent à Gaillac ({n})")["id"] for n in range(3)]
    fake.add_status("Rien à voir")
    first = await plugin.search(account, "vendanges", None)
    sent = fake.received[-1]
    assert (sent.path, sent.q("q"), sent.q("type"), sent.q("limit"), sent.q("offset")) == (
        "/api/v2/search",
        "vendanges",
        "statuses",
        "2",
        "0",
    )
    assert first.next_cursor == "2" and all(item.kind is InboxKind.MENTION for item in first.items)
    second = await plugin.search(account, "vendanges", first.next_cursor)
    assert second.next_cursor is None
    assert [item.remote_id for item in first.items + second.items] == sorted(wanted, key=int, reverse=True)
    assert first.items[0].thread_id == first.items[0].remote_id and "Gaillac" in first.items[0].text
