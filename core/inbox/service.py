"""What a person does in the inbox: assign, note, reply, close, moderate — checked, audited, measured.

Every function takes the acting staff member with their role on the item's persona
(:class:`StaffActor`), checks it against the one permission table, and records what it did in
the audit log and, where it counts for response times, as an :class:`InboxEvent`. A reply is a
delivery of the one outbox (``compose_reply``): this module only adds what an inbox knows —
who else is answering, whether the network still accepts an answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.channels.contract import ChannelError, Feature
from core.channels.host import ChannelHost, NotConnected
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryState, InboxKind, InboxStatus, PersonaKind
from core.db.models import (
    Account,
    Assignment,
    Delivery,
    InboxArchive,
    InboxEvent,
    InboxItem,
    InboxNote,
    ModerationAction,
    Persona,
    SavedReply,
    Staff,
)
from core.db.types import utcnow
from core.errors import N_, Conflict, NotFound, Refusal
from core.inbox.remote import remote_item
from core.inbox.targets import business_seconds, inbox_settings
from core.people.permissions import PERMISSIONS, Action, require
from core.publishing.compose import ComposeResult, StaffActor, compose_reply

#: how long an open reply box says "X is replying" without a sign of life
REPLYING_FOR = timedelta(seconds=90)
#: why an item is hidden, deleted or its author banned (the persona's moderation charter)
REASON_CODES = ("insult", "harassment", "hateful", "illegal", "personal_data", "spam", "off_topic", "other")
#: the network feature each moderation action needs
ACTION_FEATURES = {"hide": Feature.HIDE, "unhide": Feature.HIDE, "delete": Feature.DELETE_COMMENTS, "ban": Feature.BAN}
#: a reply the network has, or may have, or will have: a second one needs a confirmation
_LIVE_REPLY = (
    DeliveryState.DRAFT,
    DeliveryState.PENDING_APPROVAL,
    DeliveryState.SCHEDULED,
    DeliveryState.QUEUED,
    DeliveryState.PUBLISHING,
    DeliveryState.PUBLISHED,
    DeliveryState.UNCERTAIN,
)
MAX_NOTE = 10_000
MAX_SAVED_REPLY = 5_000


class InboxRefusal(Refusal):
    """An inbox action that cannot be done."""


class ItemNotFound(NotFound):
    """No such item, or not one this person may see."""


class ReplyConflict(Conflict):
    """Someone else is answering, or the item already has an answer: confirm to send another."""


class ReplyWindowClosed(InboxRefusal):
    """The network no longer accepts an answer to this private message."""

    status = 422


class ManualOnly(InboxRefusal):
    """The network's API cannot do this: do it in the network's app, then record it as manual."""

    status = 422


# ------------------------------------------------------------------ loading and checking


async def load_item(session: AsyncSession, actor: StaffActor, item_id: uuid.UUID, action: Action) -> InboxItem:
    """The item if ``actor`` may do ``action`` on it; private messages need their own permission."""
    item = await session.get(InboxItem, item_id)
    if item is None:
        raise ItemNotFound(N_("no such inbox item"), field="item_id", code="item_not_found")
    if item.kind == InboxKind.MESSAGE:
        require(actor.role, Action.SEE_PRIVATE_MESSAGES)
    require(actor.role, action)
    return item


def _snapshot(item: InboxItem) -> dict[str, Any]:
    return {"status": item.status, "assignee_id": item.assignee_id}


def _event(item: InboxItem, kind: str, actor: StaffActor | None, **detail: Any) -> InboxEvent:
    return InboxEvent(
        item_id=item.id, persona_id=item.persona_id, staff_id=actor.id if actor else None, kind=kind, detail=detail
    )


# ------------------------------------------------------------------ assignment, notes, status


async def assign(
    session: AsyncSession, actor: StaffActor, item_id: uuid.UUID, assignee_id: uuid.UUID | None, *, note: str = ""
) -> InboxItem:
    """Give the item to a member of the persona's team (moderator and up), or take it back (None)."""
    item = await load_item(session, actor, item_id, Action.MODERATE)
    before = _snapshot(item)
    if assignee_id is not None:
        role = await session.scalar(
            select(Assignment.role).where(Assignment.staff_id == assignee_id, Assignment.persona_id == item.persona_id)
        )
        if role is None or not role.at_least(PERMISSIONS[Action.MODERATE].minimum):
            raise InboxRefusal(
                N_("this person is not in the persona's inbox team"), field="assignee_id", code="assignee_not_in_team"
            )
    item.assignee_id = assignee_id
    if item.status in (InboxStatus.NEW, InboxStatus.ASSIGNED):
        item.status = InboxStatus.ASSIGNED if assignee_id else InboxStatus.NEW
    if note.strip():
        session.add(InboxNote(item_id=item.id, author_id=actor.id, text=_bounded(note, MAX_NOTE, "note")))
    session.add(_event(item, "assigned", actor, assignee_id=str(assignee_id) if assignee_id else None))
    record(
        session,
        actor.actor,
        "inbox.assigned",
        "inbox_item",
        item.id,
        persona_id=item.persona_id,
        before=before,
        after=_snapshot(item),
        reason=note.strip() or None,
    )
    return item


async def add_note(session: AsyncSession, actor: StaffActor, item_id: uuid.UUID, text: str) -> InboxNote:
    """An internal note: the team sees it, the network never does."""
    item = await load_item(session, actor, item_id, Action.MODERATE)
    if not text.strip():
        raise InboxRefusal(N_("a note cannot be empty"), field="text", code="note_empty")
    note = InboxNote(item_id=item.id, author_id=actor.id, text=_bounded(text, MAX_NOTE, "text"))
    session.add(note)
    await session.flush()
    record(session, actor.actor, "inbox.noted", "inbox_item", item.id, persona_id=item.persona_id)
    return note


async def close(session: AsyncSession, actor: StaffActor, item_id: uuid.UUID) -> InboxItem:
    item = await load_item(session, actor, item_id, Action.MODERATE)
    if item.status == InboxStatus.CLOSED:
        return item
    before = _snapshot(item)
    now = utcnow()
    item.status, item.closed_at, item.response_due_at = InboxStatus.CLOSED, now, None
    session.add(await _resolution_event(session, item, actor, now))
    record(
        session,
        actor.actor,
        "inbox.closed",
        "inbox_item",
        item.id,
        persona_id=item.persona_id,
        before=before,
        after=_snapshot(item),
    )
    return item


async def _resolution_event(session: AsyncSession, item: InboxItem, actor: StaffActor, now: datetime) -> InboxEvent:
    persona = await session.get(Persona, item.persona_id)
    assert persona is not None
    event = _event(item, "resolved", actor)
    event.at, event.seconds = now, max(0.0, (now - item.received_at).total_seconds())
    event.business_seconds = business_seconds(persona, item.received_at, now)
    return event


async def reopen(session: AsyncSession, actor: StaffActor, item_id: uuid.UUID) -> InboxItem:
    item = await load_item(session, actor, item_id, Action.MODERATE)
    if item.status != InboxStatus.CLOSED:
        return item
    before = _snapshot(item)
    item.closed_at = None
    item.status = (
        InboxStatus.ASSIGNED
        if item.assignee_id
        else (InboxStatus.ANSWERED if item.first_response_at else InboxStatus.NEW)
    )
    session.add(_event(item, "reopened", actor))
    record(
        session,
        actor.actor,
        "inbox.reopened",
        "inbox_item",
        item.id,
        persona_id=item.persona_id,
        before=before,
        after=_snapshot(item),
    )
    return item


# ------------------------------------------------------------------ replies


async def start_replying(session: AsyncSession, actor: StaffActor, item_id: uuid.UUID) -> str | None:
    """``actor`` opened the reply box: others now see them replying. Returns who else is, if anyone."""
    item = await load_item(session, actor, item_id, Action.MODERATE)
    now = utcnow()
    other = await _someone_else_replying(session, item, actor, now)
    if other is None:
        # Compare-and-set: of two people opening the box at once, one holds it, the other is told.
        taken = await session.execute(
            update(InboxItem)
            .where(
                InboxItem.id == item.id,
                (InboxItem.replying_id.is_(None))
                | (InboxItem.replying_id == actor.id)
                | (InboxItem.replying_until < now),
            )
            .values(replying_id=actor.id, replying_until=now + REPLYING_FOR)
            .execution_options(synchronize_session=False)
        )
        if not taken.rowcount:
            other = await _someone_else_replying(session, item, actor, now)
    return other


async def _someone_else_replying(
    session: AsyncSession, item: InboxItem, actor: StaffActor, now: datetime
) -> str | None:
    await session.refresh(item, ["replying_id", "replying_until"])
    if item.replying_id is None or item.replying_id == actor.id or item.replying_until is None:
        return None
    if item.replying_until < now:
        return None
    return await session.scalar(select(Staff.display_name).where(Staff.id == item.replying_id))


async def reply(
    session: AsyncSession,
    registry: ChannelRegistry,
    actor: StaffActor,
    item_id: uuid.UUID,
    text: str,
    *,
    confirm: bool = False,
    now: datetime | None = None,
) -> ComposeResult:
    """Answer the item through the outbox; refused past the network's window, and, unless
    ``confirm``, while someone else is replying or once an answer exists."""
    now = now or utcnow()
    item = await load_item(session, actor, item_id, Action.MODERATE)
    account = await session.get(Account, item.account_id)
    assert account is not None  # an item belongs to its account (FK, cascade)
    await _check_window(session, registry, account, item, now)
    if not confirm:
        await _check_no_other_answer(session, item, actor, now)
    result = await compose_reply(session, registry, actor, item.id, text)
    await session.execute(
        update(InboxItem)
        .where(InboxItem.id == item.id, InboxItem.replying_id == actor.id)
        .values(replying_id=None, replying_until=None)
        .execution_options(synchronize_session=False)
    )
    session.add(_event(item, "reply_composed", actor, post_id=str(result.post.id), confirmed=confirm))
    return result


async def _check_window(
    session: AsyncSession, registry: ChannelRegistry, account: Account, item: InboxItem, now: datetime
) -> None:
    """Messenger and Instagram take an answer to a private message within 24 hours of the
    person's last message (TikTok 48): past it the network refuses, so we refuse first."""
    if item.kind != InboxKind.MESSAGE or account.channel not in registry:
        return
    window = registry.get(account.channel).capabilities.message_reply_window
    if window is None:
        return
    last = await session.scalar(
        select(func.max(InboxItem.received_at)).where(
            InboxItem.account_id == account.id,
            InboxItem.kind == InboxKind.MESSAGE,
            InboxItem.author_remote_id == item.author_remote_id,
            InboxItem.thread_remote_id == item.thread_remote_id
            if item.thread_remote_id is not None
            else InboxItem.id == item.id,
        )
    )
    last = last or item.received_at
    if now - last > window:
        hours = int(window.total_seconds() // 3600)
        raise ReplyWindowClosed(
            N_(
                "%(channel)s accepts an answer within %(hours)s hours of the person's last message "
                "(%(last)s); this window has closed"
            ),
            params={"channel": account.channel, "hours": hours, "last": last.isoformat()},
            field="item_id",
            code="reply_window_closed",
            extra={"channel": account.channel, "window_hours": hours, "last_message_at": last.isoformat()},
        )


async def _check_no_other_answer(session: AsyncSession, item: InboxItem, actor: StaffActor, now: datetime) -> None:
    other = await _someone_else_replying(session, item, actor, now)
    if other is not None:
        raise ReplyConflict(
            N_("%(who)s is replying to this item; confirm to send your answer too"),
            params={"who": other},
            field="confirm",
            code="someone_replying",
            extra={"who": other},
        )
    existing = await session.scalar(
        select(Delivery.state)
        .where(Delivery.in_reply_to_id == item.id, Delivery.state.in_(_LIVE_REPLY))
        .order_by(Delivery.created_at.desc())
        .limit(1)
    )
    if existing is not None or item.first_response_at is not None:
        raise ReplyConflict(
            N_("this item already has an answer; confirm to send another one"),
            field="confirm",
            code="already_answered",
            extra={"state": existing.value if existing is not None else "answered"},
        )


# ------------------------------------------------------------------ saved replies


async def create_saved_reply(
    session: AsyncSession, actor: StaffActor, persona_id: uuid.UUID, *, short_code: str, title: str, text: str
) -> SavedReply:
    require(actor.role, Action.SAVED_REPLIES)
    saved = SavedReply(persona_id=persona_id)
    await _fill_saved_reply(session, saved, short_code=short_code, title=title, text=text)
    session.add(saved)
    await session.flush()
    record(session, actor.actor, "saved_reply.created", "saved_reply", saved.id, persona_id=persona_id)
    return saved


async def update_saved_reply(
    session: AsyncSession, actor: StaffActor, saved_reply_id: uuid.UUID, *, short_code: str, title: str, text: str
) -> SavedReply:
    require(actor.role, Action.SAVED_REPLIES)
    saved = await _saved_reply(session, saved_reply_id)
    before = {"short_code": saved.short_code, "title": saved.title}
    await _fill_saved_reply(session, saved, short_code=short_code, title=title, text=text)
    record(
        session,
        actor.actor,
        "saved_reply.updated",
        "saved_reply",
        saved.id,
        persona_id=saved.persona_id,
        before=before,
        after={"short_code": saved.short_code, "title": saved.title},
    )
    return saved


async def delete_saved_reply(session: AsyncSession, actor: StaffActor, saved_reply_id: uuid.UUID) -> None:
    require(actor.role, Action.SAVED_REPLIES)
    saved = await _saved_reply(session, saved_reply_id)
    record(
        session,
        actor.actor,
        "saved_reply.deleted",
        "saved_reply",
        saved.id,
        persona_id=saved.persona_id,
        before={"short_code": saved.short_code, "title": saved.title},
    )
    await session.delete(saved)


async def _saved_reply(session: AsyncSession, saved_reply_id: uuid.UUID) -> SavedReply:
    saved = await session.get(SavedReply, saved_reply_id)
    if saved is None:
        raise NotFound(N_("no such saved reply"), field="saved_reply_id", code="saved_reply_not_found")
    return saved


async def _fill_saved_reply(
    session: AsyncSession, saved: SavedReply, *, short_code: str, title: str, text: str
) -> None:
    code = short_code.strip().lstrip("/").lower()
    if not code or len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
        raise InboxRefusal(
            N_("a short code is 1 to 32 letters, digits, - or _"), field="short_code", code="short_code_invalid"
        )
    if not title.strip() or len(title) > 200:
        raise InboxRefusal(
            N_("a saved reply needs a title of at most 200 characters"), field="title", code="title_invalid"
        )
    if not text.strip():
        raise InboxRefusal(N_("a saved reply cannot be empty"), field="text", code="text_empty")
    taken = await session.scalar(
        select(SavedReply.id).where(
            SavedReply.persona_id == saved.persona_id, SavedReply.short_code == code, SavedReply.id != saved.id
        )
    )
    if taken is not None:
        raise Conflict(
            N_("the short code /%(code)s is already used"),
            params={"code": code},
            field="short_code",
            code="short_code_taken",
        )
    saved.short_code, saved.title, saved.text = code, title.strip(), _bounded(text, MAX_SAVED_REPLY, "text")


def _bounded(text: str, limit: int, field: str) -> str:
    if len(text) > limit:
        raise InboxRefusal(
            N_("at most %(limit)s characters"),
            params={"limit": limit},
            field=field,
            code="too_long",
            extra={"limit": limit},
        )
    return text.strip()


# ------------------------------------------------------------------ moderation


async def moderate(
    session: AsyncSession,
    host: ChannelHost,
    actor: StaffActor,
    item_id: uuid.UUID,
    *,
    action: str,
    reason_code: str,
    reason: str = "",
    manual: bool = False,
) -> ModerationAction:
    """Hide, show again, delete or ban, with a reason code; on the network where its API can,
    else recorded as done by hand in the network's own app (``manual``), never pretended.

    Before a hide or delete on an institution's account the item is archived (X1). A ban by an
    institution waits for the review of another manager (a public body blocking a citizen is an
    administrative decision; one was annulled in court).
    """
    if action not in ACTION_FEATURES:
        raise InboxRefusal(
            N_("unknown moderation action “%(action)s”"),
            params={"action": action},
            field="action",
            code="action_unknown",
        )
    if reason_code not in REASON_CODES:
        raise InboxRefusal(N_("a moderation action needs a reason code"), field="reason_code", code="reason_required")
    if reason_code == "other" and not reason.strip():
        raise InboxRefusal(N_("say why, when the reason is “other”"), field="reason", code="reason_required")
    item = await load_item(session, actor, item_id, Action.BAN if action == "ban" else Action.MODERATE)
    account = await session.get(Account, item.account_id)
    persona = await session.get(Persona, item.persona_id)
    assert account is not None and persona is not None
    supported = _supported(host, account.channel, action)
    if not supported and not manual:
        raise ManualOnly(
            N_(
                "%(channel)s does not let Porte-voix %(action)s through its API: do it in the network's app, "
                "then record it as a manual action"
            ),
            params={"channel": account.channel, "action": action},
            field="manual",
            code="manual_only",
            extra={"channel": account.channel, "action": action},
        )
    entry = ModerationAction(
        item_id=item.id,
        persona_id=item.persona_id,
        action=action,
        state="pending_review",
        reason_code=reason_code,
        reason=reason.strip(),
        requested_by_id=actor.id,
    )
    session.add(entry)
    if action in ("hide", "delete") and persona.kind == PersonaKind.INSTITUTION:
        archive(session, item, reason=f"before {action}: {reason_code}")
    if action == "ban" and persona.kind == PersonaKind.INSTITUTION:
        await session.flush()
        record(
            session,
            actor.actor,
            "inbox.ban_requested",
            "inbox_item",
            item.id,
            persona_id=item.persona_id,
            after={"action_id": entry.id, "reason_code": reason_code},
            reason=reason.strip() or None,
        )
        return entry
    await _carry_out(session, host, actor, entry, item, account, manual=manual or not supported)
    return entry


async def review(
    session: AsyncSession,
    host: ChannelHost,
    actor: StaffActor,
    action_id: uuid.UUID,
    *,
    approve: bool,
    reason: str = "",
) -> ModerationAction:
    """A manager other than the one who asked decides on a pending ban."""
    entry = await session.get(ModerationAction, action_id)
    if entry is None:
        raise NotFound(N_("no such moderation action"), field="action_id", code="moderation_not_found")
    item = await load_item(session, actor, entry.item_id, Action.BAN)
    if entry.state != "pending_review":
        raise Conflict(
            N_("this action is %(state)s, not waiting for a review"),
            params={"state": entry.state},
            field="action_id",
            code="not_pending",
        )
    if entry.requested_by_id == actor.id:
        raise InboxRefusal(
            N_("another manager reviews a ban you asked for"), field="action_id", code="own_request", extra={}
        )
    entry.reviewed_by_id = actor.id
    if not approve:
        if not reason.strip():
            raise InboxRefusal(N_("say why the ban is refused"), field="reason", code="reason_required")
        entry.state, entry.error = "refused", reason.strip()
        record(
            session,
            actor.actor,
            "inbox.ban_refused",
            "inbox_item",
            item.id,
            persona_id=item.persona_id,
            after={"action_id": entry.id},
            reason=reason.strip(),
        )
        return entry
    account = await session.get(Account, item.account_id)
    assert account is not None
    await _carry_out(session, host, actor, entry, item, account, manual=not _supported(host, account.channel, "ban"))
    return entry


async def accept_proposal(
    session: AsyncSession, host: ChannelHost, actor: StaffActor, action_id: uuid.UUID
) -> ModerationAction:
    """Carry out a hide proposed on arrival (M1, M2); for personal data, with the persona's
    standard answer pointing to the official form, through the outbox like any reply."""
    entry = await _proposed(session, action_id)
    item = await load_item(session, actor, entry.item_id, Action.MODERATE)
    account = await session.get(Account, item.account_id)
    persona = await session.get(Persona, item.persona_id)
    assert account is not None and persona is not None
    entry.requested_by_id = actor.id
    if persona.kind == PersonaKind.INSTITUTION:
        archive(session, item, reason=f"before hide: {entry.reason_code}")
    await _carry_out(session, host, actor, entry, item, account, manual=not _supported(host, account.channel, "hide"))
    answer = inbox_settings(persona.definition).personal_data_answer.strip()
    if entry.reason_code == "personal_data" and answer and entry.state in ("done", "manual"):
        await reply(session, host.registry, actor, item.id, answer, confirm=True)
    return entry


async def dismiss_proposal(
    session: AsyncSession, actor: StaffActor, action_id: uuid.UUID, *, reason: str = ""
) -> ModerationAction:
    """A person read the item and keeps it visible: the proposal is refused, on the record."""
    entry = await _proposed(session, action_id)
    item = await load_item(session, actor, entry.item_id, Action.MODERATE)
    entry.state, entry.reviewed_by_id, entry.error = "refused", actor.id, reason.strip() or None
    record(
        session,
        actor.actor,
        "inbox.proposal_dismissed",
        "inbox_item",
        item.id,
        persona_id=item.persona_id,
        after={"action_id": entry.id, "reason_code": entry.reason_code},
        reason=reason.strip() or None,
    )
    return entry


async def _proposed(session: AsyncSession, action_id: uuid.UUID) -> ModerationAction:
    entry = await session.get(ModerationAction, action_id)
    if entry is None:
        raise NotFound(N_("no such moderation action"), field="action_id", code="moderation_not_found")
    if entry.state != "proposed":
        raise Conflict(
            N_("this action is %(state)s, not a proposal"),
            params={"state": entry.state},
            field="action_id",
            code="not_proposed",
        )
    return entry


def _supported(host: ChannelHost, channel: str, action: str) -> bool:
    if channel not in host.registry:
        return False
    return host.registry.get(channel).capabilities.supports(ACTION_FEATURES[action])


async def _carry_out(
    session: AsyncSession,
    host: ChannelHost,
    actor: StaffActor,
    entry: ModerationAction,
    item: InboxItem,
    account: Account,
    *,
    manual: bool,
) -> None:
    now = utcnow()
    if manual:
        entry.state = "manual"
    else:
        try:
            await _on_network(host, account, item, entry.action)
            entry.state = "done"
        except (ChannelError, NotConnected) as exc:
            entry.state, entry.error = "failed", getattr(exc, "network_message", str(exc))
    if entry.state in ("done", "manual"):
        entry.done_at = now
        _apply(item, entry.action, now)
        session.add(_event(item, entry.action, actor, action_id=str(entry.id), manual=manual))
    await session.flush()
    record(
        session,
        actor.actor,
        f"inbox.{entry.action}",
        "inbox_item",
        item.id,
        persona_id=item.persona_id,
        after={
            "action_id": entry.id,
            "state": entry.state,
            "reason_code": entry.reason_code,
            "manual": manual,
            "error": entry.error,
        },
        reason=entry.reason or None,
    )


async def _on_network(host: ChannelHost, account: Account, item: InboxItem, action: str) -> None:
    plugin, ref, remote = host.plugin(account.channel), host.account_ref(account), remote_item(item)
    match action:
        case "hide" | "unhide":
            await plugin.hide_item(ref, remote, hidden=action == "hide")
        case "delete":
            await plugin.delete_item(ref, remote)
        case "ban":
            await plugin.ban_author(ref, remote)


def _apply(item: InboxItem, action: str, now: datetime) -> None:
    if action in ("hide", "unhide"):
        item.hidden = action == "hide"
    elif action == "delete":
        item.deleted_at, item.status, item.closed_at, item.response_due_at = now, InboxStatus.CLOSED, now, None


def archive(session: AsyncSession, item: InboxItem, *, reason: str) -> InboxArchive:
    """A write-once copy of the item with its content hash (X1), taken before anything destroys it."""
    content = {
        "remote_id": item.remote_id,
        "kind": item.kind.value,
        "account_id": str(item.account_id),
        "author_remote_id": item.author_remote_id,
        "author_handle": item.author_handle,
        "author_name": item.author_name,
        "text": item.text,
        "url": item.url,
        "received_at": item.received_at.isoformat(),
        "thread_remote_id": item.thread_remote_id,
        "parent_remote_id": item.parent_remote_id,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    copy = InboxArchive(
        item_id=item.id, persona_id=item.persona_id, at=utcnow(), content_hash=digest, content=content, reason=reason
    )
    session.add(copy)
    return copy
