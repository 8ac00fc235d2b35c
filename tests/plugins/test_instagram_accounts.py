"""Several Instagram accounts on one fake Graph API: each token sees and acts on its own account only,
through the real plugin over HTTP on 127.0.0.1; and the demo gives the Région and the president two."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.audit import Actor
from core.channels import (
    AccountRef,
    ChannelSettings,
    Draft,
    Format,
    InboxKind,
    MediaItem,
    MediaKind,
    Rejected,
    RemoteItem,
    WebhookRequest,
)
from core.db.models import Account, InboxItem, Persona
from core.inbox.sync import sync_account
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from personas import SEED_DIR, load_dir
from plugins.channels.instagram import InstagramPlugin
from plugins.testing import serve_in_thread
from plugins.testing.fakes.instagram import IG_USER_ID, PAGE_ID, FakeInstagram
from web.simulated import SimulatedNetworks

pytestmark = pytest.mark.anyio

PRESIDENT = "camille.delorme"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeInstagram, str]]:
    fake = FakeInstagram(processing_polls=1)
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeInstagram, str]) -> FakeInstagram:
    served[0].reset()
    return served[0]


@pytest.fixture
async def plugin(served: tuple[FakeInstagram, str], fake: FakeInstagram) -> AsyncIterator[InstagramPlugin]:
    settings = ChannelSettings(
        base_url=served[1],
        client_id=FakeInstagram.app_id,
        client_secret=FakeInstagram.app_secret,
        redirect_uri="https://portevoix.example/oauth/instagram/callback",
        extra={"graph_version": "v23.0", "oauth_dialog_base": served[1], "poll_interval": "0.01",
               "inbox_page_size": "2", "webhook_secret": "s"},
    )  # fmt: skip
    plugin = InstagramPlugin(settings, http=httpx.AsyncClient(timeout=httpx.Timeout(2.0)))
    yield plugin
    await plugin.aclose()


@pytest.fixture
def region(fake: FakeInstagram) -> AccountRef:
    return fake.make_account()


@pytest.fixture
def president(fake: FakeInstagram) -> AccountRef:
    return fake.make_account(PRESIDENT, name="Camille Delorme")


async def inbox(plugin: InstagramPlugin, account: AccountRef) -> list[RemoteItem]:
    items, cursor = [], None
    while True:
        page = await plugin.fetch_inbox(account, cursor)
        items += page.items
        if (cursor := page.next_cursor) is None:
            return items


def comment_item(comment_id: str) -> RemoteItem:
    return RemoteItem(
        remote_id=comment_id, kind=InboxKind.COMMENT, text="…", author_id="1", created_at=datetime.now(UTC)
    )


async def graph(
    served: tuple[FakeInstagram, str], method: str, path: str, token: str, **params: str
) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=served[1]) as client:
        answer = await client.request(method, f"/v23.0/{path}", params={**params, "access_token": token})
    return answer.status_code, answer.json()


# --------------------------------------------------------------------------- identities


def test_each_username_is_its_own_user_and_the_default_stays(fake: FakeInstagram) -> None:
    default, again = fake.make_account(), fake.make_account("occitanie", name="Région Occitanie")
    assert (default.external_id, default.handle, default.credentials.access_token) == (
        IG_USER_ID, "occitanie", FakeInstagram.user_token,
    )  # fmt: skip
    assert default.credentials.extra == {"page_id": PAGE_ID} and again == default

    first, second = fake.make_account(PRESIDENT, name="Camille Delorme"), fake.make_account("autre.compte")
    assert first.handle == PRESIDENT and second.handle == "autre.compte"
    ids = {default.external_id, first.external_id, second.external_id}
    tokens = {default.credentials.access_token, first.credentials.access_token, second.credentials.access_token}
    pages = {
        default.credentials.extra["page_id"],
        first.credentials.extra["page_id"],
        second.credentials.extra["page_id"],
    }
    assert len(ids) == len(tokens) == len(pages) == 3
    assert fake.make_account(PRESIDENT) == first  # the same user, not a new one
    fake.reset()
    assert fake.make_account(PRESIDENT) == first  # an identity and its token outlive a reset, as the default's


async def test_each_token_reads_its_own_user_and_page(
    served: tuple[FakeInstagram, str], region: AccountRef, president: AccountRef
) -> None:
    token = president.credentials.access_token
    status, body = await graph(served, "GET", president.external_id, token, fields="username,name")
    assert status == 200 and body == {"id": president.external_id, "username": PRESIDENT, "name": "Camille Delorme"}
    status, body = await graph(served, "GET", "me/accounts", token, fields="id,instagram_business_account")
    assert body["data"] == [
        {"id": president.credentials.extra["page_id"], "instagram_business_account": {"id": president.external_id}}
    ]
    status, body = await graph(served, "GET", "me/accounts", region.credentials.access_token, fields="id")
    assert body["data"] == [{"id": PAGE_ID}]
    for other, token in ((region, president.credentials.access_token), (president, region.credentials.access_token)):
        status, body = await graph(served, "GET", other.external_id, token, fields="username")
        assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)


# --------------------------------------------------------------------------- the inbox


async def test_each_account_polls_only_its_own_media_and_comments(
    plugin: InstagramPlugin, fake: FakeInstagram, region: AccountRef, president: AccountRef
) -> None:
    ours = fake.seed_media("Le pont du Gard")
    hers = fake.seed_media("Au marché de Narbonne", account=president)
    region_comments = {fake.seed_comment(ours, f"Magnifique {n}", username=f"v{n}") for n in range(3)}
    first = fake.seed_comment(hers, "Merci Madame la Présidente")
    president_comments = {first, fake.seed_comment(hers, "Et Gruissan ?", username="julie")}
    reply = fake.seed_comment(hers, "Pareil", parent_id=first, username="luc")

    seen_by_region, seen_by_president = await inbox(plugin, region), await inbox(plugin, president)
    assert {i.remote_id for i in seen_by_region} == region_comments
    assert {i.remote_id for i in seen_by_president} == president_comments | {reply}
    assert {i.thread_id for i in seen_by_region} == {ours} and {i.thread_id for i in seen_by_president} == {hers}


async def test_a_webhook_names_the_account_the_item_arrived_on(
    plugin: InstagramPlugin, fake: FakeInstagram, president: AccountRef
) -> None:
    comment = fake.seed_comment(fake.seed_media("Feria", account=president), "Bravo")
    mention = fake.seed_mention("vous étiez où ?", account=president)
    message = fake.seed_message("Bonjour Madame", account=PRESIDENT)["mid"]
    assert fake.mentions[mention]["text"].startswith(f"@{PRESIDENT} ")
    for item_id in (comment, mention, message):
        headers, body = fake.signed_webhook(item_id, secret="s")
        items = plugin.parse_webhook(WebhookRequest(method="POST", headers=headers, query={}, body=body))
        assert [(i.remote_id, i.account_id) for i in items] == [(item_id, president.external_id)]


# --------------------------------------------------------------------------- publishing


async def test_publishing_on_one_account_never_shows_on_the_other(
    plugin: InstagramPlugin, fake: FakeInstagram, region: AccountRef, president: AccountRef
) -> None:
    photo = MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url="https://cdn.example.org/1.jpg")
    draft = Draft(text="Au marché de Sète ce matin", format=Format.PHOTO, media=(photo,))
    published = await plugin.publish(president, draft)

    now = datetime.now(UTC)
    window = {"not_before": now - timedelta(minutes=10), "not_after": now + timedelta(minutes=1)}
    assert (await plugin.reconcile(president, draft, **window)) is not None
    assert await plugin.reconcile(region, draft, **window) is None
    assert fake.user(president).quota_usage == 1 and fake.quota_usage == 0  # each account has its own limit
    assert await inbox(plugin, region) == []
    fake.seed_comment(published.remote_id, "Bravo")
    assert await inbox(plugin, region) == [] and len(await inbox(plugin, president)) == 1


async def test_no_container_nor_publication_on_another_users_id(
    served: tuple[FakeInstagram, str], fake: FakeInstagram, region: AccountRef, president: AccountRef
) -> None:
    theirs, mine = president.credentials.access_token, region.credentials.access_token
    image = {"image_url": "https://cdn.example.org/1.jpg", "caption": "Intrus"}
    status, body = await graph(served, "POST", f"{president.external_id}/media", mine, **image)
    assert status == 400 and body["error"]["error_subcode"] == 33
    status, body = await graph(served, "GET", f"{president.external_id}/media", mine)
    assert status == 400 and body["error"]["error_subcode"] == 33
    status, body = await graph(served, "GET", f"{president.external_id}/content_publishing_limit", mine)
    assert status == 400 and body["error"]["error_subcode"] == 33

    # her container: not mine to publish, read or put in my carousel
    _, created = await graph(served, "POST", f"{president.external_id}/media", theirs, **image)
    status, body = await graph(served, "POST", f"{region.external_id}/media_publish", mine, creation_id=created["id"])
    assert status == 400 and body["error"]["code"] == 100
    status, _ = await graph(served, "GET", created["id"], mine, fields="status_code")
    assert status == 400
    for _ in range(2):  # her own status reads let it finish processing
        _, polled = await graph(served, "GET", created["id"], theirs, fields="status_code")
    assert polled["status_code"] == "FINISHED"
    status, _ = await graph(served, "POST", f"{region.external_id}/media_publish", mine, creation_id=created["id"])
    assert status == 400 and list(fake.media.values()) == []
    item = {"image_url": "https://cdn.example.org/2.jpg", "is_carousel_item": "true"}
    children = [(await graph(served, "POST", f"{president.external_id}/media", theirs, **item))[1]["id"] for _ in "ab"]
    for child in children:
        await graph(served, "GET", child, theirs, fields="status_code")
        await graph(served, "GET", child, theirs, fields="status_code")
    carousel = {"media_type": "CAROUSEL", "children": ",".join(children)}
    status, body = await graph(served, "POST", f"{region.external_id}/media", mine, **carousel)
    assert status == 400 and "is not a carousel item container of this account" in body["error"]["message"]
    status, _ = await graph(served, "POST", f"{president.external_id}/media", theirs, **carousel)
    assert status == 200
    status, _ = await graph(served, "POST", f"{president.external_id}/media_publish", theirs, creation_id=created["id"])
    assert status == 200 and [m["owner"] for m in fake.media.values()] == [president.external_id]


# --------------------------------------------------------------------------- acting on comments


async def test_another_accounts_comments_cannot_be_read_answered_hidden_or_deleted(
    served: tuple[FakeInstagram, str], plugin: InstagramPlugin, fake: FakeInstagram,
    region: AccountRef, president: AccountRef,
) -> None:  # fmt: skip
    hers = fake.seed_media("Au marché de Narbonne", account=president)
    comment = fake.seed_comment(hers, "Merci Madame la Présidente")
    mine = region.credentials.access_token

    with pytest.raises(Rejected) as refused:
        await plugin.hide_item(region, comment_item(comment))
    assert refused.value.code == "100/33" and not fake.is_hidden(comment)
    with pytest.raises(Rejected):
        await plugin.reply(region, comment_item(comment), Draft(text="Réponse de la Région"))
    await plugin.delete_item(region, comment_item(comment))  # 100/33 reads as "already gone" to the plugin…
    assert comment in fake.comments and not fake.is_deleted(comment)  # …but the comment is untouched
    for method, path in (
        ("GET", f"{hers}/comments"), ("GET", f"{comment}/replies"), ("GET", hers), ("GET", comment),
        ("POST", f"{hers}/comments"), ("DELETE", hers), ("GET", f"{hers}/insights"),
    ):  # fmt: skip
        params = {"message": "x"} if method == "POST" else {"metric": "reach"} if "insights" in path else {}
        status, body = await graph(served, method, path, mine, **params)
        assert status == 400 and body["error"]["error_subcode"] == 33, (method, path, body)
    assert [c["parent_id"] for c in fake.comments.values()] == [None] and hers in fake.media

    await plugin.hide_item(president, comment_item(comment))
    answer = await plugin.reply(president, comment_item(comment), Draft(text="Merci à vous !"))
    assert fake.is_hidden(comment) and fake.comments[answer.remote_id]["username"] == PRESIDENT
    await plugin.delete_item(president, comment_item(comment))
    assert fake.is_deleted(comment)


# --------------------------------------------------------------------------- the demo


async def test_the_demo_gives_the_region_and_the_president_two_instagram_accounts(runtime: Runtime) -> None:
    simulated = SimulatedNetworks()
    runtime.base_url_overrides.update(simulated.start())
    try:
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("test"))
        await simulated.connect_accounts(runtime)
        async with runtime.sessions() as session:
            rows = (await session.execute(
                select(Persona.slug, Account.id, Account.external_id).join(Persona)
                .where(Account.channel == "instagram")
            )).all()  # fmt: skip
        accounts = {slug: (account_id, external_id) for slug, account_id, external_id in rows}
        (region_id, region_ig), (president_id, president_ig) = (
            accounts["region-occitanie"],
            accounts["presidente-region"],
        )
        assert region_ig != president_ig

        # the demo's comments to the president, and one more, reach her inbox, never the Région's
        assert await simulated.seed_inbox(runtime) > 0
        fake: Any = simulated.fakes["instagram"]
        media = fake.seed_media("Au marché de Carcassonne", account=president_ig)
        comment = fake.seed_comment(media, "Merci Madame la Présidente d'être venue !", username="ana")
        for account_id in (region_id, president_id):
            assert (await sync_account(runtime, account_id)).status == "synced"
        async with runtime.sessions() as session:
            ours = InboxItem.account_id.in_((region_id, president_id))
            found = (await session.execute(select(InboxItem.account_id, InboxItem.remote_id).where(ours))).all()
        assert {row.account_id for row in found} == {president_id}
        assert comment in {row.remote_id for row in found} and len(found) == 3  # the demo seeds two
    finally:
        simulated.stop()
