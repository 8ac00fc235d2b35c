"""The accounts API's structures: a persona's presence on one network, and its mode."""

from __future__ import annotations

import uuid
from typing import Literal

from web.structs import ApiStruct, Page

Mode = Literal["live", "dry_run"]


class AccountOut(ApiStruct):
    id: uuid.UUID
    persona_id: uuid.UUID
    channel: str
    handle: str
    display_name: str
    status: str
    mode: Mode


class AccountPage(Page[AccountOut]):
    items: list[AccountOut]  # named again: OpenAPI does not read a generic base


class AccountModeIn(ApiStruct):
    mode: Mode
