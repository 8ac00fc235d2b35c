"""/api/v1/personas: the personas the caller may see, with their channel policies and accounts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from web.auth import StaffUser
from web.controllers.personas_query import visible_personas
from web.schemas import AccountOut, ChannelPolicyOut, PersonaOut


def persona_out(persona: Persona) -> PersonaOut:
    return PersonaOut(
        id=persona.id,
        slug=persona.slug,
        name=persona.name,
        kind=persona.kind.value,
        embodies=persona.embodies,
        timezone=persona.timezone,
        editorial_line=persona.editorial_line,
        paused=persona.paused,
        channels=[
            ChannelPolicyOut(
                channel=p.channel,
                allowed=p.allowed,
                refusal_reason=p.refusal_reason,
                main=p.main,
                audience=p.audience,
                tone=p.tone,
                purpose=p.purpose,
                posts_per_day=p.posts_per_day,
                reposts_per_day=p.reposts_per_day,
                formats=list(p.formats),
            )
            for p in persona.channel_policies
        ],
        accounts=[
            AccountOut(
                id=a.id,
                channel=a.channel,
                handle=a.handle,
                display_name=a.display_name,
                status=a.status.value,
                mode=a.mode.value,
            )
            for a in persona.accounts
        ],
    )


class PersonaApiController(Controller):
    path = "/api/v1/personas"
    tags = ["personas"]

    @get("/", summary="Personas visible to the caller, with their policy per channel and their accounts")
    async def list_personas(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[PersonaOut]:
        return [persona_out(p) for p in await visible_personas(db_session, request.user)]
