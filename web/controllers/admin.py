"""The HTML admin: login, logout, language, the dashboards, personas and accounts.

Every handler declares its access rule (:mod:`web.access`); forms post back here with the
CSRF token and redirect (post/redirect/get); htmx only enhances them (the account mode switch
swaps its row in place).
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import service as account_service
from core.db.enums import AccountMode, AccountStatus, Role
from core.db.models import Persona, Staff
from core.people.staff import authenticate, team_of
from core.publishing.compose import paused_deliveries, persona_day
from web import access
from web.auth import StaffUser, start_session
from web.controllers.admin_me import AdminMeController
from web.controllers.admin_staff import AdminStaffController
from web.controllers.personas_query import account_or_404, persona_or_404, visible_personas
from web.i18n import LOCALE_COOKIE, LOCALES
from web.i18n import gettext as _
from web.labels import mode_label
from web.ratelimit import LoginThrottle

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
YEAR = 365 * 24 * 3600


class LoginForm(msgspec.Struct):
    email: str
    password: str
    next: str = "/admin"


class LocaleForm(msgspec.Struct):
    locale: str
    next: str = "/admin"


class ModeForm(msgspec.Struct):
    mode: Literal["live", "dry_run"]
    next: str = "/admin/accounts"


def safe_next(target: str) -> str:
    # Only local paths: never an open redirect to another site.
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/admin"


def flash(request: Request[Any, Any, Any], message: str) -> None:
    """A message shown once on the next page (kept in the server-side session)."""
    request.session["flash"] = message


class AuthController(Controller):
    include_in_schema = False

    @get("/login", exclude_from_auth=True, **access.public())
    async def login_page(self, next: FromQuery[str] = "/admin") -> Template:
        return Template("admin/login.html", context={"next": safe_next(next), "error": None})

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
        if data.locale in LOCALES:
            staff = await db_session.get(Staff, request.user.id)
            if staff is not None:
                staff.locale = data.locale
        return _locale_redirect(data)


def _login_refused(data: LoginForm, error: str, status: int, headers: dict[str, str] | None = None) -> Template:
    return Template(
        "admin/login.html", context={"next": safe_next(data.next), "error": error}, status_code=status, headers=headers
    )


def _locale_redirect(data: LocaleForm) -> Redirect:
    response = Redirect(safe_next(data.next), status_code=303)
    if data.locale in LOCALES:
        response.set_cookie(LOCALE_COOKIE, data.locale, max_age=YEAR, httponly=True, samesite="lax")
    return response


def _needs_attention(persona: Persona) -> list[Any]:
    return [a for a in persona.accounts if a.status != AccountStatus.CONNECTED]


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/", **access.staff())
    async def overview(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        """Each of my personas at a glance: paused, accounts to reconnect, accounts in dry run, my role."""
        personas = await visible_personas(db_session, request.user)
        return Template("admin/overview.html", context={"personas": personas, "attention": _needs_attention})

    @get("/personas", **access.staff())
    async def personas(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        personas = await visible_personas(db_session, request.user)
        return Template("admin/personas.html", context={"personas": personas})

    @get("/personas/{persona_id:uuid}", **access.persona(Role.VIEWER, admin_sees=True))
    async def persona_dashboard(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> Template:
        persona = await persona_or_404(db_session, persona_id)
        context = {
            "persona": persona,
            "my_role": request.user.role_on(persona_id),
            "attention": _needs_attention(persona),
            "team": await team_of(db_session, persona_id),
            "can_manage": _can_manage(request.user, persona_id),
            # what a pause holds (moderators see no posts)
            "held": await paused_deliveries(db_session, persona_id)
            if persona.paused and _sees_posts(request.user, persona_id)
            else [],
            "sees_posts": _sees_posts(request.user, persona_id),
            # today's deliveries against the cadence, what waits, what failed (not for moderators)
            "today": await persona_day(db_session, persona) if _sees_posts(request.user, persona_id) else None,
        }
        return Template("admin/persona.html", context=context)

    @get("/accounts", **access.staff())
    async def accounts(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        personas = await visible_personas(db_session, request.user)
        managed = {p.id for p in personas if _can_manage(request.user, p.id)}
        return Template("admin/accounts.html", context={"personas": personas, "managed": managed})

    @post(
        "/personas/{persona_id:uuid}/accounts/{account_id:uuid}/mode", status_code=303, **access.persona(Role.MANAGER)
    )
    async def set_account_mode(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
        data: Annotated[ModeForm, Form],
    ) -> Template | Redirect:
        account = await account_or_404(db_session, persona_id, account_id)
        await account_service.set_mode(db_session, account, AccountMode(data.mode), request.user.actor)
        if request.headers.get("hx-request"):
            return HTMXTemplate(
                template_name="admin/_account_row.html",
                context={"account": account, "can_manage": True, "next": safe_next(data.next)},
            )
        flash(request, _("Mode of @%(handle)s: %(mode)s.", handle=account.handle, mode=mode_label(account.mode)))
        return Redirect(safe_next(data.next), status_code=303)


def _sees_posts(user: StaffUser, persona_id: uuid.UUID) -> bool:
    """Everyone assigned but moderators (inbox only) and unassigned admins."""
    role = user.role_on(persona_id)
    return role is not None and role != Role.MODERATOR


def _can_manage(user: StaffUser, persona_id: uuid.UUID) -> bool:
    role = user.role_on(persona_id)
    return role is not None and role.at_least(Role.MANAGER)


ADMIN_CONTROLLERS = [AuthController, AdminController, AdminStaffController, AdminMeController]
