"""PATCH /api/v1/personas/{persona_id}/posts/{post_id}, on both databases: an approved post's new
words go back to approval, refusals are JSON with their field and code, another persona's post
is a 404, a contributor edits only her own posts. The admin's edit page: a refusal on the form."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.enums import DeliveryState
from core.db.models import AuditEvent, DeliveryEvent
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.web.conftest import login
from tests.web.test_publishing_api import NEUTRAL, PRESIDENT, REGION, Team, compose, set_state, team

__all__ = ["team"]  # the fixture

pytestmark = pytest.mark.anyio
FIXED = "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 20 janvier."


async def _patch(client: AsyncTestClient, team: Team, who: str, post_id: str, slug: str = REGION, **body: Any) -> Any:
    return await client.patch(team.url(f"/posts/{post_id}", slug), json=body, headers=team.tokens[who])


async def test_new_words_on_an_approved_post_go_back_to_approval(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    created = (await compose(client, team, "contributor", localTime="2027-02-10T10:00:00")).json()
    post_id = created["post"]["id"]
    approved = await client.post(
        team.url(f"/posts/{post_id}/approve"), json={"reason": "ok"}, headers=team.tokens["editor"]
    )
    assert approved.json()["deliveries"][0]["state"] == "scheduled"

    edited = await _patch(client, team, "contributor", post_id, text=FIXED)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["changed"] == ["text"] and body["post"]["text"] == FIXED
    (delivery,) = body["deliveries"]
    assert delivery["state"] == "pending_approval" and delivery["approvedById"] is None
    assert delivery["text"] == FIXED and delivery["scheduledAt"] == "2027-02-10T09:00:00Z"
    assert body["findings"][0]["channel"] == "x"
    async with runtime.session() as session:
        kinds = (
            await session.scalars(
                select(DeliveryEvent.kind)
                .where(DeliveryEvent.delivery_id == uuid.UUID(delivery["id"]))
                .order_by(DeliveryEvent.at)
            )
        ).all()  # noqa: E501
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "post.edited"))
    assert list(kinds) == ["created", "approved", "edited"]
    assert audit is not None and audit.before["text"] == NEUTRAL and audit.after["text"] == FIXED  # type: ignore[index]

    # an account added, by its id; the first one left out is canceled, not deleted
    facebook = str(team.accounts[(REGION, "facebook")])
    moved = (await _patch(client, team, "editor", post_id, accountIds=[facebook])).json()
    states = {d["channel"]: d["state"] for d in moved["deliveries"]}
    assert states == {"x": "canceled", "facebook": "scheduled"} and moved["changed"] == ["accounts"]


async def test_refusals_are_json_with_their_field_and_code(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    created = (await compose(client, team, "contributor", localTime="2027-02-10T10:00:00")).json()
    post_id = created["post"]["id"]
    empty = await _patch(client, team, "contributor", post_id, text=" ")
    assert empty.status_code == 400 and empty.json()["extra"][0]["key"] == "text"
    # another contributor's post
    other = await _patch(client, team, "editor", post_id, text=FIXED)
    assert other.status_code == 200  # an editor edits anyone's post
    mine = (await compose(client, team, "editor")).json()["post"]["id"]
    refused = await _patch(client, team, "contributor", mine, text=FIXED)
    assert refused.status_code == 400 and refused.json()["code"] == "not_the_author"
    # moderators see no posts; another persona's post does not exist for this one
    assert (await _patch(client, team, "moderator", post_id, text=FIXED)).status_code == 403
    assert (await _patch(client, team, "manager", post_id, slug=PRESIDENT, text=FIXED)).status_code == 404
    # queued: too late
    await set_state(runtime, created["deliveries"][0]["id"], DeliveryState.QUEUED)
    late = await _patch(client, team, "manager", post_id, text=FIXED)
    assert late.status_code == 400 and late.json()["code"] == "post_not_editable"
    # unknown fields are refused, as everywhere in the API
    assert (await _patch(client, team, "manager", post_id, title="x")).status_code == 400


async def test_the_edit_page_shows_a_refusal_on_itself_in_french(
    client: AsyncTestClient, team: Team, demo: dict[str, DemoLogin]
) -> None:
    apprentice = demo["apprentie.region"]
    await login(client, apprentice.email, apprentice.password)
    page = await client.get(f"/admin/personas/{team.personas[REGION]}/compose")
    assert page.status_code == 200
    x = str(team.accounts[(REGION, "x")])
    created = await client.post(
        f"/admin/personas/{team.personas[REGION]}/compose",
        data={"account_id": x, "text": NEUTRAL, "when": "draft", "_csrf_token": client.cookies.get("pv_csrf") or ""},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    post_url = created.headers["location"]
    form = await client.get(post_url + "/edit")
    assert (
        form.status_code == 200 and "transports scolaires" in form.text and "<h1>Modifier la publication" in form.text
    )
    csrf = client.cookies.get("pv_csrf") or ""
    # a draft submitted without a time: the form again, what was typed kept, the reason in French
    fields = {"account_id": x, "text": FIXED, "format": "post", "then": "submit", "local_time": "", "_csrf_token": csrf}
    refused = await client.post(post_url + "/edit", data=fields, follow_redirects=False)
    assert refused.status_code == 400
    assert 'id="edit-error"' in refused.text and "Choisissez une date et une heure" in refused.text
    assert "20 janvier" in refused.text  # what she typed
    # the words checked as composing checks them, in French too
    refused = await client.post(post_url + "/edit", data={"text": "", "_csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 400 and "au moins un compte" in refused.text
    # saved: still a draft, the new words kept
    saved = await client.post(post_url + "/edit", data={**fields, "then": "keep"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == post_url
    assert "20 janvier" in (await client.get(post_url)).text


async def test_the_publish_options_are_edited_and_audited(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    """A post's per-network options (TikTok's privacy level…) change with the edit, as its words do."""
    created = (await compose(client, team, "editor", localTime="2027-02-10T10:00:00")).json()
    post_id = created["post"]["id"]
    edited = await _patch(client, team, "editor", post_id, options={"x": {"reply_settings": "following"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["changed"] == ["publish_options"]
    async with runtime.session() as session:
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "post.edited"))
    assert audit is not None and audit.after["publish_options"] == {"x": {"reply_settings": "following"}}  # type: ignore[index]
    again = await _patch(client, team, "editor", post_id, options={"x": {"reply_settings": "following"}})
    assert again.json()["changed"] == []  # the same options: nothing changed
