"""Editing a saved post: the admin's edit page (the composer's fields, filled with the post) and
``PATCH /api/v1/personas/{persona_id}/posts/{post_id}``.

The rules are ``core.publishing.edit``'s (until a delivery is queued; the policy engine again;
an approved post whose words change goes back to approval). The page shows a refusal on itself,
with what was typed (:func:`web.refusals.on_the_form`); a draft (a post sent back to its author)
can be saved and submitted in one go.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryState
from core.db.models import Persona, Post
from core.db.types import utcnow
from core.errors import Refusal
from core.people.permissions import Action
from core.publishing import compose as service
from core.publishing import edit as editing
from core.publishing import queries
from core.publishing.compose import PolicyBlocked, StaffActor
from core.runtime import Runtime
from web import access
from web.access import PolicyBlockedException
from web.auth import StaffUser
from web.deps import persona_or_404, post_or_404
from web.forms import flash
from web.i18n import gettext as _
from web.media.schemas import MediaOut
from web.messages import refusal_text
from web.publishing.drafts import option_texts, overrides_in, resolve_when
from web.publishing.form import (
    account_names,
    convert,
    form_context,
    library,
    local_input,
    post_fields,
    prefilled_options,
    typed_form,
)
from web.publishing.schemas import (
    AccountFindingsOut,
    DeliveryOut,
    Format,
    OptionName,
    OptionValue,
    OverrideIn,
    PostOut,
    PostText,
    findings_out,
    post_detail,
)
from web.refusals import back, on_the_form
from web.structs import ApiStruct

_POST = "/personas/{persona_id:uuid}/posts/{post_id:uuid}"
_BACK_TO_POST = back("/admin/personas/{persona_id}/posts/{post_id}")
S = DeliveryState


# ------------------------------------------------------------------ the API's structures


class PostEditIn(ApiStruct):
    """What to change in a saved post; a field left out stays as it is. ``variants`` replaces all
    the variants (an empty text drops one), ``mediaIds`` and ``accountIds`` are whole lists (an
    account left out has its delivery canceled, an account added gets one)."""

    text: PostText | UnsetType = UNSET
    link: Annotated[str, msgspec.Meta(max_length=2000)] | None | UnsetType = UNSET
    format: Format | UnsetType = UNSET
    variants: dict[Annotated[str, msgspec.Meta(max_length=32)], PostText] | UnsetType = UNSET
    media_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)] | UnsetType = UNSET
    account_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)] | UnsetType = UNSET
    #: the whole per-network options, as composing takes them (``{"tiktok": {"privacy_level": …}}``)
    options: dict[Annotated[str, msgspec.Meta(max_length=32)], dict[OptionName, OptionValue]] | UnsetType = UNSET
    overrides: Annotated[list[OverrideIn], msgspec.Meta(max_length=20)] = []


class PostEditOut(ApiStruct):
    post: PostOut
    #: every delivery of the post, canceled ones included (an account taken off, a failed one replaced)
    deliveries: list[DeliveryOut]
    media: list[MediaOut]
    #: what the policy engine said of each delivery the edit decided again
    findings: list[AccountFindingsOut]
    #: the fields that changed: text, variants, link, format, media_ids, accounts (empty: nothing did)
    changed: list[str]


def changes_in(data: PostEditIn) -> editing.PostChanges:
    def tupled(value: list[uuid.UUID] | UnsetType) -> tuple[uuid.UUID, ...] | UnsetType:
        return UNSET if isinstance(value, UnsetType) else tuple(value)

    return editing.PostChanges(
        text=data.text,
        link=data.link,
        format=data.format,
        variants=data.variants,
        media_ids=tupled(data.media_ids),
        account_ids=tupled(data.account_ids),
        publish_options=UNSET if isinstance(data.options, UnsetType) else option_texts(data.options),
        overrides=overrides_in(data.overrides),
    )


# A handler, not a controller: Litestar (2.25) cannot merge two controllers' routes on one path
# (each brings its own OPTIONS handler), and GET on this path is PublishingApiController's.
@patch(
    "/api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}",
    tags=["publishing"],
    summary="Edit a saved post (text, variants, link, format, media, accounts) until a delivery is queued",
    description=(
        "The policy engine runs again; a scheduled post whose words change goes back to approval when it "
        "had been approved, when a contributor changed them or when a finding needs review. An account left "
        "out has its delivery canceled, an account added gets one. A contributor edits only her own posts."
    ),
    **access.persona(Action.COMPOSE, errors=[ClientException, PolicyBlockedException]),
)
async def edit_post(
    db_session: NamedDependency[AsyncSession],
    registry: NamedDependency[ChannelRegistry],
    actor: NamedDependency[StaffActor],
    persona: NamedDependency[Persona],
    post: NamedDependency[Post],
    data: JSONBody[PostEditIn],
) -> PostEditOut:
    result = await editing.edit_post(db_session, registry, actor, post.id, changes_in(data))
    detail = post_detail(await post_or_404(db_session, persona, post.id))
    names = account_names(persona.accounts)
    return PostEditOut(
        post=detail.post,
        deliveries=detail.deliveries,
        media=detail.media,
        findings=findings_out(result.findings, names),
        changed=list(result.changed),
    )


# ------------------------------------------------------------------ the admin's edit page


def _fields(form: FormMultiDict, persona: Persona) -> PostEditIn:
    """The edit page's fields (the composer's), validated as the API's body."""
    return convert(post_fields(form, persona), PostEditIn)


def _active(post: Post) -> list[Any]:
    return [d for d in post.deliveries if d.state != S.CANCELED]


def _prefilled(persona: Persona, post: Post) -> dict[str, str]:
    """The form as the post stands: its words, and the drafts' time still to come (to submit them)."""
    form = {"text": post.text, "link": post.link or "", "format": post.format, "then": "keep"}
    form |= {f"variant_{channel}": text for channel, text in (post.variants or {}).items()}
    form |= prefilled_options(post.publish_options)
    times = [d.scheduled_at for d in _active(post) if d.state == S.DRAFT and d.scheduled_at is not None]
    if times and min(times) > utcnow():
        form["local_time"] = min(times).astimezone(ZoneInfo(persona.timezone)).strftime("%Y-%m-%dT%H:%M")
    return form


async def _sent_back(db: AsyncSession, post: Post) -> Any:
    """The last "sent back" of the post's drafts: who asked for what (shown above the form)."""
    found = None
    for delivery in _active(post):
        if delivery.state == S.DRAFT:
            for event in await queries.history(db, delivery.id):
                if event.kind == "sent_back" and (found is None or event.at > found.at):
                    found = event
    return found


async def _page(
    runtime: Runtime,
    db: AsyncSession,
    author: uuid.UUID,
    persona: Persona,
    post: Post,
    form: dict[str, str],
    chosen: set[str],
    chosen_media: set[str],
    *,
    error: str | None = None,
    blocked: list[Any] | None = None,
    status: int = 200,
) -> Template:
    own = sorted(post.media, key=lambda m: m.position)
    context = await form_context(
        runtime,
        persona,
        media=await library(db, persona, author=author, keep=own, chosen=chosen_media),
        form=form,
        chosen=chosen,
        chosen_media=chosen_media,
        error=error,
        blocked=blocked,
    )
    context |= {
        "post": post,
        #: a draft (sent back, or a failed delivery the edit replaces) can be submitted from here
        "can_submit": any(d.state in (S.DRAFT, S.FAILED) for d in _active(post)),
        "sent_back": await _sent_back(db, post),
    }
    return Template("publishing/edit.html", context=context, status_code=status)


def _saved_message(result: editing.EditResult) -> str:
    if not result.changed:
        return _("Nothing changed.")
    states = {d.state for d in result.deliveries}
    if S.PENDING_APPROVAL in states:
        return _("Saved: it waits for approval by an editor or a manager.")
    if states <= {S.DRAFT, S.FAILED}:
        return _("Saved as a draft.")
    return _("Saved: the post stays scheduled.")


class AdminEditController(Controller):
    path = "/admin"
    include_in_schema = False

    @get(_POST + "/edit", refused=_BACK_TO_POST, **access.persona(Action.COMPOSE))
    async def edit_form(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
    ) -> Template:
        editing.may_edit(actor, post)
        editing.editable(post)
        chosen = {str(d.account_id) for d in _active(post)}
        media = {str(m.id) for m in post.media}
        runtime = request.app.state.runtime
        return await _page(
            runtime, db_session, request.user.id, persona, post, _prefilled(persona, post), chosen, media
        )

    @post(_POST + "/edit", status_code=303, refused=_BACK_TO_POST, **access.persona(Action.COMPOSE))
    async def edit_save(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        post: NamedDependency[Post],
    ) -> Template | Redirect:
        form = await request.form()
        # ids read now: a refusal rolls the savepoint back and expires what it changed (the post)
        persona_id, post_id = persona.id, post.id
        submitted = False
        # whatever the service wrote before it refused goes away with the refusal
        async with on_the_form(db_session) as shown:
            result = await editing.edit_post(db_session, registry, actor, post_id, changes_in(_fields(form, persona)))
            if form.get("then") == "submit" and any(d.state == S.DRAFT for d in result.deliveries):
                when = resolve_when(persona, None, local_input(form.get("local_time", "")))
                if when is None:
                    raise service.PublishingError(
                        _("Choose a date and time to submit, or keep it as a draft."), field="local_time"
                    )
                await service.submit(db_session, registry, actor, post_id, scheduled_at=when)
                submitted = True
        if shown.refusal is not None:
            return await _refused(
                request.app.state.runtime, db_session, request.user.id, persona_id, post_id, form, shown.refusal
            )
        if submitted:
            reloaded = await post_or_404(db_session, persona, post_id)
            waiting = any(d.state == S.PENDING_APPROVAL for d in reloaded.deliveries)
            flash(request, _("Saved: it waits for approval by an editor or a manager.") if waiting else _("Scheduled."))
        else:
            flash(request, _saved_message(result))
        return Redirect(f"/admin/personas/{persona_id}/posts/{post_id}", status_code=303)


async def _refused(
    runtime: Runtime,
    db: AsyncSession,
    author: uuid.UUID,
    persona_id: uuid.UUID,
    post_id: uuid.UUID,
    form: FormMultiDict,
    exc: Refusal,
) -> Template:
    """The edit page again, with what was typed and why it was refused (the blocks, per account)."""
    persona = await persona_or_404(db, persona_id)
    post = await post_or_404(db, persona, post_id)
    blocked = findings_out(exc.findings, account_names(persona.accounts)) if isinstance(exc, PolicyBlocked) else []
    typed, chosen, chosen_media = typed_form(form)
    return await _page(
        runtime,
        db,
        author,
        persona,
        post,
        typed,
        chosen,
        chosen_media,
        error=refusal_text(exc),
        blocked=blocked,
        status=exc.status,
    )
