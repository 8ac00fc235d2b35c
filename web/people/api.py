"""/api/v1/me (my profile, password and API tokens), /api/v1/staff (site admins: create, edit,
deactivate, reset a password) and /api/v1/personas/{id}/team (who works on a persona; site
admins assign and remove)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona, Staff
from core.people import staff as service
from core.people import tokens
from core.people.permissions import Action
from web import access
from web.auth import StaffUser, start_session
from web.deps import persona_or_404, staff_or_404
from web.openapi import linked
from web.pagination import Cursor, Limit
from web.people.schemas import (
    AssignmentIn,
    MePatch,
    PasswordChangeIn,
    PasswordResetOut,
    StaffCreated,
    StaffIn,
    StaffOut,
    StaffPage,
    StaffPatch,
    TeamMemberOut,
    TeamPage,
    TokenCreated,
    TokenIn,
    TokenOut,
    TokenPage,
    member_out,
    staff_out,
)
from web.structs import out


def _given(data: msgspec.Struct, *leave_out: str) -> dict[str, Any]:
    """The fields a PATCH body sets."""
    fields = msgspec.structs.asdict(data).items()
    return {k: v for k, v in fields if v is not msgspec.UNSET and k not in leave_out}


async def _staff_out(db: AsyncSession, staff: Staff) -> StaffOut:
    return staff_out(staff, await service.assignments_of(db, staff.id))


async def _persona_and_staff(db: AsyncSession, persona_id: uuid.UUID, staff_id: uuid.UUID) -> tuple[Persona, Staff]:
    """Site admins' team routes look both up after the body is validated (a bad body is a 400 first)."""
    return await persona_or_404(db, persona_id), await staff_or_404(db, staff_id)


class MeApiController(Controller):
    path = "/api/v1/me"
    tags = ["me"]

    @get("/", summary="Who I am: profile, personas and roles", **access.staff(while_password_expired=True))
    async def get_me(self, db_session: NamedDependency[AsyncSession], me: NamedDependency[Staff]) -> StaffOut:
        return await _staff_out(db_session, me)

    @patch("/", summary="Change my display name or language", **access.staff())
    async def update_me(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        me: NamedDependency[Staff],
        data: JSONBody[MePatch],
    ) -> StaffOut:
        await service.update_staff(db_session, me, request.user.actor, **_given(data))
        return await _staff_out(db_session, me)

    @post(
        "/password",
        status_code=204,
        summary="Change my password (the current one is required)",
        **access.staff(while_password_expired=True),
    )
    async def change_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        me: NamedDependency[Staff],
        data: JSONBody[PasswordChangeIn],
    ) -> None:
        await service.change_own_password(db_session, me, data.current_password, data.new_password)
        if request.user.auth == "session":
            start_session(request, me)  # other sessions end with the old password; this one goes on

    @get("/tokens", summary="My API tokens (the secrets are never shown again)", **access.staff())
    async def list_tokens(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> TokenPage:
        return out(await tokens.token_page(db_session, request.user.id, cursor=cursor, limit=limit), TokenPage)

    @post(
        "/tokens",
        summary="Create an API token; the secret is in this answer only",
        operation_class=linked(201, revokeToken={"token_id": "$response.body#/token/id"}),
        **access.staff(),
    )
    async def create_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        me: NamedDependency[Staff],
        data: JSONBody[TokenIn],
    ) -> TokenCreated:
        token, secret = await tokens.create_token(db_session, me, data.name, request.user.actor)
        return TokenCreated(token=out(token, TokenOut), secret=secret)

    @delete(
        "/tokens/{token_id:uuid}", summary="Revoke one of my API tokens", **access.staff(errors=[NotFoundException])
    )
    async def revoke_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        token_id: FromPath[uuid.UUID],
    ) -> None:
        await tokens.revoke_token(db_session, request.user.id, token_id, request.user.actor)


#: the staff member just created (OpenAPI links: web.openapi)
_NEW_STAFF = {"staff_id": "$response.body#/staff/id"}


class StaffApiController(Controller):
    path = "/api/v1/staff"
    tags = ["staff"]

    @get(
        "/",
        summary="Every staff member, by e-mail",
        operation_class=linked(200, getStaff={"staff_id": "$response.body#/items/0/id"}),
        **access.admin(),
    )
    async def list_staff(
        self, db_session: NamedDependency[AsyncSession], cursor: FromQuery[Cursor] = None, limit: FromQuery[Limit] = 50
    ) -> StaffPage:
        page = await service.staff_page(db_session, cursor=cursor, limit=limit)
        return StaffPage(items=[await _staff_out(db_session, s) for s in page.items], next_cursor=page.next_cursor)

    @post(
        "/",
        summary="Create a staff member; answers their one-time password, shown once",
        operation_class=linked(201, **dict.fromkeys(("getStaff", "updateStaff", "resetPassword"), _NEW_STAFF)),
        **access.admin(errors=[access.ConflictException]),
    )
    async def create_staff(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[StaffIn]
    ) -> StaffCreated:
        staff, password = await service.create_with_one_time_password(
            db_session, actor=request.user.actor, **msgspec.structs.asdict(data)
        )
        return StaffCreated(staff=staff_out(staff, []), one_time_password=password)

    @get(
        "/{staff_id:uuid}", summary="One staff member and their assignments", **access.admin(errors=[NotFoundException])
    )
    async def get_staff(self, db_session: NamedDependency[AsyncSession], staff: NamedDependency[Staff]) -> StaffOut:
        return await _staff_out(db_session, staff)

    @patch(
        "/{staff_id:uuid}",
        summary="Edit a staff member (name, employer, admin right, active, language)",
        **access.admin(errors=[NotFoundException]),
    )
    async def update_staff(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
        data: JSONBody[StaffPatch],
    ) -> StaffOut:
        # profile fields, then the active flag (a separate audited event)
        await service.update_staff(db_session, staff, request.user.actor, **_given(data, "is_active"))
        if data.is_active is not msgspec.UNSET and data.is_active != staff.is_active:
            await service.set_active(db_session, staff, data.is_active, request.user.actor)
        return await _staff_out(db_session, staff)

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
        staff: NamedDependency[Staff],
    ) -> PasswordResetOut:
        return PasswordResetOut(one_time_password=await service.reset_password(db_session, staff, request.user.actor))


class TeamApiController(Controller):
    path = "/api/v1/personas/{persona_id:uuid}/team"
    tags = ["personas"]

    @get("/", summary="Who works on this persona, with which role", **access.persona(Action.SEE_PERSONA))
    async def list_team(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> TeamPage:
        page = await service.team_page(db_session, persona.id, cursor=cursor, limit=limit)
        return TeamPage(items=[member_out(s, role) for s, role in page.items], next_cursor=page.next_cursor)

    @put(
        "/{staff_id:uuid}",
        summary="Assign a staff member to this persona with a role (site admins)",
        **access.admin(errors=[NotFoundException]),
    )
    async def assign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        staff_id: FromPath[uuid.UUID],
        data: JSONBody[AssignmentIn],
    ) -> TeamMemberOut:
        persona, staff = await _persona_and_staff(db_session, persona_id, staff_id)
        await service.assign(db_session, staff, persona, data.role, request.user.actor)
        return member_out(staff, data.role)

    @delete(
        "/{staff_id:uuid}",
        summary="Remove a staff member from this persona (site admins)",
        **access.admin(errors=[NotFoundException]),
    )
    async def unassign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        staff_id: FromPath[uuid.UUID],
    ) -> None:
        persona, staff = await _persona_and_staff(db_session, persona_id, staff_id)
        if staff.id not in await service.roles_on(db_session, persona.id):
            raise NotFoundException("this staff member is not assigned to this persona")
        await service.unassign(db_session, staff, persona, request.user.actor)
