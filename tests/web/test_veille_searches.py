"""Searches and mentions as watch sources, from the admin's sources page and from the API: only
the persona's own connected accounts on a network that searches, Instagram one hashtag at a time,
a tampered account refused, the mentions added once — refusals in French."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core.db.enums import AccountStatus, Role
from core.db.models import Account, VeilleSource
from core.runtime import Runtime
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION, PRESIDENT = "region-occitanie", "presidente-region"


async def _connected(runtime: Runtime) -> dict[tuple[str, str], uuid.UUID]:
    """Every seed account connected (as after OAuth), by (persona slug, channel)."""
    ids = await persona_ids(runtime)
    slugs = {v: k for k, v in ids.items()}
    async with runtime.session() as session:
        await session.execute(update(Account).values(status=AccountStatus.CONNECTED))
        accounts = (await session.scalars(select(Account))).all()
        return {(slugs[a.persona_id], a.channel): a.id for a in accounts}


def _csrf(client: AsyncTestClient) -> str:
    return client.cookies.get("pv_csrf") or ""


async def _sources(runtime: Runtime) -> list[VeilleSource]:
    async with runtime.sessions() as session:
        return list((await session.scalars(select(VeilleSource).order_by(VeilleSource.created_at))).all())


async def test_the_sources_page_adds_a_search_and_the_mentions(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, Any]
) -> None:
    accounts = await _connected(runtime)
    ids = await persona_ids(runtime)
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    page = f"/admin/personas/{ids[REGION]}/veille/sources"
    shown = (await client.get(page)).text
    assert str(accounts[(REGION, "x")]) in shown and str(accounts[(REGION, "instagram")]) in shown
    assert str(accounts[(PRESIDENT, "x")]) not in shown  # only the persona's own accounts

    async def add(account: uuid.UUID | str, target: str) -> str:
        answer = await client.post(
            f"{page}/search",
            data={"account_id": str(account), "target": target, "label": "", "_csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        shown = (await client.get(page)).text if answer.status_code in (302, 303) else answer.text
        return html.unescape(shown)

    added = await add(accounts[(REGION, "x")], "TER Occitanie")
    [search] = await _sources(runtime)
    assert (search.kind, search.plugin, search.target, search.account_id) == (
        "search",
        "x",
        "TER Occitanie",
        accounts[(REGION, "x")],
    )
    assert "Recherche ajoutée" in added
    refused = await add(accounts[(REGION, "instagram")], "deux mots")
    assert "Instagram ne cherche qu'un hashtag à la fois" in refused
    tampered = await add(accounts[(PRESIDENT, "x")], "#presidente")  # another persona's account
    assert "choisissez un des comptes connectés du persona" in tampered.lower()
    assert len(await _sources(runtime)) == 1

    mentions = await client.post(f"{page}/mentions", data={"_csrf_token": _csrf(client)}, follow_redirects=False)
    assert mentions.status_code in (302, 303), mentions.text
    kinds = [s.kind for s in await _sources(runtime)]
    assert kinds == ["search", "mentions"]
    assert "/veille/sources/mentions" not in (await client.get(page)).text  # offered once


async def test_the_api_runs_a_search_with_the_persona_s_own_account_only(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, Any]
) -> None:
    accounts = await _connected(runtime)
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "editor", roles={REGION: Role.EDITOR})
    base = f"/api/v1/personas/{ids[REGION]}/veille/sources"
    french = {**bearer(token), "Accept-Language": "fr"}
    body = {"kind": "search", "plugin": "x", "target": "#Occitanie", "label": "Occitanie sur X"}
    other = await client.post(base, json={**body, "accountId": str(accounts[(PRESIDENT, "x")])}, headers=french)
    assert other.status_code == 400, other.text
    assert other.json()["code"] == "search_account" and "compte" in other.json()["detail"]
    hashtag = await client.post(
        base,
        json={**body, "plugin": "instagram", "target": "Occitanie", "accountId": str(accounts[(REGION, "instagram")])},
        headers=french,
    )
    assert hashtag.status_code == 400 and hashtag.json()["code"] == "hashtag_only"
    made = await client.post(base, json={**body, "accountId": str(accounts[(REGION, "x")])}, headers=french)
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "search"
