"""The JSON API's structures (msgspec), camelCase on the wire."""

from __future__ import annotations

import uuid

import msgspec


class ApiStruct(msgspec.Struct, rename="camel", kw_only=True):
    pass


class ChannelPolicyOut(ApiStruct):
    channel: str
    allowed: bool
    refusal_reason: str | None
    main: bool
    audience: int | None
    tone: str
    purpose: str
    posts_per_day: int | None
    reposts_per_day: int | None
    formats: list[str]


class AccountOut(ApiStruct):
    id: uuid.UUID
    channel: str
    handle: str
    display_name: str
    status: str
    mode: str


class PersonaOut(ApiStruct):
    id: uuid.UUID
    slug: str
    name: str
    kind: str
    embodies: bool
    timezone: str
    editorial_line: str
    paused: bool
    channels: list[ChannelPolicyOut]
    accounts: list[AccountOut]


class HealthOut(ApiStruct):
    status: str
    database: bool
    queue: bool
    version: str


class ErrorOut(ApiStruct):
    status_code: int
    detail: str
    extra: dict[str, object] | list[object] | None = None
