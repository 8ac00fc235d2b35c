"""The HTML admin's first rooms: login, logout, language, the personas overview."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.services.staff import authenticate
from web.auth import StaffUser
from web.controllers.personas_query import visible_personas
from core.db.models import Staff
from web.i18n import LOCALE_COOKIE, LOCALES, gettext as _


class LoginForm(msgspec.Struct):
    email: str
    password: str
    next: str = "/admin"


class LocaleForm(msgspec.Struct):
    locale: str
    next: str = "/admin"


def _safe_next(target: str) -> str:
    # Only local paths: never an open redirect to another site.
    return target if target.startswith("/") and not target.startswith("//") else "/admin"


class AuthController(Controller):
    include_in_schema = False

    @get("/login", exclude_from_auth=True)
    async def login_page(self, next: FromQuery[str] = "/admin") -> Template:
        return Template("admin/login.html", context={"next": _safe_next(next), "error": None})

    @post("/login", exclude_from_auth=True, status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        staff = await authenticate(db_session, data.email, data.password)
        if staff is None:
            return Template(
                "admin/login.html",
                context={"next": _safe_next(data.next), "error": _("Unknown e-mail or wrong password.")},
                status_code=401,
            )
        # A new session id at login: a session fixed before login is worth nothing after.
        request.clear_session()
        request.set_session({"staff_id": str(staff.id)})
        response = Redirect(_safe_next(data.next), status_code=303)
        response.set_cookie(LOCALE_COOKIE, staff.locale, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
        return response

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/login", status_code=303)

    @post("/locale", exclude_from_auth=True, status_code=303)
    async def set_locale(
        self, data: Annotated[LocaleForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
    ) -> Redirect:
        """Before login: the language lives in a cookie."""
        return _locale_redirect(data)

    @post("/admin/me/locale", status_code=303)
    async def set_my_locale(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[LocaleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Logged in: the language is the staff member's own setting, kept for next time."""
        if data.locale in LOCALES:
            staff = await db_session.get(Staff, request.user.id)
            if staff is not None:
                staff.locale = data.locale
        return _locale_redirect(data)


def _locale_redirect(data: LocaleForm) -> Redirect:
    response = Redirect(_safe_next(data.next), status_code=303)
    if data.locale in LOCALES:
        response.set_cookie(LOCALE_COOKIE, data.locale, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/")
    async def dashboard(self) -> Redirect:
        return Redirect("/admin/personas")

    @get("/personas")
    async def personas(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        personas = await visible_personas(db_session, request.user)
        return Template("admin/personas.html", context={"personas": personas})
