"""The kill switch on both floors: the admin's pause and resume, the API's routes.

Pausing is ``Action.PAUSE`` (managers, and site administrators on any persona); what it does lives
in ``core.publishing.pause``. Resuming a persona whose held deliveries fell due during the pause
asks what becomes of each (send now, reschedule, cancel) before anything goes out: the admin shows
the list on its own page, the API answers 409 with the list until every one has a choice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.registry import ChannelRegistry
from core.db.models import Persona
from core.people.permissions import Action
from core.publishing import pause as service
from core.publishing.compose import PublishingError
from web import access
from web.access import ConflictException, PolicyBlockedException
from web.auth import StaffUser
from web.forms import Form, flash
from web.i18n import gettext as _
from web.messages import refusal_text
from web.publishing.admin import ReasonForm
from web.publishing.drafts import resolve_when
from web.publishing.form import local_input
from web.publishing.schemas import PauseIn, PauseOut, delivery_out
from web.refusals import back, on_the_form
from web.structs import ApiStruct

_PERSONA = "/{persona_id:uuid}"
_BACK_TO_PERSONA = back("/admin/personas/{persona_id}#publishing")
_REFUSED = [ClientException]
_RESUME_REFUSED = [ClientException, ConflictException, PolicyBlockedException]
_FIELD = {"choice": "choice-", "local_time": "local_time-", "reason": "reason-"}


class OverdueChoiceIn(ApiStruct):
    """What becomes of one overdue delivery: ``send_now``, ``reschedule`` (to ``scheduledAt``, with
    its offset, or ``localTime`` in the persona's time zone; the policy is checked at that time) or
    ``cancel`` (with an optional ``reason``)."""

    delivery_id: uuid.UUID
    choice: Literal["send_now", "reschedule", "cancel"]
    scheduled_at: datetime | None = None
    local_time: datetime | None = None
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ResumeIn(ApiStruct):
    """A choice for each delivery whose time passed during the pause (``overdue`` of the 409)."""

    choices: list[OverdueChoiceIn] = []


def pause_actor(user: StaffUser, persona_id: uuid.UUID) -> service.PauseActor:
    """The caller as the switch sees them: their role here (if any) and whether they are a site admin."""
    return service.PauseActor(id=user.id, label=user.email, role=user.role_on(persona_id), site_admin=user.is_admin)


async def _pause_out(db: AsyncSession, persona: Persona) -> PauseOut:
    held = await service.paused_deliveries(db, persona.id) if persona.paused else []
    return PauseOut(
        persona_id=persona.id,
        paused=persona.paused,
        reason=persona.pause_reason,
        held=[delivery_out(d) for d in held],
    )


def choices_from_form(form: FormMultiDict, persona: Persona) -> list[service.OverdueChoice]:
    """``choice-<delivery id>`` (send_now, reschedule, cancel), ``local_time-<id>``, ``reason-<id>``."""
    choices = []
    for key in form:
        if not key.startswith(_FIELD["choice"]):
            continue
        raw_id, value = key.removeprefix(_FIELD["choice"]), form.get(key, "")
        try:
            delivery_id, choice = uuid.UUID(raw_id), service.Choice(value)
        except ValueError:
            raise PublishingError(_("This choice is not valid: %(value)s", value=value), field="choice") from None
        when = None
        if choice == service.Choice.RESCHEDULE:
            local = local_input(form.get(_FIELD["local_time"] + raw_id, ""))
            if local is None:
                raise PublishingError(_("Choose the new date and time of each post to reschedule."), field="local_time")
            when = resolve_when(persona, None, local)
        reason = form.get(_FIELD["reason"] + raw_id, "")[:2000]
        choices.append(service.OverdueChoice(delivery_id=delivery_id, choice=choice, when=when, reason=reason))
    return choices


def choices_from_api(data: ResumeIn | None, persona: Persona) -> list[service.OverdueChoice]:
    choices = []
    for c in data.choices if data is not None else []:
        when = resolve_when(persona, c.scheduled_at, c.local_time) if c.choice == "reschedule" else None
        choice = service.Choice(c.choice)
        choices.append(service.OverdueChoice(delivery_id=c.delivery_id, choice=choice, when=when, reason=c.reason))
    return choices


class AdminPauseController(Controller):
    path = "/admin/personas"
    include_in_schema = False

    # -------------------------------------------------------------- kill switch
    @post(_PERSONA + "/pause", status_code=303, refused=_BACK_TO_PERSONA, **access.persona(Action.PAUSE))
    async def pause(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        await service.pause_persona(db_session, pause_actor(request.user, persona.id), persona.id, reason=data.reason)
        flash(request, _("Paused: nothing goes out for this persona."))
        return Redirect(f"/admin/personas/{persona.id}#publishing", status_code=303)

    @get(_PERSONA + "/resume", **access.persona(Action.PAUSE))
    async def resume_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
    ) -> Template | Redirect:
        """What the resume would send at once, a choice for each; the later ones go at their time."""
        if not persona.paused:
            return Redirect(f"/admin/personas/{persona.id}#publishing", status_code=303)
        return await resume_page(request, db_session, persona, form=None, error=None)

    @post(_PERSONA + "/resume", status_code=303, refused=_BACK_TO_PERSONA, **access.persona(Action.PAUSE))
    async def resume(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
    ) -> Template | Redirect:
        form = await request.form()
        # the choices applied before a refusal go away with it (a savepoint): all or nothing
        async with on_the_form(db_session) as shown:
            choices = choices_from_form(form, persona)
            await service.resume_persona(
                db_session, pause_actor(request.user, persona.id), persona.id, choices=choices, registry=registry
            )
        if shown.refusal is not None:
            first_step = isinstance(shown.refusal, service.OverdueWithoutChoice) and not form.get("step")
            error = None if first_step else refusal_text(shown.refusal)
            return await resume_page(request, db_session, persona, form=form, error=error, status_code=200)
        flash(request, _("Resumed: scheduled posts go out at their time."))
        return Redirect(f"/admin/personas/{persona.id}#publishing", status_code=303)


async def resume_page(
    request: Request[StaffUser, Any, Any],
    db: AsyncSession,
    persona: Persona,
    *,
    form: FormMultiDict | None,
    error: str | None,
    status_code: int = 200,
    action: str | None = None,
) -> Template:
    """The overdue list and a choice for each; ``action`` where the form posts (ending a crisis
    posture resumes through this same page)."""
    await db.refresh(persona)
    held = await service.paused_deliveries(db, persona.id)
    overdue = await service.overdue_deliveries(db, persona.id)
    overdue_ids = {d.id for d in overdue}
    context = {
        "persona": persona,
        "my_role": request.user.role_on(persona.id),
        "overdue": overdue,
        "later": [d for d in held if d.id not in overdue_ids],
        "typed": {key: form.get(key, "") for key in form} if form is not None else {},
        "error": error,
    }
    if action is not None:
        context["resume_action"] = action
    return Template("publishing/resume.html", context=context, status_code=status_code)


class PauseApiController(Controller):
    path = "/api/v1/personas"
    tags = ["publishing"]

    # -------------------------------------------------------------- kill switch
    @post(
        _PERSONA + "/pause",
        status_code=200,
        summary="Pause the persona: nothing goes out until resumed (managers, site administrators)",
        **access.persona(Action.PAUSE, errors=_REFUSED),
    )
    async def pause(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        data: JSONBody[PauseIn],
    ) -> PauseOut:
        await service.pause_persona(db_session, pause_actor(request.user, persona.id), persona.id, reason=data.reason)
        return await _pause_out(db_session, persona)

    @post(
        _PERSONA + "/resume",
        status_code=200,
        summary="Resume publishing for the persona, with a choice for each overdue delivery "
        "(managers, site administrators)",
        description=(
            "Deliveries whose time passed during the pause are *overdue*: a resume would send them at once. "
            "Give a choice for each in `choices` (`deliveryId`, `choice`: `send_now`, `reschedule` with "
            "`scheduledAt` or `localTime`, or `cancel` with an optional `reason`). While one has no choice the "
            "answer is 409 (`code` `overdue_without_choice`, `extra.overdue`: the overdue deliveries, by time) and "
            "nothing changes; the choices and the resume are applied together or not at all. Without overdue "
            "deliveries the body may be empty."
        ),
        **access.persona(Action.PAUSE, errors=_RESUME_REFUSED),
    )
    async def resume(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        data: JSONBody[ResumeIn | None] = None,
    ) -> PauseOut:
        choices = choices_from_api(data, persona)
        try:
            await service.resume_persona(
                db_session, pause_actor(request.user, persona.id), persona.id, choices=choices, registry=registry
            )
        except service.OverdueWithoutChoice as exc:
            exc.extra = {"overdue": msgspec.to_builtins([delivery_out(d) for d in exc.overdue])}
            raise
        return await _pause_out(db_session, persona)

    @get(
        _PERSONA + "/paused-deliveries",
        summary="Whether the persona is paused, why, and the deliveries the pause holds",
        **access.persona(Action.SEE_POSTS),
    )
    async def paused(self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]) -> PauseOut:
        return await _pause_out(db_session, persona)
