"""Reading personas as the current user may see them (shared by the API and the admin)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.db.models import Persona
from web.auth import StaffUser


async def visible_personas(db: AsyncSession, user: StaffUser) -> list[Persona]:
    """Personas the user is assigned to; site admins see every persona's definition (to assign staff)."""
    query = select(Persona).options(selectinload(Persona.channel_policies), selectinload(Persona.accounts))
    if not user.is_admin:
        query = query.where(Persona.id.in_(user.persona_ids or {None}))
    return list((await db.scalars(query.order_by(Persona.kind.desc(), Persona.name))).all())
