"""/api/v1/personas/{persona_id}/inbox…: the list with its filters, one item with its thread and
history, assigning, replying, closing, reopening, notes, moderation and its review, saved replies.

Everything lives under the persona, like the publishing API: the guard checks the caller's role
on the persona of the path (the one permission table), then the item is looked up *in* that
persona. Another persona's item, and a private message to someone without
``see_private_messages``, answer 404 — as if they did not exist.

Access: reading and acting on items is ``moderate`` (a ban needs ``ban``: the service checks,
as it checks private messages); reviewing a ban is ``ban``; writing saved replies is
``saved_replies``, reading them ``moderate``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.contract import Feature, InboxKind
from core.channels.host import ChannelHost
from core.channels.registry import ChannelRegistry
from core.db.enums import InboxStatus
from core.db.models import ModerationAction, Persona, SavedReply
from core.db.types import utcnow
from core.inbox import queries
from core.inbox import service as inbox
from core.inbox.queries import InboxFilter, ItemRow
from core.people.permissions import Action
from core.publishing.compose import StaffActor
from web import access
from web.access import ConflictException, PolicyBlockedException
from web.auth import StaffUser
from web.deps import inbox_item_or_404
from web.inbox.schemas import (
    AccountHealthOut,
    AssignIn,
    InboxSummaryOut,
    ItemDetailOut,
    ItemOut,
    ItemPage,
    ModerationIn,
    ModerationOut,
    NoteIn,
    NoteOut,
    ReplyIn,
    ReplyResultOut,
    ResponseTimesOut,
    ReviewIn,
    SavedReplyIn,
    SavedReplyOut,
    StaffChoiceOut,
    detail_out,
    item_out,
)
from web.pagination import Cursor, Limit
from web.structs import Items, out

_PERSONA = "/{persona_id:uuid}"
_ITEM = _PERSONA + "/inbox/{item_id:uuid}"
_SAVED = _PERSONA + "/saved-replies"
_REFUSED = [ClientException, ConflictException]

ChannelFilter = Annotated[str | None, QueryParameter(max_length=32, description="a network: instagram, facebook…")]
KindFilter = Annotated[InboxKind | None, QueryParameter(description="comment, reply, mention or message")]
StatusFilter = Annotated[InboxStatus | None, QueryParameter(description="new, assigned, answered or closed")]
AssigneeFilter = Annotated[str | None, QueryParameter(max_length=36, description="a staff id, “me” or “none” (nobody)")]
FromDate = Annotated[date | None, QueryParameter(name="from", description="first day, in the persona's time zone")]
ToDate = Annotated[date | None, QueryParameter(name="to", description="last day (included), persona's time zone")]


def sees_messages(user: StaffUser, persona: Persona) -> bool:
    return user.can(persona.id, Action.SEE_PRIVATE_MESSAGES)


def inbox_channels(registry: ChannelRegistry, persona: Persona) -> set[str]:
    """The persona's channels whose plugin reads an inbox (the others have no sync to watch)."""
    return {
        a.channel
        for a in persona.accounts
        if a.channel in registry and registry.get(a.channel).capabilities.supports(Feature.INBOX)
    }


async def _detail(db: AsyncSession, user: StaffUser, persona: Persona, item_id: uuid.UUID) -> ItemDetailOut:
    detail = await queries.item_detail(db, item_id, see_messages=sees_messages(user, persona))
    return detail_out(detail, utcnow())


async def _item(
    db: AsyncSession, request: Request[StaffUser, Any, Any], persona: Persona, item_id: uuid.UUID
) -> ItemOut:
    return item_out(await inbox_item_or_404(request, db, persona, item_id), utcnow())


class InboxApiController(Controller):
    path = "/api/v1/personas"
    tags = ["inbox"]

    # -------------------------------------------------------------- reading
    @get(
        _PERSONA + "/inbox",
        summary="The persona's inbox, newest first, filtered; keyset pagination (private messages "
        "only for those who may read them)",
        **access.persona(Action.MODERATE, errors=[ClientException]),
    )
    async def list_inbox(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        channel: ChannelFilter = None,
        kind: KindFilter = None,
        status: StatusFilter = None,
        assignee: AssigneeFilter = None,
        start: FromDate = None,
        end: ToDate = None,
        overdue: FromQuery[bool] = False,
        flagged: FromQuery[bool] = False,
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> ItemPage:
        filters = InboxFilter(
            channel=channel,
            kind=kind,
            status=status,
            assignee=assignee,
            me=request.user.id,
            date_from=start,
            date_to=end,
            timezone=persona.timezone,
            overdue=overdue,
            flagged=flagged,
        )
        see = sees_messages(request.user, persona)
        page = await queries.list_items(db_session, persona.id, filters, see_messages=see, cursor=cursor, limit=limit)
        now = utcnow()
        return ItemPage(items=[item_out(r, now) for r in page.items], next_cursor=page.next_cursor)

    @get(
        _PERSONA + "/inbox/summary",
        summary="Counts per status, who items may be assigned to, how each account's inbox sync is doing",
        **access.persona(Action.MODERATE),
    )
    async def inbox_summary(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        persona: NamedDependency[Persona],
    ) -> InboxSummaryOut:
        counts = await queries.counts(db_session, persona.id, see_messages=sees_messages(request.user, persona))
        staff = await queries.assignable_staff(db_session, persona.id)
        health = await queries.inbox_health(db_session, persona.id, inbox_channels(registry, persona))
        return InboxSummaryOut(
            counts={s.value: n for s, n in counts.items()},
            assignable=[out(s, StaffChoiceOut, role=s.role.value) for s in staff],
            health=[out(h, AccountHealthOut) for h in health],
            reason_codes=list(inbox.REASON_CODES),
            response_times=[
                out(t, ResponseTimesOut)
                for t in await queries.response_times(
                    db_session, persona.id, since=utcnow() - queries.RESPONSE_TIMES_PERIOD
                )
            ],
        )

    @get(
        _ITEM,
        summary="One item with its thread, our post it answers, notes, history and our replies",
        **access.persona(Action.MODERATE),
    )
    async def get_inbox_item(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> ItemDetailOut:
        return await _detail(db_session, request.user, persona, inbox_item.id)

    # -------------------------------------------------------------- acting
    @post(
        _ITEM + "/assign",
        status_code=200,
        summary="Assign the item to a team member (moderator and up), with a note; null takes it back",
        **access.persona(Action.MODERATE, errors=_REFUSED),
    )
    async def assign_item(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
        data: JSONBody[AssignIn],
    ) -> ItemOut:
        await inbox.assign(db_session, actor, inbox_item.id, data.assignee_id, note=data.note)
        return await _item(db_session, request, persona, inbox_item.id)

    @post(
        _ITEM + "/reply",
        status_code=201,
        summary="Answer the item through the outbox; 409 while someone else replies or once answered "
        "(unless confirm), 422 past the network's reply window or when the policy blocks",
        **access.persona(Action.MODERATE, errors=[*_REFUSED, PolicyBlockedException]),
    )
    async def reply_to_item(
        self,
        db_session: NamedDependency[AsyncSession],
        registry: NamedDependency[ChannelRegistry],
        actor: NamedDependency[StaffActor],
        inbox_item: NamedDependency[ItemRow],
        data: JSONBody[ReplyIn],
    ) -> ReplyResultOut:
        result = await inbox.reply(db_session, registry, actor, inbox_item.id, data.text, confirm=data.confirm)
        return ReplyResultOut(
            post_id=result.post.id,
            delivery_ids=[d.id for d in result.deliveries],
            states=[d.state.value for d in result.deliveries],
        )

    @post(
        _ITEM + "/replying",
        status_code=200,
        summary="I opened the reply box: others see me replying; answers who else is, if anyone",
        **access.persona(Action.MODERATE),
    )
    async def start_replying_to_item(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> ItemDetailOut:
        await inbox.start_replying(db_session, actor, inbox_item.id)
        return await _detail(db_session, request.user, persona, inbox_item.id)

    @post(_ITEM + "/close", status_code=200, summary="Close the item", **access.persona(Action.MODERATE))
    async def close_item(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> ItemOut:
        await inbox.close(db_session, actor, inbox_item.id)
        return await _item(db_session, request, persona, inbox_item.id)

    @post(_ITEM + "/reopen", status_code=200, summary="Reopen a closed item", **access.persona(Action.MODERATE))
    async def reopen_item(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        inbox_item: NamedDependency[ItemRow],
    ) -> ItemOut:
        await inbox.reopen(db_session, actor, inbox_item.id)
        return await _item(db_session, request, persona, inbox_item.id)

    @post(
        _ITEM + "/notes",
        summary="An internal note (the network never sees it)",
        **access.persona(Action.MODERATE, errors=_REFUSED),
    )
    async def add_item_note(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        inbox_item: NamedDependency[ItemRow],
        data: JSONBody[NoteIn],
    ) -> NoteOut:
        note = await inbox.add_note(db_session, actor, inbox_item.id, data.text)
        return NoteOut(id=note.id, text=note.text, created_at=note.created_at, author_id=actor.id, author_name=None)

    @post(
        _ITEM + "/moderation",
        summary="Hide, show again, delete or ban, with a reason code; manual: done by hand in the "
        "network's app (422 manual_only where the network's API cannot); an institution's ban waits "
        "for another manager's review",
        **access.persona(Action.MODERATE, errors=_REFUSED),
    )
    async def moderate_item(
        self,
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        inbox_item: NamedDependency[ItemRow],
        data: JSONBody[ModerationIn],
    ) -> ModerationOut:
        entry = await inbox.moderate(
            db_session,
            host,
            actor,
            inbox_item.id,
            action=data.action,
            reason_code=data.reason_code,
            reason=data.reason,
            manual=data.manual,
        )
        return out(entry, ModerationOut)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/review",
        status_code=200,
        summary="Approve or refuse a pending ban (another manager than the one who asked)",
        **access.persona(Action.BAN, errors=_REFUSED),
    )
    async def review_moderation(
        self,
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        moderation_action: NamedDependency[ModerationAction],
        data: JSONBody[ReviewIn],
    ) -> ModerationOut:
        entry = await inbox.review(
            db_session, host, actor, moderation_action.id, approve=data.approve, reason=data.reason
        )
        return out(entry, ModerationOut)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/accept",
        status_code=200,
        summary="Carry out a hide proposed on arrival (personal data: with the persona's standard answer)",
        **access.persona(Action.MODERATE, errors=_REFUSED),
    )
    async def accept_proposal(
        self,
        db_session: NamedDependency[AsyncSession],
        host: NamedDependency[ChannelHost],
        actor: NamedDependency[StaffActor],
        moderation_action: NamedDependency[ModerationAction],
    ) -> ModerationOut:
        return out(await inbox.accept_proposal(db_session, host, actor, moderation_action.id), ModerationOut)

    @post(
        _PERSONA + "/moderation/{action_id:uuid}/dismiss",
        status_code=200,
        summary="Keep the item visible: the proposal is refused, on the record",
        **access.persona(Action.MODERATE, errors=_REFUSED),
    )
    async def dismiss_proposal(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        moderation_action: NamedDependency[ModerationAction],
    ) -> ModerationOut:
        return out(await inbox.dismiss_proposal(db_session, actor, moderation_action.id), ModerationOut)

    # -------------------------------------------------------------- saved replies
    @get(_SAVED, summary="The persona's saved replies, by short code", **access.persona(Action.MODERATE))
    async def list_saved_replies(
        self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]
    ) -> Items[SavedReplyOut]:
        return Items(items=[out(s, SavedReplyOut) for s in await queries.saved_replies(db_session, persona.id)])

    @post(
        _SAVED,
        summary="A new saved reply (its short code unique in the persona)",
        **access.persona(Action.SAVED_REPLIES, errors=_REFUSED),
    )
    async def create_saved_reply(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: JSONBody[SavedReplyIn],
    ) -> SavedReplyOut:
        saved = await inbox.create_saved_reply(
            db_session, actor, persona.id, short_code=data.short_code, title=data.title, text=data.text
        )
        return out(saved, SavedReplyOut)

    @put(
        _SAVED + "/{saved_reply_id:uuid}",
        summary="Change a saved reply",
        **access.persona(Action.SAVED_REPLIES, errors=_REFUSED),
    )
    async def update_saved_reply(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        saved_reply: NamedDependency[SavedReply],
        data: JSONBody[SavedReplyIn],
    ) -> SavedReplyOut:
        saved = await inbox.update_saved_reply(
            db_session, actor, saved_reply.id, short_code=data.short_code, title=data.title, text=data.text
        )
        return out(saved, SavedReplyOut)

    @delete(
        _SAVED + "/{saved_reply_id:uuid}",
        summary="Delete a saved reply",
        **access.persona(Action.SAVED_REPLIES),
    )
    async def delete_saved_reply(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        saved_reply: NamedDependency[SavedReply],
    ) -> None:
        await inbox.delete_saved_reply(db_session, actor, saved_reply.id)
