"""Hide, delete and ban, each network's documented request against its fake over real HTTP.

What is checked beyond the conformance suite: the exact request shape, the fake's listings
after the act (hidden flag shown, deleted comments and their replies gone), the refusals made
before any request (a private message cannot be hidden), and the network's own refusals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.channels import (
    AccountRef,
    ChannelPlugin,
    ChannelSettings,
    CredentialsExpired,
    Draft,
    Feature,
    InboxKind,
    NotSupported,
    RateLimited,
    Rejected,
    RemoteItem,
)
from plugins.channels._meta import GraphCall
from plugins.channels.bluesky import BlueskyPlugin
from plugins.channels.facebook import FacebookPlugin
from plugins.channels.instagram import InstagramPlugin
from plugins.channels.linkedin import LinkedInPlugin
from plugins.channels.mastodon import MastodonPlugin
from plugins.channels.tiktok import TikTokPlugin
from plugins.channels.x import XPlugin
from plugins.testing import serve_in_thread
from plugins.testing.fake import FakeNetwork
from plugins.testing.fakes.bluesky import FakeBluesky
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.x import FakeX

pytestmark = pytest.mark.anyio


def item(remote_id: str, kind: InboxKind = InboxKind.COMMENT, author_id: str = "42") -> RemoteItem:
    return RemoteItem(remote_id=remote_id, kind=kind, text="", author_id=author_id, created_at=datetime.now(UTC))


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, tuple[FakeNetwork, str]]]:
    fakes: list[FakeNetwork] = [FakeFacebook(), FakeInstagram(), FakeX(), FakeMastodon(), FakeBluesky()]
    with (
        serve_in_thread(fakes[0]) as fb,
        serve_in_thread(fakes[1]) as ig,
        serve_in_thread(fakes[2]) as x,
        serve_in_thread(fakes[3]) as md,
        serve_in_thread(fakes[4]) as bs,
    ):
        yield {f.key: (f, url) for f, url in zip(fakes, (fb, ig, x, md, bs), strict=True)}


def _fake(served: dict[str, tuple[FakeNetwork, str]], key: str) -> tuple[Any, str]:
    fake, url = served[key]
    fake.reset()
    return fake, url


@pytest.fixture
async def facebook(served: dict[str, tuple[FakeNetwork, str]]) -> AsyncIterator[tuple[FacebookPlugin, FakeFacebook]]:
    fake, url = _fake(served, "facebook")
    plugin = FacebookPlugin(ChannelSettings(base_url=url, client_secret=fake.app_secret))
    yield plugin, fake
    await plugin.aclose()


@pytest.fixture
async def instagram(
    served: dict[str, tuple[FakeNetwork, str]],
) -> AsyncIterator[tuple[InstagramPlugin, FakeInstagram]]:
    fake, url = _fake(served, "instagram")
    plugin = InstagramPlugin(ChannelSettings(base_url=url, client_secret=fake.app_secret))
    yield plugin, fake
    await plugin.aclose()


# --------------------------------------------------------------------------- what is declared


def test_declared_moderation_matches_the_networks() -> None:
    """inbox-usage-veille §1.3: no Instagram ban, no X delete or block (Enterprise), nothing on TikTok,
    LinkedIn undocumented."""
    moderation = {Feature.HIDE, Feature.DELETE_COMMENTS, Feature.BAN}
    declared: dict[type[ChannelPlugin], set[Feature]] = {
        FacebookPlugin: moderation,
        InstagramPlugin: {Feature.HIDE, Feature.DELETE_COMMENTS},
        XPlugin: {Feature.HIDE},
        MastodonPlugin: {Feature.BAN},
        BlueskyPlugin: {Feature.BAN},
        LinkedInPlugin: set(),
        TikTokPlugin: set(),
    }
    for plugin, features in declared.items():
        assert plugin.capabilities.features & moderation == features, plugin.key


def test_reply_windows() -> None:
    """Messenger and Instagram messaging: 24 hours after the person's last message; TikTok has no inbox."""
    assert FacebookPlugin.capabilities.message_reply_window == timedelta(hours=24)
    assert InstagramPlugin.capabilities.message_reply_window == timedelta(hours=24)
    for plugin in (TikTokPlugin, XPlugin, MastodonPlugin, BlueskyPlugin, LinkedInPlugin):
        assert plugin.capabilities.message_reply_window is None, plugin.key


# --------------------------------------------------------------------------- Facebook


async def test_facebook_hide_shows_in_the_listing_and_back(facebook: tuple[FacebookPlugin, FakeFacebook]) -> None:
    plugin, fake = facebook
    account = fake.make_account()
    comment = fake.seed_comment(fake.seed_post("Budget"), "Insulte")
    await plugin.hide_item(account, item(comment))
    sent = fake.requests_to("POST", f"/v23.0/{comment}$")[-1]
    assert sent.form == {"is_hidden": "true"} and sent.headers["authorization"] == f"Bearer {fake.page_token}"
    read = GraphCall("GET", f"/{comment}", params={"fields": "id,is_hidden"})
    assert (await plugin.graph.send(read, token=fake.page_token))["is_hidden"] is True
    await plugin.hide_item(account, item(comment), hidden=False)
    assert fake.requests_to("POST", f"/v23.0/{comment}$")[-1].form == {"is_hidden": "false"}
    assert not fake.is_hidden(comment)


async def test_facebook_delete_takes_the_replies_and_is_idempotent(
    facebook: tuple[FacebookPlugin, FakeFacebook],
) -> None:
    plugin, fake = facebook
    account = fake.make_account()
    post = fake.seed_post("Budget")
    comment = fake.seed_comment(post, "Spam")
    reply = fake.seed_comment(post, "Re: spam", parent_id=comment)
    kept = fake.seed_comment(post, "Merci")
    await plugin.delete_item(account, item(comment))
    await plugin.delete_item(account, item(comment))  # already gone (100/33): deleted all the same
    assert fake.is_deleted(comment) and fake.is_deleted(reply) and not fake.is_deleted(kept)
    inbox = await plugin.fetch_inbox(account, None)
    assert [i.remote_id for i in inbox.items] == [kept]


async def test_facebook_ban_blocks_on_the_page(facebook: tuple[FacebookPlugin, FakeFacebook]) -> None:
    plugin, fake = facebook
    account = fake.make_account()
    fake.seed_comment(fake.seed_post("Budget"), "Troll", author=("6200000000000666", "Troll"))
    await plugin.ban_author(account, item("x", author_id="6200000000000666"))
    assert fake.requests_to("POST", f"/{fake.page_id}/blocked$")[-1].form == {"user": "6200000000000666"}
    assert fake.blocked == {"6200000000000666": "Troll"}


async def test_facebook_private_messages_are_not_hidden_nor_deleted(
    facebook: tuple[FacebookPlugin, FakeFacebook],
) -> None:
    plugin, fake = facebook
    message = fake.add_message("7100", "Bonjour")
    for operation in (plugin.hide_item, plugin.delete_item):
        with pytest.raises(NotSupported):
            await operation(fake.make_account(), item(message["id"], InboxKind.MESSAGE))
    assert fake.received == [], "refused before any request"


async def test_facebook_errors_are_typed(facebook: tuple[FacebookPlugin, FakeFacebook]) -> None:
    plugin, fake = facebook
    comment = fake.seed_comment(fake.seed_post("Budget"), "Spam")
    fake.fail_next("expired")
    with pytest.raises(CredentialsExpired):
        await plugin.hide_item(fake.make_account(), item(comment))
    fake.fail_next("rate_limited", retry_after=60)
    with pytest.raises(RateLimited):
        await plugin.delete_item(fake.make_account(), item(comment))
    fake.withheld_permissions.add("pages_manage_engagement")
    with pytest.raises(Rejected, match="pages_manage_engagement"):
        await plugin.delete_item(fake.make_account(), item(comment))
    assert not fake.is_deleted(comment)


# --------------------------------------------------------------------------- Instagram


async def test_instagram_hide_and_delete(instagram: tuple[InstagramPlugin, FakeInstagram]) -> None:
    plugin, fake = instagram
    account = fake.make_account()
    media = fake.seed_media("Le pont du Gard")
    comment = fake.seed_comment(media, "Arnaque, écrivez-moi au 06 12 34 56 78")
    await plugin.hide_item(account, item(comment))
    assert fake.requests_to("POST", f"/v23.0/{comment}$")[-1].query == {"hide": ["true"]}
    read = GraphCall("GET", f"/{media}/comments", params={"fields": "id,text,hidden"})
    listing = await plugin.graph.send(read, token=fake.user_token)
    assert listing["data"][0]["hidden"] is True
    await plugin.delete_item(account, item(comment))
    await plugin.delete_item(account, item(comment))
    assert fake.is_deleted(comment) and (await plugin.fetch_inbox(account, None)).items == ()


async def test_instagram_moderates_comments_only(instagram: tuple[InstagramPlugin, FakeInstagram]) -> None:
    plugin, fake = instagram
    for kind in (InboxKind.MESSAGE, InboxKind.MENTION):
        with pytest.raises(NotSupported):
            await plugin.hide_item(fake.make_account(), item("1", kind))
    with pytest.raises(NotSupported):
        await plugin.ban_author(fake.make_account(), item("1"))
    assert fake.received == []


# --------------------------------------------------------------------------- X


async def test_x_hides_replies_to_our_posts_only(served: dict[str, tuple[FakeNetwork, str]]) -> None:
    fake, url = _fake(served, "x")
    plugin = XPlugin(ChannelSettings(base_url=url))
    try:
        account = fake.make_account()
        ours = fake.add_tweet(account.external_id, "Le plan vélo")
        reply = fake.add_mention(account, "Super", reply_to=ours)
        elsewhere = fake.add_mention(account, "Vous avez vu ?", reply_to=fake.add_tweet(fake.add_user("a").id, "x"))
        await plugin.hide_item(account, item(reply.id, InboxKind.REPLY))
        assert fake.requests_to("PUT", rf"/2/tweets/{reply.id}/hidden$")[-1].json == {"hidden": True}
        assert fake.is_hidden(reply.id)
        await plugin.hide_item(account, item(reply.id, InboxKind.REPLY), hidden=False)
        assert not fake.is_hidden(reply.id)
        with pytest.raises(Rejected, match="conversations you authored"):
            await plugin.hide_item(account, item(elsewhere.id, InboxKind.MENTION))
        sent = len(fake.received)
        with pytest.raises(NotSupported):
            await plugin.hide_item(account, item("1", InboxKind.MESSAGE))
        assert len(fake.received) == sent
    finally:
        await plugin.aclose()


# --------------------------------------------------------------------------- Mastodon and Bluesky


async def test_mastodon_blocks_the_author(served: dict[str, tuple[FakeNetwork, str]]) -> None:
    fake, url = _fake(served, "mastodon")
    plugin = MastodonPlugin(ChannelSettings(base_url=url))
    try:
        account = fake.make_account()
        author = fake.add_mention("Honte à vous", from_acct="troll@piaille.fr")["account"]["id"]
        await plugin.ban_author(account, item("1", InboxKind.MENTION, author_id=author))
        assert fake.requests_to("POST", rf"/api/v1/accounts/{author}/block$") and fake.is_blocked(author)
        with pytest.raises(Rejected) as refused:
            await plugin.ban_author(account, item("1", author_id="999"))
        assert refused.value.status == 404
    finally:
        await plugin.aclose()


async def test_bluesky_blocks_with_a_graph_block_record(served: dict[str, tuple[FakeNetwork, str]]) -> None:
    fake, url = _fake(served, "bluesky")
    plugin = BlueskyPlugin(ChannelSettings(base_url=url))
    try:
        account: AccountRef = fake.make_account()
        post = await plugin.publish(account, Draft(text="Bonjour"))
        reply = fake.add_post("troll.bsky.social", "Bof", reply_to=post.remote_id)
        author = reply.did
        await plugin.ban_author(account, item(reply.uri, InboxKind.REPLY, author_id=author))
        created = fake.requests_to("POST", "createRecord$")[-1].json
        assert created["collection"] == "app.bsky.graph.block" and created["repo"] == account.external_id
        assert created["record"]["$type"] == "app.bsky.graph.block" and created["record"]["subject"] == author
        assert fake.is_blocked(author, by=account.external_id)
        with pytest.raises(Rejected):
            await plugin.ban_author(account, item(reply.uri, author_id="troll.bsky.social"))
    finally:
        await plugin.aclose()
