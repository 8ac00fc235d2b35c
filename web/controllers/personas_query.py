"""Reading personas, accounts and staff as the current user may see them (shared by the API and the admin)."""

from __future__ import annotations

import uuid

from litestar.exceptions import NotFoundException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.db.models import Account, Persona, Staff
from web.auth import StaffUser


def visible_query(user: StaffUser):  # type: ignore[no-untyped-def]
    """Personas the user is assigned to; site admins see every persona's definition (to assign staff)."""
    query = select(Persona).options(selectinload(Persona.channel_policies), selectinload(Persona.accounts))
    if not user.is_admin:
        query = query.where(Persona.id.in_(user.persona_ids or {uuid.UUID(int=0)}))
    return query


async def visible_personas(db: AsyncSession, user: StaffUser) -> list[Persona]:
    query = visible_query(user).order_by(Persona.kind.desc(), Persona.name)
    return list((await db.scalars(query)).all())


async def persona_or_404(db: AsyncSession, persona_id: uuid.UUID) -> Persona:
    """The persona (the guard already checked the caller may see it)."""
    persona = await db.scalar(
        select(Persona)
        .where(Persona.id == persona_id)
        .options(selectinload(Persona.channel_policies), selectinload(Persona.accounts))
    )
    if persona is None:
        raise NotFoundException("no such persona")
    return persona


async def account_or_404(db: AsyncSession, persona_id: uuid.UUID, account_id: uuid.UUID) -> Account:
    """An account of THIS persona: another persona's account id answers 404, as if it did not exist."""
    account = await db.scalar(select(Account).where(Account.id == account_id, Account.persona_id == persona_id))
    if account is None:
        raise NotFoundException("no such account")
    return account


async def staff_or_404(db: AsyncSession, staff_id: uuid.UUID) -> Staff:
    staff = await db.get(Staff, staff_id)
    if staff is None:
        raise NotFoundException("no such staff member")
    return staff
