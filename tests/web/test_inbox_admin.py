"""The inbox screens on both databases: the list and its filters, keyset pages, hostile text shown
as text, another persona's items absent (404), the live-update fragment, the "messages no longer
arrive" banner on the inbox and the dashboard, replying, saved replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from core.channels.contract import InboxKind
from core.db.models import Account, Persona
from core.db.types import utcnow
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.web.conftest import login, persona_ids
from tests.web.test_inbox_api import PRESIDENT, REGION, T0, add_item

pytestmark = pytest.mark.anyio

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def csrf(client: AsyncTestClient) -> str:
    return client.cookies.get("pv_csrf") or ""


async def _as(client: AsyncTestClient, demo: dict[str, DemoLogin], who: str) -> None:
    await login(client, demo[who].email, demo[who].password)


async def test_list_filters_and_hostile_text(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    hostile = await add_item(runtime, PRESIDENT, "instagram", HOSTILE, at=T0 + timedelta(hours=1))
    mention = await add_item(runtime, PRESIDENT, "x", "Une mention", kind=InboxKind.MENTION, at=T0)
    await _as(client, demo, "cm.presidente")
    page = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Boîte de réception" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.index(str(hostile)) < html.index(str(mention))  # newest first
    filtered = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox", params={"kind": "mention"})
    assert str(mention) in filtered.text and str(hostile) not in filtered.text
    item = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox/{hostile}")
    assert item.status_code == 200
    assert "<script>alert" not in item.text and "&lt;script&gt;" in item.text
    bad = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox", params={"from": "hier"})
    assert bad.status_code == 400


async def test_keyset_pages_in_the_admin(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    for n in range(53):
        await add_item(runtime, PRESIDENT, "instagram", f"Commentaire n°{n}", at=T0 + timedelta(minutes=n))
    await _as(client, demo, "cm.presidente")
    first = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox", params={"channel": "instagram"})
    assert first.text.count('class="inbox-item card"') == 50
    assert "Commentaire n°52" in first.text and "Commentaire n°2<" not in first.text
    href = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "channel=instagram" in href  # the filters stay on the next page
    second = await client.get(href)
    assert second.text.count('class="inbox-item card"') == 3
    assert "Commentaire n°2<" in second.text and 'rel="next"' not in second.text


async def test_another_personas_item_is_a_404(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    theirs = await add_item(runtime, PRESIDENT, "instagram", "Pour la présidente")
    message = await add_item(runtime, PRESIDENT, "instagram", "Privé", kind=InboxKind.MESSAGE)
    await _as(client, demo, "cm.region")
    for item in (theirs, message):
        assert (await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox/{item}")).status_code == 404
        assert (await client.get(f"/admin/personas/{ids[REGION]}/inbox/{item}")).status_code == 404
        close = await client.post(
            f"/admin/personas/{ids[REGION]}/inbox/{item}/close", data={"_csrf_token": csrf(client)}
        )
        assert close.status_code == 404
    assert (await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox")).status_code == 404
    own = await client.get(f"/admin/personas/{ids[REGION]}/inbox")
    assert own.status_code == 200 and "Pour la présidente" not in own.text


async def test_live_update_fragment(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    await _as(client, demo, "cm.presidente")
    page = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox")
    poll = page.text.split('id="inbox-new"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert 'hx-trigger="every 15s"' in page.text
    assert "nouveau" not in (await client.get(poll)).text
    await add_item(runtime, PRESIDENT, "instagram", "Arrivé après", at=utcnow())
    await add_item(runtime, REGION, "facebook", "Pas pour elle", at=utcnow())
    fragment = (await client.get(poll)).text
    assert "1 nouveau message — afficher" in fragment


async def test_failing_account_banner_on_inbox_and_dashboard(
    client: AsyncTestClient, runtime: Runtime, demo: dict
) -> None:
    ids = await persona_ids(runtime)
    since = datetime(2026, 11, 28, 14, 30, tzinfo=UTC)
    async with runtime.session() as session:
        await session.execute(
            update(Account)
            .where(Account.channel == "instagram", Account.persona_id.in_([ids[PRESIDENT]]))
            .values(inbox_failing_since=since, inbox_error="token expired")
        )
    await add_item(runtime, PRESIDENT, "x", "Nouveau")
    await _as(client, demo, "cm.presidente")
    page = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox")
    banner = page.text.split('class="error inbox-failing"')[1].split("</div>")[0]
    assert "Les messages n’arrivent plus de instagram @camille.delorme depuis le 28/11/2026 15:30" in banner
    dashboard = await client.get("/admin")
    assert f'hx-get="/admin/personas/{ids[PRESIDENT]}/inbox/status"' in dashboard.text
    status = await client.get(f"/admin/personas/{ids[PRESIDENT]}/inbox/status")
    assert "1 nouveau" in status.text and "n’arrivent plus" in status.text
    persona_page = await client.get(f"/admin/personas/{ids[PRESIDENT]}")
    assert f"/admin/personas/{ids[PRESIDENT]}/inbox/status" in persona_page.text


async def test_reply_with_a_saved_reply_and_confirmation(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    item = await add_item(runtime, PRESIDENT, "x", "Quand passez-vous à Sète ?")
    base = f"/admin/personas/{ids[PRESIDENT]}"
    await _as(client, demo, "cm.presidente")
    created = await client.post(
        f"{base}/saved-replies",
        data={
            "short_code": "agenda",
            "title": "Agenda",
            "text": "Mon agenda est en ligne.",
            "_csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    again = await client.post(
        f"{base}/saved-replies",
        data={"short_code": "agenda", "title": "Bis", "text": "Bis", "_csrf_token": csrf(client)},
        follow_redirects=True,
    )
    assert "/agenda" in again.text and again.text.count('class="card saved-reply"') == 1
    page = await client.get(f"{base}/inbox/{item}")
    assert 'data-text="Mon agenda est en ligne."' in page.text
    sent = await client.post(
        f"{base}/inbox/{item}/reply",
        data={"text": "Mon agenda est en ligne.", "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    twice = await client.post(f"{base}/inbox/{item}/reply", data={"text": "Encore", "_csrf_token": csrf(client)})
    assert twice.status_code == 409
    assert 'name="confirm"' in twice.text and "Encore" in twice.text
    confirmed = await client.post(
        f"{base}/inbox/{item}/reply",
        data={"text": "Encore", "confirm": "1", "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    page = await client.get(f"{base}/inbox/{item}")
    assert page.text.count("data-reply=") == 2


async def test_assign_note_and_moderation_forms(client: AsyncTestClient, runtime: Runtime, demo: dict) -> None:
    ids = await persona_ids(runtime)
    item = await add_item(runtime, PRESIDENT, "instagram", "Appelez-moi au 06 12 34 56 78")
    base = f"/admin/personas/{ids[PRESIDENT]}/inbox/{item}"
    await _as(client, demo, "cm.presidente")
    page = await client.get(base)
    assert 'id="assign-select"' in page.text
    async with runtime.session() as session:
        persona = await session.get(Persona, ids[PRESIDENT])
        assert persona is not None
    me = page.text.split('<option value="')[2].split('"')[0]  # the first team member after "Nobody"
    assigned = await client.post(
        f"{base}/assign",
        data={"assignee_id": me, "note": "Pour toi", "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert assigned.status_code == 303
    noted = await client.post(
        f"{base}/notes", data={"text": "Numéro visible", "_csrf_token": csrf(client)}, follow_redirects=False
    )
    assert noted.status_code == 303
    no_reason = await client.post(
        f"{base}/moderation",
        data={"action": "hide", "reason_code": "", "_csrf_token": csrf(client)},
        follow_redirects=True,
    )
    assert "Refusé" in no_reason.text
    page = await client.get(base)
    assert "Pour toi" in page.text and "Numéro visible" in page.text
    assert 'data-status="assigned"' in page.text
