"""What the conformance suite cannot know: this endpoint's own protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from portevoix_webhook_channel import WebhookChannel, signature
from portevoix_webhook_channel.fake import WebhookFake

from core.channels import (
    AccountRef,
    ChannelSettings,
    Draft,
    MediaItem,
    MediaKind,
    NotSupported,
    Rejected,
)
from plugins.testing.conformance import RecordingUsageRecorder


@pytest.fixture
def fake() -> WebhookFake:
    return WebhookFake()


@pytest.fixture
async def channel(
    fake: WebhookFake,
    fake_server: Callable[[WebhookFake], str],
    usage_recorder: RecordingUsageRecorder,
) -> AsyncIterator[WebhookChannel]:
    plugin = WebhookChannel(ChannelSettings(base_url=fake_server(fake)), http=httpx.AsyncClient(), usage=usage_recorder)
    yield plugin
    await plugin.aclose()


@pytest.mark.anyio
async def test_the_request_is_signed_over_method_path_and_body(channel: WebhookChannel, fake: WebhookFake) -> None:
    account = fake.make_account()
    await channel.publish(account, Draft(text="Bonjour", client_ref="d-1"))
    sent = fake.requests_to("POST", "^/posts$")[-1]
    expected = signature(
        account.credentials.access_token,
        sent.headers["x-portevoix-timestamp"],
        "POST",
        "/posts",
        sent.body,
    )
    assert sent.headers["x-portevoix-signature"] == expected
    assert sent.json["client_ref"] == "d-1" and sent.json["account"] == account.external_id


@pytest.mark.anyio
async def test_a_wrong_secret_is_refused_as_expired_credentials(channel: WebhookChannel, fake: WebhookFake) -> None:
    account = fake.make_account()
    forged = AccountRef(
        external_id=account.external_id,
        handle=account.handle,
        credentials=account.credentials.__class__(access_token="not-the-secret"),
    )
    from core.channels import CredentialsExpired

    with pytest.raises(CredentialsExpired):
        await channel.publish(forged, Draft(text="Bonjour", client_ref="d-2"))


@pytest.mark.anyio
async def test_the_endpoint_message_reaches_the_author(channel: WebhookChannel, fake: WebhookFake) -> None:
    with pytest.raises(Rejected) as caught:
        await channel.publish(fake.make_account(), Draft(text="", client_ref="d-3"))
    assert caught.value.network_message == "a post needs text or media"
    assert caught.value.code == "invalid_post"


@pytest.mark.anyio
async def test_local_media_is_refused_before_sending(channel: WebhookChannel, fake: WebhookFake) -> None:
    image = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", path="/tmp/affiche.png")
    with pytest.raises(Rejected, match="public URL"):
        await channel.publish(fake.make_account(), Draft(text="Affiche", media=(image,), client_ref="d-4"))
    assert fake.received == []


@pytest.mark.anyio
async def test_retried_publish_and_delete_are_harmless(channel: WebhookChannel, fake: WebhookFake) -> None:
    account = fake.make_account()
    draft = Draft(text="Conseil municipal jeudi à 18 h", client_ref="d-5")
    first, again = await channel.publish(account, draft), await channel.publish(account, draft)
    assert first.remote_id == again.remote_id and len(fake.posts) == 1
    await channel.delete(account, first.remote_id)
    await channel.delete(account, first.remote_id)  # already gone: a 404 is success
    assert fake.posts == {}


@pytest.mark.anyio
async def test_reconcile_without_a_client_ref_refuses_to_guess(channel: WebhookChannel, fake: WebhookFake) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with pytest.raises(NotSupported):
        await channel.reconcile(fake.make_account(), Draft(text="x"), not_before=now, not_after=now)


@pytest.mark.anyio
async def test_usage_reports_carry_the_headers(
    channel: WebhookChannel, fake: WebhookFake, usage_recorder: RecordingUsageRecorder
) -> None:
    account = fake.make_account()
    await channel.publish(account, Draft(text="Un", client_ref="d-6"))
    await channel.publish(account, Draft(text="Deux", client_ref="d-7"))
    remaining = [report.remaining for report in usage_recorder.reports]
    assert remaining == [99, 98]
    report = usage_recorder.reports[-1]
    assert (report.channel, report.endpoint, report.limit) == ("webhook", "POST /posts", 100)
    assert report.account_external_id == account.external_id and report.reset_at is not None


@pytest.mark.anyio
async def test_dry_run_shows_the_body_but_not_the_signature(channel: WebhookChannel, fake: WebhookFake) -> None:
    account = fake.make_account()
    (prepared,) = await channel.prepare_publish(account, Draft(text="Bonjour", client_ref="d-8"))
    assert prepared.method == "POST" and prepared.url.endswith("/posts")
    assert prepared.json["text"] == "Bonjour" and prepared.headers["x-portevoix-signature"] == "[redacted]"
    assert json.dumps(prepared.json)  # plain JSON, storable as is
