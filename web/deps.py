"""What handlers receive instead of looking it up: Litestar dependencies, provided app-wide.

A handler names what it needs (``persona: NamedDependency[Persona]``): the request's database
session (one transaction per request), the persona of the path (404 if absent) and its
account, post, delivery, inbox item, saved reply or moderation action, the staff member of
the path, the acting staff member with their role on the persona, the caller's own row, the
channel registry and host, the runtime. The guard has already checked the access the route
declares when these run.

Litestar resolves the dependencies of one level concurrently: two that query the request's
one session must not sit on the same level. A post, a delivery or an account is looked up
*in* the persona (they depend on it); ``me`` and ``staff`` are for routes without a persona.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.service import persona_account
from core.channels.host import ChannelHost
from core.channels.registry import ChannelRegistry
from core.db.models import Account, Delivery, ModerationAction, Persona, Post, SavedReply, Staff
from core.errors import N_
from core.inbox import queries as inbox_queries
from core.inbox.queries import ItemRow
from core.people.permissions import Action
from core.people.staff import get_staff
from core.personas.service import get_persona
from core.publishing import queries
from core.publishing.compose import StaffActor
from core.runtime import Runtime


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back otherwise."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.session() as session:
        yield session


async def persona_or_404(db: AsyncSession, persona_id: uuid.UUID) -> Persona:
    """A persona with its policies and accounts."""
    persona = await get_persona(db, persona_id)
    if persona is None:
        raise NotFoundException(N_("no such persona"))
    return persona


async def provide_persona(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID]
) -> Persona:
    """The persona of the path, with its policies and accounts."""
    persona = await persona_or_404(db_session, persona_id)
    # what a refusal needs to name the accounts, once the transaction is gone (web.refusals)
    request.state.account_names = {a.id: (a.channel, a.handle) for a in persona.accounts}
    return persona


async def post_or_404(
    db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona], post_id: FromPath[uuid.UUID]
) -> Post:
    """A post of the persona of the path (another persona's post id answers 404, as if it did not exist)."""
    post = await queries.post_of(db_session, persona.id, post_id)
    if post is None:
        raise NotFoundException(N_("no such post"))
    return post


async def delivery_or_404(
    db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona], delivery_id: FromPath[uuid.UUID]
) -> Delivery:
    """A delivery on one of the persona's accounts, with its account and post."""
    delivery = await queries.delivery_of(db_session, persona.id, delivery_id)
    if delivery is None:
        raise NotFoundException(N_("no such delivery"))
    return delivery


async def account_or_404(
    db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona], account_id: FromPath[uuid.UUID]
) -> Account:
    """An account of the persona of the path (another persona's account id answers 404)."""
    account = await persona_account(db_session, persona.id, account_id)
    if account is None:
        raise NotFoundException(N_("no such account"))
    return account


async def inbox_item_or_404(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    persona: NamedDependency[Persona],
    item_id: FromPath[uuid.UUID],
) -> ItemRow:
    """An inbox item of the persona of the path. Another persona's item, and a private message
    to someone who may not read them, answer 404: they do not exist for the caller."""
    see_messages = request.user.can(persona.id, Action.SEE_PRIVATE_MESSAGES)
    item = await inbox_queries.item_of(db_session, persona.id, item_id, see_messages=see_messages)
    if item is None:
        raise NotFoundException(N_("no such inbox item"))
    return item


async def saved_reply_or_404(
    db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona], saved_reply_id: FromPath[uuid.UUID]
) -> SavedReply:
    """A saved reply of the persona of the path (another persona's answers 404)."""
    saved = await inbox_queries.saved_reply_of(db_session, persona.id, saved_reply_id)
    if saved is None:
        raise NotFoundException(N_("no such saved reply"))
    return saved


async def moderation_action_or_404(
    db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona], action_id: FromPath[uuid.UUID]
) -> ModerationAction:
    """A moderation action on an item of the persona of the path."""
    action = await inbox_queries.moderation_action_of(db_session, persona.id, action_id)
    if action is None:
        raise NotFoundException(N_("no such moderation action"))
    return action


async def staff_or_404(db_session: NamedDependency[AsyncSession], staff_id: FromPath[uuid.UUID]) -> Staff:
    """The staff member of the path (site admins' pages)."""
    staff = await get_staff(db_session, staff_id)
    if staff is None:
        raise NotFoundException(N_("no such staff member"))
    return staff


def provide_actor(request: Request[Any, Any, Any], persona_id: FromPath[uuid.UUID]) -> StaffActor:
    """The caller with their role on the persona of the path (the guard already checked they have one)."""
    role = request.user.role_on(persona_id)
    if role is None:  # pragma: no cover - the guard answers 404 first
        raise NotFoundException(N_("no such persona"))
    return StaffActor(id=request.user.id, label=request.user.email, role=role)


async def provide_me(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Staff:
    """The caller's own row (the authentication middleware just loaded them)."""
    staff = await get_staff(db_session, request.user.id)
    assert staff is not None
    return staff


def provide_runtime(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def provide_host(request: Request[Any, Any, Any]) -> ChannelHost:
    return request.app.state.runtime.host  # type: ignore[no-any-return]


def provide_registry(request: Request[Any, Any, Any]) -> ChannelRegistry:
    return request.app.state.runtime.channels  # type: ignore[no-any-return]


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "persona": Provide(provide_persona),
    "account": Provide(account_or_404),
    "post": Provide(post_or_404),
    "delivery": Provide(delivery_or_404),
    "inbox_item": Provide(inbox_item_or_404),
    "saved_reply": Provide(saved_reply_or_404),
    "moderation_action": Provide(moderation_action_or_404),
    "staff": Provide(staff_or_404),
    "actor": Provide(provide_actor, sync_to_thread=False),
    "me": Provide(provide_me),
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "registry": Provide(provide_registry, sync_to_thread=False),
    "host": Provide(provide_host, sync_to_thread=False),
}
