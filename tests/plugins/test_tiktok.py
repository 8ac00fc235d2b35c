"""TikTok plugin against the fake TikTok on 127.0.0.1: creator info, Direct Post, polling, errors."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.channels import (
    Ambiguous,
    ChannelSettings,
    Credentials,
    CredentialsExpired,
    Draft,
    Feature,
    Format,
    MediaItem,
    MediaKind,
    NotSupported,
    RateLimited,
    Rejected,
    Transient,
    validate_draft,
)
from plugins.channels.tiktok import DEFAULT_BACKOFF_S, TikTokPlugin
from plugins.testing.fake import serve_in_thread
from plugins.testing.fakes.tiktok import FakeTikTok

VIDEO_URL = "https://media.laregion.example/clip.mp4"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeTikTok, str]]:
    fake = FakeTikTok()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(server: tuple[FakeTikTok, str]) -> FakeTikTok:
    server[0].reset()
    return server[0]


def make_plugin(url: str, **extra: str) -> TikTokPlugin:
    settings = ChannelSettings(
        base_url=url,
        client_id="tt-client-key",
        client_secret="tt-secret",
        redirect_uri="https://portevoix.example/oauth/tiktok/",
        extra={
            "auth_base_url": url,
            "poll_interval_s": "0.01",
            "poll_timeout_s": "2",
            **extra,
        },
    )
    return TikTokPlugin(settings, http=httpx.AsyncClient(timeout=httpx.Timeout(1.0)))


@pytest.fixture
async def plugin(server: tuple[FakeTikTok, str], fake: FakeTikTok) -> AsyncIterator[TikTokPlugin]:
    instance = make_plugin(server[1])
    yield instance
    await instance.aclose()


def video_draft(**options: str) -> Draft:
    media = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", url=VIDEO_URL, duration_s=30)
    return Draft(
        text="Au marché de Sète #occitanie",
        format=Format.VIDEO,
        media=(media,),
        options=options,
    )


def photo_draft(**options: str) -> Draft:
    media = tuple(
        MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            url=f"https://media.laregion.example/{i}.jpg",
        )
        for i in (1, 2)
    )
    return Draft(
        text="Deux photos du port",
        title="Le port",
        format=Format.PHOTO,
        media=media,
        options=options,
    )


# ---------------------------------------------------------------------- publishing


@pytest.mark.anyio
async def test_video_pull_from_url_direct_post(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    account = fake.make_account()
    result = await plugin.publish(account, video_draft(privacy_level="PUBLIC_TO_EVERYONE"))

    calls = [(r.method, r.path) for r in fake.received]
    assert calls[:2] == [
        ("POST", "/v2/post/publish/creator_info/query/"),
        ("POST", "/v2/post/publish/video/init/"),
    ]
    assert all(path == "/v2/post/publish/status/fetch/" for _, path in calls[2:]) and len(calls) == 4
    [init] = fake.requests_to("POST", r"video/init/$")
    assert init.headers["authorization"] == f"Bearer {account.credentials.access_token}"
    assert init.headers["content-type"] == "application/json; charset=UTF-8"
    assert init.json == {
        "post_info": {
            "title": "Au marché de Sète #occitanie",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "disable_comment": False,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
            "disable_duet": False,
            "disable_stitch": True,  # the creator turned stitches off: honoured
            "is_aigc": False,
        },
        "source_info": {"source": "PULL_FROM_URL", "video_url": VIDEO_URL},
    }
    [job] = fake.jobs.values()
    assert result.remote_id == job["post_id"]
    assert result.url == f"https://www.tiktok.com/@carole.presidente/video/{job['post_id']}"
    assert fake.requests_to("POST", r"status/fetch/$")[0].json == {"publish_id": job["publish_id"]}


@pytest.mark.anyio
async def test_video_file_upload_in_chunks(server: tuple[FakeTikTok, str], fake: FakeTikTok, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * (11 * 1024 * 1024 // 256 + 3))  # ≈ 11 MB → 2 chunks of 5 MB + remainder
    size = path.stat().st_size
    media = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", path=str(path), duration_s=12)
    draft = Draft(
        text="Clip",
        format=Format.VIDEO,
        media=(media,),
        options={"privacy_level": "SELF_ONLY"},
    )
    plugin = make_plugin(server[1], chunk_size=str(5 * 1024 * 1024))
    result = await plugin.publish(fake.make_account(), draft)
    await plugin.aclose()

    [init] = fake.requests_to("POST", r"video/init/$")
    chunk = 5 * 1024 * 1024
    assert init.json["source_info"] == {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": size // chunk,
    }
    puts = fake.requests_to("PUT", r"^/video/upload/$")
    assert [p.headers["content-range"] for p in puts] == [
        f"bytes 0-{chunk - 1}/{size}",
        f"bytes {chunk}-{size - 1}/{size}",
    ]
    assert b"".join(p.body for p in puts) == path.read_bytes()
    assert all(p.headers["content-type"] == "video/mp4" for p in puts)
    assert result.remote_id in fake.videos


@pytest.mark.anyio
async def test_photo_post(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    result = await plugin.publish(
        fake.make_account(),
        photo_draft(privacy_level="FOLLOWER_OF_CREATOR", photo_cover_index="1"),
    )
    [init] = fake.requests_to("POST", r"content/init/$")
    assert init.json == {
        "media_type": "PHOTO",
        "post_mode": "DIRECT_POST",
        "post_info": {
            "title": "Le port",
            "description": "Deux photos du port",
            "privacy_level": "FOLLOWER_OF_CREATOR",
            "disable_comment": False,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
            "auto_add_music": True,
        },
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 1,
            "photo_images": [
                "https://media.laregion.example/1.jpg",
                "https://media.laregion.example/2.jpg",
            ],
        },
    }
    assert fake.videos[result.remote_id]["video_description"] == "Deux photos du port"


@pytest.mark.anyio
async def test_privacy_level_not_offered_is_rejected_naming_the_allowed_ones(
    plugin: TikTokPlugin, fake: FakeTikTok
) -> None:
    fake.creator["privacy_level_options"] = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="PUBLIC_TO_EVERYONE"))
    assert caught.value.code == "privacy_level_option_mismatch"
    assert "FOLLOWER_OF_CREATOR, SELF_ONLY" in str(caught.value)
    assert fake.requests_to("POST", r"init/$") == []  # nothing was sent to post


@pytest.mark.anyio
async def test_privacy_level_must_be_chosen(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft())
    assert caught.value.code == "privacy_level_required" and "SELF_ONLY" in str(caught.value)


@pytest.mark.anyio
async def test_unaudited_client_only_offers_self_only(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.audited = False
    try:
        with pytest.raises(Rejected) as caught:
            await plugin.publish(fake.make_account(), video_draft(privacy_level="PUBLIC_TO_EVERYONE"))
        assert "allowed: SELF_ONLY" in str(caught.value)
        assert await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    finally:
        fake.audited = True


@pytest.mark.anyio
async def test_creator_disabled_comments_and_max_duration_are_honoured(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.creator.update(comment_disabled=True, max_video_post_duration_sec=20)
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert caught.value.code == "duration_check_failed" and "20" in str(caught.value)
    fake.creator["max_video_post_duration_sec"] = 600
    await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert fake.requests_to("POST", r"video/init/$")[0].json["post_info"]["disable_comment"] is True


@pytest.mark.anyio
async def test_status_failed_is_rejected_with_fail_reason(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.fail_next_publish("video_pull_failed")
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert caught.value.code == "video_pull_failed" and caught.value.network_message == "video_pull_failed"


@pytest.mark.anyio
async def test_unverified_url_prefix_is_rejected(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.verified_url_prefixes = ("https://cdn.verified.example/",)
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert caught.value.code == "url_ownership_unverified" and caught.value.status == 403


@pytest.mark.anyio
async def test_daily_cap_is_rejected(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.daily_cap = 1
    try:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
        with pytest.raises(Rejected) as caught:
            await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
        assert caught.value.code == "spam_risk_too_many_posts"
    finally:
        fake.daily_cap = 15


def test_capabilities_formats_limits_and_notices() -> None:
    caps = TikTokPlugin.capabilities
    assert validate_draft(caps, video_draft(privacy_level="SELF_ONLY")) == []
    assert validate_draft(caps, Draft(text="texte seul"))[0].code == "format_unsupported"
    no_media = Draft(text="x", format=Format.VIDEO)
    assert validate_draft(caps, no_media)[0].code == "media_missing"
    assert (
        validate_draft(
            caps,
            Draft(text="x", title="t" * 91, format=Format.PHOTO, media=photo_draft().media),
        )[0].code
        == "title_too_long"
    )
    assert any("SELF_ONLY" in notice for notice in caps.notices)
    assert not caps.features & {
        Feature.REPOST,
        Feature.DELETE,
        Feature.INBOX,
        Feature.REPLY,
        Feature.PRIVATE_MESSAGES,
    }


@pytest.mark.anyio
async def test_repost_delete_inbox_are_not_supported(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    account = fake.make_account()
    for call in (
        plugin.repost(account, "1"),
        plugin.delete(account, "1"),
        plugin.fetch_inbox(account, None),
    ):
        with pytest.raises(NotSupported):
            await call


@pytest.mark.anyio
async def test_prepare_publish_is_offline(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    steps = await plugin.prepare_publish(fake.make_account(), photo_draft(privacy_level="SELF_ONLY"))
    assert steps[1].json["post_info"]["privacy_level"] == "SELF_ONLY"
    assert all(step.headers["Authorization"] == "Bearer ***" for step in steps)
    assert fake.received == []


# ---------------------------------------------------------------------- reconcile


@pytest.mark.anyio
async def test_reconcile_finds_by_video_list_across_pages(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    now = int(time.time())
    target = fake.add_video("Au marché de Sète #occitanie", create_time=now - 30)
    for n in range(25):  # newer videos push the target to the second page (20 per page)
        fake.add_video(f"autre {n}", create_time=now - 20 + n % 5)
    found = await plugin.reconcile(
        fake.make_account(),
        video_draft(privacy_level="PUBLIC_TO_EVERYONE"),
        not_before=datetime.now(UTC) - timedelta(minutes=5),
        not_after=datetime.now(UTC),
    )
    assert found is not None and found.remote_id == target["id"]
    lists = fake.requests_to("POST", r"^/v2/video/list/$")
    assert len(lists) == 2 and lists[0].json == {"max_count": 20} and "cursor" in lists[1].json
    assert "title" in (lists[0].q("fields") or "")


@pytest.mark.anyio
async def test_reconcile_never_says_not_there_from_the_video_list(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    """The list holds public posts only, once moderation passed: absence from it proves nothing, and a
    "not there" would send the post again. Without the publish_id, a person decides."""
    fake.add_video("Au marché de Sète #occitanie", create_time=int(time.time()) - 86_400)
    fake.add_video("Autre chose")
    now = datetime.now(UTC)
    window = {"not_before": now - timedelta(minutes=5), "not_after": now}
    with pytest.raises(Ambiguous) as public:
        await plugin.reconcile(fake.make_account(), video_draft(privacy_level="PUBLIC_TO_EVERYONE"), **window)
    assert public.value.candidates == () and "moderation" in public.value.network_message
    lists = len(fake.requests_to("POST", r"^/v2/video/list/$"))
    with pytest.raises(Ambiguous) as private:
        await plugin.reconcile(fake.make_account(), video_draft(privacy_level="SELF_ONLY"), **window)
    assert "private" in private.value.network_message
    assert len(fake.requests_to("POST", r"^/v2/video/list/$")) == lists  # a private post is never listed


@pytest.mark.anyio
async def test_the_fake_lists_public_posts_only(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    account = fake.make_account()
    private = await plugin.publish(account, video_draft(privacy_level="SELF_ONLY"))
    public = await plugin.publish(account, video_draft(privacy_level="PUBLIC_TO_EVERYONE"))
    listed = await plugin._call(account, "POST", "/v2/video/list/", body={"max_count": 20}, params={"fields": "id"})
    assert [v["id"] for v in listed["videos"]] == [public.remote_id] and private.remote_id in fake.videos


@pytest.mark.anyio
async def test_reconcile_compares_the_caption_exactly_and_refuses_to_guess(
    plugin: TikTokPlugin, fake: FakeTikTok
) -> None:
    """Issue 10 (9): squashed whitespace made look-alike captions equal; two equal ones are a guess."""
    now, account = int(time.time()), fake.make_account()
    window = {"not_before": datetime.now(UTC) - timedelta(minutes=5), "not_after": datetime.now(UTC)}
    public = video_draft(privacy_level="PUBLIC_TO_EVERYONE")
    fake.add_video("Au marché  de Sète #occitanie", create_time=now - 30)
    with pytest.raises(Ambiguous) as look_alike:  # not "found": the look-alike is not taken for it
        await plugin.reconcile(account, public, **window)
    assert look_alike.value.candidates == ()
    ours = fake.add_video("Au marché de Sète #occitanie", create_time=now - 20)
    fake.add_video("Au marché de Sète #occitanie", create_time=now - 86_400)  # a deliberate earlier one
    found = await plugin.reconcile(account, public, **window)
    assert found is not None and found.remote_id == ours["id"]
    twin = fake.add_video("Au marché de Sète #occitanie", create_time=now - 10)
    with pytest.raises(Ambiguous) as caught:
        await plugin.reconcile(account, public, **window)
    assert set(caught.value.candidates) == {ours["id"], twin["id"]}


@pytest.mark.anyio
async def test_reconcile_by_publish_id(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    first = await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    [publish_id] = fake.jobs
    now = datetime.now(UTC)
    draft = video_draft(publish_id=publish_id)
    found = await plugin.reconcile(fake.make_account(), draft, not_before=now - timedelta(minutes=5), not_after=now)
    assert found is not None and found.remote_id == first.remote_id
    assert fake.requests_to("POST", r"^/v2/video/list/$") == []


# ---------------------------------------------------------------------- metrics


@pytest.mark.anyio
async def test_account_and_post_metrics(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    video = fake.add_video("populaire")
    metrics = await plugin.fetch_account_metrics(fake.make_account())
    assert (metrics.followers, metrics.posts, metrics.extra["likes"]) == (
        25_300,
        1,
        410_000,
    )
    [info] = fake.requests_to("GET", r"^/v2/user/info/$")
    assert "follower_count" in (info.q("fields") or "")
    [post] = await plugin.fetch_post_metrics(fake.make_account(), [video["id"], "404"])
    assert (post.impressions, post.likes, post.reposts, post.replies) == (
        3400,
        120,
        5,
        8,
    )
    [query] = fake.requests_to("POST", r"^/v2/video/query/$")
    assert query.json == {"filters": {"video_ids": [video["id"], "404"]}}


# ---------------------------------------------------------------------- OAuth


@pytest.mark.anyio
async def test_oauth_authorize_exchange_and_rotating_refresh(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    request = plugin.authorization_url(state="st-3")
    parts = urlsplit(request.url)
    query = parse_qs(parts.query)
    assert parts.path == "/v2/auth/authorize/"
    assert (
        query["client_key"] == ["tt-client-key"]
        and query["state"] == ["st-3"]
        and query["code_challenge_method"] == ["S256"]
    )
    assert query["scope"] == ["user.info.basic,user.info.stats,video.publish,video.list"]
    assert request.code_verifier
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).decode().rstrip("=")]
    async with httpx.AsyncClient() as client:
        consent = await client.get(request.url)
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]

    tokens = await plugin.exchange_code(code=code, code_verifier=request.code_verifier)
    [sent] = fake.requests_to("POST", r"^/v2/oauth/token/$")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "client_key": "tt-client-key",
        "client_secret": "tt-secret",
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": "https://portevoix.example/oauth/tiktok/",
        "code_verifier": request.code_verifier,
    }
    assert tokens.extra["open_id"] == fake.user["open_id"] and tokens.expires_at is not None

    refreshed = await plugin.refresh(Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token))
    assert refreshed.refresh_token != tokens.refresh_token  # rotated: the host must keep the newest
    assert fake.requests_to("POST", r"oauth/token/$")[-1].form["grant_type"] == "refresh_token"
    with pytest.raises(CredentialsExpired):  # the old refresh token no longer works
        await plugin.refresh(Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token))


@pytest.mark.anyio
async def test_hex_pkce_for_desktop_flow(server: tuple[FakeTikTok, str], fake: FakeTikTok) -> None:
    plugin = make_plugin(server[1], pkce="hex")
    request = plugin.authorization_url(state="s")
    assert request.code_verifier
    assert parse_qs(urlsplit(request.url).query)["code_challenge"] == [
        hashlib.sha256(request.code_verifier.encode()).hexdigest()
    ]
    await plugin.aclose()


# ---------------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_rate_limit_exceeded(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.fail_next("rate_limited", path="video/init")
    with pytest.raises(RateLimited) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert caught.value.retry_after == DEFAULT_BACKOFF_S  # no header documented: one per-minute window
    assert fake.jobs == {}


@pytest.mark.anyio
async def test_seventh_init_in_a_minute_is_rate_limited(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    account = fake.make_account()
    for _ in range(6):
        await plugin.publish(account, video_draft(privacy_level="SELF_ONLY"))
    with pytest.raises(RateLimited):
        await plugin.publish(account, video_draft(privacy_level="SELF_ONLY"))


@pytest.mark.anyio
async def test_access_token_invalid_is_credentials_expired(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert "access token is invalid" in caught.value.network_message


@pytest.mark.anyio
async def test_revoked_token_is_credentials_expired(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    account = fake.make_account()
    fake.revoked.add(account.credentials.access_token)
    with pytest.raises(CredentialsExpired):
        await plugin.fetch_account_metrics(account)


@pytest.mark.anyio
async def test_400_is_rejected_with_the_network_message(plugin: TikTokPlugin, fake: FakeTikTok) -> None:
    fake.fail_next(
        "rejected",
        message="The video title contains sensitive words",
        path="video/init",
    )
    with pytest.raises(Rejected) as caught:
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))
    assert caught.value.network_message == "The video title contains sensitive words"
    assert caught.value.code == "invalid_params" and caught.value.status == 400


@pytest.mark.anyio
async def test_business_error_with_http_200_is_still_an_error(
    server: tuple[FakeTikTok, str], fake: FakeTikTok, plugin: TikTokPlugin
) -> None:
    class SpamRisk(FakeTikTok):
        async def _dispatch(self, request):  # type: ignore[no-untyped-def]
            if request.path.endswith("video/init/"):
                return self.envelope(
                    code="spam_risk_text",
                    message="Text flagged as spam risk",
                    status=200,
                )
            return await super()._dispatch(request)

    spam = SpamRisk()
    with serve_in_thread(spam) as url:
        other = make_plugin(url)
        with pytest.raises(Rejected) as caught:
            await other.publish(spam.make_account(), video_draft(privacy_level="SELF_ONLY"))
        await other.aclose()
    assert caught.value.code == "spam_risk_text"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["server_error", "timeout", "drop"])
async def test_server_error_timeout_and_drop_are_transient(plugin: TikTokPlugin, fake: FakeTikTok, kind: str) -> None:
    fake.fail_next(kind, delay=2.0)  # type: ignore[arg-type]
    with pytest.raises(Transient):
        await plugin.publish(fake.make_account(), video_draft(privacy_level="SELF_ONLY"))


@pytest.mark.anyio
async def test_fake_refuses_wrong_content_type_and_missing_token(
    server: tuple[FakeTikTok, str], fake: FakeTikTok
) -> None:
    token = fake.make_account().credentials.access_token
    async with httpx.AsyncClient(base_url=server[1]) as client:
        no_json = await client.post(
            "/v2/post/publish/creator_info/query/",
            headers={"Authorization": f"Bearer {token}"},
            content=b"x",
        )
        no_token = await client.post("/v2/post/publish/creator_info/query/", json={})
    assert no_json.status_code == 400 and no_json.json()["error"]["code"] == "invalid_params"
    assert no_token.status_code == 401 and no_token.json()["error"]["code"] == "access_token_invalid"
