"""The notifications API's structures (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from web.structs import ApiStruct, Page

Kind = Literal["sent_back", "waiting_approval", "failed", "needs_reauth"]


class NotificationOut(ApiStruct):
    id: uuid.UUID
    kind: Kind
    subject_type: Literal["post", "delivery", "account"]
    subject_id: uuid.UUID
    persona_id: uuid.UUID | None
    #: in the caller's language
    title: str
    text: str
    #: the admin page it leads to
    path: str
    #: how many events this unread notification stands for
    times: int
    created_at: datetime
    event_at: datetime
    read_at: datetime | None


class NotificationPage(Page[NotificationOut]):
    items: list[NotificationOut]  # named again: OpenAPI does not read a generic base


class UnreadOut(ApiStruct):
    unread: int


class MarkedOut(ApiStruct):
    marked: int
