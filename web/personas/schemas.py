"""The personas API's structures: a public voice, its policy per network and its accounts."""

from __future__ import annotations

import uuid

from core.db.enums import Role
from core.db.models import Persona
from web.accounts.schemas import AccountOut
from web.structs import ApiStruct, Page, out


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


class PersonaPage(Page[PersonaOut]):
    items: list[PersonaOut]  # named again: OpenAPI does not read a generic base


def persona_out(persona: Persona, my_role: Role | None) -> PersonaOut:
    return out(persona, PersonaOut, channels=persona.channel_policies, my_role=my_role)
