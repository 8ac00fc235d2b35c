"""The Bluesky plugin against the fake PDS served on 127.0.0.1: exact XRPC requests, state, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from core.channels import (
    AccountRef,
    Ambiguous,
    ChannelSettings,
    CredentialsExpired,
    Draft,
    Format,
    InboxKind,
    InboxPage,
    MediaItem,
    MediaKind,
    RateLimited,
    Rejected,
    Transient,
    UsageReport,
    validate_draft,
)
from plugins.channels.bluesky import BlueskyPlugin
from plugins.testing import FakeNetwork, serve_in_thread
from plugins.testing.conformance import ChannelConformance
from plugins.testing.fakes.bluesky import FakeBluesky


class Recorder:
    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeBluesky, str]]:
    fake = FakeBluesky()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeBluesky, str]) -> FakeBluesky:
    server[0].reset()
    server[0].access_ttl_s = 7200
    return server[0]


@pytest.fixture
def usage() -> Recorder:
    return Recorder()


@pytest.fixture
async def plugin(server: tuple[FakeBluesky, str], usage: Recorder) -> AsyncIterator[BlueskyPlugin]:
    instance = BlueskyPlugin(ChannelSettings(base_url=server[1], extra={"inbox_page_size": "5"}), usage=usage)
    yield instance
    await instance.aclose()


@pytest.fixture
def account(fake: FakeBluesky) -> AccountRef:
    return fake.make_account()


def image_file(tmp_path: Path, name: str, size: int = 400) -> str:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (size // 256))
    return str(path)


def created_record(fake: FakeBluesky) -> dict:
    [request] = fake.requests_to("POST", r"/xrpc/com\.atproto\.repo\.createRecord$")[-1:]
    return request.json["record"]


# ---------------------------------------------------------------------- publishing
@pytest.mark.anyio
async def test_publish_text_logs_in_resolves_mentions_and_sends_byte_facets(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef, usage: Recorder
) -> None:
    ana = fake.add_actor("ana.bsky.social", "Ana")
    text = "🎉 Bravo @ana.bsky.social ! Programme : https://www.laregion.fr/fete #Occitanie"
    result = await plugin.publish(account, Draft(text=text, options={"langs": "fr"}))

    resolve, login, create = fake.received  # resolveHandle needs no session
    assert (login.method, login.path, login.headers["content-type"]) == (
        "POST",
        "/xrpc/com.atproto.server.createSession",
        "application/json",
    )
    assert login.json == {
        "identifier": account.external_id,
        "password": account.credentials.access_token,
    }
    assert "authorization" not in login.headers
    assert (resolve.method, resolve.path, resolve.query) == (
        "GET",
        "/xrpc/com.atproto.identity.resolveHandle",
        {"handle": ["ana.bsky.social"]},
    )
    assert (create.method, create.path) == (
        "POST",
        "/xrpc/com.atproto.repo.createRecord",
    )
    assert fake.access_tokens[create.headers["authorization"].removeprefix("Bearer ")][0] == account.external_id
    assert create.json["repo"] == account.external_id and create.json["collection"] == "app.bsky.feed.post"
    record = create.json["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["text"] == text and record["langs"] == ["fr"]
    assert record["createdAt"].endswith("Z") and abs(
        datetime.fromisoformat(record["createdAt"]) - datetime.now(UTC)
    ) < timedelta(seconds=5)
    raw = text.encode()
    spans = [
        (
            raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(),
            f["features"][0],
        )
        for f in record["facets"]
    ]
    assert spans == [
        (
            "@ana.bsky.social",
            {"$type": "app.bsky.richtext.facet#mention", "did": ana.did},
        ),
        (
            "https://www.laregion.fr/fete",
            {
                "$type": "app.bsky.richtext.facet#link",
                "uri": "https://www.laregion.fr/fete",
            },
        ),
        ("#Occitanie", {"$type": "app.bsky.richtext.facet#tag", "tag": "Occitanie"}),
    ]
    assert record["facets"][0]["index"]["byteStart"] == 11  # 🎉 is 4 bytes, "Bravo " 6: not the string index 8
    assert (
        result.remote_id in fake.records
        and result.url == f"https://bsky.app/profile/{account.handle}/post/{result.remote_id.rsplit('/', 1)[1]}"
    )
    assert any(n["_owner"] == ana.did and n["reason"] == "mention" for n in fake.notifications)
    assert [r.endpoint for r in usage.reports] == [
        "com.atproto.identity.resolveHandle",
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
    ]
    assert usage.reports[-1].limit == 3000 and usage.reports[-1].remaining == 2997


@pytest.mark.anyio
async def test_session_is_reused_then_refreshed_before_expiry(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    await plugin.publish(account, Draft(text="un"))
    await plugin.publish(account, Draft(text="deux"))
    assert len(fake.requests_to("POST", "createSession")) == 1

    session = plugin._sessions[account.external_id]
    session.expires = 0  # as if two hours had passed: the next call renews the session first
    await plugin.publish(account, Draft(text="quatre"))
    [refresh] = fake.requests_to("POST", "refreshSession")
    assert refresh.headers["authorization"] == f"Bearer {session.refresh}" and refresh.body == b""

    fake.refresh_tokens.clear()  # the refresh JWT died too: log in again
    plugin._sessions[account.external_id].expires = 0
    await plugin.publish(account, Draft(text="cinq"))
    assert len(fake.requests_to("POST", "createSession")) == 2


@pytest.mark.anyio
async def test_publish_images_with_alt_text(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef, tmp_path: Path
) -> None:
    paths = [image_file(tmp_path, f"{n}.png", 300 * n) for n in (1, 2)]
    media = tuple(
        MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/png",
            path=p,
            alt_text=f"Vue {n}",
            width=1200,
            height=800,
        )
        for n, p in enumerate(paths, start=1)
    )
    await plugin.publish(account, Draft(text="Le Canal du Midi", format=Format.PHOTO, media=media))

    uploads = fake.requests_to("POST", r"uploadBlob$")
    assert [u.headers["content-type"] for u in uploads] == ["image/png", "image/png"]
    assert [u.body for u in uploads] == [Path(p).read_bytes() for p in paths]
    embed = created_record(fake)["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [(i["alt"], i["aspectRatio"], i["image"]["mimeType"], i["image"]["size"]) for i in embed["images"]] == [
        (
            "Vue 1",
            {"width": 1200, "height": 800},
            "image/png",
            len(Path(paths[0]).read_bytes()),
        ),
        (
            "Vue 2",
            {"width": 1200, "height": 800},
            "image/png",
            len(Path(paths[1]).read_bytes()),
        ),
    ]
    assert all(i["image"]["ref"]["$link"] in fake.blobs for i in embed["images"])


@pytest.mark.anyio
async def test_publish_link_card(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    draft = Draft(
        text="Le budget est voté.",
        link="https://www.laregion.fr/budget",
        title="Budget 2026",
        options={"link_description": "Les grandes lignes"},
    )
    await plugin.publish(account, draft)
    assert created_record(fake)["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://www.laregion.fr/budget",
            "title": "Budget 2026",
            "description": "Les grandes lignes",
        },
    }


@pytest.mark.anyio
async def test_quote_with_and_without_media(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef, tmp_path: Path
) -> None:
    source = fake.add_post("presidente.bsky.social", "Mon discours de ce matin")
    await plugin.publish(account, Draft(text="À lire", quote_of=source.uri))
    get = fake.requests_to("GET", r"getRecord$")[-1]
    did, collection, rkey = source.uri.removeprefix("at://").split("/")
    assert get.query == {"repo": [did], "collection": [collection], "rkey": [rkey]}
    assert created_record(fake)["embed"] == {
        "$type": "app.bsky.embed.record",
        "record": {"uri": source.uri, "cid": source.cid},
    }

    image = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/png",
        path=image_file(tmp_path, "q.png"),
        alt_text="Photo",
    )
    await plugin.publish(account, Draft(text="Et en image", quote_of=source.uri, media=(image,)))
    embed = created_record(fake)["embed"]
    assert embed["$type"] == "app.bsky.embed.recordWithMedia" and embed["record"]["record"] == {
        "uri": source.uri,
        "cid": source.cid,
    }
    assert embed["media"]["$type"] == "app.bsky.embed.images"
    assert any(n["reason"] == "quote" and n["_owner"] == did for n in fake.notifications)


@pytest.mark.anyio
async def test_reply_keeps_the_thread_root(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    root = await plugin.publish(account, Draft(text="Inscriptions ouvertes"))
    question = fake.add_post("parent.bsky.social", "Jusqu'à quand ?", reply_to=root.remote_id)
    page = await plugin.fetch_inbox(account, None)
    [item] = page.items
    assert (item.kind, item.parent_id, item.thread_id, item.author_handle) == (
        InboxKind.REPLY,
        root.remote_id,
        root.remote_id,
        "parent.bsky.social",
    )

    answer = await plugin.reply(account, item, Draft(text="Jusqu'au 30 juin."))
    reply = created_record(fake)["reply"]
    assert reply == {
        "root": {"uri": root.remote_id, "cid": fake.records[root.remote_id].cid},
        "parent": {"uri": question.uri, "cid": question.cid},
    }
    assert answer.remote_id in fake.records


@pytest.mark.anyio
async def test_repost_and_delete(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    source = fake.add_post("presidente.bsky.social", "Discours")
    repost = await plugin.repost(account, source.uri)
    record = created_record(fake)
    assert fake.received[-1].json["collection"] == "app.bsky.feed.repost"
    assert record["$type"] == "app.bsky.feed.repost" and record["subject"] == {
        "uri": source.uri,
        "cid": source.cid,
    }
    assert repost.remote_id.startswith(f"at://{account.external_id}/app.bsky.feed.repost/")

    await plugin.delete(account, repost.remote_id)
    delete = fake.received[-1]
    assert (delete.method, delete.path, delete.headers["content-type"]) == (
        "POST",
        "/xrpc/com.atproto.repo.deleteRecord",
        "application/json",
    )
    assert delete.json == {
        "repo": account.external_id,
        "collection": "app.bsky.feed.repost",
        "rkey": repost.remote_id.rsplit("/", 1)[1],
    }
    assert repost.remote_id not in fake.records

    post = await plugin.publish(account, Draft(text="à effacer"))
    await plugin.delete(account, post.remote_id)
    assert post.remote_id not in fake.records


# ---------------------------------------------------------------------- reconcile
@pytest.mark.anyio
async def test_reconcile_found_and_not_found(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    draft = Draft(text="La Région investit dans le rail 🚆")
    published = await plugin.publish(account, draft)
    await plugin.repost(
        account, fake.add_post("sncf.bsky.social", draft.text).uri
    )  # same text by someone else, reposted
    window = {
        "not_before": start,
        "not_after": datetime.now(UTC) + timedelta(minutes=1),
    }

    found = await plugin.reconcile(account, draft, **window)
    assert found is not None and found.remote_id == published.remote_id
    listing = fake.requests_to("GET", r"listRecords$")[-1]  # the PDS's own records, not the AppView
    assert listing.query == {
        "repo": [account.external_id],
        "collection": ["app.bsky.feed.post"],
        "limit": ["100"],
    }

    assert await plugin.reconcile(account, Draft(text="jamais publié"), **window) is None
    later = {
        "not_before": datetime.now(UTC) + timedelta(minutes=2),
        "not_after": datetime.now(UTC) + timedelta(minutes=3),
    }
    assert await plugin.reconcile(account, draft, **later) is None


@pytest.mark.anyio
async def test_reconcile_pages_back_to_the_window_and_refuses_to_guess(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    window = {
        "not_before": datetime.now(UTC) - timedelta(minutes=1),
        "not_after": datetime.now(UTC) + timedelta(minutes=1),
    }
    ours = await plugin.publish(account, Draft(text="Bonne rentrée !"))
    for n in range(1050):  # more than the ten pages of 100 the old walk read
        fake.add_post(account.handle, f"Publication suivante n°{n}")
    found = await plugin.reconcile(account, Draft(text="Bonne rentrée !"), **window)
    assert found is not None and found.remote_id == ours.remote_id
    twin = fake.add_post(account.handle, "Bonne rentrée !")
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, Draft(text="Bonne rentrée !"), **window)
    assert set(caught.value.candidates) == {ours.remote_id, twin.uri}


@pytest.mark.anyio
async def test_reconcile_tells_apart_the_same_text_with_another_link_card(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    window = {
        "not_before": datetime.now(UTC) - timedelta(minutes=1),
        "not_after": datetime.now(UTC) + timedelta(minutes=1),
    }
    first = Draft(text="Le programme de l'été", link="https://www.laregion.fr/ete")
    published = await plugin.publish(account, first)
    other = msgspec.structs.replace(first, link="https://www.laregion.fr/ete-2")
    assert await plugin.reconcile(account, other, **window) is None
    found = await plugin.reconcile(account, first, **window)
    assert found is not None and found.remote_id == published.remote_id


# ---------------------------------------------------------------------- inbox
@pytest.mark.anyio
async def test_inbox_paginates_then_resumes(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    post = await plugin.publish(account, Draft(text="Question du jour"))
    expected = [fake.add_post(f"user{n}.bsky.social", f"réponse {n}", reply_to=post.remote_id).uri for n in range(8)]
    expected += [fake.add_post("ana.bsky.social", f"@{account.handle} tu as vu ?", mention=account).uri]
    expected += [fake.add_post("bob.bsky.social", "Regardez ça", quote=post.remote_id).uri]
    fake.add_like(post.remote_id)  # likes are not inbox items
    expected.reverse()  # newest first

    pages: list[InboxPage] = []
    cursor = None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None or cursor.startswith("since="):
            break
    assert [len(p.items) for p in pages] == [5, 5]
    assert [i.remote_id for p in pages for i in p.items] == expected
    first = fake.requests_to("GET", r"listNotifications$")[0]
    assert first.query == {"limit": ["5"], "reasons": ["mention", "reply", "quote"]}
    assert fake.requests_to("GET", r"listNotifications$")[1].q("cursor")
    kinds = {i.remote_id: i.kind for p in pages for i in p.items}
    assert (
        kinds[expected[0]] is InboxKind.MENTION
        and kinds[expected[1]] is InboxKind.MENTION
        and kinds[expected[2]] is InboxKind.REPLY
    )

    assert await plugin.fetch_inbox(account, cursor) == InboxPage(items=(), next_cursor=cursor)  # caught up
    late = fake.add_post("carla.bsky.social", "encore moi", reply_to=post.remote_id)
    page = await plugin.fetch_inbox(account, cursor)
    assert [i.remote_id for i in page.items] == [late.uri] and page.next_cursor and page.next_cursor != cursor


# ---------------------------------------------------------------------- metrics
@pytest.mark.anyio
async def test_metrics(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    post = await plugin.publish(account, Draft(text="Chiffres"))
    fake.add_like(post.remote_id, 7)
    fake.add_post("ana.bsky.social", "Bien !", reply_to=post.remote_id)
    await plugin.repost(fake.make_account("autre.bsky.social"), post.remote_id)

    metrics = await plugin.fetch_account_metrics(account)
    assert (metrics.followers, metrics.following, metrics.posts) == (12_400, 80, 1)
    assert fake.received[-1].query == {"actor": [account.external_id]}

    [m] = await plugin.fetch_post_metrics(account, [post.remote_id])
    assert (m.remote_id, m.likes, m.replies, m.reposts, m.extra["quote_count"]) == (
        post.remote_id,
        7,
        1,
        1,
        0.0,
    )
    assert fake.received[-1].query == {"uris": [post.remote_id]}


# ---------------------------------------------------------------------- errors
@pytest.mark.anyio
async def test_rate_limited_reads_ratelimit_reset(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    fake.fail_next("rate_limited", retry_after=30, path="createRecord")
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(account, Draft(text="vite"))
    assert 28 <= caught.value.retry_after <= 31 and caught.value.network_message == "Rate Limit Exceeded"


@pytest.mark.anyio
async def test_expired_token_refreshes_the_session(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    """Issue 11 (1): an access JWT the PDS calls expired is renewed, not a reason to reconnect."""
    await plugin.publish(account, Draft(text="avant"))
    fake.expire_sessions()  # the PDS says ExpiredToken although the plugin thought the JWT valid
    result = await plugin.publish(account, Draft(text="pendant"))
    assert result.remote_id in fake.records
    assert len(fake.requests_to("POST", "refreshSession")) == 1
    assert len(fake.requests_to("POST", "createSession")) == 1  # no new login: the refresh JWT did it


@pytest.mark.anyio
async def test_expired_token_with_a_dead_refresh_logs_in_again(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    await plugin.publish(account, Draft(text="avant"))
    fake.expire_sessions()
    fake.refresh_tokens.clear()  # the refresh JWT is dead too
    result = await plugin.publish(account, Draft(text="pendant"))
    assert result.remote_id in fake.records and len(fake.requests_to("POST", "createSession")) == 2


@pytest.mark.anyio
async def test_an_access_token_expired_again_after_renewal_is_credentials_expired(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    await plugin.publish(account, Draft(text="avant"))
    fake.expire_sessions()
    monkeypatch.setattr(fake, "access_ttl_s", -10)  # every JWT the PDS issues is already expired
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(account, Draft(text="pendant"))
    assert caught.value.network_message == "Token has expired"
    assert account.external_id not in plugin._sessions


@pytest.mark.anyio
async def test_revoked_app_password_is_credentials_expired(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    fake.revoke_app_passwords(account.external_id)
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(account, Draft(text="bonjour"))
    assert caught.value.status == 401 and caught.value.network_message == "Invalid identifier or password"


@pytest.mark.anyio
async def test_rejected_carries_the_network_message(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef
) -> None:
    fake.fail_next(
        "rejected",
        message="Record/text must not be longer than 300 graphemes",
        path="createRecord",
    )
    with pytest.raises(Rejected) as caught:
        await plugin.publish(account, Draft(text="texte"))
    assert caught.value.network_message == "Record/text must not be longer than 300 graphemes"
    assert (caught.value.code, caught.value.status) == ("InvalidRequest", 400)


@pytest.mark.anyio
async def test_server_error_timeout_and_drop_are_transient(
    server: tuple[FakeBluesky, str], fake: FakeBluesky, account: AccountRef
) -> None:
    plugin = BlueskyPlugin(ChannelSettings(base_url=server[1]), http=httpx.AsyncClient(timeout=0.5))
    try:
        for kind in ("server_error", "timeout", "drop"):
            fake.fail_next(kind, delay=2, path="createRecord")  # type: ignore[arg-type]
            with pytest.raises(Transient):
                await plugin.publish(account, Draft(text=f"essai {kind}"))
    finally:
        await plugin.aclose()


# ---------------------------------------------------------------------- dry run and validation
@pytest.mark.anyio
async def test_prepare_publish_sends_nothing_and_redacts(
    plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef, tmp_path: Path
) -> None:
    image = MediaItem(
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        path=image_file(tmp_path, "a.jpg"),
        alt_text="Carte",
    )
    steps = await plugin.prepare_publish(account, Draft(text="Carte https://laregion.fr", media=(image,)))
    assert fake.received == []
    assert [s.url.rsplit("/", 1)[1] for s in steps] == [
        "com.atproto.server.createSession",
        "com.atproto.repo.uploadBlob",
        "com.atproto.repo.createRecord",
    ]
    assert account.credentials.access_token not in repr(steps) and steps[0].json["password"] == "[redacted]"
    record = steps[2].json["record"]
    assert (
        record["embed"]["images"][0]["alt"] == "Carte"
        and record["facets"][0]["features"][0]["uri"] == "https://laregion.fr"
    )


@pytest.mark.anyio
async def test_limits(plugin: BlueskyPlugin, fake: FakeBluesky, account: AccountRef) -> None:
    caps = BlueskyPlugin.capabilities
    assert validate_draft(caps, Draft(text="é" * 300)) == []
    assert [v.code for v in validate_draft(caps, Draft(text="é" * 301))] == ["text_too_long"]
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 25 bytes
    assert validate_draft(caps, Draft(text=family * 150)) == []  # 150 graphemes…
    with pytest.raises(Rejected, match="bytes"):  # …but 3,750 bytes: refused before any request
        await plugin.publish(account, Draft(text=family * 150))
    image = MediaItem(kind=MediaKind.IMAGE, content_type="image/png")
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.PHOTO, media=(image,) * 5))] == [
        "too_many_media"
    ]
    assert [v.code for v in validate_draft(caps, Draft(text="x", format=Format.VIDEO))] == ["format_unsupported"]
    assert fake.received == []


# ---------------------------------------------------------------------- the fake's own strictness
@pytest.mark.anyio
async def test_fake_refuses_malformed_xrpc(
    server: tuple[FakeBluesky, str], fake: FakeBluesky, account: AccountRef
) -> None:
    async with httpx.AsyncClient(base_url=server[1]) as client:
        login = await client.post(
            "/xrpc/com.atproto.server.createSession",
            json={
                "identifier": account.handle,
                "password": account.credentials.access_token,
            },
        )
        auth = {"Authorization": f"Bearer {login.json()['accessJwt']}"}
        record = {
            "$type": "app.bsky.feed.post",
            "text": "abc",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "facets": [
                {
                    "index": {"byteStart": 1, "byteEnd": 9},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}],
                }
            ],
        }
        bad_facet = await client.post(
            "/xrpc/com.atproto.repo.createRecord",
            headers=auth,
            json={
                "repo": account.external_id,
                "collection": "app.bsky.feed.post",
                "record": record,
            },
        )
        long_text = await client.post(
            "/xrpc/com.atproto.repo.createRecord",
            headers=auth,
            json={
                "repo": account.external_id,
                "collection": "app.bsky.feed.post",
                "record": {**record, "text": "a" * 301, "facets": []},
            },
        )
        unknown = await client.get("/xrpc/app.bsky.feed.getTimelineX", headers=auth)
        wrong_verb = await client.get("/xrpc/com.atproto.repo.createRecord", headers=auth)
        anonymous = await client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": account.handle})
    assert login.status_code == 200 and set(login.json()) >= {
        "accessJwt",
        "refreshJwt",
        "did",
        "handle",
    }
    assert (
        bad_facet.status_code == 400
        and bad_facet.json()["error"] == "InvalidRequest"
        and "facets/0" in bad_facet.json()["message"]
    )
    assert long_text.status_code == 400 and "300 graphemes" in long_text.json()["message"]
    assert unknown.status_code == 501 and unknown.json()["error"] == "MethodNotImplemented"
    assert wrong_verb.status_code == 400 and wrong_verb.json()["error"] == "InvalidRequest"
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "AuthenticationRequired"


# ---------------------------------------------------------------------- the host's conformance suite
class TestBlueskyConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[BlueskyPlugin]:
        return BlueskyPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeBluesky:
        return FakeBluesky()

    @pytest.fixture
    def sample_drafts(self, tmp_path: Path) -> dict[Format, Draft]:
        photo = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/png",
            path=image_file(tmp_path, "capitole.png"),
            alt_text="La place du Capitole",
        )
        return {
            Format.POST: Draft(
                text="La Région vote son budget aujourd'hui. #Occitanie",
                link="https://www.laregion.fr/budget",
            ),
            Format.PHOTO: Draft(text="La place du Capitole.", format=Format.PHOTO, media=(photo,)),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeBluesky)
        return [
            fake.add_post(f"citoyen{n % 4}.bsky.social", f"Réponse n°{n}", reply_to=remote_id).uri for n in range(120)
        ]
