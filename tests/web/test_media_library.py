"""Media after upload: the alt text corrected until the post is queued, an unused media deleted
(its file too), old unused uploads cleared."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select, update

from core.db.enums import DeliveryState, Role
from core.db.models import Account, AuditEvent, Delivery, Media
from core.db.types import utcnow
from core.demo import DemoLogin
from core.media.library import clear_unused
from core.runtime import Runtime
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION = "region-occitanie"


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "PNG")
    return out.getvalue()


async def _upload(client: AsyncTestClient, persona: object, token: str, colour: tuple[int, int, int]) -> dict:
    uploaded = await client.post(
        f"/api/v1/personas/{persona}/media",
        headers=bearer(token),
        files={"file": ("photo.png", png(colour), "image/png")},
        data={"alt_text": "photo"},
    )
    assert uploaded.status_code == 201, uploaded.text
    return uploaded.json()


async def test_the_alt_text_changes_until_the_post_is_queued(
    client: AsyncTestClient, runtime: Runtime, demo: object
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "alt", roles={REGION: Role.EDITOR})
    media = await _upload(client, ids[REGION], token, (10, 200, 10))
    url = f"/api/v1/personas/{ids[REGION]}/media/{media['id']}"
    alt = "Le viaduc de Millau dans la brume du matin, vu depuis l'aire du Viaduc"
    described = await client.patch(url, json={"altText": f"  {alt} "}, headers=bearer(token))
    assert described.status_code == 200, described.text
    assert described.json()["altText"] == alt
    too_long = await client.patch(url, json={"altText": "x" * 1501}, headers=bearer(token))
    assert too_long.status_code == 400
    async with runtime.session() as session:
        facebook = await session.scalar(
            select(Account.id).where(Account.persona_id == ids[REGION], Account.channel == "facebook")
        )
    body = {
        "accountIds": [str(facebook)],
        "text": "Le viaduc.",
        "mediaIds": [media["id"]],
        "scheduledAt": "2030-06-03T09:00:00+02:00",
    }
    composed = await client.post(f"/api/v1/personas/{ids[REGION]}/posts", json=body, headers=bearer(token))
    assert composed.status_code == 201, composed.text
    # scheduled: still its own to correct
    assert (await client.patch(url, json={"altText": alt + "."}, headers=bearer(token))).status_code == 200
    # in use: not deleted
    assert (await client.delete(url, headers=bearer(token))).status_code == 409
    async with runtime.session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == uuid.UUID(composed.json()["deliveries"][0]["id"]))
            .values(state=DeliveryState.QUEUED)
        )
    refused = await client.patch(url, json={"altText": "autre chose"}, headers=bearer(token))
    assert refused.status_code == 409 and refused.json()["detail"]
    async with runtime.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "media.described"))).all()
    assert [e.after["alt_text"] for e in events] == [alt, alt + "."]


async def test_an_unused_media_is_deleted_with_its_file_and_another_persona_gets_404(
    client: AsyncTestClient, runtime: Runtime, demo: object
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "del", roles={REGION: Role.EDITOR})
    media = await _upload(client, ids[REGION], token, (200, 10, 10))
    async with runtime.session() as session:
        path = Path((await session.get(Media, uuid.UUID(media["id"]))).storage_path)  # type: ignore[union-attr]
    assert path.is_file()
    other = await client.delete(
        f"/api/v1/personas/{ids['presidente-region']}/media/{media['id']}", headers=bearer(token)
    )
    assert other.status_code in (403, 404)
    gone = await client.delete(f"/api/v1/personas/{ids[REGION]}/media/{media['id']}", headers=bearer(token))
    assert gone.status_code == 204
    assert not path.exists()
    listed = (await client.get(f"/api/v1/personas/{ids[REGION]}/media", headers=bearer(token))).json()["items"]
    assert media["id"] not in [m["id"] for m in listed]


async def test_old_unused_uploads_are_cleared_and_used_ones_kept(
    client: AsyncTestClient, runtime: Runtime, demo: object
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "old", roles={REGION: Role.EDITOR})
    old = await _upload(client, ids[REGION], token, (1, 2, 3))
    fresh = await _upload(client, ids[REGION], token, (4, 5, 6))
    async with runtime.session() as session:
        await session.execute(
            update(Media).where(Media.id == uuid.UUID(old["id"])).values(created_at=utcnow() - timedelta(days=31))
        )
    async with runtime.session() as session:
        assert await clear_unused(session) == 1
    async with runtime.session() as session:
        assert await session.get(Media, uuid.UUID(old["id"])) is None
        assert await session.get(Media, uuid.UUID(fresh["id"])) is not None


async def test_the_composer_offers_the_author_s_own_unused_uploads(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "other", roles={REGION: Role.EDITOR})
    others = await _upload(client, ids[REGION], token, (10, 10, 250))
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    mine = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("mine.png", png((250, 250, 10)), "image/png")},
        data={"alt_text": "la mienne"},
    )
    assert mine.status_code == 200, mine.text
    async with runtime.session() as session:
        own = await session.scalar(
            select(Media.id).where(Media.persona_id == ids[REGION], Media.alt_text == "la mienne")
        )
    composer = await client.get(f"/admin/personas/{ids[REGION]}/compose")
    assert f'value="{own}"' in composer.text
    assert f'value="{others["id"]}"' not in composer.text  # a colleague's upload stays in their composer
    # named by the media page ("use in a post"), a colleague's unused upload is offered, and checked
    named = await client.get(f"/admin/personas/{ids[REGION]}/compose", params={"media": others["id"]})
    assert f'value="{others["id"]}"' in named.text
