"""Fixtures for the web app: a client on the app, the demo data, and a logged-in helper."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from core.demo import DemoLogin, seed_demo_staff
from core.runtime import Runtime
from core.services.audit import Actor
from core.services.personas import KNOWN_FORMATS, known_channels, upsert_personas
from core.settings import Settings
from personas import SEED_DIR, load_dir
from web.app import create_app


@pytest.fixture
async def demo(runtime: Runtime) -> dict[str, DemoLogin]:
    """The seed personas and the demo team; logins by e-mail prefix (admin, cm.region, …)."""
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        logins = await seed_demo_staff(session)
    return {login.email.split("@")[0]: login for login in logins}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    # The app gets its own Runtime: AsyncTestClient runs it on another event loop.
    app = create_app(runtime=Runtime(settings))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as test_client:
        yield test_client


async def login(client: AsyncTestClient, email: str, password: str) -> None:
    await client.get("/login")
    token = client.cookies.get("pv_csrf")
    response = await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": token or ""}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
