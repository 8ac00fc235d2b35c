"""Staff and their assignments to personas; every change audited."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record, snapshot
from core.db.enums import Employer, Role
from core.db.models import ApiToken, Assignment, Persona, Staff
from core.db.types import utcnow
from core.errors import N_, Conflict, Refusal
from core.pagination import Page, keyset
from core.security import hash_password, verify_password

_STAFF_FIELDS = ("email", "display_name", "is_admin", "is_active", "locale", "employer")
LOCALES = ("fr", "en")


class StaffError(Refusal):
    """A staff operation that cannot be done; the message says why."""


class EmailTaken(StaffError, Conflict):
    """Another staff member already has this e-mail address."""


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise StaffError(
            N_("“%(email)s” is not an e-mail address"), params={"email": email}, field="email", code="email_invalid"
        )
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
        raise EmailTaken(
            N_("a staff member with e-mail %(email)s already exists"), params={"email": email}, code="email_taken"
        )
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


async def create_with_one_time_password(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    actor: Actor,
    is_admin: bool = False,
    employer: Employer = Employer.INSTITUTION,
    locale: str = "fr",
) -> tuple[Staff, str]:
    """A new staff member and the one-time password to hand over (replaced at their first login)."""
    password = secrets.token_urlsafe(12)
    staff = await create_staff(
        session,
        email=email,
        display_name=display_name,
        password=password,
        actor=actor,
        is_admin=is_admin,
        employer=employer,
        locale=locale,
    )
    staff.must_change_password = True
    return staff, password


async def authenticate(session: AsyncSession, email: str, password: str) -> Staff | None:
    staff = await session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    if staff is None or not staff.is_active or not verify_password(staff.password_hash, password):
        return None
    staff.last_login_at = utcnow()
    return staff


async def set_active(session: AsyncSession, staff: Staff, active: bool, actor: Actor) -> None:
    if not active and actor.id == staff.id:
        raise StaffError(N_("you cannot deactivate your own account"), code="own_account")
    before = snapshot(staff, _STAFF_FIELDS)
    staff.is_active = active
    record(
        session,
        actor,
        "staff.activated" if active else "staff.deactivated",
        "staff",
        staff.id,
        before=before,
        after=snapshot(staff, _STAFF_FIELDS),
    )


async def set_password(session: AsyncSession, staff: Staff, password: str, actor: Actor) -> None:
    staff.password_hash = hash_password(password)
    staff.must_change_password = False
    record(session, actor, "staff.password_changed", "staff", staff.id)


async def change_own_password(session: AsyncSession, staff: Staff, current: str, new: str) -> None:
    """A staff member replaces their own password; the current one proves it is them."""
    if not verify_password(staff.password_hash, current):
        raise StaffError(N_("the current password is wrong"), field="current_password", code="password_wrong")
    if current == new:
        raise StaffError(
            N_("the new password must differ from the current one"), field="current_password", code="password_same"
        )
    await set_password(session, staff, new, Actor(id=staff.id, label=staff.email))


async def replace_one_time_password(session: AsyncSession, staff: Staff, new: str) -> None:
    """The first login's own password, chosen right after the one-time password was typed at login
    (the web layer vouches for that moment): it is not asked a second time."""
    if not staff.must_change_password:
        raise StaffError(N_("the current password is wrong"), field="current_password", code="password_wrong")
    if verify_password(staff.password_hash, new):
        raise StaffError(
            N_("the new password must differ from the current one"), field="new_password", code="password_same"
        )
    await set_password(session, staff, new, Actor(id=staff.id, label=staff.email))


async def reset_password(session: AsyncSession, staff: Staff, actor: Actor) -> str:
    """An admin's reset: a one-time password (returned once, to hand over), to be replaced at next login.

    The staff member's API tokens are revoked too: a reset usually means the account was at risk.
    Their open sessions end as well, since a session is bound to the password it was opened with.
    """
    password = secrets.token_urlsafe(12)
    staff.password_hash = hash_password(password)
    staff.must_change_password = True
    revoked = 0
    for token in (await session.scalars(select(ApiToken).where(ApiToken.staff_id == staff.id))).all():
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            revoked += 1
    record(session, actor, "staff.password_reset", "staff", staff.id, after={"tokens_revoked": revoked})
    return password


async def update_staff(
    session: AsyncSession,
    staff: Staff,
    actor: Actor,
    *,
    display_name: str | None = None,
    employer: Employer | None = None,
    is_admin: bool | None = None,
    locale: str | None = None,
) -> Staff:
    """Change a staff member's profile; only the given fields. Audited with before/after."""
    if locale is not None and locale not in LOCALES:
        raise StaffError(
            N_("unknown language “%(locale)s”; expected one of %(locales)s"),
            params={"locale": locale, "locales": ", ".join(LOCALES)},
            field="locale",
            code="locale_unknown",
        )
    if is_admin is False and staff.is_admin and actor.id == staff.id:
        raise StaffError(
            N_("an administrator cannot remove their own administrator right"), field="is_admin", code="own_admin_right"
        )
    before = snapshot(staff, _STAFF_FIELDS)
    if display_name is not None:
        if not display_name.strip():
            raise StaffError(N_("the display name cannot be empty"), field="display_name", code="name_empty")
        staff.display_name = display_name.strip()
    if employer is not None:
        staff.employer = employer
    if is_admin is not None:
        staff.is_admin = is_admin
    if locale is not None:
        staff.locale = locale
    after = snapshot(staff, _STAFF_FIELDS)
    if after != before:
        record(session, actor, "staff.updated", "staff", staff.id, before=before, after=after)
    return staff


async def remember_locale(session: AsyncSession, staff_id: uuid.UUID, locale: str) -> None:
    """The language a staff member chose in the admin, kept for their next login (not audited)."""
    staff = await session.get(Staff, staff_id)
    if staff is not None and locale in LOCALES:
        staff.locale = locale


async def get_staff(session: AsyncSession, staff_id: uuid.UUID) -> Staff | None:
    return await session.get(Staff, staff_id)


async def active_staff(session: AsyncSession, staff_id: uuid.UUID) -> Staff | None:
    """The staff member if they exist and may log in."""
    staff = await session.get(Staff, staff_id)
    return staff if staff is not None and staff.is_active else None


async def display_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(ids)))
    return {staff_id: name for staff_id, name in rows.all()}


async def everyone(session: AsyncSession) -> list[Staff]:
    """Every staff member, active ones first, by name (the admin's staff list)."""
    return list((await session.scalars(select(Staff).order_by(Staff.is_active.desc(), Staff.display_name))).all())


async def staff_page(session: AsyncSession, *, cursor: str | None, limit: int) -> Page[Staff]:
    """Every staff member, by e-mail."""
    return await keyset(session, select(Staff), (Staff.email, Staff.id), cursor=cursor, limit=limit)


async def team_page(
    session: AsyncSession, persona_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[tuple[Staff, Role]]:
    """Who works on a persona, by e-mail, with their role."""
    query = select(Staff).join(Assignment, Assignment.staff_id == Staff.id).where(Assignment.persona_id == persona_id)
    page = await keyset(session, query, (Staff.email, Staff.id), cursor=cursor, limit=limit)
    roles = await roles_on(session, persona_id)
    return Page(items=[(staff, roles[staff.id]) for staff in page.items], next_cursor=page.next_cursor)


async def team_of(session: AsyncSession, persona_id: uuid.UUID) -> list[tuple[Staff, Role]]:
    """Who works on a persona, with which role: managers first, then by name."""
    rows = await session.execute(
        select(Staff, Assignment.role)
        .join(Assignment, Assignment.staff_id == Staff.id)
        .where(Assignment.persona_id == persona_id)
    )
    team = [(staff, role) for staff, role in rows.all()]
    return sorted(team, key=lambda pair: (-pair[1].rank, pair[0].display_name.lower()))


async def assignments_of(session: AsyncSession, staff_id: uuid.UUID) -> list[tuple[Persona, Role]]:
    """A staff member's personas and roles, by persona name."""
    rows = await session.execute(
        select(Persona, Assignment.role)
        .join(Assignment, Assignment.persona_id == Persona.id)
        .where(Assignment.staff_id == staff_id)
        .order_by(Persona.name)
    )
    return [(persona, role) for persona, role in rows.all()]


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
        session,
        actor,
        "assignment.set",
        "assignment",
        assignment.id,
        persona_id=persona.id,
        before=before,
        after={"staff": staff.email, "persona": persona.slug, "role": role.value},
    )
    return assignment


async def unassign(session: AsyncSession, staff: Staff, persona: Persona, actor: Actor) -> None:
    assignment = await session.scalar(
        select(Assignment).where(Assignment.staff_id == staff.id, Assignment.persona_id == persona.id)
    )
    if assignment is None:
        raise StaffError(
            N_("%(email)s is not assigned to %(persona)s"),
            params={"email": staff.email, "persona": persona.slug},
            code="not_assigned",
        )
    await session.delete(assignment)
    record(
        session,
        actor,
        "assignment.removed",
        "assignment",
        assignment.id,
        persona_id=persona.id,
        before={"staff": staff.email, "persona": persona.slug, "role": assignment.role.value},
    )


async def roles_on(session: AsyncSession, persona_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    """staff id → role, for one persona."""
    rows = await session.execute(
        select(Assignment.staff_id, Assignment.role).where(Assignment.persona_id == persona_id)
    )
    return {staff_id: role for staff_id, role in rows.all()}


async def roles_of(session: AsyncSession, staff_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    """persona id → role, for one staff member."""
    rows = await session.execute(select(Assignment.persona_id, Assignment.role).where(Assignment.staff_id == staff_id))
    return {persona_id: role for persona_id, role in rows.all()}


async def staff_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Staff)) or 0)
