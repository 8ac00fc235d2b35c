"""/api/v1/personas/{persona_id}/…: composing, the live policy check, deliveries and their
history, approving, scheduling, the kill switch. Everything the publishing admin does.

Access (the permission table): composing, submitting, rescheduling and canceling are
``compose`` (a contributor reschedules and cancels only their own posts: the service checks);
approving and sending back ``approve``; retrying and settling an uncertain delivery ``settle``;
pausing ``pause``; reading ``see_posts`` (moderators work in the inbox only: they see no posts).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryState
from core.db.models import Delivery, Persona, Post
from core.errors import N_
from core.people.permissions import Action
from core.publishing import compose as service
from core.publishing import queries
from core.publishing.compose import PublishingError, StaffActor
from web import access
from web.access import PolicyBlockedException
from web.auth import StaffUser
from web.deps import delivery_or_404, post_or_404
from web.openapi import SAME_PERSONA, linked
from web.pagination import Cursor, Limit
from web.publishing.drafts import compose_post, live_check, local_midnight, overrides_in, resolve_when
from web.publishing.schemas import (
    ApproveIn,
    CancelIn,
    CheckIn,
    CheckOut,
    ComposeIn,
    ComposeOut,
    DeliveryDetailOut,
    DeliveryEventOut,
    DeliveryOut,
    DeliveryPage,
    PostDetailOut,
    PostOut,
    RescheduleIn,
    ResolveIn,
    SendBackIn,
    SubmitIn,
    delivery_out,
    findings_out,
    post_detail,
)
from web.structs import out

_PERSONA = "/{persona_id:uuid}"
_POST = _PERSONA + "/posts/{post_id:uuid}"
_DELIVERY = _PERSONA + "/deliveries/{delivery_id:uuid}"
_REFUSED = [ClientException]
# OpenAPI links (web.openapi): a composed post and its first delivery, a list's first delivery
_POST_ROUTES = ("getPost", "approve", "sendBack", "submit")
_DELIVERY_ROUTES = ("getDelivery", "reschedule", "cancel", "retry", "resolve")
_THE_POST = {**SAME_PERSONA, "post_id": "$response.body#/post/id"}
_ITS_DELIVERY = {**SAME_PERSONA, "delivery_id": "$response.body#/deliveries/0/id"}
_FIRST_DELIVERY = {**SAME_PERSONA, "delivery_id": "$response.body#/items/0/id"}
_BLOCKABLE = [ClientException, PolicyBlockedException]

AccountFilter = Annotated[uuid.UUID | None, QueryParameter(name="accountId", description="one account of the persona")]
StateFilter = Annotated[
    list[DeliveryState] | None, QueryParameter(name="state", description="repeatable: state=scheduled&state=failed")
]
FromDate = Annotated[date | None, QueryParameter(name="from", description="first day, in the persona's time zone")]
ToDate = Annotated[
    date | None, QueryParameter(name="to", description="last day (included), in the persona's time zone")
]


async def _reloaded(db: AsyncSession, persona: Persona, delivery_id: uuid.UUID) -> DeliveryOut:
    """The delivery as the service left it (its account and post loaded afresh)."""
    return delivery_out(await delivery_or_404(db, persona, delivery_id))


class PublishingApiController(Controller):
    path = "/api/v1/personas"
    tags = ["publishing"]

    # -------------------------------------------------------------- composing
    @post(
        _PERSONA + "/posts",
        summary="Compose a post: one delivery per account, after the policy engine has spoken",
        operation_class=linked(
            201, **dict.fromkeys(_POST_ROUTES, _THE_POST), **dict.fromkeys(_DELIVERY_ROUTES, _ITS_DELIVERY)
        ),
        **access.persona(Action.COMPOSE, errors=_BLOCKABLE),
    )
    async def compose(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: JSONBody[ComposeIn],
    ) -> ComposeOut:
        result = await compose_post(db_session, registry, actor, persona, data)
        created = await post_or_404(db_session, persona, result.post.id)
        names = {a.id: (a.channel, a.handle) for a in persona.accounts}
        detail = post_detail(created)
        findings = findings_out(result.findings, names)
        return ComposeOut(post=detail.post, deliveries=detail.deliveries, media=detail.media, findings=findings)

    @post(
        _PERSONA + "/posts/check",
        status_code=200,
        summary="The live policy check of a draft: findings and the network's text limits per account (writes nothing)",
        **access.persona(Action.COMPOSE, errors=_REFUSED),
    )
    async def check(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        request: Request[StaffUser, Any, Any],
        data: JSONBody[CheckIn],
    ) -> CheckOut:
        return await live_check(db_session, registry, persona, request.user.id, data)

    @get(_POST, summary="A post and its deliveries", **access.persona(Action.SEE_POSTS))
    async def get_post(self, post: NamedDependency[Post]) -> PostDetailOut:
        return post_detail(post)

    # -------------------------------------------------------------- approving
    @post(
        _POST + "/approve",
        status_code=200,
        summary="Approve a post's deliveries waiting for approval (not your own; review findings need a reason)",
        **access.persona(Action.APPROVE, errors=_BLOCKABLE),
    )
    async def approve(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
        data: JSONBody[ApproveIn],
    ) -> PostDetailOut:
        overrides = overrides_in(data.overrides)
        await service.approve(db_session, registry, actor, post.id, reason=data.reason, overrides=overrides)
        return post_detail(await post_or_404(db_session, persona, post.id))

    @post(
        _POST + "/send-back",
        status_code=200,
        summary="Return a post waiting for approval to its author, with a comment",
        **access.persona(Action.APPROVE, errors=_REFUSED),
    )
    async def send_back(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
        data: JSONBody[SendBackIn],
    ) -> PostDetailOut:
        await service.send_back(db_session, actor, post.id, comment=data.comment)
        return post_detail(await post_or_404(db_session, persona, post.id))

    @post(
        _POST + "/submit",
        status_code=200,
        summary="Move a draft on: to approval (contributors, review findings) or to the schedule",
        **access.persona(Action.COMPOSE, errors=_BLOCKABLE),
    )
    async def submit(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
        data: JSONBody[SubmitIn],
    ) -> PostDetailOut:
        if data.publish_now and (data.scheduled_at or data.local_time):
            raise PublishingError(N_("choose a time or publish now, not both"), field="scheduled_at")
        when = resolve_when(persona, data.scheduled_at, data.local_time)
        await service.submit(db_session, registry, actor, post.id, scheduled_at=when, publish_now=data.publish_now)
        return post_detail(await post_or_404(db_session, persona, post.id))

    # -------------------------------------------------------------- deliveries
    @get(
        _PERSONA + "/deliveries",
        summary="The persona's deliveries by time, filtered; keyset pagination",
        operation_class=linked(200, **dict.fromkeys(_DELIVERY_ROUTES, _FIRST_DELIVERY)),
        **access.persona(Action.SEE_POSTS, errors=_REFUSED),
    )
    async def list_deliveries(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        account_id: AccountFilter = None,
        states: StateFilter = None,
        start: FromDate = None,
        end: ToDate = None,
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> DeliveryPage:
        filters = queries.DeliveryFilter(
            persona_id=persona.id,
            account_id=account_id,
            states=tuple(states or ()),
            start=local_midnight(start, persona.timezone, "from") if start else None,
            end=local_midnight(end, persona.timezone, "to", end_of_day=True) if end else None,
        )
        page = await queries.deliveries(db_session, filters, cursor=cursor, limit=limit)
        return DeliveryPage(items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor)

    @get(
        _DELIVERY,
        summary="One delivery with its history: attempts, errors, approvals, the dry-run request",
        **access.persona(Action.SEE_POSTS),
    )
    async def get_delivery(
        self, db_session: NamedDependency[AsyncSession], delivery: NamedDependency[Delivery]
    ) -> DeliveryDetailOut:
        return DeliveryDetailOut(
            delivery=delivery_out(delivery),
            post=out(delivery.post, PostOut),
            history=[out(e, DeliveryEventOut) for e in await queries.history(db_session, delivery.id)],
        )

    @post(
        _DELIVERY + "/reschedule",
        status_code=200,
        summary="Move a delivery the queue does not have yet (the policy is checked again at the new time)",
        **access.persona(Action.COMPOSE, errors=_BLOCKABLE),
    )
    async def reschedule(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: JSONBody[RescheduleIn],
    ) -> DeliveryOut:
        when = resolve_when(persona, data.scheduled_at, data.local_time)
        if when is None:
            raise PublishingError(N_("give scheduledAt or localTime"), field="scheduled_at")
        await service.reschedule(db_session, registry, actor, delivery.id, when)
        return await _reloaded(db_session, persona, delivery.id)

    @post(
        _DELIVERY + "/cancel",
        status_code=200,
        summary="Cancel a delivery the queue does not have yet, or a failed or uncertain one",
        **access.persona(Action.COMPOSE, errors=_REFUSED),
    )
    async def cancel(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: JSONBody[CancelIn],
    ) -> DeliveryOut:
        await service.cancel(db_session, actor, delivery.id, reason=data.reason)
        return await _reloaded(db_session, persona, delivery.id)

    @post(
        _DELIVERY + "/retry",
        status_code=200,
        summary="Try a failed delivery again now",
        **access.persona(Action.SETTLE, errors=_REFUSED),
    )
    async def retry(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
    ) -> DeliveryOut:
        await service.retry(db_session, actor, delivery.id)
        return await _reloaded(db_session, persona, delivery.id)

    @post(
        _DELIVERY + "/resolve",
        status_code=200,
        summary="Settle an uncertain delivery: it was published (with its URL), or publish again",
        **access.persona(Action.SETTLE, errors=_REFUSED),
    )
    async def resolve(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: JSONBody[ResolveIn],
    ) -> DeliveryOut:
        remote_url = data.remote_url or None
        await service.resolve_uncertain(db_session, actor, delivery.id, published=data.published, remote_url=remote_url)
        return await _reloaded(db_session, persona, delivery.id)
