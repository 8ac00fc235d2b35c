"""Notifications: derived from what is recorded, to whom they belong, one unread per subject,
read and unread, and the e-mail through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import msgspec
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.service import mark_needs_reauth
from core.audit import Actor
from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Notification, Persona, Staff
from core.notifications import mail, service
from core.notifications.jobs import mail_notifications
from core.people.staff import assign, create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import ComposeRequest, StaffActor, compose, send_back, submit
from core.publishing.states import move
from core.runtime import Runtime
from core.settings import Settings
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio
TEXT = "Les marchés de producteurs reviennent ce week-end dans toute la région, venez nombreux."
SYSTEM = Actor.system("test")


@pytest.fixture
async def team(runtime: Runtime) -> dict[str, object]:
    """The region with a contributor, an editor, a manager, a viewer (and a manager elsewhere)."""
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, SYSTEM)
        personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
        region, president = personas["region-occitanie"], personas["presidente-region"]
        people: dict[str, Staff] = {}
        roles = {"apprentie": Role.CONTRIBUTOR, "cm": Role.EDITOR, "dircom": Role.MANAGER, "lecteur": Role.VIEWER}
        for name, role in roles.items():
            people[name] = await create_staff(
                session, email=f"{name}@t.fr", display_name=name.title(), password="long enough pw", actor=SYSTEM
            )
            await assign(session, people[name], region, role, SYSTEM)
        people["ailleurs"] = await create_staff(
            session, email="ailleurs@t.fr", display_name="Ailleurs", password="long enough pw", actor=SYSTEM
        )
        await assign(session, people["ailleurs"], president, Role.MANAGER, SYSTEM)
        people["dircom"].locale = "en"
        account = await session.scalar(
            select(Account).where(Account.persona_id == region.id, Account.channel == "facebook")
        )
    return {"region": region, "people": people, "account": account}


def as_(team: dict[str, object], name: str, role: Role) -> StaffActor:
    staff = team["people"][name]  # type: ignore[index]
    return StaffActor(id=staff.id, label=staff.email, role=role)


def sid(team: dict[str, object], name: str) -> object:
    return team["people"][name].id  # type: ignore[index]


async def _notifications(db: AsyncSession) -> list[Notification]:
    db.expire_all()
    return list((await db.scalars(select(Notification).order_by(Notification.created_at))).all())


async def _compose_for_approval(runtime: Runtime, team: dict[str, object]) -> object:
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            as_(team, "apprentie", Role.CONTRIBUTOR),
            ComposeRequest(
                persona_id=team["region"].id,  # type: ignore[attr-defined]
                account_ids=(team["account"].id,),  # type: ignore[attr-defined]
                text=TEXT,
                publish_now=True,
            ),
        )
    assert result.deliveries[0].state == DeliveryState.PENDING_APPROVAL
    return result.post.id


async def test_a_post_waiting_goes_to_the_approvers_and_a_sent_back_one_to_its_author(
    runtime: Runtime, team: dict[str, object], db: AsyncSession
) -> None:
    post_id = await _compose_for_approval(runtime, team)
    waiting = await _notifications(db)
    # the editor and the manager approve; not the contributor who wrote it, not a viewer, not another persona's
    assert {(n.staff_id, n.kind) for n in waiting} == {
        (sid(team, "cm"), "waiting_approval"),
        (sid(team, "dircom"), "waiting_approval"),
    }
    assert all(n.subject_id == post_id and n.detail["persona"] == "Région Occitanie" for n in waiting)
    assert waiting[0].detail["excerpt"].startswith("Les marchés") and waiting[0].detail["excerpt"].endswith("…")

    async with runtime.session() as session:
        await send_back(session, as_(team, "cm", Role.EDITOR), post_id, comment="Ajoutez la date, s'il vous plaît.")
    mine = [n for n in await _notifications(db) if n.kind == "sent_back"]
    assert [(n.staff_id, n.subject_id) for n in mine] == [(sid(team, "apprentie"), post_id)]
    assert mine[0].detail["comment"] == "Ajoutez la date, s'il vous plaît." and mine[0].detail["who"] == "Cm"
    assert await service.unread_count(db, sid(team, "apprentie")) == 1  # type: ignore[arg-type]


async def test_one_unread_per_subject_then_a_new_one_once_read(
    runtime: Runtime, team: dict[str, object], db: AsyncSession
) -> None:
    post_id = await _compose_for_approval(runtime, team)
    for _round in range(2):
        async with runtime.session() as session:
            await send_back(session, as_(team, "dircom", Role.MANAGER), post_id, comment="Non.")
        async with runtime.session() as session:
            await submit(
                session,
                runtime.channels,
                as_(team, "apprentie", Role.CONTRIBUTOR),
                post_id,
                scheduled_at=None,
                publish_now=True,
            )
    found = await _notifications(db)
    cm = [n for n in found if n.staff_id == sid(team, "cm")]
    author = [n for n in found if n.staff_id == sid(team, "apprentie")]
    # three times waiting (composed, submitted twice), twice sent back: one unread row each
    assert [(n.kind, n.times) for n in cm] == [("waiting_approval", 3)]
    assert [(n.kind, n.times) for n in author] == [("sent_back", 2)]
    # the manager sent it back: not told of their own act; the approval wait stands for them
    assert {n.kind for n in found if n.staff_id == sid(team, "dircom")} == {"waiting_approval"}

    async with runtime.session() as session:
        await service.mark_read(session, sid(team, "apprentie"), author[0].id)  # type: ignore[arg-type]
        with pytest.raises(service.UnknownNotification):  # someone else's is as good as absent
            await service.mark_read(session, sid(team, "cm"), author[0].id)  # type: ignore[arg-type]
    async with runtime.session() as session:
        await send_back(session, as_(team, "cm", Role.EDITOR), post_id, comment="Encore.")
    author = [n for n in await _notifications(db) if n.staff_id == sid(team, "apprentie")]
    assert sorted((n.times, n.read_at is None) for n in author) == [(1, True), (2, False)]
    assert await service.unread_count(db, sid(team, "apprentie")) == 1  # type: ignore[arg-type]

    page = await service.notification_page(db, sid(team, "apprentie"), cursor=None, limit=1)  # type: ignore[arg-type]
    assert page.items[0].read_at is None and page.next_cursor  # the latest first
    rest = await service.notification_page(db, sid(team, "apprentie"), cursor=page.next_cursor, limit=1)  # type: ignore[arg-type]
    assert rest.items[0].read_at is not None and rest.next_cursor is None
    async with runtime.session() as session:
        assert await service.mark_all_read(session, sid(team, "cm")) == 1  # type: ignore[arg-type]
    assert await service.unread_count(db, sid(team, "cm")) == 0  # type: ignore[arg-type]


async def test_a_failed_delivery_tells_its_author_and_a_rollback_tells_nobody(
    runtime: Runtime, team: dict[str, object], db: AsyncSession
) -> None:
    post_id = await _compose_for_approval(runtime, team)
    delivery_id = await db.scalar(select(Delivery.id).where(Delivery.post_id == post_id))
    assert delivery_id is not None

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with runtime.session() as session:
            await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(state="uncertain"))
            await move(
                session,
                delivery_id,
                to=DeliveryState.FAILED,
                from_=(DeliveryState.UNCERTAIN,),
                event="failed",
                detail={"error": "Le réseau refuse ce texte."},
            )
            await session.flush()
            raise Boom
    assert [n.kind for n in await _notifications(db)] == ["waiting_approval", "waiting_approval"]

    async with runtime.session() as session:
        await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(state="uncertain"))
        await move(
            session,
            delivery_id,
            to=DeliveryState.FAILED,
            from_=(DeliveryState.UNCERTAIN,),
            event="failed",
            detail={"error": "Le réseau refuse ce texte."},
        )
    failed = [n for n in await _notifications(db) if n.kind == "failed"]
    assert [(n.staff_id, n.subject_type, n.subject_id) for n in failed] == [
        (sid(team, "apprentie"), "delivery", delivery_id)
    ]
    assert failed[0].detail["error"] == "Le réseau refuse ce texte." and failed[0].detail["channel"] == "facebook"


async def test_an_account_to_reconnect_tells_its_managers_once(
    runtime: Runtime, team: dict[str, object], db: AsyncSession
) -> None:
    account = team["account"]
    for _ in range(2):  # the second one finds it already marked: nothing moves, nobody is told again
        async with runtime.session() as session:
            await mark_needs_reauth(session, account.id, account.persona_id, actor=SYSTEM, reason="token revoked")  # type: ignore[attr-defined]
    found = await _notifications(db)
    assert [(n.staff_id, n.kind, n.times) for n in found] == [(sid(team, "dircom"), "needs_reauth", 1)]
    assert found[0].detail["handle"] == account.handle  # type: ignore[attr-defined]


# ------------------------------------------------------------------ e-mail


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _mailing(settings: Settings, port: int) -> Settings:
    return msgspec.structs.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_from="Porte-voix <porte-voix@region.example.fr>",
        public_url="https://portevoix.example.fr",
    )


async def test_each_notification_is_mailed_once_in_its_recipients_language(
    runtime: Runtime, team: dict[str, object], db: AsyncSession, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    post_id = await _compose_for_approval(runtime, team)
    assert await mail.send_pending(runtime) == 0  # no SMTP configured: nothing is mailed
    inbox, port = smtp
    mailing = Runtime(_mailing(settings, port))
    try:
        assert await mail_notifications({"runtime": mailing}) == 2
        assert await mail_notifications({"runtime": mailing}) == 0  # once
    finally:
        await mailing.aclose()
    by_recipient = {m["To"]: m for m in inbox.messages}
    assert set(by_recipient) == {"cm@t.fr", "dircom@t.fr"}
    french, english = by_recipient["cm@t.fr"], by_recipient["dircom@t.fr"]
    assert french["Subject"] == "Une publication attend votre validation"
    assert english["Subject"] == "A post waits for your approval"
    body = french.get_payload(decode=True).decode()
    assert "Région Occitanie" in body and "attend votre validation" in body
    assert f"https://portevoix.example.fr/admin/personas/{team['region'].id}/approvals" in body  # type: ignore[attr-defined]
    assert {n.email_state for n in await _notifications(db)} == {"sent"}
    assert post_id


async def test_an_unreachable_smtp_server_leaves_the_mail_pending_with_its_error(
    runtime: Runtime, team: dict[str, object], db: AsyncSession, settings: Settings
) -> None:
    await _compose_for_approval(runtime, team)
    mailing = Runtime(_mailing(settings, _free_port()))  # nobody listens there
    try:
        assert await mail.send_pending(mailing) == 0
    finally:
        await mailing.aclose()
    found = await _notifications(db)
    assert {(n.email_state, n.email_attempts) for n in found} == {("pending", 1)}
    assert all(n.email_error for n in found)
    await asyncio.sleep(0)


# ------------------------------------------------------------------ the community manager's day


async def test_the_day_says_what_goes_out_and_when_in_local_time(
    runtime: Runtime, team: dict[str, object], db: AsyncSession
) -> None:
    from datetime import UTC, datetime

    from core.publishing.day import persona_day

    post_id = await _compose_for_approval(runtime, team)  # waits for approval: not going out
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            as_(team, "cm", Role.EDITOR),
            ComposeRequest(
                persona_id=team["region"].id,  # type: ignore[attr-defined]
                account_ids=(team["account"].id,),  # type: ignore[attr-defined]
                text="Les lycées rouvrent lundi.",
                scheduled_at=datetime(2027, 7, 1, 21, 30, tzinfo=UTC),  # 23:30 in Paris, summer time
            ),
        )
        tomorrow = await compose(
            session,
            runtime.channels,
            as_(team, "cm", Role.EDITOR),
            ComposeRequest(
                persona_id=team["region"].id,  # type: ignore[attr-defined]
                account_ids=(team["account"].id,),  # type: ignore[attr-defined]
                text="Le lendemain.",
                scheduled_at=datetime(2027, 7, 1, 22, 30, tzinfo=UTC),  # 00:30 the next day in Paris
            ),
        )
    assert {result.deliveries[0].state, tomorrow.deliveries[0].state} == {DeliveryState.SCHEDULED}
    persona = await db.get(Persona, team["region"].id)  # type: ignore[attr-defined]
    day = await persona_day(db, persona, now=datetime(2027, 7, 1, 8, 0, tzinfo=UTC))  # type: ignore[arg-type]
    assert [(o.local_time, o.delivery.post.text) for o in day.going_out] == [("23:30", "Les lycées rouvrent lundi.")]
    assert day.waiting_approval == 1 and post_id
    assert day.needs_answer == {"breached": 0, "at_risk": 0, "legal": 0}
