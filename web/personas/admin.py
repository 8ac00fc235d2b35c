"""The admin's home: each of my personas at a glance, the personas' definitions, one persona's dashboard."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountStatus
from core.db.models import Persona
from core.people.permissions import Action
from core.people.staff import team_of
from core.personas.service import visible_personas
from core.publishing.day import persona_day
from core.publishing.pause import paused_deliveries
from core.usage.alerts import open_alerts
from core.usage.alerts import text as alert_text
from core.veille.crisis import open_posture
from web import access
from web.auth import StaffUser
from web.i18n import gettext as _


def needs_attention(persona: Persona) -> list[Any]:
    return [a for a in persona.accounts if a.status != AccountStatus.CONNECTED]


class AdminPersonasController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/", **access.staff())
    async def overview(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        """Each of my personas at a glance: paused, accounts to reconnect, accounts in dry run, my role."""
        personas = await visible_personas(db_session, request.user.visible_persona_ids)
        # the open usage alerts of the personas whose usage this user may see (core.usage.alerts)
        names = {p.id: p.name for p in personas if request.user.can(p.id, Action.SEE_USAGE)}
        alerts: dict[Any, list[tuple[str, str]]] = {}
        for alert in await open_alerts(db_session, list(names)):
            alerts.setdefault(alert.persona_id, []).append((alert.kind, alert_text(alert, names[alert.persona_id], _)))
        context = {"personas": personas, "attention": needs_attention, "alerts": alerts}
        return Template("personas/overview.html", context=context)

    @get("/personas", **access.staff())
    async def personas(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        personas = await visible_personas(db_session, request.user.visible_persona_ids)
        return Template("personas/personas.html", context={"personas": personas})

    @get("/personas/{persona_id:uuid}", **access.persona(Action.SEE_PERSONA))
    async def persona_dashboard(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
    ) -> Template:
        # what a pause holds, today against the cadence, what waits, what failed: not for moderators
        sees_posts = request.user.can(persona.id, Action.SEE_POSTS)
        context = {
            "persona": persona,
            "my_role": request.user.role_on(persona.id),
            "attention": needs_attention(persona),
            "team": await team_of(db_session, persona.id),
            "held": await paused_deliveries(db_session, persona.id) if persona.paused and sees_posts else [],
            # a crisis posture proposed or in force: said first (web/veille/templates/_crisis_banner.html)
            "posture": await open_posture(db_session, persona.id),
            "today": await persona_day(
                db_session, persona, see_messages=request.user.can(persona.id, Action.SEE_PRIVATE_MESSAGES)
            )
            if sees_posts
            else None,
        }
        return Template("personas/persona.html", context=context)
