"""The watch API's structures, camelCase on the wire: sources, items, the draft an item starts.

Field names are the models' (``web.structs.out`` reads them); an item's ``summaryHtml`` is the
collector's nh3-sanitised HTML (None when the source gave text), ``summaryText`` the same as text.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from web.structs import ApiStruct

Label = Annotated[str, msgspec.Meta(max_length=200)]
Target = Annotated[str, msgspec.Meta(max_length=2000)]
PluginKey = Annotated[str, msgspec.Meta(max_length=32)]
#: the collector's clamp, 5 minutes to 24 hours
Interval = Annotated[int, msgspec.Meta(ge=300, le=86400)]


class SourceOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    kind: str
    plugin: str
    target: str
    label: str
    crisis: bool
    enabled: bool
    interval_s: int | None
    cost: int
    origin: str
    account_id: uuid.UUID | None
    next_check_at: datetime | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    consecutive_errors: int
    last_error: str | None
    broken_at: datetime | None


class SourceIn(ApiStruct):
    """A new source: a feed's URL (``plugin`` rss, vigicrues, meteoalarm…), a search's query on a
    network (``plugin`` the channel), or the persona's mentions. ``crisis`` null: the plugin's own
    nature (an official alert feed is a crisis feed)."""

    target: Target
    label: Label
    kind: Literal["feed", "search", "mentions"] = "feed"
    plugin: PluginKey = "rss"
    crisis: bool | None = None
    interval_s: Interval | None = None
    account_id: uuid.UUID | None = None


class SourcePatch(ApiStruct):
    """What to change; absent fields stay. ``enabled`` true on a broken source polls it again now."""

    label: Label | None = None
    target: Target | None = None
    crisis: bool | None = None
    enabled: bool | None = None
    interval_s: Interval | None = None


class ItemOut(ApiStruct):
    id: uuid.UUID
    source_id: uuid.UUID
    persona_id: uuid.UUID
    url: str | None
    title: str
    summary_html: str | None
    summary_text: str
    author: str | None
    published_at: datetime | None
    captured_at: datetime
    content_hash: str
    keywords: list[str]
    severity: str | None
    area: str | None
    status: str
    status_at: datetime | None
    post_id: uuid.UUID | None


class ItemPage(ApiStruct):
    items: list[ItemOut]
    next_cursor: str | None


class OriginOut(ApiStruct):
    """What the post keeps of the item (``Post.origin``)."""

    item_id: uuid.UUID
    source_url: str | None
    url: str | None
    captured_at: datetime
    content_hash: str


class DraftOut(ApiStruct):
    """What to compose with: POST it (with accounts) to …/posts with ``fromItem`` = ``itemId``."""

    persona_id: uuid.UUID
    item_id: uuid.UUID
    link: str | None
    text: str
    origin: OriginOut
    composer_url: str


def origin_out(origin: dict[str, Any]) -> OriginOut:
    """``Post.origin`` (snake_case JSON) as the API says it."""
    return OriginOut(
        item_id=uuid.UUID(origin["item_id"]),
        source_url=origin.get("source_url"),
        url=origin.get("url"),
        captured_at=datetime.fromisoformat(origin["captured_at"]),
        content_hash=origin["content_hash"],
    )
