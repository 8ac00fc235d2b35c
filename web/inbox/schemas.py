"""The inbox API's structures: items and their thread, what a person sends to act on one, saved replies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.inbox import queries
from core.inbox.targets import sla_state
from web.structs import ApiStruct, out

KindName = Literal["comment", "reply", "mention", "message"]
StatusName = Literal["new", "assigned", "answered", "closed"]
ModerationName = Literal["hide", "unhide", "delete", "ban"]
Text = Annotated[str, msgspec.Meta(max_length=20000)]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]


class ItemOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    account_id: uuid.UUID
    channel: str
    account_handle: str
    kind: KindName
    remote_id: str
    parent_id: uuid.UUID | None
    delivery_id: uuid.UUID | None
    author_handle: str
    author_name: str
    text: str
    url: str | None
    received_at: datetime
    status: StatusName
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    #: personal_data, administrative, document_request, hateful
    flags: list[str]
    response_due_at: datetime | None
    legal_due_at: datetime | None
    #: against ``responseDueAt``: ok, at_risk, breached (null: nothing is due)
    sla: Literal["ok", "at_risk", "breached"] | None
    first_response_at: datetime | None
    closed_at: datetime | None
    hidden: bool
    deleted_at: datetime | None


class ItemPage(ApiStruct):
    items: list[ItemOut]
    next_cursor: str | None


class NoteOut(ApiStruct):
    id: uuid.UUID
    text: str
    created_at: datetime
    author_id: uuid.UUID | None
    author_name: str | None


class EventOut(ApiStruct):
    id: uuid.UUID
    kind: str
    at: datetime
    staff_id: uuid.UUID | None
    staff_name: str | None
    seconds: float | None
    business_seconds: float | None
    detail: dict[str, Any]


class ModerationOut(ApiStruct, kw_only=True):
    id: uuid.UUID
    action: ModerationName
    #: proposed, pending_review, done, manual (done by hand in the network's app), refused, failed
    state: str
    reason_code: str
    reason: str
    requested_by_id: uuid.UUID | None
    requested_by_name: str | None = None
    reviewed_by_id: uuid.UUID | None
    reviewed_by_name: str | None = None
    created_at: datetime
    done_at: datetime | None
    error: str | None


class ReplyOut(ApiStruct):
    id: uuid.UUID
    post_id: uuid.UUID
    state: str
    text: str
    author_id: uuid.UUID | None
    author_name: str | None
    created_at: datetime
    published_at: datetime | None
    remote_url: str | None
    last_error: str | None


class OurPostOut(ApiStruct):
    delivery_id: uuid.UUID
    post_id: uuid.UUID
    text: str
    published_at: datetime | None
    remote_url: str | None


class ItemDetailOut(ApiStruct):
    item: ItemOut
    parent: ItemOut | None
    siblings: list[ItemOut]
    children: list[ItemOut]
    our_post: OurPostOut | None
    notes: list[NoteOut]
    events: list[EventOut]
    moderation: list[ModerationOut]
    replies: list[ReplyOut]
    replying_id: uuid.UUID | None
    replying_name: str | None
    replying_until: datetime | None


class AssignIn(ApiStruct):
    """Give the item to a team member (moderator and up); null takes it back."""

    assignee_id: uuid.UUID | None = None
    note: Text = ""


class ReplyIn(ApiStruct):
    """An answer, sent through the outbox. ``confirm``: send it although someone else is
    replying or an answer exists (refused with 409 otherwise)."""

    text: Text
    confirm: bool = False


class ReplyResultOut(ApiStruct):
    post_id: uuid.UUID
    delivery_ids: list[uuid.UUID]
    states: list[str]


class NoteIn(ApiStruct):
    text: Annotated[str, msgspec.Meta(max_length=10000)]


class ModerationIn(ApiStruct):
    """``reasonCode``: insult, harassment, hateful, illegal, personal_data, spam, off_topic, other.
    ``manual``: done by hand in the network's own app (where its API cannot), recorded as such."""

    action: ModerationName
    reason_code: Annotated[str, msgspec.Meta(max_length=32)]
    reason: Reason = ""
    manual: bool = False


class ReviewIn(ApiStruct):
    approve: bool
    reason: Reason = ""


class SavedReplyIn(ApiStruct):
    short_code: Annotated[str, msgspec.Meta(max_length=33)]
    title: Annotated[str, msgspec.Meta(max_length=200)]
    text: Annotated[str, msgspec.Meta(max_length=5000)]


class SavedReplyOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    short_code: str
    title: str
    text: str


class StaffChoiceOut(ApiStruct):
    id: uuid.UUID
    display_name: str
    role: str


class AccountHealthOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    synced_at: datetime | None
    failing_since: datetime | None
    error: str | None
    unavailable: dict[str, Any]
    needs_reauth: bool


class InboxSummaryOut(ApiStruct):
    """The counts per status, who may be assigned, each account's sync."""

    counts: dict[str, int]
    assignable: list[StaffChoiceOut]
    health: list[AccountHealthOut]
    reason_codes: list[str]
    #: the last 30 days, the persona first then each staff member (mean delays in business seconds)
    response_times: list[ResponseTimesOut] = []


class ResponseTimesOut(ApiStruct):
    staff_id: uuid.UUID | None
    staff_name: str | None
    first_responses: int
    first_response_mean_s: float | None
    responses: int
    response_mean_s: float | None
    resolved: int
    resolution_mean_s: float | None


def item_out(row: queries.ItemRow, now: datetime) -> ItemOut:
    settled = row.status.value in ("answered", "closed")
    return out(row, ItemOut, sla=None if settled else sla_state(row.response_due_at, now))


def detail_out(detail: queries.ItemDetail, now: datetime) -> ItemDetailOut:
    return ItemDetailOut(
        item=item_out(detail.item, now),
        parent=item_out(detail.parent, now) if detail.parent else None,
        siblings=[item_out(r, now) for r in detail.siblings],
        children=[item_out(r, now) for r in detail.children],
        our_post=out(detail.our_post, OurPostOut) if detail.our_post else None,
        notes=[out(n, NoteOut) for n in detail.notes],
        events=[out(e, EventOut) for e in detail.events],
        moderation=[out(m, ModerationOut) for m in detail.moderation],
        replies=[out(r, ReplyOut) for r in detail.replies],
        replying_id=detail.replying_id,
        replying_name=detail.replying_name,
        replying_until=detail.replying_until,
    )
