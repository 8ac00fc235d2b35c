"""``/webhooks/{channel}`` through the real app: the networks' checks, signatures, no duplicate with
the poll nor with a replay, nothing stored from an unsigned request, a body too big."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.models import AuditEvent, InboxItem
from core.inbox.sync import sync_account
from core.inbox.webhooks import MAX_BODY_BYTES
from core.runtime import Runtime
from core.settings import Settings
from plugins.testing import FakeNetwork
from tests.inbox.networks import (
    VERIFY_TOKEN,
    connect,
    item_count,
    items_of,
    networks_fixture,  # noqa: F401 - the fixture "networks"
    persona,
    point_at,
)
from web.app import create_app
from web.inbox.webhooks import WebhookController

pytestmark = pytest.mark.anyio
Networks = dict[str, tuple[FakeNetwork, str]]


def _with_webhooks(app: Litestar) -> Litestar:
    # Until web/app.py lists the controller, the test app registers it (its paths are already
    # session-less and out of CSRF there).
    if not any(str(route.path).startswith("/webhooks") for route in app.routes):
        app.register(WebhookController)
    return app


@pytest.fixture
async def client(settings: Settings, runtime: Runtime, networks: Networks) -> AsyncIterator[AsyncTestClient[Any]]:
    point_at(runtime, networks)  # the test's runtime (polls, reads) and the app's see the same fakes
    app_runtime = Runtime(settings)
    point_at(app_runtime, networks, reset=False)
    app = _with_webhooks(create_app(runtime=app_runtime))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as test_client:
        yield test_client


async def _account(runtime: Runtime, networks: Networks, channel: str, slug: str = "region-occitanie") -> Any:
    fake = networks[channel][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    account_id = await connect(runtime, await persona(runtime, slug), channel, ref)
    return fake, ref, account_id


async def test_meta_subscription_check(client: AsyncTestClient[Any]) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = await client.get("/webhooks/facebook", params=query)
    assert answer.status_code == 200 and answer.text == "1158201444"
    wrong = await client.get("/webhooks/facebook", params={**query, "hub.verify_token": "pas-le-bon"})
    assert wrong.status_code == 403 and "1158201444" not in wrong.text


async def test_x_crc_check(client: AsyncTestClient[Any], networks: Networks) -> None:
    fake = networks["x"][0]
    answer = await client.get("/webhooks/x", params={"crc_token": "challenge-123"})
    assert answer.status_code == 200
    assert answer.json() == fake.crc_response("challenge-123")  # type: ignore[attr-defined]


async def test_unknown_channel_or_one_without_webhooks_is_a_404(client: AsyncTestClient[Any]) -> None:
    assert (await client.post("/webhooks/myspace", content=b"{}")).status_code == 404
    assert (await client.post("/webhooks/linkedin", content=b"{}")).status_code == 404


async def test_a_webhook_after_the_poll_and_its_replay_make_no_duplicate(
    client: AsyncTestClient[Any], runtime: Runtime, networks: Networks
) -> None:
    fake, ref, account_id = await _account(runtime, networks, "facebook")
    post = fake.seed_post("Les lycées de la Région passent au bio")  # type: ignore[attr-defined]
    comment = fake.seed_comment(post, "Enfin ! Et les collèges ?")  # type: ignore[attr-defined]
    assert (await sync_account(runtime, account_id)).new == 1

    headers, body = fake.signed_webhook(comment)  # type: ignore[attr-defined]
    for _ in range(3):  # the webhook, then Meta's retries (36 hours later: the same body)
        answer = await client.post("/webhooks/facebook", content=body, headers=headers)
        assert answer.status_code == 200
    (item,) = await items_of(runtime, account_id)
    assert item.remote_id == comment and item.first_seen_via == "poll"


async def test_a_webhook_first_then_the_poll_make_one_item(
    client: AsyncTestClient[Any], runtime: Runtime, networks: Networks
) -> None:
    fake, ref, account_id = await _account(runtime, networks, "instagram", "presidente-region")
    media = fake.seed_media("Au marché de Carcassonne ce matin")  # type: ignore[attr-defined]
    comment = fake.seed_comment(media, "Merci Madame la Présidente 👏")  # type: ignore[attr-defined]
    headers, body = fake.signed_webhook(comment)  # type: ignore[attr-defined]
    assert (await client.post("/webhooks/instagram", content=body, headers=headers)).status_code == 200
    assert (await client.post("/webhooks/instagram", content=body, headers=headers)).status_code == 200
    assert (await sync_account(runtime, account_id)).new == 0
    (item,) = await items_of(runtime, account_id)
    assert item.remote_id == comment and item.first_seen_via == "webhook" and item.text.startswith("Merci")


async def test_x_account_activity_is_stored(client: AsyncTestClient[Any], runtime: Runtime, networks: Networks) -> None:
    fake, ref, account_id = await _account(runtime, networks, "x")
    mention = fake.add_mention(ref, "quand ouvre la nouvelle ligne ?", author="voyageuse")  # type: ignore[attr-defined]
    headers, body = fake.signed_webhook(mention, for_user=ref)  # type: ignore[attr-defined]
    assert (await client.post("/webhooks/x", content=body, headers=headers)).status_code == 200
    assert [item.remote_id for item in await items_of(runtime, account_id)] == [mention.id]


@pytest.mark.parametrize("forgery", ["tampered", "wrong_secret", "missing"])
async def test_a_bad_or_missing_signature_is_refused_and_nothing_stored(
    client: AsyncTestClient[Any], runtime: Runtime, networks: Networks, forgery: str
) -> None:
    fake, ref, account_id = await _account(runtime, networks, "facebook")
    post = fake.seed_post("Budget participatif : votez !")  # type: ignore[attr-defined]
    comment = fake.seed_comment(post, "Texte secret du commentaire")  # type: ignore[attr-defined]
    headers, body = fake.signed_webhook(comment, secret="autre-secret" if forgery == "wrong_secret" else None)  # type: ignore[attr-defined]
    if forgery == "tampered":
        body = body.replace(b"secret", b"modifi")
    if forgery == "missing":
        headers = {"content-type": "application/json"}
    answer = await client.post("/webhooks/facebook", content=body, headers=headers)
    assert answer.status_code == 403
    assert await item_count(runtime) == 0
    async with runtime.sessions() as session:
        (refused,) = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook_refused"))).all()
    assert refused.entity_id == "facebook" and refused.after and refused.after["remote_address"]
    assert "secret du commentaire" not in json.dumps([refused.after, refused.before, refused.reason])


async def test_an_oversized_body_is_a_413(client: AsyncTestClient[Any], runtime: Runtime, networks: Networks) -> None:
    fake, ref, account_id = await _account(runtime, networks, "facebook")
    body = b'{"object": "page", "entry": []}' + b" " * MAX_BODY_BYTES
    answer = await client.post("/webhooks/facebook", content=body, headers={"x-hub-signature-256": fake.sign(body)})  # type: ignore[attr-defined]
    assert answer.status_code == 413
    async with runtime.sessions() as session:
        assert (await session.scalars(select(InboxItem.id))).all() == []


async def test_items_for_an_account_we_do_not_have_are_ignored(
    client: AsyncTestClient[Any], runtime: Runtime, networks: Networks
) -> None:
    fake = networks["facebook"][0]
    post = fake.seed_post("Une page qui n'est pas chez nous")  # type: ignore[attr-defined]
    headers, body = fake.signed_webhook(fake.seed_comment(post, "bonjour"))  # type: ignore[attr-defined]
    assert (await client.post("/webhooks/facebook", content=body, headers=headers)).status_code == 200
    assert await item_count(runtime) == 0
