"""Media in the API and the composer: a PNG stored as JPEG for Instagram (and said so), a video's
cover, duration and size, a video PyAV cannot read refused in the uploader's language."""

from __future__ import annotations

import html
import io
import math
import os
import re

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import AuditEvent
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.media.helpers import mp4, not_a_video, persona_on, png
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION, PRESIDENT = "region-occitanie", "presidente-region"
#: the note, in English until the catalogue has it, in French after
CONVERTED = re.compile(r"(Converted to JPEG for|Converti en JPEG pour) Instagram")


async def _upload(client: AsyncTestClient, persona: object, token: str, name: str, data: bytes, kind: str):  # noqa: ANN202
    return await client.post(
        f"/api/v1/personas/{persona}/media",
        headers=bearer(token),
        files={"file": (name, data, kind)},
        data={"alt_text": "Une affiche du festival"},
    )


async def test_a_png_on_the_region_is_stored_as_jpeg_and_the_api_says_so(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "cm", roles={REGION: Role.EDITOR})
    response = await _upload(client, ids[REGION], token, "affiche.png", png(), "image/png")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["convertedFor"] == ["instagram"]
    assert (body["contentType"], body["filename"], body["width"], body["height"]) == (
        "image/jpeg",
        "affiche.jpg",
        64,
        48,
    )
    served = await client.get(body["url"], headers=bearer(token))
    assert served.status_code == 200 and served.headers["content-type"].startswith("image/jpeg")
    assert Image.open(io.BytesIO(served.content)).format == "JPEG" and body["sizeBytes"] == len(served.content)
    async with runtime.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "media.uploaded"))
    assert event is not None and event.after is not None and event.after["converted_from"] == "image/png"
    # the listing has no conversion to tell
    listed = (await client.get(f"/api/v1/personas/{ids[REGION]}/media", headers=bearer(token))).json()["items"]
    assert [m["convertedFor"] for m in listed] == [[]] and listed[0]["contentType"] == "image/jpeg"


async def test_the_same_png_stays_png_on_a_persona_without_such_a_network(
    client: AsyncTestClient, runtime: Runtime
) -> None:
    async with runtime.session() as session:
        persona = await persona_on(session, "facebook", "linkedin")
        slug, persona_id = persona.slug, persona.id
    _, token = await staff_with_token(runtime, "fb", roles={slug: Role.EDITOR})
    response = await _upload(client, persona_id, token, "affiche.png", png(), "image/png")
    assert response.status_code == 201, response.text
    assert response.json()["contentType"] == "image/png" and response.json()["convertedFor"] == []
    served = await client.get(response.json()["url"], headers=bearer(token))
    assert served.content == png()


async def test_the_composer_says_the_png_was_converted(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    fragment = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("affiche.png", png(), "image/png")},
        data={"alt_text": "Une affiche"},
    )
    assert fragment.status_code == 200, fragment.text
    assert 'class="converted"' in fragment.text and CONVERTED.search(fragment.text)
    assert "affiche.jpg" in fragment.text
    # without htmx: the composer comes back with the same news
    back = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers=csrf,
        files={"file": ("autre.png", png(colour=(5, 5, 200)), "image/png")},
        data={"alt_text": "Une autre affiche"},
        follow_redirects=True,
    )
    assert back.status_code == 200 and CONVERTED.search(html.unescape(back.text)) and "autre.jpg" in back.text


async def test_a_video_shows_its_cover_duration_and_size(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "video", roles={PRESIDENT: Role.EDITOR})
    _, other = await staff_with_token(runtime, "other", roles={REGION: Role.EDITOR})
    video = mp4(seconds=0.4)
    response = await _upload(client, ids[PRESIDENT], token, "clip.mp4", video, "video/mp4")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "video" and body["durationS"] == pytest.approx(0.4, abs=0.05)
    assert (body["sizeBytes"], body["width"], body["height"]) == (len(video), 800, 448)
    assert body["coverUrl"] == f"/api/v1/personas/{ids[PRESIDENT]}/media/{body['id']}/file?cover=true"
    cover = await client.get(body["coverUrl"], headers=bearer(token))
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(cover.content)).size == (640, 358)
    # the same access checks as the file: another persona's staff find nothing
    assert (await client.get(body["coverUrl"], headers=bearer(other))).status_code == 404
    crossed = f"/api/v1/personas/{ids[REGION]}/media/{body['id']}/file?cover=true"
    assert (await client.get(crossed, headers=bearer(other))).status_code == 404
    # an image has no cover
    image = (await _upload(client, ids[PRESIDENT], token, "a.jpg", png(), "image/png")).json()
    assert image["coverUrl"] is None
    no_cover = await client.get(
        f"/api/v1/personas/{ids[PRESIDENT]}/media/{image['id']}/file?cover=true", headers=bearer(token)
    )
    assert no_cover.status_code == 404

    await login(client, demo["cm.presidente"].email, demo["cm.presidente"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    fragment = await client.post(
        f"/admin/personas/{ids[PRESIDENT]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("clip.mp4", video, "video/mp4")},
        data={"alt_text": "Le clip"},
    )
    assert fragment.status_code == 200, fragment.text
    assert re.search(
        rf'<img class="cover" src="/api/v1/personas/{ids[PRESIDENT]}/media/[0-9a-f-]+/file\?cover=true"', fragment.text
    )
    assert '<span class="muted small duration">0:01</span>' in fragment.text
    kb = math.ceil(len(video) / 1024)
    assert re.search(rf'<span class="muted small size">{kb} (KB|Ko|ko)</span>', fragment.text), fragment.text


async def test_a_large_file_s_size_is_shown_in_the_reader_s_language(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    noise = Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=100)  # JPEG: stays as it is
    size = len(out.getvalue())
    assert size > 1024 * 1024
    fragment = await client.post(
        f"/admin/personas/{ids[REGION]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("bruit.jpg", out.getvalue(), "image/jpeg")},
        data={"alt_text": "Du bruit"},
    )
    shown = f"{size / 1048576:.1f}".replace(".", ",")  # French: a decimal comma
    assert re.search(rf'<span class="muted small size">{shown} (MB|Mo)</span>', fragment.text), fragment.text


async def test_a_file_that_is_not_a_video_is_refused_in_the_uploader_s_language(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "fake", roles={PRESIDENT: Role.EDITOR})
    response = await _upload(client, ids[PRESIDENT], token, "clip.mp4", not_a_video(), "video/mp4")
    assert response.status_code == 400 and response.json()["code"] == "not_media"
    assert "pas une vidéo video/mp4" in response.json()["detail"]

    await login(client, demo["cm.presidente"].email, demo["cm.presidente"].password)
    csrf = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    fragment = await client.post(
        f"/admin/personas/{ids[PRESIDENT]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("clip.mp4", not_a_video(), "video/mp4")},
        data={"alt_text": "x"},
    )
    assert 'role="alert"' in fragment.text and "pas une vidéo video/mp4" in html.unescape(fragment.text)
    too_long = await client.post(
        f"/admin/personas/{ids[PRESIDENT]}/media",
        headers={**csrf, "hx-request": "true"},
        files={"file": ("a.png", png(), "image/png")},
        data={"alt_text": "x" * 1501},
    )
    # the service's refusal, in French, with its number in the French way
    assert "1\u202f500" in too_long.text or "1 500" in html.unescape(too_long.text), too_long.text
