"""A public body's duties on arrival (M1, M2, R1, CADA), through the real upsert on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.channels.contract import InboxKind, RemoteItem
from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import Account, Delivery, InboxEvent, InboxItem, ModerationAction, Persona, Post
from core.inbox.duties import act_on_arrival
from core.inbox.ingest import ingest
from core.inbox.targets import inbox_settings
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio


@pytest.fixture
async def accounts(runtime: Runtime) -> AsyncIterator[dict[tuple[str, str], Account]]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
    async with runtime.sessions() as session:
        slugs = {p.id: p.slug for p in (await session.scalars(select(Persona))).all()}
        yield {(slugs[a.persona_id], a.channel): a for a in (await session.scalars(select(Account))).all()}


def _remote(remote_id: str, kind: InboxKind, text: str, **extra: object) -> RemoteItem:
    return RemoteItem(
        remote_id=remote_id,
        kind=kind,
        text=text,
        author_id="citizen-7",
        created_at=datetime.now(UTC) - timedelta(minutes=5),
        **extra,  # type: ignore[arg-type]
    )


async def _arrive(runtime: Runtime, account: Account, *items: RemoteItem) -> list[InboxItem]:
    async with runtime.session() as session:
        result = await ingest(session, account, list(items), via="poll")
        await act_on_arrival(session, runtime.channels, result.new)
    async with runtime.sessions() as session:
        return list((await session.scalars(select(InboxItem).where(InboxItem.id.in_(result.new)))).all())


async def test_a_comment_with_a_phone_number_is_proposed_for_hiding(runtime: Runtime, accounts: dict) -> None:
    (item,) = await _arrive(
        runtime,
        accounts[("region-occitanie", "facebook")],
        _remote("c-1", InboxKind.COMMENT, "Rappelez-moi au 06 12 34 56 78 svp", thread_id="post-1"),
    )
    assert "personal_data" in item.flags
    async with runtime.sessions() as session:
        proposal = await session.scalar(select(ModerationAction).where(ModerationAction.item_id == item.id))
    assert proposal is not None and (proposal.action, proposal.state) == ("hide", "proposed")
    assert proposal.reason_code == "personal_data" and proposal.requested_by_id is None


async def test_a_comment_with_a_date_is_not_personal_data(runtime: Runtime, accounts: dict) -> None:
    (item,) = await _arrive(
        runtime,
        accounts[("region-occitanie", "facebook")],
        _remote("c-2", InboxKind.COMMENT, "Le salon a lieu le 06/12/2026 à 10 h ?", thread_id="post-1"),
    )
    assert item.flags == []
    async with runtime.sessions() as session:
        assert await session.scalar(select(ModerationAction).where(ModerationAction.item_id == item.id)) is None


async def test_an_administrative_request_by_message_gets_the_standard_answer(runtime: Runtime, accounts: dict) -> None:
    account = accounts[("region-occitanie", "facebook")]
    (item,) = await _arrive(
        runtime,
        account,
        _remote(
            "m-1",
            InboxKind.MESSAGE,
            "Bonjour, où en est ma demande de bourse ? Mon numéro de dossier est 4521.",
            thread_id="t_1",
        ),
    )
    assert "administrative" in item.flags
    async with runtime.sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.in_reply_to_id == item.id))
        post = await session.get(Post, delivery.post_id) if delivery else None
        persona = await session.get(Persona, account.persona_id)
        events = (await session.scalars(select(InboxEvent.kind).where(InboxEvent.item_id == item.id))).all()
    assert delivery is not None and post is not None and persona is not None
    assert delivery.kind == DeliveryKind.REPLY and delivery.state == DeliveryState.SCHEDULED
    assert post.text == inbox_settings(persona.definition).administrative_answer.strip()
    assert "laregion.fr" in post.text and post.author_id is None
    assert "auto_answered" in events


async def test_the_presidents_messages_get_no_institutional_auto_answer(runtime: Runtime, accounts: dict) -> None:
    (item,) = await _arrive(
        runtime,
        accounts[("presidente-region", "instagram")],
        _remote("m-2", InboxKind.MESSAGE, "Où en est ma demande de subvention ?", thread_id="t_2"),
    )
    async with runtime.sessions() as session:
        assert await session.scalar(select(Delivery).where(Delivery.in_reply_to_id == item.id)) is None


async def test_a_document_request_starts_a_one_month_legal_clock(runtime: Runtime, accounts: dict) -> None:
    (item,) = await _arrive(
        runtime,
        accounts[("region-occitanie", "facebook")],
        _remote(
            "m-3",
            InboxKind.MESSAGE,
            "Je demande la communication du document : la délibération du conseil régional du 12 mars.",
            thread_id="t_3",
        ),
    )
    assert "document_request" in item.flags
    assert item.legal_due_at is not None
    assert timedelta(days=27) < item.legal_due_at - item.received_at <= timedelta(days=31)
