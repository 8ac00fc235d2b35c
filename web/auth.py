"""Who is asking: server-side sessions, the logged-in staff member, and the persona guards.

One authorization function (:func:`role_on`) is used by the API and the admin alike.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import Staff
from core.runtime import Runtime
from core.services.audit import Actor
from core.services.staff import roles_of


class StaffUser(msgspec.Struct, frozen=True, kw_only=True):
    """The logged-in staff member, as the request sees it."""

    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    locale: str
    roles: dict[uuid.UUID, Role]

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, label=self.email)

    def role_on(self, persona_id: uuid.UUID) -> Role | None:
        return role_on(self, persona_id)

    @property
    def persona_ids(self) -> set[uuid.UUID]:
        return set(self.roles)


def role_on(user: StaffUser, persona_id: uuid.UUID) -> Role | None:
    """The user's role on a persona; site admins manage staff, not content, so they need an assignment too."""
    return user.roles.get(persona_id)


def require_role(user: StaffUser, persona_id: uuid.UUID, minimum: Role) -> Role:
    """The user's role on the persona if it is at least ``minimum``.

    No assignment at all answers 404 (the persona does not exist for this user); an
    assignment with too small a role answers 403.
    """
    role = role_on(user, persona_id)
    if role is None:
        raise NotFoundException("no such persona")
    if not role.at_least(minimum):
        raise PermissionDeniedException(f"this needs the {minimum.value} role on this persona")
    return role


async def retrieve_staff(session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> StaffUser | None:
    raw_id = session.get("staff_id")
    if not raw_id:
        return None
    runtime: Runtime = connection.app.state.runtime
    async with runtime.session() as db:
        staff = await db.scalar(select(Staff).where(Staff.id == uuid.UUID(raw_id)))
        if staff is None or not staff.is_active:
            return None
        roles = await roles_of(db, staff.id)
    return StaffUser(
        id=staff.id,
        email=staff.email,
        display_name=staff.display_name,
        is_admin=staff.is_admin,
        locale=staff.locale,
        roles=roles,
    )


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = connection.user
    if not isinstance(user, StaffUser) or not user.is_admin:
        raise PermissionDeniedException("site administrators only")
