"""The JSON API's structures (msgspec), camelCase on the wire.

Lists come in pages (``items`` + ``nextCursor``, keyset pagination: pass ``cursor`` back to
get the next page; ``nextCursor`` is null on the last one).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.db.enums import Employer, Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200, description="at least 10 characters")]
Locale = Literal["fr", "en"]
Mode = Literal["live", "dry_run"]


class ApiStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
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
    persona_id: uuid.UUID
    channel: str
    handle: str
    display_name: str
    status: str
    mode: Mode


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
    #: the caller's role on this persona (null: a site admin reading it without an assignment)
    my_role: Role | None = None


class PersonaPage(ApiStruct):
    items: list[PersonaOut]
    next_cursor: str | None


class AccountPage(ApiStruct):
    items: list[AccountOut]
    next_cursor: str | None


class AccountModeIn(ApiStruct):
    mode: Mode


class AssignmentOut(ApiStruct):
    persona_id: uuid.UUID
    persona_slug: str
    persona_name: str
    role: Role


class StaffOut(ApiStruct):
    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    is_active: bool
    employer: Employer
    locale: Locale
    must_change_password: bool
    last_login_at: datetime | None
    assignments: list[AssignmentOut]


class StaffPage(ApiStruct):
    items: list[StaffOut]
    next_cursor: str | None


class StaffIn(ApiStruct):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    display_name: Name
    employer: Employer = Employer.INSTITUTION
    is_admin: bool = False
    locale: Locale = "fr"


class StaffPatch(ApiStruct, omit_defaults=True):
    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    employer: Employer | msgspec.UnsetType = msgspec.UNSET
    is_admin: bool | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET


class StaffCreated(ApiStruct):
    staff: StaffOut
    #: to hand over to the new staff member; shown once, to be replaced at the first login
    one_time_password: str


class PasswordResetOut(ApiStruct):
    one_time_password: str


class MePatch(ApiStruct, omit_defaults=True):
    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET


class PasswordChangeIn(ApiStruct):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    new_password: Password


class TeamMemberOut(ApiStruct):
    staff_id: uuid.UUID
    email: str
    display_name: str
    employer: Employer
    is_active: bool
    role: Role


class TeamPage(ApiStruct):
    items: list[TeamMemberOut]
    next_cursor: str | None


class AssignmentIn(ApiStruct):
    role: Role


class TokenIn(ApiStruct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class TokenOut(ApiStruct):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenPage(ApiStruct):
    items: list[TokenOut]
    next_cursor: str | None


class TokenCreated(ApiStruct):
    token: TokenOut
    #: the secret, shown once: send it as ``Authorization: Bearer <secret>``
    secret: str


class HealthOut(ApiStruct):
    status: str
    database: bool
    queue: bool
    version: str


class ErrorOut(msgspec.Struct, kw_only=True):
    """Every error body: the status, what went wrong, and for validation the field (``key``) and why."""

    status_code: int
    detail: str
    extra: dict[str, object] | list[object] | None = None
