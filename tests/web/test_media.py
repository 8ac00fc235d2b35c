"""Media: upload with alt text (API and composer), files served to the persona's staff only,
and the editorial line's A1 rule (no alt text on the institution blocks the post)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import Account, AuditEvent, Media
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION, PRESIDENT = "region-occitanie", "presidente-region"


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


async def test_api_upload_list_and_serve(client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]) -> None:
    ids = await persona_ids(runtime)
    _, region = await staff_with_token(runtime, "cm", roles={REGION: Role.EDITOR})
    _, president = await staff_with_token(runtime, "cab", roles={PRESIDENT: Role.EDITOR})
    png = image("PNG")
    response = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(region),
        files={"file": ("car.png", png, "image/png")},
        data={"alt_text": "Un car scolaire jaune devant un lycée"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    # the Région publishes on Instagram, which takes JPEG only: the PNG is stored as JPEG, and said so
    assert (body["kind"], body["contentType"], body["width"], body["height"]) == ("image", "image/jpeg", 64, 48)
    assert body["convertedFor"] == ["instagram"]
    assert body["altText"] == "Un car scolaire jaune devant un lycée" and body["origin"] == "region_dam"
    stored = Path(runtime.settings.data_path) / "media" / str(ids[REGION]) / f"{body['sha256']}.jpg"
    assert stored.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG

    jpeg = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(region),
        files={"file": ("photo.bin", image("JPEG"), "application/octet-stream")},
        data={"alt_text": "Photo", "origin": "personal"},
    )
    assert (
        jpeg.status_code == 201 and jpeg.json()["contentType"] == "image/jpeg" and jpeg.json()["origin"] == "personal"
    )

    text = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(region),
        files={"file": ("notes.txt", b"not an image at all", "text/plain")},
        data={"alt_text": "x"},
    )
    assert text.status_code == 400
    assert text.json()["code"] == "not_media"
    assert "ni une image" in text.json()["detail"]  # the staff member's language (French by default)

    listing = await client.get(f"/api/v1/personas/{ids[REGION]}/media", headers=bearer(region))
    assert [m["filename"] for m in listing.json()["items"]] == ["photo.bin", "car.jpg"]  # renamed with its conversion
    served = await client.get(body["url"], headers=bearer(region))
    assert (
        served.status_code == 200
        and served.content == stored.read_bytes()
        and served.headers["content-type"].startswith("image/jpeg")
    )

    # another persona's staff: the media does not exist for them, by either path
    assert (await client.get(body["url"], headers=bearer(president))).status_code == 404
    crossed = f"/api/v1/personas/{ids[PRESIDENT]}/media/{body['id']}/file"
    assert (await client.get(crossed, headers=bearer(president))).status_code == 404
    assert (await client.get(f"/api/v1/personas/{ids[PRESIDENT]}/media", headers=bearer(president))).json()[
        "items"
    ] == []

    async with runtime.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))).all()
    assert len(events) == 2 and events[0].after is not None and "alt_text" in events[0].after


async def test_composer_upload_and_a1_block(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    async with runtime.session() as session:
        facebook = await session.scalar(
            select(Account.id).where(Account.persona_id == ids[REGION], Account.channel == "facebook")
        )
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    page = await client.get(f"/admin/personas/{ids[REGION]}/compose")
    assert 'id="media-upload"' in page.text

    # htmx upload without alt text: the new media comes back checked, flagged "no alt text"
    fragment = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("affiche.png", image("PNG"), "image/png")},
        data={"alt_text": ""},
    )
    assert fragment.status_code == 200, fragment.text
    assert 'name="media_id"' in fragment.text and "checked" in fragment.text and "missing-alt" in fragment.text
    assert "media-added" in fragment.headers.get("hx-trigger-after-settle", "")
    async with runtime.session() as session:
        media = await session.scalar(select(Media).where(Media.persona_id == ids[REGION]))
        assert media is not None and media.alt_text == ""

    refused = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("notes.txt", b"hello", "text/plain")},
        data={"alt_text": "x"},
    )
    assert refused.status_code == 200 and 'role="alert"' in refused.text

    form = {
        "account_id": str(facebook),
        "media_id": str(media.id),
        "text": "Les inscriptions aux transports scolaires sont ouvertes.",
        "when": "draft",
    }
    check = await client.post(f"/admin/personas/{ids[REGION]}/compose/check", data=form, headers=csrf)
    assert check.status_code == 200 and "alt_text" in check.text and "pas de texte alternatif" in check.text

    form["when"] = "now"
    blocked = await client.post(f"/admin/personas/{ids[REGION]}/compose", data=form, headers=csrf)
    assert blocked.status_code == 422
    assert "pas de texte alternatif" in blocked.text
    assert f'value="{media.id}" checked' in blocked.text  # the media stays ticked on the page that comes back


def declared_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height pixels, in a few hundred bytes (a decompression
    bomb: its chunks are valid, so Pillow opens and verifies it without decoding a pixel)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit per pixel, grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(12_000, 12_000), (60_000, 60_000), (100_000, 1_000)])
async def test_an_image_declaring_too_many_pixels_is_refused(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin], size: tuple[int, int]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "bomb", roles={REGION: Role.EDITOR})
    bomb = declared_png(*size)
    assert len(bomb) < 1000
    response = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(token),
        files={"file": ("bomb.png", bomb, "image/png")},
        data={"alt_text": "rien"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "too_many_pixels" and response.json()["extra"][0]["key"] == "file"
    assert "mégapixels" in response.json()["detail"]
    async with runtime.session() as session:
        assert (await session.scalars(select(Media))).all() == []
    # the largest a network accepts still goes through (X: 8192 × 8192)
    fine = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(token),
        files={"file": ("big.png", declared_png(8192, 8192), "image/png")},
        data={"alt_text": "grand"},
    )
    assert fine.status_code == 201, fine.text


async def test_a_media_used_by_a_second_post_is_copied_and_the_first_keeps_it(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "reuse", roles={REGION: Role.EDITOR})
    async with runtime.session() as session:
        facebook = await session.scalar(
            select(Account.id).where(Account.persona_id == ids[REGION], Account.channel == "facebook")
        )
    uploaded = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(token),
        files={"file": ("capitole.png", image("PNG"), "image/png")},
        data={"alt_text": "La place du Capitole"},
    )
    media_id = uploaded.json()["id"]
    posts = []
    for day in ("2030-06-03T09:00:00+02:00", "2030-06-04T09:00:00+02:00"):
        body = {"accountIds": [str(facebook)], "text": "Le Capitole", "mediaIds": [media_id], "scheduledAt": day}
        composed = await client.post(f"/api/v1/personas/{ids[REGION]}/posts", json=body, headers=bearer(token))
        assert composed.status_code == 201, composed.text
        assert composed.json()["deliveries"][0]["state"] == "scheduled"
        posts.append(composed.json()["post"]["id"])
    first, second = [
        (await client.get(f"/api/v1/personas/{ids[REGION]}/posts/{post}", headers=bearer(token))).json()
        for post in posts
    ]
    assert [m["id"] for m in first["media"]] == [media_id]  # the scheduled post keeps its image
    assert len(second["media"]) == 1 and second["media"][0]["id"] != media_id
    copy = second["media"][0]
    assert (copy["sha256"], copy["altText"]) == (uploaded.json()["sha256"], "La place du Capitole")
    async with runtime.session() as session:
        rows = (await session.scalars(select(Media).order_by(Media.created_at))).all()
        copied = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "media.copied"))).all()
    assert len({m.storage_path for m in rows}) == 1 and len(rows) == 2  # one file, two posts' rows
    assert len(copied) == 1 and copied[0].after is not None and copied[0].after["from_media"] == media_id
