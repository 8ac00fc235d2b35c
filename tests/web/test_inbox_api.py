"""The inbox API on both databases: filters, keyset pages, private messages only for the persona's
team, another persona's item answers 404, replies through the outbox (the second needs a
confirmation), assigning, notes, closing, moderation with its reason code, saved replies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.channels.contract import InboxKind
from core.db.enums import DeliveryKind, InboxStatus, Role
from core.db.models import Account, Delivery, InboxItem, Persona
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.web.conftest import bearer, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio

REGION, PRESIDENT = "region-occitanie", "presidente-region"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def add_item(
    runtime: Runtime,
    slug: str,
    channel: str,
    text: str,
    *,
    kind: InboxKind = InboxKind.COMMENT,
    at: datetime = T0,
    status: InboxStatus = InboxStatus.NEW,
    flags: list[str] | None = None,
    due: datetime | None = None,
    parent_id: uuid.UUID | None = None,
    author: str = "camille.m",
) -> uuid.UUID:
    """An item as the ingest stores it (the web tests need rows, not the sync that brings them)."""
    async with runtime.session() as session:
        account = await session.scalar(
            select(Account).join(Persona).where(Persona.slug == slug, Account.channel == channel)
        )
        assert account is not None, f"no {channel} account for {slug}"
        item = InboxItem(
            account_id=account.id,
            persona_id=account.persona_id,
            remote_id=f"r-{uuid.uuid4().hex[:12]}",
            kind=kind,
            author_remote_id=f"u-{author}",
            author_handle=author,
            author_name=author.title(),
            text=text,
            received_at=at,
            status=status,
            flags=flags or [],
            response_due_at=due,
            parent_id=parent_id,
        )
        session.add(item)
        await session.flush()
        return item.id


@pytest.fixture
async def world(runtime: Runtime, demo: dict[str, DemoLogin]) -> dict[str, object]:
    ids = await persona_ids(runtime)
    items = {
        "ig_comment": await add_item(runtime, PRESIDENT, "instagram", "Bravo pour la feria !", at=T0),
        "fb_mention": await add_item(
            runtime, PRESIDENT, "x", "@presidente merci", kind=InboxKind.MENTION, at=T0 + timedelta(hours=1)
        ),
        "ig_message": await add_item(
            runtime,
            PRESIDENT,
            "instagram",
            "Mon dossier personnel…",
            kind=InboxKind.MESSAGE,
            at=T0 + timedelta(hours=2),
        ),
        "overdue": await add_item(
            runtime,
            PRESIDENT,
            "instagram",
            "Toujours pas de réponse",
            at=T0 + timedelta(hours=3),
            due=T0 + timedelta(hours=4),
            flags=["personal_data"],
        ),
        "closed": await add_item(
            runtime, PRESIDENT, "x", "Résolu", at=T0 + timedelta(hours=4), status=InboxStatus.CLOSED
        ),
        "region_comment": await add_item(runtime, REGION, "facebook", "Horaires des lycées ?", at=T0),
    }
    _, president_cm = await staff_with_token(runtime, "cm-p", roles={PRESIDENT: Role.EDITOR})
    _, president_moderator = await staff_with_token(runtime, "mod-p", roles={PRESIDENT: Role.MODERATOR})
    _, president_viewer = await staff_with_token(runtime, "viewer-p", roles={PRESIDENT: Role.VIEWER})
    _, region_cm = await staff_with_token(runtime, "cm-r", roles={REGION: Role.EDITOR})
    _, president_manager = await staff_with_token(runtime, "manager-p", roles={PRESIDENT: Role.MANAGER})
    return {
        "ids": ids,
        "items": items,
        "president_cm": bearer(president_cm),
        "president_moderator": bearer(president_moderator),
        "president_viewer": bearer(president_viewer),
        "region_cm": bearer(region_cm),
        "president_manager": bearer(president_manager),
    }


def _inbox(ids: dict[str, uuid.UUID], slug: str) -> str:
    return f"/api/v1/personas/{ids[slug]}/inbox"


async def test_list_newest_first_with_filters(client: AsyncTestClient, world: dict) -> None:
    url, items = _inbox(world["ids"], PRESIDENT), world["items"]
    response = await client.get(url, headers=world["president_cm"])
    assert response.status_code == 200, response.text
    got = [i["id"] for i in response.json()["items"]]
    order = ["closed", "overdue", "ig_message", "fb_mention", "ig_comment"]
    assert got == [str(items[k]) for k in order]
    assert str(items["region_comment"]) not in got

    async def ids_for(**params: str) -> set[str]:
        answer = await client.get(url, params=params, headers=world["president_cm"])
        assert answer.status_code == 200, answer.text
        return {i["id"] for i in answer.json()["items"]}

    assert await ids_for(channel="x") == {str(items["fb_mention"]), str(items["closed"])}
    assert await ids_for(kind="mention") == {str(items["fb_mention"])}
    assert await ids_for(status="closed") == {str(items["closed"])}
    assert await ids_for(overdue="true") == {str(items["overdue"])}
    assert await ids_for(flagged="true") == {str(items["overdue"])}
    assert await ids_for(assignee="none") == set(got)
    assert await ids_for(assignee="me") == set()
    # days in the persona's time zone (Europe/Paris, UTC+1 in November): 09:00 UTC is 10:00 local
    assert await ids_for(**{"from": "2026-11-21"}) == set()
    assert len(await ids_for(**{"from": "2026-11-20", "to": "2026-11-20"})) == 5
    overdue = (await client.get(url, params={"overdue": "true"}, headers=world["president_cm"])).json()["items"][0]
    assert overdue["sla"] == "breached" and overdue["flags"] == ["personal_data"]
    bad = await client.get(url, params={"assignee": "someone"}, headers=world["president_cm"])
    assert bad.status_code == 400


async def test_keyset_pages_cover_everything_once(client: AsyncTestClient, world: dict) -> None:
    url, seen, cursor = _inbox(world["ids"], PRESIDENT), [], None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=world["president_cm"])).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 == len(set(seen))
    forged = await client.get(url, params={"cursor": "not-a-cursor"}, headers=world["president_cm"])
    assert forged.status_code == 400


async def test_another_personas_items_do_not_exist(client: AsyncTestClient, world: dict) -> None:
    ids, items = world["ids"], world["items"]
    region_cm = world["region_cm"]
    # the Région's community manager: the president's inbox and items are 404, under either persona
    assert (await client.get(_inbox(ids, PRESIDENT), headers=region_cm)).status_code == 404
    for key in ("ig_comment", "ig_message"):
        item = items[key]
        assert (await client.get(f"{_inbox(ids, PRESIDENT)}/{item}", headers=region_cm)).status_code == 404
        assert (await client.get(f"{_inbox(ids, REGION)}/{item}", headers=region_cm)).status_code == 404
        answer = await client.post(f"{_inbox(ids, REGION)}/{item}/reply", json={"text": "x"}, headers=region_cm)
        assert answer.status_code == 404
    listed = (await client.get(_inbox(ids, REGION), headers=region_cm)).json()["items"]
    assert [i["id"] for i in listed] == [str(items["region_comment"])]
    # a viewer of the president does not work in the inbox
    assert (await client.get(_inbox(ids, PRESIDENT), headers=world["president_viewer"])).status_code == 403


async def test_private_messages_only_for_the_personas_team(client: AsyncTestClient, world: dict) -> None:
    ids, items = world["ids"], world["items"]
    for who in ("president_cm", "president_moderator"):
        listed = (await client.get(_inbox(ids, PRESIDENT), params={"kind": "message"}, headers=world[who])).json()
        assert [i["id"] for i in listed["items"]] == [str(items["ig_message"])]
        detail = await client.get(f"{_inbox(ids, PRESIDENT)}/{items['ig_message']}", headers=world[who])
        assert detail.status_code == 200 and detail.json()["item"]["text"] == "Mon dossier personnel…"


async def test_reply_then_a_second_needs_confirmation(client: AsyncTestClient, world: dict, runtime: Runtime) -> None:
    ids, item = world["ids"], world["items"]["fb_mention"]
    url = f"{_inbox(ids, PRESIDENT)}/{item}"
    headers = world["president_cm"]
    first = await client.post(f"{url}/reply", json={"text": "Merci Camille !"}, headers=headers)
    assert first.status_code == 201, first.text
    second = await client.post(f"{url}/reply", json={"text": "Merci encore"}, headers=headers)
    assert second.status_code == 409 and second.json()["code"] == "already_answered"
    assert "déjà une réponse" in second.json()["detail"]
    confirmed = await client.post(f"{url}/reply", json={"text": "Merci encore", "confirm": True}, headers=headers)
    assert confirmed.status_code == 201, confirmed.text
    async with runtime.session() as session:
        replies = (await session.scalars(select(Delivery).where(Delivery.in_reply_to_id == item))).all()
    assert len(replies) == 2 and {d.kind for d in replies} == {DeliveryKind.REPLY}
    detail = (await client.get(url, headers=headers)).json()
    assert [r["text"] for r in detail["replies"]] == ["Merci Camille !", "Merci encore"]


async def test_someone_replying_is_seen_by_the_other(client: AsyncTestClient, world: dict) -> None:
    ids, item = world["ids"], world["items"]["closed"]
    url = f"{_inbox(ids, PRESIDENT)}/{item}"
    opened = await client.post(f"{url}/replying", headers=world["president_moderator"])
    assert opened.status_code == 200 and opened.json()["replyingName"] == "mod-p"
    refused = await client.post(f"{url}/reply", json={"text": "Merci"}, headers=world["president_cm"])
    assert refused.status_code == 409 and refused.json()["code"] == "someone_replying"
    assert "mod-p" in refused.json()["detail"]
    anyway = await client.post(f"{url}/reply", json={"text": "Merci", "confirm": True}, headers=world["president_cm"])
    assert anyway.status_code == 201, anyway.text


async def test_assign_note_close_reopen(client: AsyncTestClient, world: dict, runtime: Runtime) -> None:
    ids, item = world["ids"], world["items"]["ig_comment"]
    url = f"{_inbox(ids, PRESIDENT)}/{item}"
    headers = world["president_cm"]
    team = (await client.get(f"{_inbox(ids, PRESIDENT)}/summary", headers=headers)).json()
    names = {m["displayName"]: m["id"] for m in team["assignable"]}
    assert "mod-p" in names and "viewer-p" not in names and "cm-r" not in names
    assert team["counts"]["new"] == 4 and team["counts"]["closed"] == 1
    assigned = await client.post(f"{url}/assign", json={"assigneeId": names["mod-p"], "note": "À toi"}, headers=headers)
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    assert assigned.json()["assigneeName"] == "mod-p"
    outsider = await client.post(f"{url}/assign", json={"assigneeId": str(uuid.uuid4())}, headers=headers)
    assert outsider.status_code == 400
    note = await client.post(f"{url}/notes", json={"text": "Déjà vu hier"}, headers=headers)
    assert note.status_code == 201
    closed = await client.post(f"{url}/close", headers=headers)
    assert closed.json()["status"] == "closed"
    reopened = await client.post(f"{url}/reopen", headers=headers)
    assert reopened.json()["status"] == "assigned"
    detail = (await client.get(url, headers=headers)).json()
    assert [n["text"] for n in detail["notes"]] == ["À toi", "Déjà vu hier"]
    assert [e["kind"] for e in detail["events"]][:2] == ["received", "assigned"]
    mine = await client.get(_inbox(ids, PRESIDENT), params={"assignee": "me"}, headers=world["president_moderator"])
    assert [i["id"] for i in mine.json()["items"]] == [str(item)]


async def test_moderation_needs_a_reason_and_records_manual_actions(client: AsyncTestClient, world: dict) -> None:
    ids, item = world["ids"], world["items"]["overdue"]
    url = f"{_inbox(ids, PRESIDENT)}/{item}/moderation"
    headers = world["president_cm"]
    refused = await client.post(url, json={"action": "hide", "reasonCode": ""}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["extra"][0]["key"] == "reasonCode"
    # a moderator may hide, not ban
    ban = await client.post(url, json={"action": "ban", "reasonCode": "spam"}, headers=world["president_moderator"])
    assert ban.status_code == 403
    # Instagram's API cannot ban: 422 unless it is recorded as done by hand in the network's app
    manager = world["president_manager"]
    by_api = await client.post(url, json={"action": "ban", "reasonCode": "harassment"}, headers=manager)
    assert by_api.status_code == 422, by_api.text
    manual = await client.post(
        url, json={"action": "ban", "reasonCode": "harassment", "reason": "3e message", "manual": True}, headers=manager
    )
    assert manual.status_code == 201, manual.text
    assert manual.json()["state"] == "manual"
    detail = (await client.get(f"{_inbox(ids, PRESIDENT)}/{item}", headers=headers)).json()
    entry = detail["moderation"][-1]
    assert (entry["action"], entry["reasonCode"], entry["state"]) == ("ban", "harassment", "manual")
    assert entry["requestedByName"] == "manager-p"


async def test_saved_replies_crud(client: AsyncTestClient, world: dict) -> None:
    ids = world["ids"]
    url = f"/api/v1/personas/{ids[PRESIDENT]}/saved-replies"
    headers = world["president_cm"]
    body = {"shortCode": "/Merci", "title": "Remerciement", "text": "Merci pour votre message !"}
    created = await client.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["shortCode"] == "merci"
    assert (await client.post(url, json=body, headers=headers)).status_code == 409
    changed = await client.put(f"{url}/{saved['id']}", json={**body, "title": "Merci"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["title"] == "Merci"
    listed = (await client.get(url, headers=world["president_moderator"])).json()["items"]
    assert [s["shortCode"] for s in listed] == ["merci"]
    # moderators use saved replies, editors write them
    assert (await client.post(url, json=body, headers=world["president_moderator"])).status_code == 403
    # another persona's saved reply does not exist
    other = f"/api/v1/personas/{ids[REGION]}/saved-replies/{saved['id']}"
    assert (await client.delete(other, headers=world["region_cm"])).status_code == 404
    assert (await client.delete(f"{url}/{saved['id']}", headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).json()["items"] == []
