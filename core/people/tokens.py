"""Personal API tokens: shown once, stored hashed, revocable, acting with their owner's rights."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.db.models import ApiToken, Staff
from core.db.types import utcnow
from core.errors import N_, NotFound, Refusal
from core.pagination import Page, keyset
from core.security import hash_api_token, new_api_token

TOKEN_PREFIX = "pv_"
#: last_used_at is a hint for the owner, not an access log: one write a minute is enough
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(Refusal):
    """A token operation that cannot be done; the message says why."""


class UnknownToken(TokenError, NotFound):
    """No such token among the caller's own."""


async def create_token(session: AsyncSession, staff: Staff, name: str, actor: Actor) -> tuple[ApiToken, str]:
    """A new token for ``staff``; returns the row and the secret, which is never stored nor shown again."""
    name = name.strip()
    if not name:
        raise TokenError(N_("a token needs a name (what script uses it?)"), field="name", code="name_empty")
    secret, digest = new_api_token()
    token = ApiToken(staff_id=staff.id, name=name[:100], token_hash=digest)
    session.add(token)
    await session.flush()
    record(session, actor, "token.created", "api_token", token.id, after={"staff": staff.email, "name": token.name})
    return token, secret


async def tokens_of(session: AsyncSession, staff_id: uuid.UUID) -> list[ApiToken]:
    """A staff member's tokens, newest first, revoked ones included (they say what happened)."""
    query = select(ApiToken).where(ApiToken.staff_id == staff_id).order_by(ApiToken.created_at.desc(), ApiToken.id)
    return list((await session.scalars(query)).all())


async def token_page(session: AsyncSession, staff_id: uuid.UUID, *, cursor: str | None, limit: int) -> Page[ApiToken]:
    """A staff member's tokens, for the API (keyset pages)."""
    query = select(ApiToken).where(ApiToken.staff_id == staff_id)
    return await keyset(session, query, (ApiToken.id,), cursor=cursor, limit=limit)


async def revoke_token(session: AsyncSession, staff_id: uuid.UUID, token_id: uuid.UUID, actor: Actor) -> ApiToken:
    """Revoke one of ``staff_id``'s tokens; another person's token is as good as absent."""
    token = await session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.staff_id == staff_id))
    if token is None:
        raise UnknownToken(N_("no such token"), code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(session, actor, "token.revoked", "api_token", token.id, before={"name": token.name})
    return token


async def staff_for_token(session: AsyncSession, secret: str) -> Staff | None:
    """The active staff member a live token belongs to, or None. Notes when it was last used."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = await session.execute(
        select(ApiToken, Staff)
        .join(Staff, Staff.id == ApiToken.staff_id)
        .where(ApiToken.token_hash == hash_api_token(secret), ApiToken.revoked_at.is_(None), Staff.is_active.is_(True))
    )
    found = row.first()
    if found is None:
        return None
    token, staff = found
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
    return staff
