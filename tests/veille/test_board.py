"""The watch board on both databases: the stream newest first through the one paginator, its
filters, seen and dismissed (a tombstone, an audit event), the draft an item starts and the origin
a post keeps, and the isolation between personas (the president's team never reaches the Région's
watch: not in the stream, not by id, not through a forged origin), and the policy reading whose
watch a post comes from."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.enums import DeliveryKind, Role
from core.db.models import Account, AuditEvent, Persona, Post, VeilleItem, VeilleTombstone
from core.policy import check_post_on_account
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from core.veille import board
from personas.policy import Stage
from tests.veille.board_items import seed_personas, watch_items, watch_source

pytestmark = pytest.mark.anyio

ACTOR = Actor(id=None, label="cm.region@test")


@pytest.fixture
async def personas(runtime: Runtime) -> dict[str, Persona]:
    return await seed_personas(runtime)


async def _titles(db: AsyncSession, persona: Persona, **filters: object) -> list[str]:
    page = await board.stream(db, persona.id, board.BoardFilter(**filters), cursor=None, limit=100)  # type: ignore[arg-type]
    return [i.title for i in page.items]


async def test_the_stream_is_newest_first_page_after_page_and_only_the_personas(
    db: AsyncSession, personas: dict[str, Persona]
) -> None:
    region, president = personas["region-occitanie"], personas["presidente-region"]
    press = await watch_source(db, region, "La Dépêche")
    await watch_items(db, press, [f"Article {n:02d}" for n in range(7)])
    other = await watch_source(db, president, "Revue de presse du cabinet")
    await watch_items(db, other, ["Meeting de campagne à Albi"])
    await db.commit()

    seen: list[str] = []
    cursor = None
    while True:
        page = await board.stream(db, region.id, board.BoardFilter(), cursor=cursor, limit=3)
        seen += [i.title for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"Article {n:02d}" for n in reversed(range(7))]
    assert await _titles(db, president) == ["Meeting de campagne à Albi"]


async def test_filters_by_source_keyword_status_and_words_in_the_title(
    db: AsyncSession, personas: dict[str, Persona]
) -> None:
    region = personas["region-occitanie"]
    press = await watch_source(db, region, "Midi Libre")
    prefecture = await watch_source(db, region, "Préfecture de l'Hérault", crisis=True)
    await watch_items(db, press, ["Festival à Sète", "Travaux sur l'A9 : 100 % de la voie fermée"])
    flooded = await watch_items(db, prefecture, ["Crue de l'Hérault", "Alerte éboulement"], keywords=["crue"])
    await watch_items(db, prefecture, ["Éboulement à Lodève"], keywords=["éboulement"])
    await db.commit()

    works = "Travaux sur l'A9 : 100 % de la voie fermée"
    assert await _titles(db, region, source_id=press.id) == [works, "Festival à Sète"]
    assert await _titles(db, region, keyword="crue") == ["Alerte éboulement", "Crue de l'Hérault"]
    assert await _titles(db, region, keyword="éboulement") == ["Éboulement à Lodève"]
    assert await _titles(db, region, q="sète") == ["Festival à Sète"]
    # a % in the search is a character, not a wildcard
    assert await _titles(db, region, q="100 %") == [works]
    assert await _titles(db, region, q="0 %x") == []

    await board.dismiss(db, ACTOR, region.id, flooded[0].id)
    await db.commit()
    assert "Crue de l'Hérault" not in await _titles(db, region)
    assert await _titles(db, region, status="dismissed") == ["Crue de l'Hérault"]
    with pytest.raises(board.WatchRefusal) as refused:
        await _titles(db, region, status="archived")
    assert refused.value.field == "status"


async def test_dismiss_leaves_a_tombstone_and_an_audit_event_seen_is_only_for_new_items(
    db: AsyncSession, personas: dict[str, Persona]
) -> None:
    region = personas["region-occitanie"]
    source = await watch_source(db, region, "France 3 Occitanie")
    first, second = await watch_items(db, source, ["Un", "Deux"])
    await db.commit()

    assert (await board.mark_seen(db, ACTOR, region.id, first.id)).status == "seen"
    dismissed = await board.dismiss(db, ACTOR, region.id, first.id)
    await board.dismiss(db, ACTOR, region.id, first.id)  # twice is once
    await db.commit()
    assert dismissed.status == "dismissed"
    # seen does not bring a dismissed item back
    assert (await board.mark_seen(db, ACTOR, region.id, first.id)).status == "dismissed"
    tombstones = (await db.scalars(select(VeilleTombstone))).all()
    assert [(t.source_id, t.dedup_key) for t in tombstones] == [(source.id, first.dedup_key)]
    events = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "veille.dismissed"))).all()
    assert [(e.entity_id, e.before, e.persona_id) for e in events] == [(str(first.id), {"status": "seen"}, region.id)]
    assert (await db.get(VeilleItem, second.id)).status == "new"  # type: ignore[union-attr]


async def test_another_personas_item_does_not_exist(db: AsyncSession, personas: dict[str, Persona]) -> None:
    region, president = personas["region-occitanie"], personas["presidente-region"]
    (item,) = await watch_items(db, await watch_source(db, region, "Le Monde"), ["Budget régional voté"])
    await db.commit()
    for action in (board.mark_seen, board.dismiss):
        with pytest.raises(board.NoSuchItem):
            await action(db, ACTOR, president.id, item.id)
    with pytest.raises(board.NoSuchItem):
        await board.draft_from_item(db, president.id, item.id)
    with pytest.raises(board.NoSuchItem):
        await board.draft_from_item(db, region.id, uuid.uuid4())
    assert (await db.get(VeilleItem, item.id)).status == "new"  # type: ignore[union-attr]


async def test_a_draft_from_an_item_has_its_link_a_short_text_and_its_origin(
    db: AsyncSession, personas: dict[str, Persona]
) -> None:
    region = personas["region-occitanie"]
    source = await watch_source(db, region, "Actu.fr")
    (item,) = await watch_items(db, source, ["Nouvelle ligne de bus à Montpellier"])
    item.summary_text = "Mot " * 200
    await db.commit()

    draft = await board.draft_from_item(db, region.id, item.id)
    assert draft.link == item.url
    title, summary = draft.text.split("\n\n")
    assert title == "Nouvelle ligne de bus à Montpellier"
    assert summary.endswith("…") and len(summary) <= board.SUMMARY_CHARS + 1
    assert draft.origin == {
        "item_id": str(item.id),
        "source_url": source.target,
        "url": item.url,
        "captured_at": item.captured_at.isoformat(),
        "content_hash": item.content_hash,
    }
    assert tuple(draft.origin) == board.ORIGIN_KEYS


async def _account(db: AsyncSession, persona: Persona, channel: str) -> Account:
    account = await db.scalar(select(Account).where(Account.persona_id == persona.id, Account.channel == channel))
    assert account is not None
    return account


async def test_a_post_keeps_the_origin_of_its_personas_item_and_the_item_becomes_drafted(
    db: AsyncSession, runtime: Runtime, personas: dict[str, Persona]
) -> None:
    region, president = personas["region-occitanie"], personas["presidente-region"]
    source = await watch_source(db, region, "La Gazette de Montpellier")
    (item,) = await watch_items(db, source, ["Le tram gratuit le dimanche"])
    facebook = await _account(db, region, "facebook")
    await db.commit()
    editor = StaffActor(id=None, label="cm.region@test", role=Role.EDITOR)
    # the origin given is only an id: the post keeps what the item itself says (a forged hash is not kept)
    request = ComposeRequest(
        persona_id=region.id,
        account_ids=(facebook.id,),
        text="Le tram est gratuit le dimanche.",
        link=item.url,
        save_as_draft=True,
        origin={"item_id": str(item.id), "content_hash": "forged"},
    )
    result = await compose(db, runtime.channels, editor, request)
    await db.commit()
    post = await db.get(Post, result.post.id)
    assert post is not None and post.origin == (await board.draft_from_item(db, region.id, item.id)).origin
    stored = await db.get(VeilleItem, item.id)
    assert stored is not None and (stored.status, stored.post_id) == ("drafted", post.id)
    assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == "veille.drafted"))

    # the president's team cannot draft from the Région's item, whatever the request says
    president_account = await _account(db, president, "x")
    cabinet = StaffActor(id=None, label="cm.presidente@test", role=Role.EDITOR)
    forged = ComposeRequest(
        persona_id=president.id,
        account_ids=(president_account.id,),
        text="Reprise",
        save_as_draft=True,
        origin={"item_id": str(item.id)},
    )
    with pytest.raises(board.NoSuchItem):
        await compose(db, runtime.channels, cabinet, forged)


async def test_the_policy_flags_an_institution_post_from_an_elected_officials_watch(
    db: AsyncSession, runtime: Runtime, personas: dict[str, Persona]
) -> None:
    """Items are per persona, so this only happens if an origin arrives some other way: the S3
    rule (an institution relaying personal or campaign content) still says so."""
    region, president = personas["region-occitanie"], personas["presidente-region"]
    (campaign,) = await watch_items(db, await watch_source(db, president, "Veille du cabinet"), ["Meeting à Albi"])
    (own,) = await watch_items(db, await watch_source(db, region, "Presse"), ["Salon de l'agriculture"])
    facebook = await _account(db, region, "facebook")
    await db.commit()

    async def rules(item: VeilleItem) -> dict[str, str]:
        post = Post(
            persona_id=region.id,
            kind=DeliveryKind.POST,
            text="Une journée dans le Tarn.",
            format="post",
            variants={},
            publish_options={},
            origin={"item_id": str(item.id)},
        )
        found = await check_post_on_account(
            db,
            runtime.channels,
            persona=region,
            post=post,
            media=[],
            channel="facebook",
            account=facebook,
            moment=item.captured_at,
            stage=Stage.DRAFT,
            composer=None,
        )
        return {f.rule: f.message_fr for f in found}

    flagged = await rules(campaign)
    assert "veille de campagne de presidente-region" in flagged["cross_promotion"]
    assert "cross_promotion" not in await rules(own)
