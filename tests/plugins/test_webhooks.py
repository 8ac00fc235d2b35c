"""Webhooks of the networks that push events: signatures checked, payloads parsed, account named.

Each fake builds the exact request its network documents for an item it holds
(``signed_webhook``); the plugin must accept it, refuse it tampered, unsigned or signed with
another secret, and map it to the inbox item with ``account_id`` = our account's external id.
No network traffic: webhooks are requests *to* us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.channels import ChannelPlugin, ChannelSettings, Feature, InboxKind, WebhookRequest
from plugins.channels.facebook import FacebookPlugin
from plugins.channels.instagram import InstagramPlugin
from plugins.channels.tiktok import TikTokPlugin
from plugins.channels.x import XPlugin
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.tiktok import FakeTikTok
from plugins.testing.fakes.x import FakeX

NOWHERE = "http://127.0.0.1:9"  # never called: webhooks need no request to the network
VERIFY_TOKEN = "meta-verify-token-5b1c"


def post(headers: dict[str, str], body: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


def meta_settings(fake: FakeFacebook | FakeInstagram) -> ChannelSettings:
    # Meta signs with the app secret (client_secret); webhook_secret is the verify token.
    return ChannelSettings(base_url=NOWHERE, client_secret=fake.app_secret, webhook_secret=VERIFY_TOKEN)


def assert_refused_unless_signed(plugin: ChannelPlugin, headers: dict[str, str], body: bytes, name: str) -> None:
    """The genuine request passes; the same one tampered, unsigned or signed by another key does not."""
    assert plugin.verify_webhook(post(headers, body))
    assert not plugin.verify_webhook(post(headers, body + b" ")), "a tampered body passed"
    assert not plugin.verify_webhook(post({k: v for k, v in headers.items() if k != name}, body)), "no signature"
    assert not plugin.verify_webhook(post({**headers, name: headers[name][:-4] + "abcd"}, body)), "a forged one"


# --------------------------------------------------------------------------- Facebook


def test_facebook_comment_reply_and_message_name_the_page() -> None:
    fake = FakeFacebook()
    plugin = FacebookPlugin(meta_settings(fake))
    post_id = fake.seed_post("Le budget 2027 est voté")
    at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    comment = fake.seed_comment(post_id, "Et pour les lycées ? äöå", created=at)
    reply = fake.seed_comment(post_id, "+1", author=("6200000000000002", "Tom"), parent_id=comment)
    message = fake.add_message("7100", "Bonjour, une question", created=at)

    items = []
    for item_id in (comment, reply, message["id"]):
        headers, body = fake.signed_webhook(item_id)
        assert b"\\u00e4" in body or item_id != comment, "Meta escapes non-ASCII characters"
        assert_refused_unless_signed(plugin, headers, body, "x-hub-signature-256")
        items += plugin.parse_webhook(post(headers, body))

    assert [(i.kind, i.remote_id, i.parent_id, i.thread_id) for i in items] == [
        (InboxKind.COMMENT, comment, None, post_id),
        (InboxKind.REPLY, reply, comment, post_id),
        (InboxKind.MESSAGE, message["id"], None, "7100"),
    ]
    assert {i.account_id for i in items} == {fake.page_id}
    assert items[0].text == "Et pour les lycées ? äöå" and items[0].created_at == at
    assert items[2].created_at == at and items[2].author_id == "7100"


def test_facebook_signed_with_another_secret_is_refused() -> None:
    fake = FakeFacebook()
    plugin = FacebookPlugin(meta_settings(fake))
    headers, body = fake.signed_webhook(fake.add_message("7100", "Bonjour")["id"], secret="not-the-app-secret")
    assert not plugin.verify_webhook(post(headers, body))


def test_facebook_page_echo_and_removed_comments_are_not_items() -> None:
    fake = FakeFacebook()
    plugin = FacebookPlugin(meta_settings(fake))
    post_id = fake.seed_post("Annonce")
    own = fake.seed_comment(post_id, "Merci à tous", author=(fake.page_id, "Région"))
    removed = fake.seed_comment(post_id, "Spam")
    for headers, body in (fake.signed_webhook(own), fake.signed_webhook(removed, verb="remove")):
        assert plugin.verify_webhook(post(headers, body)) and plugin.parse_webhook(post(headers, body)) == []


def test_meta_verification_challenge() -> None:
    for plugin in (FacebookPlugin(meta_settings(FakeFacebook())), InstagramPlugin(meta_settings(FakeInstagram()))):
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        answer = plugin.webhook_challenge(WebhookRequest(method="GET", headers={}, query=query, body=b""))
        assert answer is not None and (answer.status, answer.body) == (200, "1158201444")
        wrong = {**query, "hub.verify_token": "guess"}
        refused = plugin.webhook_challenge(WebhookRequest(method="GET", headers={}, query=wrong, body=b""))
        assert refused is not None and refused.status == 403


# --------------------------------------------------------------------------- Instagram


def test_instagram_declares_webhooks() -> None:
    assert Feature.WEBHOOKS in InstagramPlugin.capabilities.features


def test_instagram_comment_reply_mention_and_message() -> None:
    fake = FakeInstagram()
    plugin = InstagramPlugin(meta_settings(fake))
    media = fake.seed_media("Le Train des Pignes")
    comment = fake.seed_comment(media, "Quelle belle ligne !", username="lea.t", user_id="17800000000000111")
    reply = fake.seed_comment(media, "Oui !", username="marc", user_id="17800000000000222", parent_id=comment)
    mention = fake.seed_mention("Regardez ce que fait la Région", username="paul.v", user_id="17800000000000333")
    caption = fake.seed_mention("Merci @occitanie", in_caption=True)
    at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    message = fake.seed_message("Bonjour, où trouver le formulaire ?", user_id="9900000000000001", created=at)

    items = []
    for item_id in (comment, reply, mention, caption, message["mid"]):
        headers, body = fake.signed_webhook(item_id)
        assert_refused_unless_signed(plugin, headers, body, "x-hub-signature-256")
        items += plugin.parse_webhook(post(headers, body))

    assert [(i.kind, i.remote_id, i.parent_id, i.thread_id) for i in items] == [
        (InboxKind.COMMENT, comment, None, media),
        (InboxKind.REPLY, reply, comment, media),
        (InboxKind.MENTION, mention, None, fake.mentions[mention]["media_id"]),
        (InboxKind.MENTION, caption, None, caption),
        (InboxKind.MESSAGE, message["mid"], None, "9900000000000001"),
    ]
    assert {i.account_id for i in items} == {fake.ig_user_id}
    assert (items[0].author_id, items[0].author_handle, items[0].text) == (
        "17800000000000111",
        "lea.t",
        "Quelle belle ligne !",
    )
    assert items[4].created_at == at and items[4].text == "Bonjour, où trouver le formulaire ?"


def test_instagram_login_shape_and_own_answers() -> None:
    """The Instagram-Login example puts ``field``/``value`` in the entry itself; our own replies and
    message echoes are not items."""
    fake = FakeInstagram()
    plugin = InstagramPlugin(meta_settings(fake))
    value = {"id": "1799", "text": "Super", "from": {"id": "555", "username": "ana"}, "media": {"id": "42"}}
    own = {"id": "1800", "text": "Merci", "from": {"id": fake.ig_user_id, "username": "occitanie"}, "media": {}}
    echo = {"sender": {"id": fake.ig_user_id}, "recipient": {"id": "555"}, "timestamp": 1, "message": {"mid": "m"}}
    payload = {
        "object": "instagram",
        "entry": [
            {"id": fake.ig_user_id, "time": 1764494100, "field": "comments", "value": value},
            {"id": fake.ig_user_id, "time": 1764494100, "changes": [{"field": "comments", "value": own}]},
            {"id": fake.ig_user_id, "time": 1764494100, "messaging": [echo]},
        ],
    }
    body = json.dumps(payload).encode()
    items = plugin.parse_webhook(post({"x-hub-signature-256": fake.sign(body)}, body))
    assert [(i.remote_id, i.thread_id, i.account_id) for i in items] == [("1799", "42", fake.ig_user_id)]
    assert items[0].created_at == datetime.fromtimestamp(1764494100, UTC)
    assert plugin.parse_webhook(post({}, json.dumps({"object": "page", "entry": []}).encode())) == []


# --------------------------------------------------------------------------- X


def x_plugin(fake: FakeX) -> XPlugin:
    return XPlugin(
        ChannelSettings(base_url=NOWHERE, client_secret="oauth2-client-secret", webhook_secret=fake.client_secret)
    )


def test_x_crc_answers_with_the_consumer_secret() -> None:
    fake = FakeX()
    plugin = x_plugin(fake)
    answer = plugin.webhook_challenge(WebhookRequest(method="GET", headers={}, query={"crc_token": "c1"}, body=b""))
    assert answer is not None and answer.status == 200 and answer.content_type == "application/json"
    expected = base64.b64encode(hmac.new(fake.client_secret.encode(), b"c1", hashlib.sha256).digest()).decode()
    assert json.loads(answer.body) == {"response_token": f"sha256={expected}"} == fake.crc_response("c1")
    assert plugin.webhook_challenge(post({}, b"{}")) is None


def test_x_mention_reply_and_dm_name_the_subscribed_user() -> None:
    fake = FakeX()
    plugin = x_plugin(fake)
    account = fake.make_account()
    ours = fake.add_tweet(account.external_id, "Le plan vélo régional est en ligne")
    at = time.time() - 3600
    mention = fake.add_mention(account, "bravo & merci <3", author="lucie", created_at=at)
    reply = fake.add_mention(account, "Et les TER ?", author="marc", reply_to=ours)
    dm = fake.add_direct_message(account, "Bonjour, une question privée", author="lucie", created_at=at)

    items = []
    for item in (mention, reply, dm):
        headers, body = fake.signed_webhook(item, for_user=account)
        assert_refused_unless_signed(plugin, headers, body, "x-twitter-webhooks-signature")
        items += plugin.parse_webhook(post(headers, body))

    assert [(i.kind, i.remote_id, i.parent_id) for i in items] == [
        (InboxKind.MENTION, mention.id, None),
        (InboxKind.REPLY, reply.id, ours.id),
        (InboxKind.MESSAGE, dm.id, None),
    ]
    assert {i.account_id for i in items} == {account.external_id}
    assert items[0].text == f"@{account.handle} bravo & merci <3" and items[0].author_handle == "lucie"
    assert abs(items[0].created_at.timestamp() - at) < 1 and abs(items[2].created_at.timestamp() - at) < 0.01
    assert items[2].thread_id == dm.dm_conversation_id and items[2].author_id == dm.sender_id


def test_x_own_posts_are_not_items() -> None:
    fake = FakeX()
    plugin = x_plugin(fake)
    account = fake.make_account()
    headers, body = fake.signed_webhook(fake.add_tweet(account.external_id, "@someone merci"), for_user=account)
    assert plugin.verify_webhook(post(headers, body)) and plugin.parse_webhook(post(headers, body)) == []


# --------------------------------------------------------------------------- TikTok


def tiktok_plugin(secret: str = FakeTikTok.client_secret) -> TikTokPlugin:
    return TikTokPlugin(ChannelSettings(base_url=NOWHERE, client_id=FakeTikTok.client_key, client_secret=secret))


def test_tiktok_declares_webhooks_and_checks_the_signature() -> None:
    assert Feature.WEBHOOKS in TikTokPlugin.capabilities.features
    fake = FakeTikTok()
    plugin = tiktok_plugin()
    video = fake.add_video("Le Tour de France passe par Albi")
    headers, body = fake.signed_webhook(video)
    assert_refused_unless_signed(plugin, headers, body, "tiktok-signature")
    assert not tiktok_plugin("another-secret").verify_webhook(post(headers, body))
    content = json.loads(json.loads(body)["content"])
    assert content["post_id"] == video["id"], "the event names the post"
    assert plugin.parse_webhook(post(headers, body)) == [], "TikTok's events are no inbox items"


@pytest.mark.parametrize(("age", "accepted"), [(timedelta(minutes=4), True), (timedelta(minutes=6), False)])
def test_tiktok_refuses_a_stale_timestamp(age: timedelta, accepted: bool) -> None:
    fake = FakeTikTok()
    headers, body = fake.signed_webhook(fake.add_video("Vidéo"), at=int(time.time() - age.total_seconds()))
    assert tiktok_plugin().verify_webhook(post(headers, body)) is accepted


def test_tiktok_malformed_signature_header() -> None:
    fake = FakeTikTok()
    headers, body = fake.signed_webhook(fake.add_video("Vidéo"), event="authorization.removed")
    for broken in ("", "t=abc,s=00", headers["tiktok-signature"].split(",")[0], "s=" + "0" * 64):
        assert not tiktok_plugin().verify_webhook(post({"tiktok-signature": broken}, body))
