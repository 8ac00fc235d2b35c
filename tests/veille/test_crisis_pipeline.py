"""An accepted crisis posture in the real outbox (dispatcher, arq, worker, plugin, the fake X over HTTP):
the promotional post is held by the kill switch, the safety message drafted from a template goes
out, and ending the posture gives the promotional post back through the resume."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest
from sqlalchemy import select

from core.db.enums import DeliveryState, Role
from core.db.models import CrisisPosture, Delivery, Persona, VeilleItem, VeilleSource
from core.db.types import utcnow
from core.publishing.compose import StaffActor, submit
from core.publishing.pause import Choice, OverdueChoice, PauseActor
from core.veille import crisis
from tests.queue.conftest import Pipeline, fake_x, pipeline, redis_url, server_redis  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


async def _proposed(pipeline: Pipeline) -> uuid.UUID:  # noqa: F811
    async with pipeline.runtime.session() as session:
        persona = await session.get(Persona, pipeline.persona.id)
        assert persona is not None
        source = VeilleSource(
            persona_id=persona.id, kind="feed", plugin="vigicrues", target="https://v.example.test/", label="V"
        )
        session.add(source)
        await session.flush()
        item = VeilleItem(
            source_id=source.id,
            persona_id=persona.id,
            dedup_key=hashlib.sha256(b"aude").hexdigest(),
            url="https://www.vigicrues.gouv.fr/",
            title="Vigilance rouge crues : Aude aval",
            content_hash="0" * 64,
            severity="red",
            area="Aude aval",
        )
        session.add(item)
        await session.flush()
        await crisis.assess_items(session, persona, [item], settings=pipeline.runtime.settings)
        posture = await session.scalar(select(CrisisPosture.id).where(CrisisPosture.persona_id == persona.id))
        assert posture is not None
        return posture


async def test_a_posture_holds_promotion_and_lets_the_safety_message_out(pipeline: Pipeline) -> None:  # noqa: F811
    manager = StaffActor(id=pipeline.editor.id, label="manager", role=Role.MANAGER)
    deciding = PauseActor(id=manager.id, label="manager", role=Role.MANAGER)
    posture = await _proposed(pipeline)
    async with pipeline.runtime.session() as session:
        await crisis.accept(session, deciding, pipeline.persona.id, posture)

    promo = await pipeline.compose("Les marchés de Noël de la Région ouvrent samedi !", publish_now=True)
    async with pipeline.runtime.session() as session:
        safety = await crisis.draft_safety_message(
            session,
            pipeline.runtime.channels,
            manager,
            pipeline.persona.id,
            posture,
            "crue",
            account_ids=[pipeline.account.id],
        )
        await submit(session, pipeline.runtime.channels, manager, safety.id, scheduled_at=None, publish_now=True)
        safety_delivery = await session.scalar(select(Delivery.id).where(Delivery.post_id == safety.id))
    assert safety_delivery is not None

    published = await pipeline.wait_for(safety_delivery, DeliveryState.PUBLISHED)
    assert published.remote_id
    await asyncio.sleep(2.5)  # the dispatcher has run several times meanwhile
    [sent] = pipeline.tweets()
    assert "Vigilance crues" in str(sent["text"]) and "https://www.vigicrues.gouv.fr/" in str(sent["text"])
    held = await pipeline.delivery(promo.deliveries[0].id)
    assert held.state == DeliveryState.SCHEDULED  # held by the posture's pause

    # the crisis is over: the promotional post fell due during it, the manager sends it now
    async with pipeline.runtime.session() as session:
        choice = OverdueChoice(delivery_id=held.id, choice=Choice.SEND_NOW)
        await crisis.end(session, deciding, pipeline.persona.id, posture, choices=[choice], now=utcnow())
    await pipeline.wait_for(held.id, DeliveryState.PUBLISHED)
    assert len(pipeline.tweets()) == 2
