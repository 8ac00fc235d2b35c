"""Network searches and mentions as watch sources, against the fake networks over HTTP on
127.0.0.1, on SQLite and PostgreSQL: the hits stored once (the network's cursor kept, X asked
with ``since_id``), a low budget or a throttle putting a check off without a call, Instagram's
31st distinct hashtag in 7 days refused before any call (and by the fake itself), a rate limit
throttling the account, 3 errors breaking the source, the inbox's mentions copied once."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core.audit import Actor
from core.channels import InboxKind, Rejected, UsageReport
from core.db.models import Account, InboxItem, Persona, VeilleItem, VeilleSource
from core.publishing.outbox import flush_usage
from core.runtime import Runtime
from core.veille import search
from core.veille.search import collect_searches
from core.veille.sources import create_source
from plugins.testing import FakeNetwork
from tests.inbox.networks import (
    account_row,
    connect,
    networks_fixture,  # noqa: F401 - the fixture "networks"
    persona,
    point_at,
)

pytestmark = pytest.mark.anyio
Networks = dict[str, tuple[FakeNetwork, str]]
ACTOR = Actor.system("test")


async def _connected(runtime: Runtime, networks: Networks, channel: str) -> tuple[Any, Any, uuid.UUID, uuid.UUID]:
    point_at(runtime, networks)
    fake = networks[channel][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    persona_id = await persona(runtime)
    return fake, ref, persona_id, await connect(runtime, persona_id, channel, ref)


async def _source(runtime: Runtime, persona_id: uuid.UUID, channel: str, query: str, **kw: Any) -> uuid.UUID:
    async with runtime.session() as session:
        owner = await session.get(Persona, persona_id)
        assert owner is not None
        source = await create_source(
            session, owner, kind="search", plugin=channel, target=query, label=query, actor=ACTOR, **kw
        )
        return source.id


async def _items(runtime: Runtime, source_id: uuid.UUID) -> list[VeilleItem]:
    async with runtime.sessions() as session:
        query = select(VeilleItem).where(VeilleItem.source_id == source_id).order_by(VeilleItem.title)
        return list((await session.scalars(query)).all())


async def _get(runtime: Runtime, source_id: uuid.UUID) -> VeilleSource:
    async with runtime.sessions() as session:
        source = await session.get(VeilleSource, source_id)
        assert source is not None
        return source


def _post(channel: str, fake: Any, text: str) -> None:
    """Someone else posts ``text`` publicly on the fake network."""
    if channel == "x":
        author = fake.add_user("meteo_oc", "Météo Occitanie")
        fake.add_tweet(author.id, text)
    elif channel == "bluesky":
        fake.add_post("meteo.bsky.social", text)
    elif channel == "mastodon":
        fake.add_status(text)
    else:
        fake.seed_media(text, account=fake.make_account("meteo.oc").external_id)


def _later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


@pytest.mark.parametrize("channel", ["x", "bluesky", "mastodon", "instagram"])
async def test_a_hashtag_search_stores_each_hit_once(runtime: Runtime, networks: Networks, channel: str) -> None:
    fake, _, persona_id, account_id = await _connected(runtime, networks, channel)
    _post(channel, fake, "Alerte #crue sur la Garonne à Toulouse")
    _post(channel, fake, "Vigilance orange #Crue dans l'Aude\nÉvacuation du camping de Trèbes")
    _post(channel, fake, "Rien à voir : le marché de Noël #Albi")
    source_id = await _source(runtime, persona_id, channel, "#crue")

    run = await collect_searches(runtime)
    items = await _items(runtime, source_id)
    assert run.items == 2 and run.errors == 0, (run, (await _get(runtime, source_id)).last_error)
    assert [i.title for i in items] == ["Alerte #crue sur la Garonne à Toulouse", "Vigilance orange #Crue dans l'Aude"]
    assert "crue" in items[0].keywords and "évacuation" in items[1].keywords  # the persona's crisis keywords
    assert items[1].summary_text.endswith("Évacuation du camping de Trèbes")
    assert all(i.url and i.url.startswith("https://") and i.status == "new" for i in items)
    source = await _get(runtime, source_id)
    assert source.account_id == account_id and source.last_success_at is not None and source.cost >= 1

    # the next check: nothing twice, the new post once
    _post(channel, fake, "La #crue de l'Orb atteint Béziers")
    again = await collect_searches(runtime, now=_later(20))
    assert again.items == 1 and again.errors == 0, again
    assert len(await _items(runtime, source_id)) == 3
    third = await collect_searches(runtime, now=_later(40))
    assert third.items == 0 and len(await _items(runtime, source_id)) == 3


async def test_x_asks_only_for_what_is_new_and_its_read_budget_counts(runtime: Runtime, networks: Networks) -> None:
    fake, ref, persona_id, account_id = await _connected(runtime, networks, "x")
    _post("x", fake, "Alerte #crue à Toulouse")
    source_id = await _source(runtime, persona_id, "x", "#crue")
    fake.received.clear()
    await collect_searches(runtime)
    await collect_searches(runtime, now=_later(20))
    asked = fake.requests_to("GET", r"^/2/tweets/search/recent$")
    assert asked[0].q("query") == "#crue -is:retweet" and asked[0].q("since_id") is None
    newest = (await _items(runtime, source_id))[0].guid
    # the first check reads the page, then once more to learn it is caught up (the contract's
    # cursor); the next check, nothing new, is one call from the cursor kept on the source
    assert [r.q("since_id") for r in asked[1:]] == [newest, newest]
    assert "tweet.fields" in asked[0].query and asked[0].q("max_results") == "100"
    # the rate-limit headers of the search are the account's budget
    from core.usage.budget import account_budget

    async with runtime.sessions() as session:
        found = await account_budget(session, account_id)
    assert "GET /2/tweets/search/recent" in {e.endpoint for e in found.endpoints}


async def test_a_low_budget_or_a_throttle_puts_the_search_off(runtime: Runtime, networks: Networks) -> None:
    fake, ref, persona_id, account_id = await _connected(runtime, networks, "x")
    source_id = await _source(runtime, persona_id, "x", "inondation")
    soon = datetime.now(UTC) + timedelta(minutes=10)
    report = UsageReport(
        channel="x",
        endpoint="GET /2/tweets/search/recent",
        account_external_id=ref.external_id,
        limit=300,
        remaining=3,
        reset_at=soon,
    )
    runtime.host.usage.record(report)
    await flush_usage(runtime)
    fake.received.clear()
    run = await collect_searches(runtime)
    assert run.put_off == 1 and run.errors == 0 and fake.requests_to("GET", "search") == []
    source = await _get(runtime, source_id)
    assert source.consecutive_errors == 0 and "budget" in (source.last_error or "")
    assert source.next_check_at is not None and source.next_check_at.replace(tzinfo=UTC) > _later(10)

    # the budget is back; the account throttled: still no call
    async with runtime.session() as session:
        await session.execute(update(Account).where(Account.id == account_id).values(throttled_until=_later(120)))
    run = await collect_searches(runtime, now=soon + timedelta(minutes=20))
    assert run.put_off == 1 and fake.requests_to("GET", "search") == []


async def test_a_rate_limit_throttles_the_account_and_is_no_error(runtime: Runtime, networks: Networks) -> None:
    fake, _, persona_id, account_id = await _connected(runtime, networks, "x")
    source_id = await _source(runtime, persona_id, "x", "#crue")
    fake.fail_next("rate_limited", retry_after=600)
    run = await collect_searches(runtime)
    assert run.put_off == 1 and run.errors == 0, run
    account = await account_row(runtime, account_id)
    assert account.throttled_until is not None and account.throttled_until.replace(tzinfo=UTC) > _later(5)
    assert (await _get(runtime, source_id)).consecutive_errors == 0


async def test_three_errors_break_a_search(runtime: Runtime, networks: Networks) -> None:
    point_at(runtime, networks)
    persona_id = await persona(runtime)  # no Bluesky account connected
    source_id = await _source(runtime, persona_id, "bluesky", "#crue")
    for step in range(3):
        run = await collect_searches(runtime, now=_later(20 * step))
        assert run.errors == 1, run
    source = await _get(runtime, source_id)
    assert source.broken_at is not None and "no connected bluesky account" in (source.last_error or "")
    assert (await collect_searches(runtime, now=_later(200))).sources == 0  # no longer checked


async def test_instagram_refuses_a_31st_hashtag_in_7_days(runtime: Runtime, networks: Networks) -> None:
    fake, ref, persona_id, account_id = await _connected(runtime, networks, "instagram")
    # 30 hashtags searched this week, by this account (the history is the source rows)
    ids = [await _source(runtime, persona_id, "instagram", f"#tag{n}", account_id=account_id) for n in range(30)]
    async with runtime.session() as session:
        await session.execute(
            update(VeilleSource)
            .where(VeilleSource.id.in_(ids))
            .values(last_checked_at=datetime.now(UTC) - timedelta(days=2), next_check_at=_later(600))
        )
    one_more = await _source(runtime, persona_id, "instagram", "#crue", account_id=account_id)
    fake.received.clear()
    run = await collect_searches(runtime)
    assert run.put_off == 1 and run.errors == 0, run
    assert fake.requests_to("GET", "ig_hashtag_search") == []
    source = await _get(runtime, one_more)
    assert "30 distinct hashtags" in (source.last_error or "") and source.consecutive_errors == 0

    # one of the 30 again is free; and a week later the 31st goes
    async with runtime.session() as session:
        await session.execute(update(VeilleSource).where(VeilleSource.id == ids[0]).values(next_check_at=None))
    assert (await collect_searches(runtime, now=_later(1))).put_off == 0
    async with runtime.session() as session:
        await session.execute(
            update(VeilleSource)
            .where(VeilleSource.id.in_(ids))
            .values(last_checked_at=datetime.now(UTC) - timedelta(days=8))
        )
        await session.execute(update(VeilleSource).where(VeilleSource.id == one_more).values(next_check_at=None))
    run = await collect_searches(runtime, now=_later(2))
    assert run.put_off == 0 and run.errors == 0, run


async def test_the_fake_instagram_itself_refuses_a_31st_hashtag(networks: Networks, runtime: Runtime) -> None:
    point_at(runtime, networks)
    fake = networks["instagram"][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    plugin = runtime.host.plugin("instagram")
    for n in range(30):
        await plugin.search(ref, f"#essai{n}", None)
    await plugin.search(ref, "#essai0", None)  # a tag already counted is free
    with pytest.raises(Rejected) as refused:
        await plugin.search(ref, "#trente_et_un", None)
    assert refused.value.code is not None and refused.value.code.startswith("24")
    with pytest.raises(Rejected):
        await plugin.search(ref, "deux mots", None)  # Instagram searches hashtags only


async def test_mentions_from_the_inbox_are_copied_once(runtime: Runtime, networks: Networks) -> None:
    _, _, persona_id, account_id = await _connected(runtime, networks, "mastodon")
    now = datetime.now(UTC)

    async def received(kind: InboxKind, text: str, minutes_ago: float) -> uuid.UUID:
        async with runtime.session() as session:
            item = InboxItem(
                account_id=account_id,
                persona_id=persona_id,
                remote_id=f"r{uuid.uuid4().hex[:8]}",
                kind=kind,
                author_remote_id="42",
                author_handle="camille@mastodon.example",
                text=text,
                url="https://mastodon.example/@camille/1",
                received_at=now - timedelta(minutes=minutes_ago),
            )
            session.add(item)
            await session.flush()
            return item.id

    mention = await received(InboxKind.MENTION, "@region la crue menace le pont de Sommières", 30)
    await received(InboxKind.COMMENT, "Un commentaire, pas une mention", 20)
    async with runtime.session() as session:
        owner = await session.get(Persona, persona_id)
        assert owner is not None
        source_id = (
            await create_source(session, owner, kind="mentions", plugin="", target="", label="Mentions", actor=ACTOR)
        ).id
    run = await collect_searches(runtime)
    items = await _items(runtime, source_id)
    assert run.items == 1 and [i.title for i in items] == ["@region la crue menace le pont de Sommières"]
    assert items[0].author == "@camille@mastodon.example" and "crue" in items[0].keywords
    assert items[0].dedup_key == search.collect.sha256("guid", str(mention))

    time.sleep(0.01)
    await received(InboxKind.MENTION, "@region merci pour le TER à 1 €", 0)
    again = await collect_searches(runtime, now=_later(6))
    assert again.items == 1 and len(await _items(runtime, source_id)) == 2
