"""The fakes' inbox helpers make what each plugin's poll then reads, at the time chosen.

The demo and the inbox tests seed comments, replies, mentions and messages through these helpers:
each item must come back from ``fetch_inbox`` with its kind, its parent and its ``created_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.channels import AccountRef, ChannelPlugin, ChannelSettings, InboxKind, RemoteItem
from plugins.channels.bluesky import BlueskyPlugin
from plugins.channels.facebook import FacebookPlugin
from plugins.channels.instagram import InstagramPlugin
from plugins.channels.linkedin import LinkedInPlugin
from plugins.channels.mastodon import MastodonPlugin
from plugins.channels.x import XPlugin
from plugins.testing import serve_in_thread
from plugins.testing.fakes.bluesky import FakeBluesky
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.linkedin import FakeLinkedIn
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.x import FakeX

pytestmark = pytest.mark.anyio
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


async def everything(plugin: ChannelPlugin, account: AccountRef) -> dict[str, RemoteItem]:
    items: dict[str, RemoteItem] = {}
    cursor: str | None = None
    for _ in range(20):
        page = await plugin.fetch_inbox(account, cursor)
        items |= {item.remote_id: item for item in page.items}
        if page.next_cursor is None or page.next_cursor == cursor:
            break
        cursor = page.next_cursor
    await plugin.aclose()
    return items


def close_to(moment: datetime) -> bool:
    return abs((moment - AT).total_seconds()) < 1


async def test_facebook() -> None:
    fake = FakeFacebook()
    with serve_in_thread(fake) as url:
        post = fake.seed_post("Budget")
        comment = fake.seed_comment(post, "Et les lycées ?", created=AT)
        reply = fake.seed_comment(post, "+1", parent_id=comment, created=AT)
        message = fake.add_message("7100", "Bonjour", created=AT)["id"]
        items = await everything(FacebookPlugin(ChannelSettings(base_url=url)), fake.make_account())
    assert [(items[i].kind, items[i].parent_id) for i in (comment, reply, message)] == [
        (InboxKind.COMMENT, None),
        (InboxKind.REPLY, comment),
        (InboxKind.MESSAGE, None),
    ]
    assert all(close_to(items[i].created_at) for i in (comment, reply, message))


async def test_instagram() -> None:
    fake = FakeInstagram()
    with serve_in_thread(fake) as url:
        media = fake.seed_media("Pont du Gard")
        comment = fake.seed_comment(media, "Superbe", created=AT)
        reply = fake.seed_comment(media, "Oui", parent_id=comment, created=AT)
        items = await everything(InstagramPlugin(ChannelSettings(base_url=url)), fake.make_account())
    assert (items[comment].kind, items[reply].kind, items[reply].parent_id) == (
        InboxKind.COMMENT,
        InboxKind.REPLY,
        comment,
    )
    assert close_to(items[comment].created_at) and close_to(items[reply].created_at)


async def test_x() -> None:
    fake = FakeX()
    with serve_in_thread(fake) as url:
        account = fake.make_account()
        ours = fake.add_tweet(account.external_id, "Plan vélo")
        mention = fake.add_mention(account, "bravo", created_at=AT.timestamp())
        reply = fake.add_mention(account, "et le TER ?", reply_to=ours, created_at=AT.timestamp())
        dm = fake.add_direct_message(account, "Bonjour", created_at=AT.timestamp())
        items = await everything(XPlugin(ChannelSettings(base_url=url)), account)
    assert (items[mention.id].kind, items[reply.id].kind, items[reply.id].parent_id) == (
        InboxKind.MENTION,
        InboxKind.REPLY,
        ours.id,
    )
    assert close_to(items[mention.id].created_at) and close_to(items[reply.id].created_at)
    assert dm.created_at == AT.timestamp() and dm.id not in items  # DMs come by webhook only


async def test_linkedin() -> None:
    fake = FakeLinkedIn()
    with serve_in_thread(fake) as url:
        account = fake.make_account()
        post = fake.add_post("Salon de l'agriculture")
        at_ms = int(AT.timestamp() * 1000)
        comment = fake.add_comment(post, "Bravo", created_ms=at_ms)
        fake.add_comment(post, "Merci", parent=comment, created_ms=at_ms)  # its reply: read once the plugin does
        settings = ChannelSettings(base_url=url, extra={"linkedin_version": "202609"})
        items = await everything(LinkedInPlugin(settings), account)
    assert items[comment].kind is InboxKind.COMMENT and close_to(items[comment].created_at)


async def test_bluesky() -> None:
    fake = FakeBluesky()
    with serve_in_thread(fake) as url:
        account = fake.make_account()
        post = fake.add_post(account.handle, "Bonjour")
        reply = fake.add_post("lea.bsky.social", "Salut", reply_to=post.uri, created_at=AT.timestamp()).uri
        text = f"Merci @{account.handle}"
        mention = fake.add_post("marc.bsky.social", text, mention=account, created_at=AT.timestamp()).uri
        items = await everything(BlueskyPlugin(ChannelSettings(base_url=url)), account)
    assert (items[reply].kind, items[mention].kind) == (InboxKind.REPLY, InboxKind.MENTION)
    assert close_to(items[reply].created_at) and close_to(items[mention].created_at)


async def test_mastodon() -> None:
    fake = FakeMastodon()
    with serve_in_thread(fake) as url:
        account = fake.make_account()
        ours = fake.add_status("Bonjour le Fédivers")
        reply = fake.add_mention("Bravo", in_reply_to_id=ours["id"], created_at=AT.timestamp())["id"]
        mention = fake.add_mention("Une question", created_at=AT.timestamp())["id"]
        dm = fake.add_direct_message("En privé", created_at=AT.timestamp())["id"]
        items = await everything(MastodonPlugin(ChannelSettings(base_url=url)), account)
    assert items[dm].kind is InboxKind.MESSAGE and items[reply].parent_id == ours["id"]
    assert all(close_to(items[i].created_at) for i in (reply, mention, dm))
