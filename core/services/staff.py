"""Staff and their assignments to personas; every change audited."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Employer, Role
from core.db.models import Assignment, Persona, Staff
from core.security import hash_password, verify_password
from core.services.audit import Actor, record, snapshot
from core.db.types import utcnow

_STAFF_FIELDS = ("email", "display_name", "is_admin", "is_active", "locale", "employer")


class StaffError(ValueError):
    """A staff operation that cannot be done; the message says why."""


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise StaffError(f"{email!r} is not an e-mail address")
    return email


async def create_staff(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    password: str,
    actor: Actor,
    is_admin: bool = False,
    employer: Employer = Employer.INSTITUTION,
    locale: str = "fr",
) -> Staff:
    email = normalise_email(email)
    if await session.scalar(select(Staff.id).where(Staff.email == email)):
        raise StaffError(f"a staff member with e-mail {email} already exists")
    staff = Staff(
        email=email,
        display_name=display_name.strip() or email,
        password_hash=hash_password(password),
        is_admin=is_admin,
        employer=employer,
        locale=locale,
    )
    session.add(staff)
    await session.flush()
    record(session, actor, "staff.created", "staff", staff.id, after=snapshot(staff, _STAFF_FIELDS))
    return staff


async def authenticate(session: AsyncSession, email: str, password: str) -> Staff | None:
    staff = await session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    if staff is None or not staff.is_active or not verify_password(staff.password_hash, password):
        return None
    staff.last_login_at = utcnow()
    return staff


async def set_active(session: AsyncSession, staff: Staff, active: bool, actor: Actor) -> None:
    before = snapshot(staff, _STAFF_FIELDS)
    staff.is_active = active
    record(
        session, actor, "staff.activated" if active else "staff.deactivated", "staff", staff.id,
        before=before, after=snapshot(staff, _STAFF_FIELDS),
    )


async def set_password(session: AsyncSession, staff: Staff, password: str, actor: Actor) -> None:
    staff.password_hash = hash_password(password)
    record(session, actor, "staff.password_changed", "staff", staff.id)


async def assign(session: AsyncSession, staff: Staff, persona: Persona, role: Role, actor: Actor) -> Assignment:
    """Give ``staff`` a role on ``persona``; replaces an existing role."""
    assignment = await session.scalar(
        select(Assignment).where(Assignment.staff_id == staff.id, Assignment.persona_id == persona.id)
    )
    before = None if assignment is None else {"role": assignment.role.value}
    if assignment is None:
        assignment = Assignment(staff_id=staff.id, persona_id=persona.id, role=role)
        session.add(assignment)
    assignment.role = role
    await session.flush()
    record(
        session, actor, "assignment.set", "assignment", assignment.id, persona_id=persona.id,
        before=before, after={"staff": staff.email, "persona": persona.slug, "role": role.value},
    )
    return assignment


async def unassign(session: AsyncSession, staff: Staff, persona: Persona, actor: Actor) -> None:
    assignment = await session.scalar(
        select(Assignment).where(Assignment.staff_id == staff.id, Assignment.persona_id == persona.id)
    )
    if assignment is None:
        raise StaffError(f"{staff.email} is not assigned to {persona.slug}")
    await session.delete(assignment)
    record(
        session, actor, "assignment.removed", "assignment", assignment.id, persona_id=persona.id,
        before={"staff": staff.email, "persona": persona.slug, "role": assignment.role.value},
    )


async def roles_of(session: AsyncSession, staff_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    """persona id → role, for one staff member."""
    rows = await session.execute(select(Assignment.persona_id, Assignment.role).where(Assignment.staff_id == staff_id))
    return {persona_id: role for persona_id, role in rows.all()}


async def staff_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Staff)) or 0)
