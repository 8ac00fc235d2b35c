"""The publishing admin: composer (with the live policy check), approvals queue, week calendar,
post and delivery pages with their history and actions, and the persona's pause switch.

Same service calls as the JSON API; forms post back here with the CSRF token and redirect
(post/redirect/get); a refusal comes back as a message on the page it came from (``refused=``),
the composer shows it on itself with what was typed. htmx only enhances: the composer's live
check posts the form to a small fragment endpoint.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import format_date
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryState
from core.db.models import Delivery, Persona, Post
from core.db.types import utcnow
from core.errors import Refusal
from core.people.permissions import Action
from core.people.staff import get_staff
from core.personas.service import get_persona, visible_personas
from core.publishing import compose as service
from core.publishing import queries
from core.publishing.compose import PolicyBlocked, StaffActor
from core.runtime import Runtime
from core.veille import board as watch
from web import access
from web.auth import StaffUser
from web.forms import Form, flash
from web.i18n import current_locale
from web.i18n import gettext as _
from web.messages import refusal_text
from web.publishing.drafts import compose_post, live_check, resolve_when
from web.publishing.form import (
    account_names,
    convert,
    form_context,
    library,
    local_input,
    post_fields,
    typed_form,
)
from web.publishing.schemas import CheckIn, ComposeIn, findings_out
from web.refusals import back, on_the_form

_PERSONA = "/personas/{persona_id:uuid}"
_POST = _PERSONA + "/posts/{post_id:uuid}"
_DELIVERY = _PERSONA + "/deliveries/{delivery_id:uuid}"
_BACK_TO_APPROVALS = back("/admin/personas/{persona_id}/approvals")
_BACK_TO_POST = back("/admin/personas/{persona_id}/posts/{post_id}")
_BACK_TO_DELIVERY = back("/admin/personas/{persona_id}/deliveries/{delivery_id}")
_BACK_TO_PERSONA = back("/admin/personas/{persona_id}#publishing")


class ReasonForm(msgspec.Struct):
    reason: str = ""


class CommentForm(msgspec.Struct):
    comment: str = ""


class TimeForm(msgspec.Struct):
    local_time: str = ""
    publish_now: str = ""


class ResolveForm(msgspec.Struct):
    published: str
    remote_url: str = ""


class Week(msgspec.Struct, frozen=True, kw_only=True):
    monday: date
    start: datetime  # aware, Monday 00:00 local
    end: datetime  # aware, next Monday 00:00 local (a DST week is 167 or 169 hours long)
    days: tuple[date, ...]


def week_of(day: date, timezone: str) -> Week:
    monday = day - timedelta(days=day.weekday())
    zone = ZoneInfo(timezone)
    return Week(
        monday=monday,
        start=datetime.combine(monday, time.min, tzinfo=zone),
        end=datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone),
        days=tuple(monday + timedelta(days=i) for i in range(7)),
    )


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def _draft_fields(form: FormMultiDict, persona: Persona) -> dict[str, Any]:
    """The composer's fields, shared by the live check and the submission (an empty variant is none)."""
    fields = post_fields(form, persona)
    fields["variants"] = {c: text for c, text in fields["variants"].items() if text.strip()}
    fields["local_time"] = local_input(form.get("local_time", "")) if form.get("when") == "at" else None
    return fields


def _check_refused(request: Request[Any, Any, Any], exc: Refusal) -> Template:
    return Template("publishing/_check.html", context={"check": None, "check_error": refusal_text(exc)})


class AdminPublishingController(Controller):
    path = "/admin"
    include_in_schema = False

    # -------------------------------------------------------------- composer
    @get("/compose", **access.staff())
    async def choose_persona(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        """Persona first: only those the user may compose for."""
        personas = await visible_personas(db_session, request.user.visible_persona_ids)
        personas = [p for p in personas if request.user.can(p.id, Action.COMPOSE)]
        return Template("publishing/compose_choose.html", context={"personas": personas})

    @get(_PERSONA + "/compose", **access.persona(Action.COMPOSE))
    async def composer(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        media: FromQuery[uuid.UUID | None] = None,
        from_item: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        chosen = {str(media)} if media else set()
        form = {"when": "at"}
        if from_item is not None:
            # the watch board's "draft a post": the item's link, a suggested text, its origin kept (hidden)
            draft = await watch.draft_from_item(db_session, persona.id, from_item)
            form |= {"text": draft.text, "link": draft.link or "", "from_item": str(draft.item_id), "when": "draft"}
        context = await form_context(
            request.app.state.runtime,
            persona,
            media=await library(db_session, persona, author=request.user.id, chosen=chosen),
            form=form,
            chosen=set(),
            chosen_media=chosen,
        )
        return Template("publishing/compose.html", context=context)

    @post(_PERSONA + "/compose/check", status_code=200, refused=_check_refused, **access.persona(Action.COMPOSE))
    async def composer_check(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
    ) -> Template:
        """The live check as a fragment: findings and text limits per chosen account."""
        data = convert(_draft_fields(await request.form(), persona), CheckIn)
        check = await live_check(db_session, registry, persona, request.user.id, data)
        return Template("publishing/_check.html", context={"check": check, "check_error": None, "persona": persona})

    @post(_PERSONA + "/compose", status_code=303, **access.persona(Action.COMPOSE))
    async def compose(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
    ) -> Template | Redirect:
        form = await request.form()
        when = form.get("when", "at")
        # the post the service had flushed before it refused goes away with the refusal
        async with on_the_form(db_session) as shown:
            fields = _draft_fields(form, persona)
            if when == "at" and fields["local_time"] is None:
                # "on this date" without a date is not a draft: say so rather than save one silently
                raise service.PublishingError(_("Choose a date and time, or another option."), field="local_time")
            fields |= {"publish_now": when == "now", "add_to_queue": when == "queue", "save_as_draft": when == "draft"}
            fields["from_item"] = form.get("from_item") or None  # a post started from a watch item
            result = await compose_post(db_session, registry, actor, persona, convert(fields, ComposeIn))
        if shown.refusal is not None:
            return await _composer_refused(
                request.app.state.runtime, db_session, persona.id, request.user.id, form, shown.refusal
            )
        flash(request, _composed_message(result.deliveries, paused=persona.paused))
        return Redirect(f"/admin/personas/{persona.id}/posts/{result.post.id}", status_code=303)

    # -------------------------------------------------------------- approvals
    @get(_PERSONA + "/approvals", **access.persona(Action.SEE_POSTS))
    async def approvals(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
    ) -> Template:
        posts = await queries.pending_posts(db_session, persona.id)
        findings = {
            p.id: findings_out(
                await queries.approval_findings(db_session, registry, persona, p, request.user.id),
                account_names(d.account for d in p.deliveries),
            )
            for p in posts
        }
        authors = {p.author_id: await get_staff(db_session, p.author_id) for p in posts if p.author_id}
        context = {"persona": persona, "posts": posts, "findings": findings, "authors": authors, "me": request.user.id}
        return Template("publishing/approvals.html", context=context)

    @post(_POST + "/approve", status_code=303, refused=_BACK_TO_APPROVALS, **access.persona(Action.APPROVE))
    async def approve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        post: NamedDependency[Post],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        await service.approve(db_session, registry, actor, post.id, reason=data.reason)
        flash(request, _("Approved: the post is scheduled."))
        return Redirect(f"/admin/personas/{post.persona_id}/approvals", status_code=303)

    @post(_POST + "/send-back", status_code=303, refused=_BACK_TO_APPROVALS, **access.persona(Action.APPROVE))
    async def send_back(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        post: NamedDependency[Post],
        data: Annotated[CommentForm, Form],
    ) -> Redirect:
        await service.send_back(db_session, actor, post.id, comment=data.comment)
        flash(request, _("Sent back to its author as a draft."))
        return Redirect(f"/admin/personas/{post.persona_id}/approvals", status_code=303)

    @post(_POST + "/submit", status_code=303, refused=_BACK_TO_POST, **access.persona(Action.COMPOSE))
    async def submit(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
        data: Annotated[TimeForm, Form],
    ) -> Redirect:
        when = resolve_when(persona, None, local_input(data.local_time))
        await service.submit(
            db_session, registry, actor, post.id, scheduled_at=when, publish_now=bool(data.publish_now)
        )
        flash(request, _("Submitted."))
        return Redirect(f"/admin/personas/{persona.id}/posts/{post.id}", status_code=303)

    # -------------------------------------------------------------- calendar and pages
    @get(_PERSONA + "/calendar", **access.persona(Action.SEE_POSTS))
    async def calendar(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        week: FromQuery[date | None] = None,
    ) -> Template:
        """Monday to Sunday in the persona's time zone; deliveries placed by their local time."""
        day = week if week is not None and 2000 <= week.year <= 2100 else local_date(utcnow(), persona.timezone)
        span = week_of(day, persona.timezone)
        filters = queries.DeliveryFilter(
            persona_id=persona.id,
            start=span.start,
            end=span.end,
            states=tuple(s for s in DeliveryState if s != DeliveryState.CANCELED),
        )
        by_day: dict[date, list[Any]] = {d: [] for d in span.days}
        undated: list[Any] = []  # a draft has no day yet: not placed on the day it was written
        for delivery in (await queries.deliveries(db_session, filters, limit=500)).items:
            if delivery.scheduled_at is None:
                undated.append(delivery)
                continue
            by_day.setdefault(local_date(delivery.scheduled_at, persona.timezone), []).append(delivery)
        context = {
            "persona": persona,
            "week": span,
            "by_day": by_day,
            "undated": undated,
            "day_labels": {d: format_date(d, "EEEE d MMMM", locale=current_locale()) for d in span.days},
            "today": local_date(utcnow(), persona.timezone),
            "previous": span.days[0].fromordinal(span.days[0].toordinal() - 7),
            "next": span.days[0].fromordinal(span.days[0].toordinal() + 7),
        }
        return Template("publishing/calendar.html", context=context)

    @get(_POST, **access.persona(Action.SEE_POSTS))
    async def post_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
    ) -> Template:
        author = await get_staff(db_session, post.author_id) if post.author_id else None
        context = {"persona": persona, "post": post, "author": author, **_abilities(request.user, persona, post)}
        return Template("publishing/post.html", context=context)

    @get(_DELIVERY, **access.persona(Action.SEE_POSTS))
    async def delivery_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
    ) -> Template:
        context = {
            "persona": persona,
            "delivery": delivery,
            "post": delivery.post,
            "history": await queries.history(db_session, delivery.id),
            **_abilities(request.user, persona, delivery.post),
        }
        return Template("publishing/delivery.html", context=context)

    # -------------------------------------------------------------- acting on a delivery
    @post(_DELIVERY + "/reschedule", status_code=303, refused=_BACK_TO_DELIVERY, **access.persona(Action.COMPOSE))
    async def reschedule(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: Annotated[TimeForm, Form],
    ) -> Redirect:
        when = resolve_when(persona, None, local_input(data.local_time))
        if when is None:
            raise service.PublishingError(_("Choose a date and time."), field="local_time")
        await service.reschedule(db_session, registry, actor, delivery.id, when)
        flash(request, _("Rescheduled."))
        return _to_delivery(persona.id, delivery.id)

    @post(_DELIVERY + "/cancel", status_code=303, refused=_BACK_TO_DELIVERY, **access.persona(Action.COMPOSE))
    async def cancel(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        await service.cancel(db_session, actor, delivery.id, reason=data.reason)
        flash(request, _("Canceled."))
        return _to_delivery(persona.id, delivery.id)

    @post(_DELIVERY + "/retry", status_code=303, refused=_BACK_TO_DELIVERY, **access.persona(Action.SETTLE))
    async def retry(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
    ) -> Redirect:
        await service.retry(db_session, actor, delivery.id)
        flash(request, _("Will be tried again now."))
        return _to_delivery(persona.id, delivery.id)

    @post(_DELIVERY + "/resolve", status_code=303, refused=_BACK_TO_DELIVERY, **access.persona(Action.SETTLE))
    async def resolve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        delivery: NamedDependency[Delivery],
        data: Annotated[ResolveForm, Form],
    ) -> Redirect:
        published = data.published == "1"
        remote_url = data.remote_url.strip() or None
        await service.resolve_uncertain(db_session, actor, delivery.id, published=published, remote_url=remote_url)
        flash(request, _("Marked as published.") if published else _("Will be published again."))
        return _to_delivery(persona.id, delivery.id)


def _abilities(user: StaffUser, persona: Persona, post: Post) -> dict[str, Any]:
    """Which buttons to show (a contributor edits only their own posts); the service decides again."""
    may_edit = user.can(persona.id, Action.PUBLISH) or post.author_id == user.id
    return {
        "can_edit": user.can(persona.id, Action.COMPOSE) and may_edit,
        "editable": {s.value for s in service.EDITABLE},
        "cancelable": {s.value for s in service.CANCELABLE},
    }


def _to_delivery(persona_id: uuid.UUID, delivery_id: uuid.UUID) -> Redirect:
    return Redirect(f"/admin/personas/{persona_id}/deliveries/{delivery_id}", status_code=303)


def _composed_message(deliveries: tuple[Any, ...], *, paused: bool = False) -> str:
    states = {d.state for d in deliveries}
    if DeliveryState.PENDING_APPROVAL in states:
        return _("Saved: it waits for approval by an editor or a manager.")
    if states == {DeliveryState.DRAFT}:
        return _("Saved as a draft.")
    if paused:
        return _("Saved, but the persona is paused: nothing goes out until a manager resumes it.")
    return _("Scheduled.")


async def _composer_refused(
    runtime: Runtime,
    db: AsyncSession,
    persona_id: uuid.UUID,
    author: uuid.UUID,
    form: FormMultiDict,
    exc: Refusal,
) -> Template:
    """The composer again, with what was typed and why it was refused (the blocks, per account)."""
    persona = await get_persona(db, persona_id)
    assert persona is not None
    blocked = findings_out(exc.findings, account_names(persona.accounts)) if isinstance(exc, PolicyBlocked) else []
    typed, chosen, chosen_media = typed_form(form)
    context = await form_context(
        runtime,
        persona,
        media=await library(db, persona, author=author, chosen=chosen_media),
        form=typed,
        chosen=chosen,
        chosen_media=chosen_media,
        error=refusal_text(exc),
        blocked=blocked,
    )
    return Template("publishing/compose.html", context=context, status_code=exc.status)
