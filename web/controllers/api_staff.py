"""/api/v1/staff (site admins): create, edit, deactivate, reset a password. Assignments: see /personas/{id}/team."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Staff
from core.people import staff as staff_service
from web import access
from web.auth import StaffUser
from web.controllers.errors import refused_as_400
from web.controllers.personas_query import staff_or_404
from web.convert import staff_out
from web.pagination import Cursor, Limit, page
from web.schemas import PasswordResetOut, StaffCreated, StaffIn, StaffOut, StaffPage, StaffPatch


async def create_with_one_time_password(db: AsyncSession, data: StaffIn, user: StaffUser) -> tuple[Staff, str]:
    """A new staff member and the one-time password to hand over (replaced at their first login)."""
    if await db.scalar(select(Staff.id).where(Staff.email == data.email.strip().lower())):
        raise access.ConflictException(f"a staff member with e-mail {data.email} already exists")
    password = secrets.token_urlsafe(12)
    with refused_as_400("email"):
        staff = await staff_service.create_staff(
            db,
            email=data.email,
            display_name=data.display_name,
            password=password,
            actor=user.actor,
            is_admin=data.is_admin,
            employer=data.employer,
            locale=data.locale,
        )
    staff.must_change_password = True
    return staff, password


async def apply_patch(db: AsyncSession, staff: Staff, data: StaffPatch, user: StaffUser) -> None:
    """Profile fields, then the active flag (a separate audited event)."""
    fields = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET and k != "is_active"}
    with refused_as_400():
        await staff_service.update_staff(db, staff, user.actor, **fields)
        if data.is_active is not msgspec.UNSET and data.is_active != staff.is_active:
            await staff_service.set_active(db, staff, data.is_active, user.actor)


class StaffApiController(Controller):
    path = "/api/v1/staff"
    tags = ["staff"]

    @get("/", summary="Every staff member, by e-mail", **access.admin())
    async def list_staff(
        self, db_session: NamedDependency[AsyncSession], cursor: FromQuery[Cursor] = None, limit: FromQuery[Limit] = 50
    ) -> StaffPage:
        rows, next_cursor = await page(db_session, select(Staff), (Staff.email, Staff.id), cursor=cursor, limit=limit)
        return StaffPage(
            items=[staff_out(s, await staff_service.assignments_of(db_session, s.id)) for s in rows],
            next_cursor=next_cursor,
        )

    @post(
        "/",
        summary="Create a staff member; answers their one-time password, shown once",
        **access.admin(errors=[access.ConflictException]),
    )
    async def create_staff(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[StaffIn]
    ) -> StaffCreated:
        staff, password = await create_with_one_time_password(db_session, data, request.user)
        return StaffCreated(staff=staff_out(staff, []), one_time_password=password)

    @get(
        "/{staff_id:uuid}", summary="One staff member and their assignments", **access.admin(errors=[NotFoundException])
    )
    async def get_staff(self, db_session: NamedDependency[AsyncSession], staff_id: FromPath[uuid.UUID]) -> StaffOut:
        staff = await staff_or_404(db_session, staff_id)
        return staff_out(staff, await staff_service.assignments_of(db_session, staff.id))

    @patch(
        "/{staff_id:uuid}",
        summary="Edit a staff member (name, employer, admin right, active, language)",
        **access.admin(errors=[NotFoundException]),
    )
    async def update_staff(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
        data: JSONBody[StaffPatch],
    ) -> StaffOut:
        staff = await staff_or_404(db_session, staff_id)
        await apply_patch(db_session, staff, data, request.user)
        return staff_out(staff, await staff_service.assignments_of(db_session, staff.id))

    @post(
        "/{staff_id:uuid}/password-reset",
        status_code=200,
        summary="Reset a password: a one-time password (shown once), tokens and sessions revoked",
        **access.admin(errors=[NotFoundException]),
    )
    async def reset_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
    ) -> PasswordResetOut:
        staff = await staff_or_404(db_session, staff_id)
        return PasswordResetOut(
            one_time_password=await staff_service.reset_password(db_session, staff, request.user.actor)
        )
