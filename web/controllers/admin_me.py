"""« Mon compte »: my personas and roles, my language, my password, my API tokens."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Staff
from core.people import staff as staff_service
from core.people import tokens as token_service
from core.security import MIN_PASSWORD_LENGTH, WeakPassword
from web import access
from web.auth import StaffUser, start_session
from web.i18n import gettext as _

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


class PasswordForm(msgspec.Struct):
    current_password: str
    new_password: str
    confirm_password: str


class TokenForm(msgspec.Struct):
    name: str


async def _me(db: AsyncSession, user: StaffUser) -> Staff:
    staff = await db.get(Staff, user.id)
    assert staff is not None
    return staff


async def _context(db: AsyncSession, user: StaffUser, **extra: Any) -> dict[str, Any]:
    staff = await _me(db, user)
    return {
        "me": staff,
        "assigned": await staff_service.assignments_of(db, staff.id),
        "tokens": await token_service.tokens_of(db, staff.id),
        "password_error": None,
        "token_secret": None,
        "min_length": MIN_PASSWORD_LENGTH,
        **extra,
    }


class AdminMeController(Controller):
    path = "/admin/me"
    include_in_schema = False

    @get("/", **access.staff())
    async def my_account(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        return Template("admin/me.html", context=await _context(db_session, request.user))

    @get("/password", **access.staff(while_password_expired=True))
    async def password_page(self, request: Request[StaffUser, Any, Any]) -> Template:
        return Template("admin/password.html", context={"error": None, "min_length": MIN_PASSWORD_LENGTH})

    @post("/password", status_code=303, **access.staff(while_password_expired=True))
    async def change_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[PasswordForm, Form],
    ) -> Redirect | Template:
        staff = await _me(db_session, request.user)
        error = None
        if data.new_password != data.confirm_password:
            error = _("The two new passwords differ.")
        else:
            try:
                await staff_service.change_own_password(db_session, staff, data.current_password, data.new_password)
            except WeakPassword:
                error = _("A password needs at least %(num)d characters.", num=MIN_PASSWORD_LENGTH)
            except staff_service.StaffError:
                error = _("The current password is wrong, or the new one is the same.")
        if error:
            return Template(
                "admin/password.html", context={"error": error, "min_length": MIN_PASSWORD_LENGTH}, status_code=400
            )
        start_session(request, staff)  # a new session id, bound to the new password; other sessions end
        request.session["flash"] = _("Your password is changed.")
        return Redirect("/admin/me", status_code=303)

    @post("/tokens", **access.staff())
    async def create_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[TokenForm, Form],
    ) -> Template:
        staff = await _me(db_session, request.user)
        try:
            _token, secret = await token_service.create_token(db_session, staff, data.name, request.user.actor)
        except token_service.TokenError:
            context = await _context(
                db_session, request.user, token_error=_("Give the token a name (what script uses it?).")
            )
            return Template("admin/me.html", context=context, status_code=400)
        context = await _context(db_session, request.user, token_secret=secret)
        return Template("admin/me.html", context=context, status_code=201, headers={"Cache-Control": "no-store"})

    @post("/tokens/{token_id:uuid}/revoke", status_code=303, **access.staff())
    async def revoke_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        token_id: FromPath[uuid.UUID],
    ) -> Redirect:
        try:
            await token_service.revoke_token(db_session, request.user.id, token_id, request.user.actor)
        except token_service.TokenError:
            from litestar.exceptions import NotFoundException

            raise NotFoundException("no such token") from None
        request.session["flash"] = _("Token revoked.")
        return Redirect("/admin/me", status_code=303)
