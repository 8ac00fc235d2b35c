"""The persona file format, decoded with msgspec.

A persona file is TOML. It says who speaks (an institution, an elected official), whether
that voice may *embody* itself, its editorial line, and a policy per channel. See
``docs/personas.md`` for the format with the Région Occitanie as the example.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

# What a file may hold is what the database stores (core/db/models.py; a test keeps them equal):
# ``personas check`` must never accept a file ``personas load`` cannot write.
#: names, handles and network ids (VARCHAR(200))
MAX_NAME = 200
MAX_TIMEZONE = 64
MAX_LANGUAGE = 8
#: a PostgreSQL INTEGER
MAX_INTEGER = 2**31 - 1
#: posts or reposts a day: far above any editorial line, far below what a column holds
MAX_PER_DAY = 1000

NonNegative = Annotated[int, msgspec.Meta(ge=0, le=MAX_INTEGER)]
PerDay = Annotated[int, msgspec.Meta(ge=0, le=MAX_PER_DAY)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
ShortText = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]


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
    posts_per_day: PerDay | None = None
    reposts_per_day: PerDay | None = None  # counted apart from original posts
    #: formats allowed on this channel (empty: every format the network offers)
    formats: list[str] = []


class AccountSeed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An account the persona owns on a channel (credentials are connected later, in the admin)."""

    channel: NonEmpty
    handle: Name
    external_id: Name
    display_name: ShortText = ""
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
    name: Name
    kind: PersonaKind
    embodies: bool
    timezone: Annotated[str, msgspec.Meta(max_length=MAX_TIMEZONE)] = "Europe/Paris"
    language: Annotated[str, msgspec.Meta(max_length=MAX_LANGUAGE)] = "fr"
    editorial_line: str = ""
    channels: dict[str, ChannelPolicy] = {}
    accounts: list[AccountSeed] = []
    office_holders: list[OfficeHolder] = []
    rules: dict[str, RuleSetting] = {}
