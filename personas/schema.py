"""The persona file format, decoded with msgspec.

A persona file is TOML. It says who speaks (an institution, an elected official), whether
that voice may *embody* itself, its editorial line, and a policy per channel. See
``docs/personas.md`` for the format with the Région Occitanie as the example.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class PersonaKind(enum.StrEnum):
    INSTITUTION = "institution"
    ELECTED_OFFICIAL = "elected_official"


class AccountMode(enum.StrEnum):
    LIVE = "live"
    DRY_RUN = "dry_run"


class Severity(enum.StrEnum):
    BLOCK = "block"
    REVIEW = "review"
    WARN = "warn"
    INFO = "info"


class ChannelPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How a persona speaks on one network — or why it does not."""

    allowed: bool = True
    #: required when ``allowed`` is false; shown to the author who tries this channel
    refusal_reason: str | None = None
    main: bool = False  # the persona's main network
    audience: NonNegative | None = None  # followers at the time the policy was written
    tone: str = ""
    purpose: str = ""
    posts_per_day: NonNegative | None = None
    reposts_per_day: NonNegative | None = None  # counted apart from original posts
    #: formats allowed on this channel (empty: every format the network offers)
    formats: list[str] = []


class AccountSeed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An account the persona owns on a channel (credentials are connected later, in the admin)."""

    channel: NonEmpty
    handle: NonEmpty
    external_id: NonEmpty
    display_name: str = ""
    mode: AccountMode = AccountMode.LIVE


class OfficeHolder(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An elected official linked to an institution: how posts may name, tag or show her."""

    persona: Slug  # slug of the official's own persona
    title: str  # "présidente"
    gender: Annotated[str, msgspec.Meta(pattern="^(f|m|x)$")] = "x"
    names: list[str] = []  # spellings of her name, for detection in texts
    handles: list[str] = []  # her handles on the networks (@…)


class RuleSetting(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Switches a policy rule on or off and parameterises it."""

    enabled: bool = True
    severity: Severity | None = None  # override the rule's default severity
    params: dict[str, Any] = {}


class PersonaFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: NonEmpty
    kind: PersonaKind
    embodies: bool
    timezone: str = "Europe/Paris"
    language: str = "fr"
    editorial_line: str = ""
    channels: dict[str, ChannelPolicy] = {}
    accounts: list[AccountSeed] = []
    office_holders: list[OfficeHolder] = []
    rules: dict[str, RuleSetting] = {}
