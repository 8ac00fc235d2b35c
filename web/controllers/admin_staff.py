"""The HTML admin's staff rooms (site admins): the staff list, creating, editing, assigning."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Employer, Role
from core.db.models import Persona, Staff
from core.people import staff as staff_service
from web import access
from web.auth import StaffUser
from web.controllers.api_staff import create_with_one_time_password
from web.controllers.personas_query import persona_or_404, staff_or_404
from web.i18n import gettext as _
from web.schemas import StaffIn

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
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


async def _staff_context(db: AsyncSession, staff: Staff, **extra: Any) -> dict[str, Any]:
    assigned = await staff_service.assignments_of(db, staff.id)
    personas = (await db.scalars(select(Persona).order_by(Persona.name))).all()
    return {
        "staff": staff,
        "assigned": assigned,
        "personas": personas,
        "roles": [r.value for r in Role],
        "employers": [e.value for e in Employer],
        **extra,
    }


async def _list_context(db: AsyncSession, **extra: Any) -> dict[str, Any]:
    people = (await db.scalars(select(Staff).order_by(Staff.is_active.desc(), Staff.display_name))).all()
    return {
        "people": [(s, await staff_service.assignments_of(db, s.id)) for s in people],
        "employers": [e.value for e in Employer],
        "form": None,
        "error": None,
        **extra,
    }


class AdminStaffController(Controller):
    path = "/admin/staff"
    include_in_schema = False

    @get("/", **access.admin())
    async def staff_list(self, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template("admin/staff_list.html", context=await _list_context(db_session))

    @post("/", **access.admin())
    async def create(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[NewStaffForm, Form],
    ) -> Template:
        try:
            payload = msgspec.convert(
                {
                    "email": data.email.strip(),
                    "displayName": data.display_name.strip(),
                    "employer": data.employer,
                    "locale": data.locale,
                    "isAdmin": data.is_admin is not None,
                },
                StaffIn,
            )
        except msgspec.ValidationError:
            error = _("Give a valid e-mail address and a name.")
            return Template(
                "admin/staff_list.html",
                context=await _list_context(db_session, form=data, error=error),
                status_code=400,
            )
        try:
            staff, password = await create_with_one_time_password(db_session, payload, request.user)
        except access.ConflictException:
            error = _("A staff member with this e-mail already exists.")
            return Template(
                "admin/staff_list.html",
                context=await _list_context(db_session, form=data, error=error),
                status_code=409,
            )
        context = await _staff_context(db_session, staff, one_time_password=password, created=True)
        return Template("admin/staff_detail.html", context=context, status_code=201, headers=NO_STORE)

    @get("/{staff_id:uuid}", **access.admin())
    async def detail(self, db_session: NamedDependency[AsyncSession], staff_id: FromPath[uuid.UUID]) -> Template:
        staff = await staff_or_404(db_session, staff_id)
        return Template("admin/staff_detail.html", context=await _staff_context(db_session, staff))

    @post("/{staff_id:uuid}", status_code=303, **access.admin())
    async def edit(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
        data: Annotated[EditStaffForm, Form],
    ) -> Redirect | Template:
        staff = await staff_or_404(db_session, staff_id)
        try:
            await staff_service.update_staff(
                db_session,
                staff,
                request.user.actor,
                display_name=data.display_name,
                employer=Employer(data.employer),
                is_admin=data.is_admin is not None,
                locale=data.locale,
            )
        except staff_service.StaffError:
            error = _("This change is refused: a name is required, and you cannot remove your own administrator right.")
            return Template(
                "admin/staff_detail.html", context=await _staff_context(db_session, staff, error=error), status_code=400
            )
        _flash(request, _("Saved."))
        return Redirect(f"/admin/staff/{staff_id}", status_code=303)

    @post("/{staff_id:uuid}/active", status_code=303, **access.admin())
    async def set_active(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
        data: Annotated[ActiveForm, Form],
    ) -> Redirect | Template:
        staff = await staff_or_404(db_session, staff_id)
        try:
            await staff_service.set_active(db_session, staff, data.active == "1", request.user.actor)
        except staff_service.StaffError:
            error = _("You cannot deactivate your own account.")
            return Template(
                "admin/staff_detail.html", context=await _staff_context(db_session, staff, error=error), status_code=400
            )
        _flash(
            request,
            _("Account reactivated.") if staff.is_active else _("Account deactivated: they can no longer log in."),
        )
        return Redirect(f"/admin/staff/{staff_id}", status_code=303)

    @post("/{staff_id:uuid}/password-reset", **access.admin())
    async def reset_password(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
    ) -> Template:
        staff = await staff_or_404(db_session, staff_id)
        password = await staff_service.reset_password(db_session, staff, request.user.actor)
        context = await _staff_context(db_session, staff, one_time_password=password)
        return Template("admin/staff_detail.html", context=context, headers=NO_STORE)

    @post("/{staff_id:uuid}/assignments", status_code=303, **access.admin())
    async def assign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        staff_id: FromPath[uuid.UUID],
        data: Annotated[AssignForm, Form],
    ) -> Redirect:
        staff = await staff_or_404(db_session, staff_id)
        persona = await persona_or_404(db_session, data.persona_id)
        await staff_service.assign(db_session, staff, persona, Role(data.role), request.user.actor)
        _flash(request, _("%(name)s is now on %(persona)s.", name=staff.display_name, persona=persona.name))
        return Redirect(f"/admin/staff/{staff_id}", status_code=303)

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
        try:
            await staff_service.unassign(db_session, staff, persona, request.user.actor)
        except staff_service.StaffError:
            pass  # already gone: the page shows the truth
        _flash(request, _("%(name)s no longer works on %(persona)s.", name=staff.display_name, persona=persona.name))
        return Redirect(f"/admin/staff/{staff_id}", status_code=303)


def _flash(request: Request[Any, Any, Any], message: str) -> None:
    request.session["flash"] = message
