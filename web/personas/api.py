"""/api/v1/personas: the personas the caller may see, with their policy per network and accounts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.people.permissions import Action
from core.personas.service import persona_page
from web import access
from web.auth import StaffUser
from web.openapi import linked
from web.pagination import Cursor, Limit
from web.personas.schemas import PersonaOut, PersonaPage, persona_out

#: a list's first persona, for the routes of one persona (OpenAPI links: ``web.openapi``)
FIRST_PERSONA = {"persona_id": "$response.body#/items/0/id"}
_PERSONA_ROUTES = (
    "getPersona",
    "listAccounts",
    "listTeam",
    "listMedia",
    "listDeliveries",
    "paused",
    "check",
    "compose",
)


class PersonaApiController(Controller):
    path = "/api/v1/personas"
    tags = ["personas"]

    @get(
        "/",
        summary="Personas visible to the caller (assigned ones; every one for site admins)",
        operation_class=linked(200, **{name: FIRST_PERSONA for name in _PERSONA_ROUTES}),
        **access.staff(),
    )
    async def list_personas(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> PersonaPage:
        page = await persona_page(db_session, request.user.visible_persona_ids, cursor=cursor, limit=limit)
        items = [persona_out(p, request.user.role_on(p.id)) for p in page.items]
        return PersonaPage(items=items, next_cursor=page.next_cursor)

    @get(
        "/{persona_id:uuid}",
        summary="One persona: its policy per network and its accounts",
        **access.persona(Action.SEE_PERSONA),
    )
    async def get_persona(self, request: Request[StaffUser, Any, Any], persona: NamedDependency[Persona]) -> PersonaOut:
        return persona_out(persona, request.user.role_on(persona.id))
