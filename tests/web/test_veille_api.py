"""The watch API on both databases: sources (list, add, change, re-enable a broken one, delete),
the board's items with filters and cursor, seen, dismiss, the draft and a post composed from it
(``fromItem``: the post keeps the origin, the item becomes drafted), the rights from the one
permission table, the president's team answered 404 for the Région's watch, bad input in French."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import Account, Persona, Post, VeilleItem, VeilleSource
from core.db.types import utcnow
from core.runtime import Runtime
from tests.veille.board_items import watch_items, watch_source
from tests.web.conftest import bearer, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION, PRESIDENT = "region-occitanie", "presidente-region"


async def _items(runtime: Runtime, slug: str, titles: list[str], **kwargs: object) -> tuple[VeilleSource, list[str]]:
    async with runtime.session() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == slug))
        assert persona is not None
        source = await watch_source(session, persona, f"Presse {slug} {len(titles)}")
        items = await watch_items(session, source, titles, **kwargs)  # type: ignore[arg-type]
        return source, [str(i.id) for i in items]


async def test_sources_are_listed_added_changed_repaired_and_deleted(
    client: AsyncTestClient, runtime: Runtime, demo: object
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "editor", roles={REGION: Role.EDITOR})
    base = f"/api/v1/personas/{ids[REGION]}/veille/sources"
    created = await client.post(
        base,
        json={"target": "https://presse.example.test/occitanie.xml", "label": "  Presse  régionale "},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert (source["label"], source["plugin"], source["enabled"], source["crisis"]) == (
        "Presse régionale",
        "rss",
        True,
        False,
    )
    listed = (await client.get(base, headers=bearer(token))).json()["items"]
    assert source["id"] in [s["id"] for s in listed]

    one = f"{base}/{source['id']}"
    assert (await client.patch(one, json={"enabled": False}, headers=bearer(token))).json()["enabled"] is False
    async with runtime.session() as session:  # three errors later, the collector marks it broken
        row = await session.get(VeilleSource, uuid.UUID(source["id"]))
        assert row is not None
        row.broken_at, row.consecutive_errors, row.last_error = utcnow(), 3, "timeout"
    repaired = (await client.patch(one, json={"enabled": True, "crisis": True}, headers=bearer(token))).json()
    assert (repaired["enabled"], repaired["brokenAt"], repaired["consecutiveErrors"], repaired["crisis"]) == (
        True,
        None,
        0,
        True,
    )
    assert (await client.delete(one, headers=bearer(token))).status_code == 204
    assert (await client.get(one, headers=bearer(token))).status_code == 404


async def test_the_board_filters_pages_and_marks_items(client: AsyncTestClient, runtime: Runtime, demo: object) -> None:
    ids = await persona_ids(runtime)
    source, items = await _items(runtime, REGION, [f"Dépêche {n}" for n in range(5)], keywords=["crue"])
    _, token = await staff_with_token(runtime, "editor", roles={REGION: Role.EDITOR})
    base = f"/api/v1/personas/{ids[REGION]}/veille/items"
    first = (await client.get(base, params={"limit": 2, "source": str(source.id)}, headers=bearer(token))).json()
    assert [i["title"] for i in first["items"]] == ["Dépêche 4", "Dépêche 3"]
    second = await client.get(
        base, params={"limit": 2, "source": str(source.id), "cursor": first["nextCursor"]}, headers=bearer(token)
    )
    assert [i["title"] for i in second.json()["items"]] == ["Dépêche 2", "Dépêche 1"]
    assert [
        i["title"] for i in (await client.get(base, params={"q": "pêche 0"}, headers=bearer(token))).json()["items"]
    ] == ["Dépêche 0"]
    assert len((await client.get(base, params={"keyword": "crue"}, headers=bearer(token))).json()["items"]) == 5

    seen = await client.post(f"{base}/{items[0]}/seen", headers=bearer(token))
    assert (seen.status_code, seen.json()["status"]) == (200, "seen")
    dismissed = await client.post(f"{base}/{items[1]}/dismiss", headers=bearer(token))
    assert dismissed.json()["status"] == "dismissed"
    titles = [
        i["title"]
        for i in (await client.get(base, params={"source": str(source.id)}, headers=bearer(token))).json()["items"]
    ]
    assert "Dépêche 1" not in titles and len(titles) == 4


async def test_a_post_from_an_item_keeps_its_origin(client: AsyncTestClient, runtime: Runtime, demo: object) -> None:
    ids = await persona_ids(runtime)
    source, (item,) = await _items(runtime, REGION, ["Ouverture de la gare de Nîmes-Pont-du-Gard"])
    _, token = await staff_with_token(runtime, "editor", roles={REGION: Role.EDITOR})
    draft = await client.post(f"/api/v1/personas/{ids[REGION]}/veille/items/{item}/draft", headers=bearer(token))
    assert draft.status_code == 200, draft.text
    body = draft.json()
    assert body["origin"]["itemId"] == item and body["origin"]["sourceUrl"] == source.target
    assert body["composerUrl"] == f"/admin/personas/{ids[REGION]}/compose?from_item={item}"
    async with runtime.session() as session:
        facebook = await session.scalar(
            select(Account.id).where(Account.persona_id == ids[REGION], Account.channel == "facebook")
        )
    composed = await client.post(
        f"/api/v1/personas/{ids[REGION]}/posts",
        json={
            "accountIds": [str(facebook)],
            "text": body["text"],
            "link": body["link"],
            "fromItem": item,
            "saveAsDraft": True,
        },
        headers=bearer(token),
    )
    assert composed.status_code == 201, composed.text
    post = composed.json()["post"]
    assert post["origin"]["item_id"] == item and post["origin"]["content_hash"] == body["origin"]["contentHash"]
    async with runtime.session() as session:
        stored = await session.get(VeilleItem, uuid.UUID(item))
        assert stored is not None and (stored.status, str(stored.post_id)) == ("drafted", post["id"])
        assert (await session.get(Post, uuid.UUID(post["id"]))).origin["url"] == body["link"]  # type: ignore[union-attr]


async def test_rights_and_the_presidents_team_sees_nothing_of_the_regions_watch(
    client: AsyncTestClient, runtime: Runtime, demo: object
) -> None:
    ids = await persona_ids(runtime)
    source, (item,) = await _items(runtime, REGION, ["Conseil régional du 12 décembre"])
    region = f"/api/v1/personas/{ids[REGION]}/veille"
    _, viewer = await staff_with_token(runtime, "viewer", roles={REGION: Role.VIEWER})
    assert (await client.get(f"{region}/items", headers=bearer(viewer))).status_code == 200
    assert (await client.get(f"{region}/sources", headers=bearer(viewer))).status_code == 200
    assert (await client.post(f"{region}/items/{item}/dismiss", headers=bearer(viewer))).status_code == 403
    assert (
        await client.post(
            f"{region}/sources", json={"target": "https://a.example.test/f.xml", "label": "A"}, headers=bearer(viewer)
        )
    ).status_code == 403
    _, contributor = await staff_with_token(runtime, "apprentie", roles={REGION: Role.CONTRIBUTOR})
    assert (await client.post(f"{region}/items/{item}/seen", headers=bearer(contributor))).status_code == 200
    assert (
        await client.patch(f"{region}/sources/{source.id}", json={"enabled": False}, headers=bearer(contributor))
    ).status_code == 403

    _, cabinet = await staff_with_token(runtime, "cabinet", roles={PRESIDENT: Role.EDITOR})
    for method, path in (
        ("GET", "/items"),
        ("GET", "/sources"),
        ("GET", f"/items/{item}"),
        ("POST", f"/items/{item}/draft"),
        ("POST", f"/items/{item}/dismiss"),
        ("PATCH", f"/sources/{source.id}"),
    ):
        response = await client.request(
            method, region + path, headers=bearer(cabinet), json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Conseil régional" not in response.text
    # under its own persona, the Région's item does not exist either
    president = f"/api/v1/personas/{ids[PRESIDENT]}"
    assert (await client.post(f"{president}/veille/items/{item}/draft", headers=bearer(cabinet))).status_code == 404
    async with runtime.session() as session:
        account = await session.scalar(select(Account.id).where(Account.persona_id == ids[PRESIDENT]))
    reused = await client.post(
        f"{president}/posts",
        json={"accountIds": [str(account)], "text": "Reprise", "fromItem": item, "saveAsDraft": True},
        headers=bearer(cabinet),
    )
    assert reused.status_code == 404, reused.text
    async with runtime.session() as session:
        kept = await session.get(VeilleItem, uuid.UUID(item))
        assert kept is not None and (kept.status, kept.post_id) == ("seen", None)  # the contributor's "seen"


async def test_bad_input_is_refused_in_french(client: AsyncTestClient, runtime: Runtime, demo: object) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "editor", roles={REGION: Role.EDITOR})
    french = {**bearer(token), "accept-language": "fr"}
    base = f"/api/v1/personas/{ids[REGION]}/veille"
    status = await client.get(f"{base}/items", params={"status": "archived"}, headers=french)
    assert status.status_code == 400
    assert "statut inconnu" in status.json()["detail"].lower(), status.json()
    cursor = await client.get(f"{base}/items", params={"cursor": "pas-un-curseur"}, headers=french)
    assert cursor.status_code == 400 and cursor.json()["code"] == "bad_cursor"
    url = await client.post(f"{base}/sources", json={"target": "javascript:alert(1)", "label": "X"}, headers=french)
    assert url.status_code == 400 and url.json()["code"] == "url_scheme"
    missing = await client.post(f"{base}/items/00000000-0000-0000-0000-000000000000/seen", headers=french)
    assert missing.status_code == 404
    assert "veille" in missing.json()["detail"].lower(), missing.json()
