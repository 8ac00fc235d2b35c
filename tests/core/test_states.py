"""The delivery state machine: one table, drawn in the docs, and no move outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryState
from core.db.models import Delivery, DeliveryEvent
from core.publishing.states import INITIAL, TRANSITIONS, ForbiddenMove, check, move
from core.runtime import Runtime
from tests.factories import AccountFactory, DeliveryFactory, PersonaFactory, PostFactory

ROOT = Path(__file__).resolve().parents[2]
ARROW = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::.*)?$")


async def seed_delivery(db: AsyncSession, **fields: object) -> Delivery:
    for factory in (PersonaFactory, AccountFactory, PostFactory, DeliveryFactory):
        factory.__async_session__ = db
    persona = await PersonaFactory.create_async()
    account = await AccountFactory.create_async(persona_id=persona.id)
    post = await PostFactory.create_async(persona_id=persona.id)
    return await DeliveryFactory.create_async(post_id=post.id, account_id=account.id, **fields)


def drawn_arrows() -> set[tuple[str, str]]:
    """The arrows of the mermaid drawing under "The state machine" in docs/publishing.md."""
    text = (ROOT / "docs" / "publishing.md").read_text(encoding="utf-8")
    section = text.split("## The state machine", 1)[1]
    drawing = section.split("```mermaid", 1)[1].split("```", 1)[0]
    arrows = {match.groups() for line in drawing.splitlines() if (match := ARROW.match(line))}
    assert arrows, "no arrows found in the drawing"
    return arrows  # type: ignore[return-value]


def test_the_drawing_in_the_docs_is_the_transition_table() -> None:
    arrows = drawn_arrows()
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert {(a, b) for a, b in arrows if "[*]" not in (a, b)} == table
    assert {b for a, b in arrows if a == "[*]"} == {s.value for s in INITIAL}
    assert {a for a, b in arrows if b == "[*]"} == {s.value for s, targets in TRANSITIONS.items() if not targets}
    assert set(TRANSITIONS) == set(DeliveryState)


def test_every_update_of_a_delivery_lives_in_the_state_machine() -> None:
    """A compare-and-set written elsewhere would bypass the table (tests may set up rows as they like)."""
    offenders = [
        str(path.relative_to(ROOT))
        for floor in ("core", "web")
        for path in (ROOT / floor).rglob("*.py")
        if "update(Delivery)" in path.read_text(encoding="utf-8") and path.name != "states.py"
    ]
    assert offenders == []


@pytest.mark.anyio
async def test_a_forbidden_move_is_refused_and_the_row_is_unchanged(runtime: Runtime, db: AsyncSession) -> None:
    delivery = await seed_delivery(db, state=DeliveryState.PUBLISHED, remote_id="123")
    await db.commit()
    async with runtime.session() as session:
        with pytest.raises(ForbiddenMove, match="published → scheduled"):
            await move(
                session,
                delivery.id,
                to=DeliveryState.SCHEDULED,
                from_=(DeliveryState.PUBLISHED,),
                event="rescheduled",
                remote_id=None,
            )
    async with runtime.sessions() as session:
        row = await session.get(Delivery, delivery.id)
        assert row is not None and row.state == DeliveryState.PUBLISHED and row.remote_id == "123"
        assert row.updated_at == delivery.updated_at
        assert (await session.scalars(select(DeliveryEvent))).all() == []


@pytest.mark.anyio
async def test_a_move_is_a_compare_and_set_with_its_history(runtime: Runtime, db: AsyncSession) -> None:
    delivery = await seed_delivery(db, state=DeliveryState.FAILED)
    await db.commit()
    arguments = {"to": DeliveryState.SCHEDULED, "from_": (DeliveryState.FAILED,), "event": "retried"}
    async with runtime.session() as session:
        assert await move(session, delivery.id, **arguments) is True
    async with runtime.session() as session:
        assert await move(session, delivery.id, **arguments) is False  # already moved: nothing happens
    async with runtime.sessions() as session:
        row = await session.get(Delivery, delivery.id)
        assert row is not None and row.state == DeliveryState.SCHEDULED
        assert (await session.scalars(select(DeliveryEvent.kind))).all() == ["retried"]


def test_a_bare_state_is_not_a_tuple_of_states() -> None:
    with pytest.raises(TypeError):
        check(DeliveryState.QUEUED, DeliveryState.PUBLISHING)  # type: ignore[arg-type]
