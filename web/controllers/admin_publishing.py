"""The publishing admin: composer (with the live policy check), approvals queue, week calendar,
post and delivery pages with their history and actions, and the persona's pause switch.

Same service calls as the JSON API (web.publishing); forms post back here with the CSRF token
and redirect (post/redirect/get), a refusal comes back as a message on the page it came from.
htmx only enhances: the composer's live check posts the form to a small fragment endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from babel.dates import format_date
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, HTTPException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryState, Role
from core.db.models import Persona, Staff
from core.db.types import utcnow
from core.media import service as media_service
from core.publishing import compose as service
from core.runtime import Runtime
from web import access
from web.auth import StaffUser
from web.controllers.admin import flash
from web.controllers.personas_query import persona_or_404, visible_personas
from web.i18n import current_locale
from web.i18n import gettext as _
from web.publishing import (
    PolicyBlockedException,
    actor_for,
    approval_findings,
    camel,
    can,
    compose_post,
    delivery_or_404,
    history_out,
    live_check,
    local_date,
    pending_posts,
    post_or_404,
    publishing_errors,
    resolve_when,
    week_of,
)
from web.schemas import CheckIn, ComposeIn, FindingOut

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
_PERSONA = "/personas/{persona_id:uuid}"
_POST = _PERSONA + "/posts/{post_id:uuid}"
_DELIVERY = _PERSONA + "/deliveries/{delivery_id:uuid}"
#: moderators work in the inbox only: they see no posts
_NOT_MODERATOR = (Role.MODERATOR,)
_WHEN = ("draft", "at", "now", "queue")


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


def _registry(request: Request[Any, Any, Any]) -> Any:
    runtime: Runtime = request.app.state.runtime
    return runtime.channels


def _local_input(value: str) -> datetime | None:
    """A ``datetime-local`` input (2027-02-10T10:00), a wall-clock time in the persona's time zone."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        raise ClientException(_("This date and time is not valid: %(value)s", value=value)) from None


def _draft_fields(form: FormMultiDict, persona: Persona) -> dict[str, Any]:
    """The composer's fields, shared by the live check and the submission."""
    channels = {a.channel for a in persona.accounts}
    return {
        "account_ids": form.getall("account_id", []),
        "media_ids": form.getall("media_id", []),
        "text": form.get("text", ""),
        "link": form.get("link") or None,
        "format": form.get("format", "post"),
        "variants": {c: form.get(f"variant_{c}", "") for c in channels if form.get(f"variant_{c}", "").strip()},
        "local_time": _local_input(form.get("local_time", "")) if form.get("when") == "at" else None,
    }


def _convert(fields: dict[str, Any], kind: type[Any]) -> Any:
    """Form fields into the API's structure (camelCase on the wire), validated the same way."""
    try:
        return msgspec.convert({camel(k): v for k, v in fields.items()}, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ClientException(str(exc)) from None


@asynccontextmanager
async def _back_with_message(request: Request[Any, Any, Any], db: AsyncSession) -> AsyncIterator[None]:
    """A refused action comes back to the page as a message. Whatever the service had written
    before it refused is rolled back (a savepoint): the request itself succeeds (a redirect), so
    the request's transaction commits."""
    try:
        async with db.begin_nested():
            yield
    except HTTPException as exc:
        if exc.status_code not in (400, 422):
            raise
        flash(request, _("Refused: %(detail)s", detail=exc.detail))


def _composer_context(
    persona: Persona, media: list[Any] | None = None, chosen_media: set[str] | None = None, **extra: Any
) -> dict[str, Any]:
    refused = {p.channel: p.refusal_reason for p in persona.channel_policies if not p.allowed}
    with_account = {a.channel for a in persona.accounts}
    return {
        "persona": persona,
        "refused": refused,
        "refused_without_account": {c: r for c, r in refused.items() if c not in with_account},
        "form": {},
        "chosen": set(),
        "error": None,
        "blocked": [],
        "check": None,
        #: the persona's media no post uses yet (the composer offers them), and those ticked
        "media": media or [],
        "chosen_media": chosen_media or set(),
        **extra,
    }


class AdminPublishingController(Controller):
    path = "/admin"
    include_in_schema = False

    # -------------------------------------------------------------- composer
    @get("/compose", **access.staff())
    async def choose_persona(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        """Persona first: only those the user may compose for."""
        personas = [
            p for p in await visible_personas(db_session, request.user) if can(request.user, p.id, Role.CONTRIBUTOR)
        ]
        return Template("admin/compose_choose.html", context={"personas": personas})

    @get(_PERSONA + "/compose", **access.persona(Role.CONTRIBUTOR))
    async def composer(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        media: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        persona = await persona_or_404(db_session, persona_id)
        library = await media_service.list_media(db_session, persona_id, unattached=True, limit=30)
        chosen = {str(media)} if media else set()
        return Template("admin/compose.html", context=_composer_context(persona, library, chosen, form={"when": "at"}))

    @post(_PERSONA + "/compose/check", status_code=200, **access.persona(Role.CONTRIBUTOR))
    async def composer_check(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> Template:
        """The live check as a fragment: findings and text limits per chosen account."""
        persona = await persona_or_404(db_session, persona_id)
        form = await request.form()
        try:
            data = _convert(_draft_fields(form, persona), CheckIn)
            with publishing_errors(persona):
                check = await live_check(
                    db_session, _registry(request), persona, await db_session.get(Staff, request.user.id), data
                )
        except HTTPException as exc:
            return Template("admin/_check.html", context={"check": None, "check_error": exc.detail, "persona": persona})
        return Template("admin/_check.html", context={"check": check, "check_error": None, "persona": persona})

    @post(_PERSONA + "/compose", status_code=303, **access.persona(Role.CONTRIBUTOR))
    async def compose(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        persona = await persona_or_404(db_session, persona_id)
        form = await request.form()
        when = form.get("when", "at")
        try:
            fields = _draft_fields(form, persona)
            fields |= {"publish_now": when == "now", "add_to_queue": when == "queue", "save_as_draft": when == "draft"}
            data = _convert(fields, ComposeIn)
            # a savepoint: the post the service had flushed before it refused goes away with it
            async with db_session.begin_nested():
                with publishing_errors(persona):
                    result = await compose_post(
                        db_session, _registry(request), actor_for(request.user, persona_id), persona, data
                    )
        except HTTPException as exc:
            library = await media_service.list_media(db_session, persona_id, unattached=True, limit=30)
            return _composer_refused(await persona_or_404(db_session, persona_id), form, exc, library)
        flash(request, _composed_message(result.deliveries))
        return Redirect(f"/admin/personas/{persona_id}/posts/{result.post.id}", status_code=303)

    # -------------------------------------------------------------- approvals
    @get(_PERSONA + "/approvals", **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def approvals(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> Template:
        persona = await persona_or_404(db_session, persona_id)
        approver = await db_session.get(Staff, request.user.id)
        posts = await pending_posts(db_session, persona_id)
        findings = {p.id: await approval_findings(db_session, _registry(request), persona, p, approver) for p in posts}
        authors = {p.author_id: (await db_session.get(Staff, p.author_id)) for p in posts if p.author_id}
        context = {
            "persona": persona,
            "posts": posts,
            "findings": findings,
            "authors": authors,
            "can_approve": can(request.user, persona_id, Role.EDITOR),
            "me": request.user.id,
        }
        return Template("admin/approvals.html", context=context)

    @post(_POST + "/approve", status_code=303, **access.persona(Role.EDITOR))
    async def approve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.approve(
                    db_session, _registry(request), actor_for(request.user, persona_id), post_id, reason=data.reason
                )
                flash(request, _("Approved: the post is scheduled."))
        return Redirect(f"/admin/personas/{persona_id}/approvals", status_code=303)

    @post(_POST + "/send-back", status_code=303, **access.persona(Role.EDITOR))
    async def send_back(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: Annotated[CommentForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.send_back(db_session, actor_for(request.user, persona_id), post_id, comment=data.comment)
                flash(request, _("Sent back to its author as a draft."))
        return Redirect(f"/admin/personas/{persona_id}/approvals", status_code=303)

    @post(_POST + "/submit", status_code=303, **access.persona(Role.CONTRIBUTOR))
    async def submit(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
        data: Annotated[TimeForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await post_or_404(db_session, persona_id, post_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                when = resolve_when(persona, None, _local_input(data.local_time))
                await service.submit(
                    db_session,
                    _registry(request),
                    actor_for(request.user, persona_id),
                    post_id,
                    scheduled_at=when,
                    publish_now=bool(data.publish_now),
                )
                flash(request, _("Submitted."))
        return Redirect(f"/admin/personas/{persona_id}/posts/{post_id}", status_code=303)

    # -------------------------------------------------------------- calendar and pages
    @get(_PERSONA + "/calendar", **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def calendar(
        self,
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        week: FromQuery[date | None] = None,
    ) -> Template:
        """Monday to Sunday in the persona's time zone; deliveries placed by their local time."""
        persona = await persona_or_404(db_session, persona_id)
        day = week if week is not None and 2000 <= week.year <= 2100 else local_date(utcnow(), persona.timezone)
        span = week_of(day, persona.timezone)
        filters = service.DeliveryFilter(
            persona_ids=frozenset({persona_id}),
            persona_id=persona_id,
            start=span.start,
            end=span.end,
            states=tuple(s for s in DeliveryState if s != DeliveryState.CANCELED),
        )
        rows, _next = await service.list_deliveries(db_session, filters, limit=500)
        by_day: dict[date, list[Any]] = {d: [] for d in span.days}
        for delivery in rows:
            by_day.setdefault(local_date(delivery.scheduled_at or delivery.created_at, persona.timezone), []).append(
                delivery
            )
        context = {
            "persona": persona,
            "week": span,
            "by_day": by_day,
            "day_labels": {d: format_date(d, "EEEE d MMMM", locale=current_locale()) for d in span.days},
            "today": local_date(utcnow(), persona.timezone),
            "previous": span.days[0].fromordinal(span.days[0].toordinal() - 7),
            "next": span.days[0].fromordinal(span.days[0].toordinal() + 7),
        }
        return Template("admin/calendar.html", context=context)

    @get(_POST, **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def post_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        post_id: FromPath[uuid.UUID],
    ) -> Template:
        persona = await persona_or_404(db_session, persona_id)
        post_row = await post_or_404(db_session, persona_id, post_id)
        author = await db_session.get(Staff, post_row.author_id) if post_row.author_id else None
        context = {
            "persona": persona,
            "post": post_row,
            "author": author,
            **_abilities(request.user, persona_id, post_row.author_id),
        }
        return Template("admin/post.html", context=context)

    @get(_DELIVERY, **access.persona(Role.VIEWER, except_roles=_NOT_MODERATOR))
    async def delivery_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> Template:
        persona = await persona_or_404(db_session, persona_id)
        delivery = await delivery_or_404(db_session, persona_id, delivery_id)
        context = {
            "persona": persona,
            "delivery": delivery,
            "post": delivery.post,
            "history": await history_out(db_session, delivery_id),
            **_abilities(request.user, persona_id, delivery.post.author_id),
        }
        return Template("admin/delivery.html", context=context)

    # -------------------------------------------------------------- acting on a delivery
    @post(_DELIVERY + "/reschedule", status_code=303, **access.persona(Role.CONTRIBUTOR))
    async def reschedule(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: Annotated[TimeForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                when = resolve_when(persona, None, _local_input(data.local_time))
                if when is None:
                    raise service.PublishingError(_("Choose a date and time."), field="local_time")
                await service.reschedule(
                    db_session, _registry(request), actor_for(request.user, persona_id), delivery_id, when
                )
                flash(request, _("Rescheduled."))
        return _to_delivery(persona_id, delivery_id)

    @post(_DELIVERY + "/cancel", status_code=303, **access.persona(Role.CONTRIBUTOR))
    async def cancel(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.cancel(db_session, actor_for(request.user, persona_id), delivery_id, reason=data.reason)
                flash(request, _("Canceled."))
        return _to_delivery(persona_id, delivery_id)

    @post(_DELIVERY + "/retry", status_code=303, **access.persona(Role.EDITOR))
    async def retry(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.retry(db_session, actor_for(request.user, persona_id), delivery_id)
                flash(request, _("Will be tried again now."))
        return _to_delivery(persona_id, delivery_id)

    @post(_DELIVERY + "/resolve", status_code=303, **access.persona(Role.EDITOR))
    async def resolve(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        data: Annotated[ResolveForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        await delivery_or_404(db_session, persona_id, delivery_id)
        published = data.published == "1"
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.resolve_uncertain(
                    db_session,
                    actor_for(request.user, persona_id),
                    delivery_id,
                    published=published,
                    remote_url=data.remote_url.strip() or None,
                )
                flash(request, _("Marked as published.") if published else _("Will be published again."))
        return _to_delivery(persona_id, delivery_id)

    # -------------------------------------------------------------- kill switch
    @post(_PERSONA + "/pause", status_code=303, **access.persona(Role.MANAGER))
    async def pause(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: Annotated[ReasonForm, Form],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.pause_persona(
                    db_session, actor_for(request.user, persona_id), persona_id, reason=data.reason
                )
                flash(request, _("Paused: nothing goes out for this persona."))
        return Redirect(f"/admin/personas/{persona_id}#publishing", status_code=303)

    @post(_PERSONA + "/resume", status_code=303, **access.persona(Role.MANAGER))
    async def resume(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
    ) -> Redirect:
        persona = await persona_or_404(db_session, persona_id)
        async with _back_with_message(request, db_session):
            with publishing_errors(persona):
                await service.resume_persona(db_session, actor_for(request.user, persona_id), persona_id)
                flash(request, _("Resumed: scheduled posts go out at their time."))
        return Redirect(f"/admin/personas/{persona_id}#publishing", status_code=303)


def _abilities(user: StaffUser, persona_id: uuid.UUID, author_id: uuid.UUID | None) -> dict[str, bool]:
    """Which buttons to show; the service decides again when one is pressed."""
    role = user.role_on(persona_id)
    contributor = role is not None and role.at_least(Role.CONTRIBUTOR)
    return {
        "can_edit": contributor and (role != Role.CONTRIBUTOR or author_id == user.id),
        "can_approve": role is not None and role.at_least(Role.EDITOR) and author_id != user.id,
        "can_settle": role is not None and role.at_least(Role.EDITOR),
        "editable": {s.value for s in service.EDITABLE},  # type: ignore[dict-item]
        "cancelable": {s.value for s in service.CANCELABLE},  # type: ignore[dict-item]
    }


def _to_delivery(persona_id: uuid.UUID, delivery_id: uuid.UUID) -> Redirect:
    return Redirect(f"/admin/personas/{persona_id}/deliveries/{delivery_id}", status_code=303)


def _composed_message(deliveries: tuple[Any, ...]) -> str:
    states = {d.state for d in deliveries}
    if DeliveryState.PENDING_APPROVAL in states:
        return _("Saved: it waits for approval by an editor or a manager.")
    if states == {DeliveryState.DRAFT}:
        return _("Saved as a draft.")
    return _("Scheduled.")


def _composer_refused(persona: Persona, form: FormMultiDict, exc: HTTPException, library: list[Any]) -> Template:
    blocked: list[Any] = []
    if isinstance(exc, PolicyBlockedException) and isinstance(exc.extra, dict):
        blocked = [
            {**entry, "findings": [msgspec.convert(f, FindingOut) for f in entry["findings"]]}
            for entry in exc.extra.get("findings", [])
        ]
    values = {key: form.get(key, "") for key in form}
    context = _composer_context(
        persona,
        library,
        set(form.getall("media_id", [])),
        form=values,
        chosen=set(form.getall("account_id", [])),
        error=exc.detail,
        blocked=blocked,
    )
    return Template("admin/compose.html", context=context, status_code=exc.status_code)
