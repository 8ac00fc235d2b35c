"""Crisis postures on both floors: the posture page (what triggered it, Accept / Decline / End, the
safety templates) and the API's routes.

Deciding is ``Action.DECIDE_POSTURE`` (managers; site administrators on any persona, like the
pause it pulls); seeing is ``Action.SEE_VEILLE``. What a decision does lives in
:mod:`core.veille.crisis`. Ending a posture is the pause's resume: while a held delivery fell due
during the crisis the admin shows the resume's own choices page (posting back here), and the API
answers 409 with the list, exactly as ``POST /resume`` does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.registry import ChannelRegistry
from core.db.models import CrisisPosture, Persona
from core.people.permissions import Action
from core.publishing import pause
from core.publishing.compose import StaffActor
from core.veille import crisis as service
from web import access
from web.access import ConflictException, PolicyBlockedException
from web.auth import StaffUser
from web.forms import Form, flash
from web.i18n import gettext as _
from web.messages import refusal_text
from web.publishing.pause import ResumeIn, choices_from_api, choices_from_form, pause_actor, resume_page
from web.refusals import back, on_the_form
from web.structs import ApiStruct

_PERSONA = "/{persona_id:uuid}"
_CRISIS = _PERSONA + "/veille/crisis"
_POSTURE = _PERSONA + "/veille/postures/{posture_id:uuid}"
_BACK = back("/admin/personas/{persona_id}/veille/crisis")
_REFUSED = [ClientException, ConflictException]
_END_REFUSED = [ClientException, ConflictException, PolicyBlockedException]


class DeclineForm(msgspec.Struct):
    reason: str = ""


class DeclineIn(ApiStruct):
    """Why it is not a crisis for this persona (kept in the audit log)."""

    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class PostureOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    #: proposed, accepted, declined or ended
    state: str
    #: keyword, vigilance, spike
    trigger: str
    item_id: uuid.UUID | None
    proposed_at: datetime
    decided_at: datetime | None
    decided_by_id: uuid.UUID | None
    ended_at: datetime | None
    #: what proposed it, in order: each signal's kind, time, figures (keyword, level and area, counts), item
    signals: list[dict[str, Any]]
    #: the deliveries the posture's pause held when it was accepted
    held_delivery_ids: list[str]
    #: the tighter response targets while it stands, beside the usual ones (minutes)
    inbox_targets: dict[str, int]
    pause_reason: str | None


def posture_out(posture: CrisisPosture) -> PostureOut:
    detail = posture.detail or {}
    return PostureOut(
        id=posture.id,
        persona_id=posture.persona_id,
        state=posture.state,
        trigger=posture.trigger,
        item_id=posture.item_id,
        proposed_at=posture.proposed_at,
        decided_at=posture.decided_at,
        decided_by_id=posture.decided_by_id,
        ended_at=posture.ended_at,
        signals=list(detail.get("signals", [])),
        held_delivery_ids=[str(i) for i in posture.held_delivery_ids],
        inbox_targets=dict(detail.get("inbox_targets", {})),
        pause_reason=detail.get("pause_reason"),
    )


def signal_text(signal: dict[str, Any]) -> str:
    """One signal as the posture page says it."""
    kind = signal.get("kind")
    if kind == "vigilance":
        level = _("Red vigilance") if signal.get("level") == "red" else _("Orange vigilance")
        return _(
            "%(level)s for %(area)s (%(departement)s)",
            level=level,
            area=signal.get("area") or "",
            departement=signal.get("departement_name") or signal.get("departement") or "",
        )
    if kind == "crisis_keyword":
        return _("Crisis keyword “%(keyword)s”", keyword=signal.get("keyword", ""))
    return _(
        "Volume spike: %(last24)s items in 24 hours, against %(mean)s a day (threshold %(threshold)s)",
        last24=signal.get("last24", ""),
        mean=signal.get("mean", ""),
        threshold=signal.get("threshold", ""),
    )


def state_label(state: str) -> str:
    return {
        "proposed": _("Proposed"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
        "ended": _("Ended"),
    }.get(state, state)


class AdminCrisisController(Controller):
    path = "/admin/personas"
    include_in_schema = False

    @get(_CRISIS, **access.persona(Action.SEE_VEILLE))
    async def page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
    ) -> Template:
        """The open posture (what triggered it, the decision, what it holds, the safety templates) and the past ones."""
        postures = await service.postures_of(db_session, persona.id)
        current = next((p for p in postures if p.state in service.OPEN), None)
        held = []
        if current is not None and current.held_delivery_ids:
            wanted = set(current.held_delivery_ids)
            held = [d for d in await pause.paused_deliveries(db_session, persona.id) if str(d.id) in wanted]
        templates = service.veille_settings(persona).safety_templates
        context = {
            "persona": persona,
            "my_role": request.user.role_on(persona.id),
            "current": current,
            "past": [p for p in postures if p is not current],
            "held": held,
            "templates": [(t, service.safety_text(current, t)) for t in templates] if current else [],
            "may_decide": service.may_decide(request.user.role_on(persona.id), site_admin=request.user.is_admin),
            "signal_text": signal_text,
            "state_label": state_label,
        }
        return Template("veille/crisis.html", context=context)

    @post(_POSTURE + "/accept", status_code=303, refused=_BACK, **access.persona(Action.DECIDE_POSTURE))
    async def accept(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await service.accept(db_session, pause_actor(request.user, persona.id), persona.id, posture_id)
        flash(request, _("Crisis posture accepted: promotional posts are held; safety messages and replies go out."))
        return Redirect(f"/admin/personas/{persona.id}/veille/crisis", status_code=303)

    @post(_POSTURE + "/decline", status_code=303, refused=_BACK, **access.persona(Action.DECIDE_POSTURE))
    async def decline(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
        data: Annotated[DeclineForm, Form],
    ) -> Redirect:
        actor = pause_actor(request.user, persona.id)
        await service.decline(db_session, actor, persona.id, posture_id, reason=data.reason[:2000])
        flash(request, _("Crisis posture declined: nothing is paused."))
        return Redirect(f"/admin/personas/{persona.id}/veille/crisis", status_code=303)

    @post(_POSTURE + "/end", status_code=303, refused=_BACK, **access.persona(Action.DECIDE_POSTURE))
    async def end(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        form = await request.form()
        async with on_the_form(db_session) as shown:
            choices = choices_from_form(form, persona)
            actor = pause_actor(request.user, persona.id)
            await service.end(db_session, actor, persona.id, posture_id, choices=choices, registry=registry)
        if shown.refusal is not None:
            if not isinstance(shown.refusal, pause.OverdueWithoutChoice) and not persona.paused:
                raise shown.refusal
            # the resume's own page, posting back here
            first_step = isinstance(shown.refusal, pause.OverdueWithoutChoice) and not form.get("step")
            return await _end_page(
                request, db_session, persona, posture_id, form=form, error=None if first_step else shown.refusal
            )
        flash(request, _("Crisis posture ended: scheduled posts go out at their time."))
        return Redirect(f"/admin/personas/{persona.id}/veille/crisis", status_code=303)

    @post(_POSTURE + "/safety/{code:str}", status_code=303, refused=_BACK, **access.persona(Action.COMPOSE))
    async def draft_safety(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
        code: FromPath[str],
    ) -> Redirect:
        post_ = await service.draft_safety_message(db_session, registry, actor, persona.id, posture_id, code)
        flash(request, _("Safety message drafted: check it, then schedule or publish it."))
        return Redirect(f"/admin/personas/{persona.id}/posts/{post_.id}/edit", status_code=303)


async def _end_page(
    request: Request[StaffUser, Any, Any],
    db: AsyncSession,
    persona: Persona,
    posture_id: uuid.UUID,
    *,
    form: Any,
    error: Any,
) -> Template:
    """The pause's resume page, posting back to the posture's end."""
    return await resume_page(
        request,
        db,
        persona,
        form=form,
        error=refusal_text(error) if error is not None else None,
        action=f"/admin/personas/{persona.id}/veille/postures/{posture_id}/end",
    )


class CrisisApiController(Controller):
    path = "/api/v1/personas"
    tags = ["veille"]

    @get(
        _PERSONA + "/veille/postures",
        summary="The persona's crisis postures, the latest first (proposed, accepted, declined, ended)",
        **access.persona(Action.SEE_VEILLE),
    )
    async def postures(
        self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]
    ) -> list[PostureOut]:
        return [posture_out(p) for p in await service.postures_of(db_session, persona.id)]

    @post(
        _POSTURE + "/accept",
        status_code=200,
        summary="Accept a proposed crisis posture: the persona's promotional posts held by its kill switch "
        "(managers, site administrators)",
        **access.persona(Action.DECIDE_POSTURE, errors=_REFUSED),
    )
    async def accept(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
    ) -> PostureOut:
        actor = pause_actor(request.user, persona.id)
        return posture_out(await service.accept(db_session, actor, persona.id, posture_id))

    @post(
        _POSTURE + "/decline",
        status_code=200,
        summary="Decline a proposed crisis posture: nothing is paused (managers, site administrators)",
        **access.persona(Action.DECIDE_POSTURE, errors=_REFUSED),
    )
    async def decline(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
        data: JSONBody[DeclineIn | None] = None,
    ) -> PostureOut:
        actor = pause_actor(request.user, persona.id)
        reason = data.reason if data is not None else ""
        return posture_out(await service.decline(db_session, actor, persona.id, posture_id, reason=reason))

    @post(
        _POSTURE + "/end",
        status_code=200,
        summary="End an accepted crisis posture: the pause's resume, a choice for each overdue delivery "
        "(managers, site administrators)",
        description=(
            "As `POST /resume`: while a delivery held by the posture fell due, the answer is 409 (`code` "
            "`overdue_without_choice`, `extra.overdue`) and nothing changes; give a choice for each in `choices`."
        ),
        **access.persona(Action.DECIDE_POSTURE, errors=_END_REFUSED),
    )
    async def end(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        posture_id: FromPath[uuid.UUID],
        data: JSONBody[ResumeIn | None] = None,
    ) -> PostureOut:
        actor = pause_actor(request.user, persona.id)
        choices = choices_from_api(data, persona)
        try:
            posture = await service.end(db_session, actor, persona.id, posture_id, choices=choices, registry=registry)
        except pause.OverdueWithoutChoice as exc:
            from web.publishing.schemas import delivery_out

            exc.extra = {"overdue": msgspec.to_builtins([delivery_out(d) for d in exc.overdue])}
            raise
        return posture_out(posture)
