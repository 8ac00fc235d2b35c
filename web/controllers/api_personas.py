"""/api/v1/personas: the personas the caller may see, their accounts (mode) and their team (assignments)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import service as account_service
from core.db.enums import AccountMode, Role
from core.db.models import Account, Assignment, Persona, Staff
from core.people import staff as staff_service
from web import access
from web.auth import StaffUser
from web.controllers.errors import refused_as_400
from web.controllers.personas_query import account_or_404, persona_or_404, staff_or_404, visible_query
from web.convert import account_out, member_out, persona_out
from web.pagination import Cursor, Limit, page
from web.schemas import (
    AccountModeIn,
    AccountOut,
    AccountPage,
    AssignmentIn,
    PersonaOut,
    PersonaPage,
    TeamMemberOut,
    TeamPage,
)

_PERSONA_ID = "persona_id:uuid"


class PersonaApiController(Controller):
    path = "/api/v1/personas"
    tags = ["personas"]

    @get("/", summary="Personas visible to the caller (assigned ones; every one for site admins)", **access.staff())
    async def list_personas(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> PersonaPage:
        rows, next_cursor = await page(
            db_session, visible_query(request.user), (Persona.slug, Persona.id), cursor=cursor, limit=limit
        )
        return PersonaPage(items=[persona_out(p, request.user.role_on(p.id)) for p in rows], next_cursor=next_cursor)

    @get(
        f"/{{{_PERSONA_ID}}}",
        summary="One persona: its policy per network and its accounts",
        **access.persona(Role.VIEWER, admin_sees=True),
    )
    async def get_persona(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> PersonaOut:
        return persona_out(await persona_or_404(db_session, persona_id), request.user.role_on(persona_id))

    @get(
        f"/{{{_PERSONA_ID}}}/accounts",
        summary="A persona's accounts: status and mode",
        **access.persona(Role.VIEWER, admin_sees=True),
    )
    async def list_accounts(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> AccountPage:
        await persona_or_404(db_session, persona_id)
        query = select(Account).where(Account.persona_id == persona_id)
        rows, next_cursor = await page(db_session, query, (Account.channel, Account.id), cursor=cursor, limit=limit)
        return AccountPage(items=[account_out(a) for a in rows], next_cursor=next_cursor)

    @patch(
        f"/{{{_PERSONA_ID}}}/accounts/{{account_id:uuid}}",
        summary="Switch an account between live and dry run (managers)",
        **access.persona(Role.MANAGER),
    )
    async def set_account_mode(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[AccountModeIn],
    ) -> AccountOut:
        account = await account_or_404(db_session, persona_id, account_id)
        await account_service.set_mode(db_session, account, AccountMode(data.mode), request.user.actor)
        return account_out(account)

    @get(
        f"/{{{_PERSONA_ID}}}/team",
        summary="Who works on this persona, with which role",
        **access.persona(Role.VIEWER, admin_sees=True),
    )
    async def list_team(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> TeamPage:
        await persona_or_404(db_session, persona_id)
        query = (
            select(Staff).join(Assignment, Assignment.staff_id == Staff.id).where(Assignment.persona_id == persona_id)
        )
        rows, next_cursor = await page(db_session, query, (Staff.email, Staff.id), cursor=cursor, limit=limit)
        roles = await _roles_on(db_session, persona_id)
        return TeamPage(items=[member_out(s, roles[s.id]) for s in rows], next_cursor=next_cursor)

    @put(
        f"/{{{_PERSONA_ID}}}/team/{{staff_id:uuid}}",
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
        persona = await persona_or_404(db_session, persona_id)
        staff = await staff_or_404(db_session, staff_id)
        await staff_service.assign(db_session, staff, persona, data.role, request.user.actor)
        return member_out(staff, data.role)

    @delete(
        f"/{{{_PERSONA_ID}}}/team/{{staff_id:uuid}}",
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
        persona = await persona_or_404(db_session, persona_id)
        staff = await staff_or_404(db_session, staff_id)
        if staff_id not in await _roles_on(db_session, persona_id):
            raise NotFoundException("this staff member is not assigned to this persona")
        with refused_as_400():
            await staff_service.unassign(db_session, staff, persona, request.user.actor)


async def _roles_on(db: AsyncSession, persona_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    rows = await db.execute(select(Assignment.staff_id, Assignment.role).where(Assignment.persona_id == persona_id))
    return {staff_id: role for staff_id, role in rows.all()}
