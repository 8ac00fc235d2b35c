"""Signed media URLs: what Instagram and TikTok fetch; nothing without a valid, unexpired signature."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from core.db.models import Media, Persona, Post
from core.policy import plugin_draft
from core.runtime import Runtime
from core.security import MediaSigner
from core.settings import Settings, load_settings
from tests.factories import PersonaFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stored_media(runtime: Runtime, tmp_path: Path) -> Media:
    file = tmp_path / "capitole.jpg"
    file.write_bytes(b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 100)
    async with runtime.session() as session:
        PersonaFactory.__async_session__ = session
        persona: Persona = await PersonaFactory.create_async()
        media = Media(
            persona_id=persona.id,
            kind="image",
            content_type="image/jpeg",
            filename="capitole.jpg",
            storage_path=str(file),
            sha256="0" * 64,
            size_bytes=file.stat().st_size,
            alt_text="La place du Capitole",
        )
        session.add(media)
    return media


async def test_a_signed_url_serves_the_file_and_nothing_else_does(
    client: AsyncTestClient, settings: Settings, stored_media: Media
) -> None:
    signer = MediaSigner(settings.secret_key)
    expires = int(time.time()) + 600
    good = f"/media/{stored_media.id}?expires={expires}&signature={signer.signature(str(stored_media.id), expires)}"
    response = await client.get(good)
    assert (
        response.status_code == 200
        and response.content.startswith(b"\xff\xd8")
        and response.headers["content-type"] == "image/jpeg"
    )
    tampered = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    assert (await client.get(tampered)).status_code == 404
    longer = good.replace(f"expires={expires}", f"expires={expires + 3600}")
    assert (await client.get(longer)).status_code == 404  # the expiry is signed too
    past = int(time.time()) - 1
    expired = f"/media/{stored_media.id}?expires={past}&signature={signer.signature(str(stored_media.id), past)}"
    assert (await client.get(expired)).status_code == 404
    assert (await client.get(f"/media/{stored_media.id}")).status_code == 404


async def test_the_worker_hands_plugins_a_signed_url_when_a_public_url_is_set(
    settings: Settings, stored_media: Media
) -> None:
    with_url = load_settings(
        {
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "PORTEVOIX_DATA_DIR": settings.data_dir,
            "PORTEVOIX_PUBLIC_URL": "https://pv.example.fr/",
        },
        dotenv=None,
    )
    runtime = Runtime(with_url)
    try:
        post = Post(persona_id=stored_media.persona_id, text="Le Capitole", format="photo", variants={})
        (item,) = plugin_draft(post, "instagram", [stored_media], media_url=runtime.media_url).media
        assert item.url is not None and item.url.startswith(f"https://pv.example.fr/media/{stored_media.id}?expires=")
        assert item.alt_text == "La place du Capitole"
        without = Runtime(settings)
        assert without.media_url(stored_media.id) is None  # no public URL configured: nothing to offer
        await without.aclose()
    finally:
        await runtime.aclose()
