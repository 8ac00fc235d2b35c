"""The kill switch on both floors: the admin's pause and resume buttons, the API's routes.

A pause is a manager's act (``Action.PAUSE``); what it does lives in ``core.publishing.pause``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import JSONBody
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.people.permissions import Action
from core.publishing import pause as service
from core.publishing.compose import StaffActor
from web import access
from web.auth import StaffUser
from web.forms import Form, flash
from web.i18n import gettext as _
from web.publishing.admin import ReasonForm
from web.publishing.schemas import PauseIn, PauseOut, delivery_out
from web.refusals import back

_PERSONA = "/{persona_id:uuid}"
_BACK_TO_PERSONA = back("/admin/personas/{persona_id}#publishing")
_REFUSED = [ClientException]


async def _pause_out(db: AsyncSession, persona: Persona) -> PauseOut:
    held = await service.paused_deliveries(db, persona.id) if persona.paused else []
    return PauseOut(
        persona_id=persona.id,
        paused=persona.paused,
        reason=persona.pause_reason,
        held=[delivery_out(d) for d in held],
    )


class AdminPauseController(Controller):
    path = "/admin/personas"
    include_in_schema = False

    # -------------------------------------------------------------- kill switch
    @post(_PERSONA + "/pause", status_code=303, refused=_BACK_TO_PERSONA, **access.persona(Action.PAUSE))
    async def pause(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        await service.pause_persona(db_session, actor, persona.id, reason=data.reason)
        flash(request, _("Paused: nothing goes out for this persona."))
        return Redirect(f"/admin/personas/{persona.id}#publishing", status_code=303)

    @post(_PERSONA + "/resume", status_code=303, refused=_BACK_TO_PERSONA, **access.persona(Action.PAUSE))
    async def resume(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
    ) -> Redirect:
        await service.resume_persona(db_session, actor, persona.id)
        flash(request, _("Resumed: scheduled posts go out at their time."))
        return Redirect(f"/admin/personas/{persona.id}#publishing", status_code=303)


class PauseApiController(Controller):
    path = "/api/v1/personas"
    tags = ["publishing"]

    # -------------------------------------------------------------- kill switch
    @post(
        _PERSONA + "/pause",
        status_code=200,
        summary="Pause the persona: nothing goes out until resumed (managers)",
        **access.persona(Action.PAUSE, errors=_REFUSED),
    )
    async def pause(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: JSONBody[PauseIn],
    ) -> PauseOut:
        await service.pause_persona(db_session, actor, persona.id, reason=data.reason)
        return await _pause_out(db_session, persona)

    @post(
        _PERSONA + "/resume",
        status_code=200,
        summary="Resume publishing for the persona (managers)",
        **access.persona(Action.PAUSE, errors=_REFUSED),
    )
    async def resume(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
    ) -> PauseOut:
        await service.resume_persona(db_session, actor, persona.id)
        return await _pause_out(db_session, persona)

    @get(
        _PERSONA + "/paused-deliveries",
        summary="Whether the persona is paused, why, and the deliveries the pause holds",
        **access.persona(Action.SEE_POSTS),
    )
    async def paused(self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]) -> PauseOut:
        return await _pause_out(db_session, persona)
