"""Logging in and out, and the language: before login a cookie, after login the staff member's own setting."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.people.staff import authenticate, remember_locale
from web import access
from web.auth import StaffUser, start_session
from web.forms import Form, safe_next
from web.i18n import LOCALE_COOKIE, LOCALES
from web.i18n import gettext as _
from web.ratelimit import LoginThrottle

YEAR = 365 * 24 * 3600


#: the session key saying when the one-time password was typed at login
ONE_TIME_PROVEN = "one_time_proven_at"
#: how long that login vouches for the person choosing their own password
ONE_TIME_PROOF_S = 15 * 60


class LoginForm(msgspec.Struct):
    email: str
    password: str
    next: str = "/admin"


class LocaleForm(msgspec.Struct):
    locale: str
    next: str = "/admin"


class AuthController(Controller):
    include_in_schema = False

    @get("/", exclude_from_auth=True, status_code=302, **access.public())
    async def home(self) -> Redirect:
        """The address people type: the admin (which asks for a login first)."""
        return Redirect("/admin", status_code=302)

    @get("/login", exclude_from_auth=True, **access.public())
    async def login_page(self, next: FromQuery[str] = "/admin") -> Template:
        return Template("login.html", context={"next": safe_next(next), "error": None})

    @post("/login", exclude_from_auth=True, status_code=303, **access.public())
    async def login(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[LoginForm, Form],
    ) -> Redirect | Template:
        throttle: LoginThrottle = request.app.state.login_throttle
        address = request.client.host if request.client else "unknown"
        if wait := await throttle.retry_after(data.email, address):
            error = _("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=math.ceil(wait / 60))
            return _login_refused(data, error, 429, {"Retry-After": str(wait)})
        staff = await authenticate(db_session, data.email, data.password)
        if staff is None:
            await throttle.failed(data.email, address)
            return _login_refused(data, _("Unknown e-mail or wrong password."), 401)
        await throttle.succeeded(data.email)
        start_session(request, staff)
        if staff.must_change_password:
            # the one-time password was just typed: the password page will not ask for it again
            request.session[ONE_TIME_PROVEN] = int(time.time())
        target = "/admin/me/password" if staff.must_change_password else safe_next(data.next)
        response = Redirect(target, status_code=303)
        response.set_cookie(LOCALE_COOKIE, staff.locale, max_age=YEAR, httponly=True, samesite="lax")
        return response

    @post("/logout", status_code=303, **access.staff(while_password_expired=True))
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/login", status_code=303)

    @post("/locale", exclude_from_auth=True, status_code=303, **access.public())
    async def set_locale(self, data: Annotated[LocaleForm, Form]) -> Redirect:
        """Before login: the language lives in a cookie."""
        return _locale_redirect(data)

    @post("/admin/me/locale", status_code=303, **access.staff(while_password_expired=True))
    async def set_my_locale(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[LocaleForm, Form],
    ) -> Redirect:
        """Logged in: the language is the staff member's own setting, kept for next time."""
        await remember_locale(db_session, request.user.id, data.locale)
        return _locale_redirect(data)


def _login_refused(data: LoginForm, error: str, status: int, headers: dict[str, str] | None = None) -> Template:
    context = {"next": safe_next(data.next), "error": error}
    return Template("login.html", context=context, status_code=status, headers=headers)


def _locale_redirect(data: LocaleForm) -> Redirect:
    response = Redirect(safe_next(data.next), status_code=303)
    if data.locale in LOCALES:
        response.set_cookie(LOCALE_COOKIE, data.locale, max_age=YEAR, httponly=True, samesite="lax")
    return response
