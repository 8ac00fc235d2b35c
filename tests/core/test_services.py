"""Staff, assignments and audit: every change made through a service writes an audit event."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.channels import Credentials
from core.db.enums import Role
from core.db.models import AuditEvent, Persona
from core.people.staff import StaffError, assign, authenticate, create_staff, set_active, unassign
from core.runtime import Runtime
from core.security import CredentialVault, WeakPassword, verify_password
from tests.factories import PersonaFactory

pytestmark = pytest.mark.anyio


async def _events(db: AsyncSession) -> list[AuditEvent]:
    return list((await db.scalars(select(AuditEvent).order_by(AuditEvent.at))).all())


async def test_staff_lifecycle_is_audited(runtime: Runtime, db: AsyncSession) -> None:
    admin = Actor.system("admin-test")
    PersonaFactory.__async_session__ = db
    async with runtime.session() as session:
        PersonaFactory.__async_session__ = session
        persona = await PersonaFactory.create_async(slug="presidente-test")
        staff = await create_staff(
            session, email=" Lea@Example.FR ", display_name="Léa", password="long enough pw", actor=admin
        )
        await assign(session, staff, persona, Role.CONTRIBUTOR, admin)
        await assign(session, staff, persona, Role.EDITOR, admin)
        await unassign(session, staff, persona, admin)
        await set_active(session, staff, False, admin)
    events = await _events(db)
    assert [e.action for e in events] == [
        "staff.created",
        "assignment.set",
        "assignment.set",
        "assignment.removed",
        "staff.deactivated",
    ]
    assert events[0].after is not None and events[0].after["email"] == "lea@example.fr"
    assert "password_hash" not in events[0].after  # no secret in the audit log
    assert events[2].before == {"role": "contributor"} and events[2].after["role"] == "editor"
    assert events[3].persona_id == persona.id and events[4].before["is_active"] is True
    assert all(e.actor_label == "admin-test" for e in events)


async def test_authentication(runtime: Runtime) -> None:
    async with runtime.session() as session:
        await create_staff(session, email="a@b.fr", display_name="A", password="correct horse", actor=Actor.system())
    async with runtime.session() as session:
        staff = await authenticate(session, "A@B.FR", "correct horse")
        assert staff is not None and staff.last_login_at is not None
        assert verify_password(staff.password_hash, "correct horse") and staff.password_hash.startswith("$argon2")
        assert await authenticate(session, "a@b.fr", "wrong horse") is None
        await set_active(session, staff, False, Actor.system())
    async with runtime.session() as session:
        assert await authenticate(session, "a@b.fr", "correct horse") is None


async def test_staff_errors(runtime: Runtime) -> None:
    async with runtime.session() as session:
        with pytest.raises(WeakPassword):
            await create_staff(session, email="x@y.fr", display_name="X", password="short", actor=Actor.system())
        with pytest.raises(StaffError, match="not an e-mail"):
            await create_staff(
                session, email="nobody", display_name="X", password="long enough pw", actor=Actor.system()
            )
        await create_staff(session, email="x@y.fr", display_name="X", password="long enough pw", actor=Actor.system())
        with pytest.raises(StaffError, match="already exists"):
            await create_staff(
                session, email="X@y.fr", display_name="X", password="long enough pw", actor=Actor.system()
            )


def test_credentials_are_encrypted_at_rest() -> None:
    vault = CredentialVault("k" * 40)
    credentials = Credentials(access_token="secret-token", refresh_token="refresh", extra={"page_id": "1"})
    sealed = vault.encrypt(credentials)
    assert b"secret-token" not in sealed
    assert vault.decrypt(sealed) == credentials
    with pytest.raises(ValueError, match="SECRET_KEY"):
        CredentialVault("other" * 10).decrypt(sealed)


async def test_persona_factory_round_trip(db: AsyncSession) -> None:
    PersonaFactory.__async_session__ = db
    persona = await PersonaFactory.create_async()
    await db.commit()
    assert (await db.get(Persona, persona.id)) is not None
