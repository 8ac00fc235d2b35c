"""The people API's structures: staff, their assignments to personas, my profile, API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.db.enums import Employer, Role
from core.db.models import Persona, Staff
from web.structs import ApiStruct, Page, With, out

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200, description="at least 10 characters")]
Locale = Literal["fr", "en"]


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


class StaffPage(Page[StaffOut]):
    items: list[StaffOut]  # named again: OpenAPI does not read a generic base


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


class TeamPage(Page[TeamMemberOut]):
    items: list[TeamMemberOut]  # named again: OpenAPI does not read a generic base


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


class TokenPage(Page[TokenOut]):
    items: list[TokenOut]  # named again: OpenAPI does not read a generic base


class TokenCreated(ApiStruct):
    token: TokenOut
    #: the secret, shown once: send it as ``Authorization: Bearer <secret>``
    secret: str


def staff_out(staff: Staff, assignments: list[tuple[Persona, Role]]) -> StaffOut:
    mine = [With(p, persona_id=p.id, persona_slug=p.slug, persona_name=p.name, role=role) for p, role in assignments]
    return out(staff, StaffOut, assignments=mine)


def member_out(staff: Staff, role: Role) -> TeamMemberOut:
    return out(staff, TeamMemberOut, staff_id=staff.id, role=role)
