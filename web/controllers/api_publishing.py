"""/api/v1/personas/{persona_id}/…: composing, the live policy check, deliveries and their
history, approving, scheduling, the kill switch. Everything the publishing admin does.

Access: composing needs contributor; approving, sending back, retrying and settling an
uncertain delivery need editor; pausing needs manager; reading needs viewer. Moderators work
in the inbox only: they see no posts (403), although their role ranks above viewer.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryState, Role
from core.db.models import Delivery, Persona, Staff
from core.publishing import compose as service
from core.runtime import Runtime
from web import access
from web.auth import StaffUser
from web.controllers.personas_query import persona_or_404
from web.pagination import Cursor, Limit
from web.publishing import (
    PolicyBlockedException,
    actor_for,
    compose_post,
    delivery_or_404,
    delivery_out,
    findings_out,
    history_out,
    live_check,
    local_midnight,
    overrides_in,
    post_or_404,
    post_out,
    publishing_errors,
    resolve_when,
)
from web.schemas import (
    ApproveIn,
    CancelIn,
    CheckIn,
    CheckOut,
    ComposeIn,
    ComposeOut,
    DeliveryDetailOut,
    DeliveryOut,
    DeliveryPage,
    PauseIn,
    PauseOut,
    PostDetailOut,
    RescheduleIn,
    ResolveIn,
    SendBackIn,
    SubmitIn,
)

_PERSONA = "/{persona_id:uuid}"
_POST = _PERSONA + "/posts/{post_id:uuid}"
_DELIVERY = _PERSONA + "/deliveries/{delivery_id:uuid}"
#: moderators work in the inbox only
_NOT_MODERATOR = (Role.MODERATOR,)
_REFUSED = [ClientException]
_BLOCKABLE = [ClientException, PolicyBlockedException]

AccountFilter = Annotated[uuid.UUID | None, QueryParameter(name="accountId", description="one account of the persona")]
StateFilter = Annotated[
    list[DeliveryState] | None, QueryParameter(name="state", description="repeatable: state=scheduled&state=failed")
]
FromDate = Annotated[date | None, QueryParameter(name="from", description="first day, in the persona's time zone")]
ToDate = Annotated[
    date | None, QueryParameter(name="to", description="last day (included), in the persona's time zone")
]


def _registry(request: Request[Any, Any, Any]) -> Any:
    runtime: Runtime = request.app.state.runtime
    return runtime.channels


def _post_detail(post: Any) -> PostDetailOut:
    return PostDetailOut(post=post_out(post), deliveries=[delivery_out(d, d.account, post) for d in post.deliveries])


async def _pause_out(db: AsyncSession, persona: Persona) -> PauseOut:
    held = await service.paused_deliveries(db, persona.id) if persona.paused else []
    return PauseOut(
        persona_id=persona.id,
        paused=persona.paused,
        reason=persona.pause_reason,
        held=[delivery_out(d, d.account, d.post) for d in held],
    )


class PublishingApiController(Controller):
    path = "/api/v1/personas"
    tags = ["publishing"]

    # -------------------------------------------------------------- composing
    @post(
        _PERSONA + "/posts",
        summary="Compose a post: one delivery per account, after the policy engine has spoken",
        **access.persona(Role.CONTRIBUTOR, errors=_BLOCKABLE),
    )
    async def compose(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: JSONBody[ComposeIn],
    ) -> ComposeOut:
        persona = await persona_or_404(db_session, persona_id)
        with publishing_errors(persona):
            result = await compose_post(
                db_session, _registry(request), actor_for(request.user, persona_id), persona, data
            )
        post = await post_or_404(db_session, persona_id, result.post.id)
        accounts = {a.id: a for a in persona.accounts}
        return ComposeOut(
            post=post_out(post),
            deliveries=[delivery_out(d, d.account, post) for d in post.deliveries],
            findings=findings_out(result.findings, accounts),
        )

    @post(
        _PERSONA + "/posts/check",
        status_code=200,
        summary="The live policy check of a draft: findings and the network's text limits per account (writes nothing)",
        **access.persona(Role.CONTRIBUTOR, errors=_REFUSED),
    )
    async def check(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: JSONBody[CheckIn],
    ) -> CheckOut:
        persona = await persona_or_404(db_session, persona_id)
        composer = await db_session.get(Staff, request.user.id)
        with publishing_errors(persona):
            return await live_check(db_session, _registry(request), persona, composer, data)

    @get(_POST, summary="A post and its deliveries", **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def get_post(
        self, db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID], post_id: FromPath[uuid.UUID]
    ) -> PostDetailOut:
        return _post_detail(await post_or_404(db_session, persona_id, post_id))

    # -------------------------------------------------------------- approving
    @post(
        _POST + "/approve",
        status_code=200,
        summary="Approve a post's deliveries waiting for approval (not your own; review findings need a reason)",
        **access.persona(Role.EDITOR, errors=_BLOCKABLE),
    )
    async def approve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: JSONBody[ApproveIn],
    ) -> PostDetailOut:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        with publishing_errors(persona):
            await service.approve(
                db_session,
                _registry(request),
                actor_for(request.user, persona_id),
                post_id,
                reason=data.reason,
                overrides=overrides_in(data.overrides),
            )
        return _post_detail(await post_or_404(db_session, persona_id, post_id))

    @post(
        _POST + "/send-back",
        status_code=200,
        summary="Return a post waiting for approval to its author, with a comment",
        **access.persona(Role.EDITOR, errors=_REFUSED),
    )
    async def send_back(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: JSONBody[SendBackIn],
    ) -> PostDetailOut:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        with publishing_errors(persona):
            await service.send_back(db_session, actor_for(request.user, persona_id), post_id, comment=data.comment)
        return _post_detail(await post_or_404(db_session, persona_id, post_id))

    @post(
        _POST + "/submit",
        status_code=200,
        summary="Move a draft on: to approval (contributors, review findings) or to the schedule",
        **access.persona(Role.CONTRIBUTOR, errors=_BLOCKABLE),
    )
    async def submit(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: JSONBody[SubmitIn],
    ) -> PostDetailOut:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        with publishing_errors(persona):
            if data.publish_now and (data.scheduled_at or data.local_time):
                raise service.PublishingError("choose a time or publish now, not both", field="scheduled_at")
            when = resolve_when(persona, data.scheduled_at, data.local_time)
            await service.submit(
                db_session,
                _registry(request),
                actor_for(request.user, persona_id),
                post_id,
                scheduled_at=when,
                publish_now=data.publish_now,
            )
        return _post_detail(await post_or_404(db_session, persona_id, post_id))

    # -------------------------------------------------------------- deliveries
    @get(
        _PERSONA + "/deliveries",
        summary="The persona's deliveries by time, filtered; keyset pagination",
        **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR, errors=_REFUSED),
    )
    async def list_deliveries(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        account_id: AccountFilter = None,
        states: StateFilter = None,
        start: FromDate = None,
        end: ToDate = None,
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> DeliveryPage:
        persona = await persona_or_404(db_session, persona_id)
        with publishing_errors(persona):
            filters = service.DeliveryFilter(
                persona_ids=frozenset({persona_id}),
                persona_id=persona_id,
                account_id=account_id,
                states=tuple(states or ()),
                start=local_midnight(start, persona.timezone, "from") if start else None,
                end=local_midnight(end + timedelta(days=1), persona.timezone, "to") if end else None,
            )
            rows, next_cursor = await service.list_deliveries(db_session, filters, cursor=cursor, limit=limit)
        return DeliveryPage(items=[delivery_out(d, d.account, d.post) for d in rows], next_cursor=next_cursor)

    @get(
        _DELIVERY,
        summary="One delivery with its history: attempts, errors, approvals, the dry-run request",
        **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR),
    )
    async def get_delivery(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryDetailOut:
        delivery = await delivery_or_404(db_session, persona_id, delivery_id)
        return DeliveryDetailOut(
            delivery=delivery_out(delivery, delivery.account, delivery.post),
            post=post_out(delivery.post),
            history=await history_out(db_session, delivery_id),
        )

    @post(
        _DELIVERY + "/reschedule",
        status_code=200,
        summary="Move a delivery the queue does not have yet (the policy is checked again at the new time)",
        **access.persona(Role.CONTRIBUTOR, errors=_BLOCKABLE),
    )
    async def reschedule(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: JSONBody[RescheduleIn],
    ) -> DeliveryOut:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        with publishing_errors(persona):
            when = resolve_when(persona, data.scheduled_at, data.local_time)
            if when is None:
                raise service.PublishingError("give scheduledAt or localTime", field="scheduled_at")
            await service.reschedule(
                db_session, _registry(request), actor_for(request.user, persona_id), delivery_id, when
            )
        return await _delivery(db_session, persona_id, delivery_id)

    @post(
        _DELIVERY + "/cancel",
        status_code=200,
        summary="Cancel a delivery the queue does not have yet, or a failed or uncertain one",
        **access.persona(Role.CONTRIBUTOR, errors=_REFUSED),
    )
    async def cancel(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: JSONBody[CancelIn],
    ) -> DeliveryOut:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        with publishing_errors(persona):
            await service.cancel(db_session, actor_for(request.user, persona_id), delivery_id, reason=data.reason)
        return await _delivery(db_session, persona_id, delivery_id)

    @post(
        _DELIVERY + "/retry",
        status_code=200,
        summary="Try a failed delivery again now",
        **access.persona(Role.EDITOR, errors=_REFUSED),
    )
    async def retry(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryOut:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        with publishing_errors(persona):
            await service.retry(db_session, actor_for(request.user, persona_id), delivery_id)
        return await _delivery(db_session, persona_id, delivery_id)

    @post(
        _DELIVERY + "/resolve",
        status_code=200,
        summary="Settle an uncertain delivery: it was published (with its URL), or publish again",
        **access.persona(Role.EDITOR, errors=_REFUSED),
    )
    async def resolve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: JSONBody[ResolveIn],
    ) -> DeliveryOut:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        with publishing_errors(persona):
            await service.resolve_uncertain(
                db_session,
                actor_for(request.user, persona_id),
                delivery_id,
                published=data.published,
                remote_url=data.remote_url or None,
            )
        return await _delivery(db_session, persona_id, delivery_id)

    # -------------------------------------------------------------- kill switch
    @post(
        _PERSONA + "/pause",
        status_code=200,
        summary="Pause the persona: nothing goes out until resumed (managers)",
        **access.persona(Role.MANAGER, errors=_REFUSED),
    )
    async def pause(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: JSONBody[PauseIn],
    ) -> PauseOut:
        persona = await persona_or_404(db_session, persona_id)
        with publishing_errors(persona):
            await service.pause_persona(db_session, actor_for(request.user, persona_id), persona_id, reason=data.reason)
        return await _pause_out(db_session, persona)

    @post(
        _PERSONA + "/resume",
        status_code=200,
        summary="Resume publishing for the persona (managers)",
        **access.persona(Role.MANAGER, errors=_REFUSED),
    )
    async def resume(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> PauseOut:
        persona = await persona_or_404(db_session, persona_id)
        with publishing_errors(persona):
            await service.resume_persona(db_session, actor_for(request.user, persona_id), persona_id)
        return await _pause_out(db_session, persona)

    @get(
        _PERSONA + "/paused-deliveries",
        summary="Whether the persona is paused, why, and the deliveries the pause holds",
        **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR),
    )
    async def paused(self, db_session: NamedDependency[AsyncSession], persona_id: FromPath[uuid.UUID]) -> PauseOut:
        return await _pause_out(db_session, await persona_or_404(db_session, persona_id))


async def _delivery(db: AsyncSession, persona_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
    delivery: Delivery = await delivery_or_404(db, persona_id, delivery_id)
    return delivery_out(delivery, delivery.account, delivery.post)
