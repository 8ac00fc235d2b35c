"""The inbox admin, per persona: the list with its filters (a GET form, works without JS), one
item with its thread and the reply box, assigning, notes, closing, moderation and the review
of a ban, the saved replies, and two small fragments htmx polls: what is new since the page
was drawn, and the inbox's state on the dashboards (new items, accounts whose messages no
longer arrive).

Same service calls as the JSON API (:mod:`core.inbox.service`); forms post back here with the
CSRF token and redirect (post/redirect/get); a refusal comes back as a message on the item page.
The reply form shows its refusal on itself with what was typed, and asks for a confirmation
when someone else is replying or the item already has an answer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.contract import Feature, InboxKind
from core.channels.host import ChannelHost
from core.channels.registry import ChannelRegistry
from core.db.enums import InboxStatus
from core.db.models import ModerationAction, Persona, SavedReply
from core.db.types import utcnow
from core.errors import Refusal
from core.inbox import queries
from core.inbox import service as inbox
from core.inbox.queries import InboxFilter, ItemRow
from core.inbox.targets import inbox_settings, sla_state
from core.people.permissions import Action
from core.publishing.compose import StaffActor
from web import access
from web.auth import StaffUser
from web.forms import Form, flash
from web.i18n import gettext as _
from web.inbox.api import inbox_channels, sees_messages
from web.messages import refusal_text
from web.refusals import back, on_the_form

_PERSONA = "/personas/{persona_id:uuid}"
_INBOX = _PERSONA + "/inbox"
_ITEM = _INBOX + "/{item_id:uuid}"
_SAVED = _PERSONA + "/saved-replies"
_BACK_TO_ITEM = back("/admin/personas/{persona_id}/inbox/{item_id}")
_BACK_TO_SAVED = back("/admin/personas/{persona_id}/saved-replies")
_PAGE = 50


# ------------------------------------------------------------------ words for the inbox's values
def _value(value: Enum | str | None) -> str | None:
    return value.value if isinstance(value, Enum) else value


def inbox_kind_label(kind: Enum | str) -> str:
    value = _value(kind)
    return {
        "comment": _("Comment"),
        "reply": _("Reply"),
        "mention": _("Mention"),
        "message": _("Private message"),
    }.get(str(value), str(value))


def inbox_status_label(status: Enum | str) -> str:
    value = _value(status)
    return {
        "new": _("New"),
        "assigned": _("Assigned"),
        "answered": _("Answered"),
        "closed": _("Closed"),
    }.get(str(value), str(value))


def inbox_flag_label(flag: str) -> str:
    return {
        "personal_data": _("Personal data"),
        "administrative": _("Administrative request"),
        "document_request": _("Document request (CADA)"),
        "hateful": _("Hateful or illegal"),
    }.get(flag, flag)


def sla_label(state: str | None) -> str:
    return {"ok": _("On time"), "at_risk": _("At risk"), "breached": _("Overdue")}.get(state or "", "")


def reason_label(code: str) -> str:
    return {
        "insult": _("Insult"),
        "harassment": _("Harassment"),
        "hateful": _("Hateful content"),
        "illegal": _("Illegal content"),
        "personal_data": _("Personal data"),
        "spam": _("Spam"),
        "off_topic": _("Off topic"),
        "other": _("Other"),
    }.get(code, code)


def moderation_label(action: str) -> str:
    return {"hide": _("Hide"), "unhide": _("Show again"), "delete": _("Delete"), "ban": _("Ban the author")}.get(
        action, action
    )


def moderation_state_label(state: str) -> str:
    return {
        "proposed": _("Proposed"),
        "pending_review": _("Waiting for a manager's review"),
        "done": _("Done on the network"),
        "manual": _("Done by hand in the network's app"),
        "refused": _("Refused"),
        "failed": _("Failed"),
    }.get(state, state)


def inbox_event_label(kind: str) -> str:
    return {
        "received": _("Received"),
        "assigned": _("Assigned"),
        "reply_composed": _("Reply written"),
        "first_response": _("First response"),
        "next_response": _("Response"),
        "response": _("Response"),
        "resolved": _("Closed"),
        "reopened": _("Reopened"),
        "hide": _("Hidden"),
        "unhide": _("Shown again"),
        "delete": _("Deleted"),
        "ban": _("Author banned"),
    }.get(kind, kind)


def item_sla(item: ItemRow) -> str | None:
    """The SLA state shown on an item: none once answered or closed."""
    if item.status in (InboxStatus.ANSWERED, InboxStatus.CLOSED):
        return None
    return sla_state(item.response_due_at, utcnow())


#: what the templates call (registered as Jinja globals by web.app)
INBOX_LABELS = {
    f.__name__: f
    for f in (
        inbox_kind_label,
        inbox_status_label,
        inbox_flag_label,
        sla_label,
        reason_label,
        moderation_label,
        moderation_state_label,
        inbox_event_label,
        item_sla,
    )
}


# ------------------------------------------------------------------ forms
class AssignForm(msgspec.Struct):
    assignee_id: str = ""
    note: str = ""


class ReplyForm(msgspec.Struct):
    text: str = ""
    confirm: str = ""


class NoteForm(msgspec.Struct):
    text: str = ""


class ModerationForm(msgspec.Struct):
    action: str = ""
    reason_code: str = ""
    reason: str = ""


class ReviewForm(msgspec.Struct):
    decision: str = ""
    reason: str = ""


class SavedReplyForm(msgspec.Struct):
    short_code: str = ""
    title: str = ""
    text: str = ""


def _filters(user: StaffUser, persona: Persona, query: dict[str, str]) -> InboxFilter:
    """The GET form's fields as the core's filter; a value that does not parse is refused by name."""

    def day(name: str) -> date | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        try:
            parsed = date.fromisoformat(raw)
        except ValueError:
            raise Refusal(_("This date is not valid: %(value)s", value=raw), field=name) from None
        return parsed if 2000 <= parsed.year <= 2100 else None

    def choice(name: str, kind: type[Enum]) -> Any:
        raw = query.get(name, "").strip()
        try:
            return kind(raw) if raw else None
        except ValueError:
            raise Refusal(_("This choice is not valid: %(value)s", value=raw), field=name) from None

    return InboxFilter(
        channel=query.get("channel", "").strip() or None,
        kind=choice("kind", InboxKind),
        status=choice("status", InboxStatus),
        assignee=query.get("assignee", "").strip() or None,
        me=user.id,
        date_from=day("from"),
        date_to=day("to"),
        timezone=persona.timezone,
        overdue=query.get("overdue") == "1",
        flagged=query.get("flagged") == "1",
    )


def _supports(registry: ChannelRegistry, channel: str, feature: Feature) -> bool:
    return channel in registry and registry.get(channel).capabilities.supports(feature)


def _to_item(persona_id: uuid.UUID, item_id: uuid.UUID) -> Redirect:
    return Redirect(f"/admin/personas/{persona_id}/inbox/{item_id}", status_code=303)


def _since(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AdminInboxController(Controller):
    path = "/admin"
    include_in_schema = False

    # -------------------------------------------------------------- the list
    @get(_INBOX, **access.persona(Action.MODERATE))
    async def inbox_list(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        filters = _filters(request.user, persona, query)
        see = sees_messages(request.user, persona)
        page = await queries.list_items(db_session, persona.id, filters, see_messages=see, cursor=cursor, limit=_PAGE)
        kept = {k: v for k, v in query.items() if k != "cursor" and v}
        context = {
            "persona": persona,
            "page": page,
            "filters": query,
            "kept": kept,
            "counts": await queries.counts(db_session, persona.id, see_messages=see),
            "assignable": await queries.assignable_staff(db_session, persona.id),
            "health": await queries.inbox_health(db_session, persona.id, inbox_channels(registry, persona)),
            "times": await queries.response_times(
                db_session, persona.id, since=utcnow() - queries.RESPONSE_TIMES_PERIOD
            ),
            "channels": sorted({a.channel for a in persona.accounts}),
            "kinds": [k for k in InboxKind if see or k != InboxKind.MESSAGE],
            "statuses": list(InboxStatus),
            "since": utcnow().isoformat(),
            "first_page": cursor is None,
        }
        return Template("inbox/list.html", context=context)

    @get(_INBOX + "/new", **access.persona(Action.MODERATE))
    async def inbox_new(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        since: FromQuery[str] = "",
    ) -> Template:
        """The live update: "N new messages — show", polled by the list every 15 seconds."""
        found = await queries.new_since(
            db_session, persona.id, _since(since), see_messages=sees_messages(request.user, persona)
        )
        return Template("inbox/_new.html", context={"persona": persona, "found": found})

    @get(_INBOX + "/status", **access.persona(Action.MODERATE))
    async def inbox_status(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
    ) -> Template:
        """The dashboards' piece: a link to the inbox with its new items, and the failing accounts."""
        see = sees_messages(request.user, persona)
        context = {
            "persona": persona,
            "new": (await queries.counts(db_session, persona.id, see_messages=see))[InboxStatus.NEW],
            "deadlines": await queries.deadlines(db_session, persona.id, see_messages=see),
            "health": await queries.inbox_health(db_session, persona.id, inbox_channels(registry, persona)),
        }
        return Template("inbox/_status.html", context=context)

    # -------------------------------------------------------------- one item
    @get(_ITEM, **access.persona(Action.MODERATE))
    async def inbox_item_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> Template:
        context = await _item_context(db_session, registry, request.user, persona, inbox_item)
        return Template("inbox/item.html", context=context)

    @post(_ITEM + "/replying", status_code=200, **access.persona(Action.MODERATE))
    async def replying(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> Template:
        """The reply box got the focus: others now see "X is replying"; this answers who else is."""
        other = await inbox.start_replying(db_session, actor, inbox_item.id)
        return Template("inbox/_replying.html", context={"other": other, "answered": False, "needs_confirm": False})

    @post(_ITEM + "/reply", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def reply(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
        data: Annotated[ReplyForm, Form],
    ) -> Template | Redirect:
        async with on_the_form(db_session) as shown:
            await inbox.reply(db_session, registry, actor, inbox_item.id, data.text, confirm=data.confirm == "1")
        if shown.refusal is not None:
            exc = shown.refusal
            context = await _item_context(db_session, registry, request.user, persona, inbox_item)
            context |= {
                "reply_error": refusal_text(exc),
                "reply_code": exc.code,
                "reply_text": data.text,
                "needs_confirm": exc.code in ("someone_replying", "already_answered"),
            }
            return Template("inbox/item.html", context=context, status_code=exc.status)
        flash(request, _("Reply sent to the outbox: it goes out now."))
        return _to_item(persona.id, inbox_item.id)

    @post(_ITEM + "/assign", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def assign(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
        data: Annotated[AssignForm, Form],
    ) -> Redirect:
        try:
            assignee = uuid.UUID(data.assignee_id) if data.assignee_id.strip() else None
        except ValueError:
            raise Refusal(_("Choose a member of the team."), field="assignee_id") from None
        await inbox.assign(db_session, actor, inbox_item.id, assignee, note=data.note)
        flash(request, _("Assigned.") if assignee else _("Nobody is assigned any more."))
        return _to_item(persona.id, inbox_item.id)

    @post(_ITEM + "/close", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def close(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> Redirect:
        await inbox.close(db_session, actor, inbox_item.id)
        flash(request, _("Closed."))
        return _to_item(persona.id, inbox_item.id)

    @post(_ITEM + "/reopen", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def reopen(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> Redirect:
        await inbox.reopen(db_session, actor, inbox_item.id)
        flash(request, _("Reopened."))
        return _to_item(persona.id, inbox_item.id)

    @post(_ITEM + "/notes", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def add_note(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
        data: Annotated[NoteForm, Form],
    ) -> Redirect:
        await inbox.add_note(db_session, actor, inbox_item.id, data.text)
        flash(request, _("Note added."))
        return _to_item(persona.id, inbox_item.id)

    @post(_ITEM + "/moderation", status_code=303, refused=_BACK_TO_ITEM, **access.persona(Action.MODERATE))
    async def moderate(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
        data: Annotated[ModerationForm, Form],
    ) -> Redirect:
        # the network's capability decides: its API acts, or we record what was done in its app
        feature = inbox.ACTION_FEATURES.get(data.action)
        manual = feature is not None and not _supports(host.registry, inbox_item.channel, feature)
        entry = await inbox.moderate(
            db_session,
            host,
            actor,
            inbox_item.id,
            action=data.action,
            reason_code=data.reason_code,
            reason=data.reason,
            manual=manual,
        )
        flash(
            request,
            _(
                "%(action)s: %(state)s",
                action=moderation_label(entry.action),
                state=moderation_state_label(entry.state),
            ),
        )
        return _to_item(persona.id, inbox_item.id)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/review",
        status_code=303,
        refused=back("/admin/personas/{persona_id}/inbox"),
        **access.persona(Action.BAN),
    )
    async def review(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        moderation_action: NamedDependency[ModerationAction],
        data: Annotated[ReviewForm, Form],
    ) -> Redirect:
        entry = await inbox.review(
            db_session, host, actor, moderation_action.id, approve=data.decision == "approve", reason=data.reason
        )
        flash(request, _("Ban: %(state)s", state=moderation_state_label(entry.state)))
        return _to_item(persona.id, entry.item_id)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/accept",
        status_code=303,
        refused=back("/admin/personas/{persona_id}/inbox"),
        **access.persona(Action.MODERATE),
    )
    async def accept_proposal(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        moderation_action: NamedDependency[ModerationAction],
    ) -> Redirect:
        entry = await inbox.accept_proposal(db_session, host, actor, moderation_action.id)
        flash(
            request,
            _(
                "%(action)s: %(state)s",
                action=moderation_label(entry.action),
                state=moderation_state_label(entry.state),
            ),
        )
        return _to_item(persona.id, entry.item_id)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/dismiss",
        status_code=303,
        refused=back("/admin/personas/{persona_id}/inbox"),
        **access.persona(Action.MODERATE),
    )
    async def dismiss_proposal(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        moderation_action: NamedDependency[ModerationAction],
    ) -> Redirect:
        entry = await inbox.dismiss_proposal(db_session, actor, moderation_action.id)
        flash(request, _("Proposal dismissed: the item stays visible."))
        return _to_item(persona.id, entry.item_id)

    # -------------------------------------------------------------- saved replies
    @get(_SAVED, **access.persona(Action.MODERATE))
    async def saved_replies(
        self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]
    ) -> Template:
        replies = await queries.saved_replies(db_session, persona.id)
        return Template("inbox/saved_replies.html", context={"persona": persona, "replies": replies})

    @post(_SAVED, status_code=303, refused=_BACK_TO_SAVED, **access.persona(Action.SAVED_REPLIES))
    async def create_saved_reply(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: Annotated[SavedReplyForm, Form],
    ) -> Redirect:
        async with on_the_form(db_session) as shown:
            await inbox.create_saved_reply(
                db_session, actor, persona.id, short_code=data.short_code, title=data.title, text=data.text
            )
        return _saved_answer(request, persona.id, shown.refusal, _("Saved reply created."))

    @post(
        _SAVED + "/{saved_reply_id:uuid}",
        status_code=303,
        refused=_BACK_TO_SAVED,
        **access.persona(Action.SAVED_REPLIES),
    )
    async def update_saved_reply(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        saved_reply: NamedDependency[SavedReply],
        data: Annotated[SavedReplyForm, Form],
    ) -> Redirect:
        async with on_the_form(db_session) as shown:
            await inbox.update_saved_reply(
                db_session, actor, saved_reply.id, short_code=data.short_code, title=data.title, text=data.text
            )
        return _saved_answer(request, persona.id, shown.refusal, _("Saved reply changed."))

    @post(
        _SAVED + "/{saved_reply_id:uuid}/delete",
        status_code=303,
        refused=_BACK_TO_SAVED,
        **access.persona(Action.SAVED_REPLIES),
    )
    async def delete_saved_reply(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        saved_reply: NamedDependency[SavedReply],
    ) -> Redirect:
        await inbox.delete_saved_reply(db_session, actor, saved_reply.id)
        flash(request, _("Saved reply deleted."))
        return Redirect(f"/admin/personas/{persona.id}/saved-replies", status_code=303)


def _saved_answer(
    request: Request[StaffUser, Any, Any], persona_id: uuid.UUID, refusal: Refusal | None, done: str
) -> Redirect:
    """Back to the saved replies with what happened (a short code already taken is a 409: said there too)."""
    flash(request, done if refusal is None else _("Refused: %(detail)s", detail=refusal_text(refusal)))
    return Redirect(f"/admin/personas/{persona_id}/saved-replies", status_code=303)


async def _item_context(
    db: AsyncSession, registry: ChannelRegistry, user: StaffUser, persona: Persona, item: ItemRow
) -> dict[str, Any]:
    detail = await queries.item_detail(db, item.id, see_messages=sees_messages(user, persona))
    actions = [a for a in ("hide", "unhide", "delete", "ban") if a != "ban" or user.can(persona.id, Action.BAN)]
    return {
        "persona": persona,
        "detail": detail,
        "item": detail.item,
        "saved": await queries.saved_replies(db, persona.id),
        "assignable": await queries.assignable_staff(db, persona.id),
        "reason_codes": inbox.REASON_CODES,
        "personal_data_answer": inbox_settings(persona.definition).personal_data_answer.strip(),
        "actions": actions,
        #: per moderation action: True where the network's API does it, False where it is done by hand
        "by_api": {a: _supports(registry, item.channel, inbox.ACTION_FEATURES[a]) for a in actions},
        "me": user.id,
        "other_replying": detail.replying_name if detail.replying_id not in (None, user.id) else None,
        "answered": bool(detail.replies) or item.first_response_at is not None,
        "reply_error": None,
        "reply_code": None,
        "reply_text": "",
        "needs_confirm": False,
    }
