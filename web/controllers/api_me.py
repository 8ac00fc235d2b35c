"""/api/v1/me: the caller's own profile, password and API tokens."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ApiToken, Staff
from core.people import staff as staff_service
from core.people import tokens as token_service
from web import access
from web.auth import StaffUser, start_session
from web.controllers.errors import refused_as_400
from web.convert import staff_out, token_out
from web.pagination import Cursor, Limit, page
from web.schemas import MePatch, PasswordChangeIn, StaffOut, TokenCreated, TokenIn, TokenPage


async def me(db: AsyncSession, user: StaffUser) -> Staff:
    staff = await db.get(Staff, user.id)
    assert staff is not None  # the auth middleware just loaded them
    return staff


class MeApiController(Controller):
    path = "/api/v1/me"
    tags = ["me"]

    @get("/", summary="Who I am: profile, personas and roles", **access.staff(while_password_expired=True))
    async def get_me(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> StaffOut:
        staff = await me(db_session, request.user)
        return staff_out(staff, await staff_service.assignments_of(db_session, staff.id))

    @patch("/", summary="Change my display name or language", **access.staff())
    async def update_me(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[MePatch]
    ) -> StaffOut:
        staff = await me(db_session, request.user)
        fields = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        with refused_as_400():
            await staff_service.update_staff(db_session, staff, request.user.actor, **fields)
        return staff_out(staff, await staff_service.assignments_of(db_session, staff.id))

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
        data: JSONBody[PasswordChangeIn],
    ) -> None:
        staff = await me(db_session, request.user)
        with refused_as_400("currentPassword"):
            await staff_service.change_own_password(db_session, staff, data.current_password, data.new_password)
        if request.user.auth == "session":
            start_session(request, staff)  # other sessions end with the old password; this one goes on

    @get("/tokens", summary="My API tokens (the secrets are never shown again)", **access.staff())
    async def list_tokens(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> TokenPage:
        query = select(ApiToken).where(ApiToken.staff_id == request.user.id)
        rows, next_cursor = await page(db_session, query, (ApiToken.id,), cursor=cursor, limit=limit)
        return TokenPage(items=[token_out(t) for t in rows], next_cursor=next_cursor)

    @post("/tokens", summary="Create an API token; the secret is in this answer only", **access.staff())
    async def create_token(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[TokenIn]
    ) -> TokenCreated:
        staff = await me(db_session, request.user)
        with refused_as_400("name"):
            token, secret = await token_service.create_token(db_session, staff, data.name, request.user.actor)
        return TokenCreated(token=token_out(token), secret=secret)

    @delete(
        "/tokens/{token_id:uuid}", summary="Revoke one of my API tokens", **access.staff(errors=[NotFoundException])
    )
    async def revoke_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        token_id: FromPath[uuid.UUID],
    ) -> None:
        try:
            await token_service.revoke_token(db_session, request.user.id, token_id, request.user.actor)
        except token_service.TokenError:
            raise NotFoundException("no such token") from None
