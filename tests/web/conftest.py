"""Fixtures for the web app: a client on the app, the demo data, and a logged-in helper."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import Role
from core.db.models import Persona
from core.demo import DemoLogin, seed_demo_staff
from core.people.staff import assign, create_staff
from core.people.tokens import create_token
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
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
    await clear_login_throttle(settings)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as test_client:
        yield test_client


async def login(client: AsyncTestClient, email: str, password: str) -> None:
    await client.get("/login")
    token = client.cookies.get("pv_csrf")
    response = await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": token or ""}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


async def staff_with_token(
    runtime: Runtime, name: str, *, roles: dict[str, Role] | None = None, is_admin: bool = False
) -> tuple[uuid.UUID, str]:
    """A staff member assigned to personas (by slug) and a fresh API token of theirs: (id, secret)."""
    actor = Actor.system("test")
    async with runtime.session() as session:
        staff = await create_staff(
            session,
            email=f"{name}@test.portevoix.fr",
            display_name=name,
            password="a-long-password",
            actor=actor,
            is_admin=is_admin,
        )
        personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        for slug, role in (roles or {}).items():
            await assign(session, staff, personas[slug], role, actor)
        _, secret = await create_token(session, staff, "tests", actor)
        return staff.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def persona_ids(runtime: Runtime) -> dict[str, uuid.UUID]:
    async with runtime.session() as session:
        return {p.slug: p.id for p in (await session.scalars(select(Persona))).all()}


async def clear_login_throttle(settings: Settings) -> None:
    """The throttle lives in Redis, which outlives a test: start each test with a clean slate."""
    if not settings.redis_url:
        return  # the embedded Redis is per data directory, so per test
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in redis.scan_iter("portevoix:login:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
