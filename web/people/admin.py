"""The HTML admin's people rooms: the staff list, creating, editing, assigning (site admins), and
« Mon compte »: my personas and roles, my password, my API tokens.

These forms show a refusal on themselves, in the words of the page (:func:`web.refusals.on_the_form`).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Employer, Role
from core.db.models import Staff
from core.people import staff as service
from core.people import tokens
from core.people.segregation import Mix, resource_mix
from core.people.staff import EmailTaken
from core.personas.service import personas_by_name
from core.security import MIN_PASSWORD_LENGTH, WeakPassword
from web import access
from web.auth import StaffUser, start_session
from web.deps import persona_or_404, staff_or_404
from web.forms import Form, flash
from web.i18n import gettext as _
from web.people.login import ONE_TIME_PROOF_S, ONE_TIME_PROVEN
from web.people.schemas import StaffIn
from web.refusals import on_the_form

EmployerValue = Literal["institution", "cabinet", "campaign", "other"]
RoleValue = Literal["manager", "editor", "contributor", "moderator", "viewer"]
NO_STORE = {"Cache-Control": "no-store"}


class NewStaffForm(msgspec.Struct):
    email: str
    display_name: str
    employer: EmployerValue = "institution"
    locale: Literal["fr", "en"] = "fr"
    is_admin: str | None = None


class EditStaffForm(msgspec.Struct):
    display_name: str
    employer: EmployerValue
    locale: Literal["fr", "en"] = "fr"
    is_admin: str | None = None


class ActiveForm(msgspec.Struct):
    active: Literal["0", "1"]


class AssignForm(msgspec.Struct):
    persona_id: uuid.UUID
    role: RoleValue


class PasswordForm(msgspec.Struct):
    new_password: str
    confirm_password: str
    #: not asked right after a login with a one-time password (:func:`_one_time_proven`)
    current_password: str = ""


class TokenForm(msgspec.Struct):
    name: str


async def _staff_page(
    db: AsyncSession, staff: Staff, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
) -> Template:
    context = {
        "staff": staff,
        "assigned": await service.assignments_of(db, staff.id),
        "personas": await personas_by_name(db),
        "roles": [r.value for r in Role],
        "employers": [e.value for e in Employer],
        **extra,
    }
    return Template("people/staff_detail.html", context=context, status_code=status, headers=headers)


async def _list_page(db: AsyncSession, status: int = 200, **extra: Any) -> Template:
    context = {
        "people": [(s, await service.assignments_of(db, s.id)) for s in await service.everyone(db)],
        "employers": [e.value for e in Employer],
        "form": None,
        "error": None,
        **extra,
    }
    return Template("people/staff_list.html", context=context, status_code=status)


async def _my_page(
    db: AsyncSession, me: Staff, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
) -> Template:
    context = {
        "me": me,
        "assigned": await service.assignments_of(db, me.id),
        "tokens": await tokens.tokens_of(db, me.id),
        "password_error": None,
        "token_secret": None,
        "min_length": MIN_PASSWORD_LENGTH,
        **extra,
    }
    return Template("people/me.html", context=context, status_code=status, headers=headers)


def _password_page(error: str | None, status: int = 200, *, proven: bool = False) -> Template:
    context = {"error": error, "min_length": MIN_PASSWORD_LENGTH, "one_time_proven": proven}
    return Template("people/password.html", context=context, status_code=status)


def _one_time_proven(request: Request[Any, Any, Any], me: Staff) -> bool:
    """Whether this session typed the one-time password at login, a moment ago."""
    at = request.session.get(ONE_TIME_PROVEN)
    return me.must_change_password and isinstance(at, int) and time.time() - at < ONE_TIME_PROOF_S


#: where a one-time password waits for the page that shows it, once (the session lives on the server)
_ONE_TIME_KEY = "one_time_password"


def _show_once(request: Request[StaffUser, Any, Any], staff: Staff, password: str, *, created: bool) -> Redirect:
    """Redirect after the POST (a refresh re-posts nothing); the staff page shows the password once."""
    request.session[_ONE_TIME_KEY] = {"staff_id": str(staff.id), "password": password, "created": created}
    return Redirect(f"/admin/staff/{staff.id}", status_code=303)


class AdminStaffController(Controller):
    path = "/admin/staff"
    include_in_schema = False

    @get("/", **access.admin())
    async def staff_list(self, db_session: NamedDependency[AsyncSession]) -> Template:
        return await _list_page(db_session)

    @post("/", **access.admin())
    async def create(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[NewStaffForm, Form],
    ) -> Template:
        fields = {"email": data.email.strip(), "displayName": data.display_name.strip(), "employer": data.employer}
        try:
            payload = msgspec.convert({**fields, "locale": data.locale, "isAdmin": data.is_admin is not None}, StaffIn)
        except msgspec.ValidationError:
            return await _list_page(db_session, 400, form=data, error=_("Give a valid e-mail address and a name."))
        async with on_the_form(db_session) as shown:
            staff, password = await service.create_with_one_time_password(
                db_session, actor=request.user.actor, **msgspec.structs.asdict(payload)
            )
        if isinstance(shown.refusal, EmailTaken):
            error = _("A staff member with this e-mail already exists.")
            return await _list_page(db_session, 409, form=data, error=error)
        if shown.refusal is not None:
            raise shown.refusal
        return _show_once(request, staff, password, created=True)

    @get("/{staff_id:uuid}", **access.admin())
    async def detail(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
    ) -> Template:
        shown = request.session.pop(_ONE_TIME_KEY, None)
        if isinstance(shown, dict) and shown.get("staff_id") == str(staff.id):
            extra = {"one_time_password": shown.get("password"), "created": bool(shown.get("created"))}
            return await _staff_page(db_session, staff, headers=NO_STORE, **extra)
        return await _staff_page(db_session, staff)

    @post("/{staff_id:uuid}", status_code=303, **access.admin())
    async def edit(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
        data: Annotated[EditStaffForm, Form],
    ) -> Redirect | Template:
        async with on_the_form(db_session) as shown:
            await service.update_staff(
                db_session,
                staff,
                request.user.actor,
                display_name=data.display_name,
                employer=Employer(data.employer),
                is_admin=data.is_admin is not None,
                locale=data.locale,
            )
        if shown.refusal is not None:
            error = _("This change is refused: a name is required, and you cannot remove your own administrator right.")
            return await _staff_page(db_session, staff, 400, error=error)
        flash(request, _("Saved."))
        return Redirect(f"/admin/staff/{staff.id}", status_code=303)

    @post("/{staff_id:uuid}/active", status_code=303, **access.admin())
    async def set_active(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
        data: Annotated[ActiveForm, Form],
    ) -> Redirect | Template:
        async with on_the_form(db_session) as shown:
            await service.set_active(db_session, staff, data.active == "1", request.user.actor)
        if shown.refusal is not None:
            return await _staff_page(db_session, staff, 400, error=_("You cannot deactivate your own account."))
        if staff.is_active:
            flash(request, _("Account reactivated."))
        else:
            flash(request, _("Account deactivated: they can no longer log in."))
        return Redirect(f"/admin/staff/{staff.id}", status_code=303)

    @post("/{staff_id:uuid}/password-reset", status_code=303, **access.admin())
    async def reset_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
    ) -> Redirect:
        password = await service.reset_password(db_session, staff, request.user.actor)
        return _show_once(request, staff, password, created=False)

    @post("/{staff_id:uuid}/assignments", status_code=303, **access.admin())
    async def assign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff: NamedDependency[Staff],
        data: Annotated[AssignForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, data.persona_id)
        role = Role(data.role)
        await service.assign(db_session, staff, persona, role, request.user.actor)
        message = _("%(name)s is now on %(persona)s.", name=staff.display_name, persona=persona.name)
        match resource_mix(staff, persona, role):
            case Mix.CAMPAIGN_ON_INSTITUTION:
                message += " " + _(
                    "Warning: %(name)s is paid by a campaign and now speaks for the institution: the institution's "
                    "resources must not serve a campaign, nor a campaign's people the institution (electoral code, "
                    "art. L52-8).",
                    name=staff.display_name,
                )
            case Mix.INSTITUTION_ON_OFFICIAL:
                message += " " + _(
                    "Warning: %(name)s is paid by the institution and now works on an elected official's personal "
                    "accounts: outside service hours only, and never for the campaign (electoral code, art. L52-8).",
                    name=staff.display_name,
                )
        flash(request, message)
        return Redirect(f"/admin/staff/{staff.id}", status_code=303)

    @post("/{staff_id:uuid}/assignments/{persona_id:uuid}/remove", status_code=303, **access.admin())
    async def unassign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
        persona_id: FromPath[uuid.UUID],
    ) -> Redirect:
        staff = await staff_or_404(db_session, staff_id)
        persona = await persona_or_404(db_session, persona_id)
        async with on_the_form(db_session):  # already gone: the page shows the truth
            await service.unassign(db_session, staff, persona, request.user.actor)
        flash(request, _("%(name)s no longer works on %(persona)s.", name=staff.display_name, persona=persona.name))
        return Redirect(f"/admin/staff/{staff_id}", status_code=303)


class AdminMeController(Controller):
    path = "/admin/me"
    include_in_schema = False

    @get("/", **access.staff())
    async def my_account(self, db_session: NamedDependency[AsyncSession], me: NamedDependency[Staff]) -> Template:
        return await _my_page(db_session, me)

    @get("/password", **access.staff(while_password_expired=True))
    async def password_page(self, request: Request[StaffUser, Any, Any], me: NamedDependency[Staff]) -> Template:
        return _password_page(None, proven=_one_time_proven(request, me))

    @post("/password", status_code=303, **access.staff(while_password_expired=True))
    async def change_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        me: NamedDependency[Staff],
        data: Annotated[PasswordForm, Form],
    ) -> Redirect | Template:
        proven = _one_time_proven(request, me)
        if data.new_password != data.confirm_password:
            return _password_page(_("The two new passwords differ."), 400, proven=proven)
        async with on_the_form(db_session) as shown:
            if proven:
                await service.replace_one_time_password(db_session, me, data.new_password)
            else:
                await service.change_own_password(db_session, me, data.current_password, data.new_password)
        if isinstance(shown.refusal, WeakPassword):
            too_short = _("A password needs at least %(num)d characters.", num=MIN_PASSWORD_LENGTH)
            return _password_page(too_short, 400, proven=proven)
        if shown.refusal is not None:
            return _password_page(_("The current password is wrong, or the new one is the same."), 400, proven=proven)
        request.session.pop(ONE_TIME_PROVEN, None)
        start_session(request, me)  # a new session id, bound to the new password; other sessions end
        flash(request, _("Your password is changed."))
        return Redirect("/admin/me", status_code=303)

    @post("/tokens", **access.staff())
    async def create_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        me: NamedDependency[Staff],
        data: Annotated[TokenForm, Form],
    ) -> Template:
        async with on_the_form(db_session) as shown:
            _token, secret = await tokens.create_token(db_session, me, data.name, request.user.actor)
        if shown.refusal is not None:
            error = _("Give the token a name (what script uses it?).")
            return await _my_page(db_session, me, 400, token_error=error)
        return await _my_page(db_session, me, 201, token_secret=secret, headers=NO_STORE)

    @post("/tokens/{token_id:uuid}/revoke", status_code=303, **access.staff())
    async def revoke_token(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        token_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await tokens.revoke_token(db_session, request.user.id, token_id, request.user.actor)
        flash(request, _("Token revoked."))
        return Redirect("/admin/me", status_code=303)
