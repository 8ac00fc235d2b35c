"""While a persona is paused, every page where an author acts says so, with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.models import Persona
from core.runtime import Runtime
from tests.web.conftest import login

pytestmark = pytest.mark.anyio


async def test_the_composer_and_the_approvals_say_the_pause(
    client: AsyncTestClient, demo: Any, runtime: Runtime
) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    async with runtime.session() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
        assert persona is not None
        persona_id = persona.id
    compose = f"/admin/personas/{persona_id}/compose"
    assert 'data-paused="true"' not in (await client.get(compose)).text
    async with runtime.session() as session:
        paused = await session.get(Persona, persona_id)
        assert paused is not None
        paused.paused, paused.pause_reason = True, "Deuil régional"
    for path in (compose, f"/admin/personas/{persona_id}/approvals"):
        page = (await client.get(path)).text
        assert 'data-paused="true"' in page and "Persona en pause — rien ne part : Deuil régional" in page, path
