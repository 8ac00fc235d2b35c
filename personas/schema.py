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
    #: posting times ("HH:MM", the persona's time zone), every day: "add to the queue" takes the
    #: next free one. Listed here, they replace the account's slots; left out, the slots set in
    #: the admin stay as they are.
    slots: Annotated[list[Clock], msgspec.Meta(max_length=48)] | None = None


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


# --------------------------------------------------------------------------- [inbox]

#: a deadline nobody would set: a month in minutes (first and next response), 90 days in hours
MAX_RESPONSE_MINUTES = 31 * 24 * 60
MAX_RESOLUTION_HOURS = 90 * 24
#: a week: M1 asks for hours, the law for "promptly"; longer is a typo
MAX_HATEFUL_HOURS = 7 * 24
#: ten years: the GDPR period for messages is the persona's choice, not an archive's
MAX_RETENTION_DAYS = 3650
MAX_ANSWER = 2000
MAX_URL = 2000

Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6)]
ResponseMinutes = Annotated[int, msgspec.Meta(ge=1, le=MAX_RESPONSE_MINUTES)]
HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?://\S+)?$", max_length=MAX_URL)]
Answer = Annotated[str, msgspec.Meta(max_length=MAX_ANSWER)]


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessHours(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """When the persona's team answers: response targets count these hours only."""

    days: list[Weekday] = msgspec.field(default_factory=_weekdays)  # 0 = Monday
    start: Clock = "09:00"  # "HH:MM", in the persona's time zone
    end: Clock = "17:00"
    #: country for the ``holidays`` library; None or "" (TOML has no null): no public holiday is skipped
    holidays: Annotated[str, msgspec.Meta(pattern=r"^([A-Z]{2})?$")] | None = "FR"
    #: e.g. "57": Alsace-Moselle has two more days (Good Friday, 26 December)
    subdivision: Annotated[str, msgspec.Meta(max_length=MAX_LANGUAGE)] | None = None

    def __post_init__(self) -> None:
        # raised here, msgspec reports it with the field's path like any other validation error
        if not self.days:
            raise ValueError("days: at least one working day")
        if len(set(self.days)) != len(self.days):
            raise ValueError("days: a day is listed twice")
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        if not self.holidays:
            if self.subdivision is not None:
                raise ValueError("subdivision needs a holidays country")
            return
        import holidays as calendars  # the check needs the library's list, its users need it anyway

        supported = calendars.list_supported_countries()
        if self.holidays not in supported:
            raise ValueError(f"holidays: unknown country {self.holidays!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.holidays]:
            raise ValueError(f"subdivision: {self.subdivision!r} is not a subdivision of {self.holidays}")


class InboxTargets(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Response targets, in business time (the SLA clock)."""

    first_response_minutes: ResponseMinutes = 240
    next_response_minutes: ResponseMinutes = 480
    resolution_hours: Annotated[int, msgspec.Meta(ge=1, le=MAX_RESOLUTION_HOURS)] = 48
    #: targets are multiplied by this inside an L52-1 window that binds the persona
    election_factor: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5


class InboxSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``[inbox]`` section: targets, business hours, and the persona's standard answers."""

    business_hours: BusinessHours = msgspec.field(default_factory=BusinessHours)
    targets: InboxTargets = msgspec.field(default_factory=InboxTargets)
    #: where administrative requests are sent (R1, M2): the body's designated form
    official_form_url: HttpUrl = ""
    #: the standard public answer when a comment exposes personal data (M2)
    personal_data_answer: Answer = ""
    #: the auto-answer to an administrative request by private message (R1)
    administrative_answer: Answer = ""
    #: M1: hateful or illegal content acted on within these calendar hours…
    hateful_deadline_hours: Annotated[int, msgspec.Meta(ge=1, le=MAX_HATEFUL_HOURS)] = 24
    #: …and within these inside an election window
    election_hateful_deadline_hours: Annotated[int, msgspec.Meta(ge=1, le=MAX_HATEFUL_HOURS)] = 6
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_RETENTION_DAYS)] = 365

    def __post_init__(self) -> None:
        if self.election_hateful_deadline_hours > self.hateful_deadline_hours:
            raise ValueError("election_hateful_deadline_hours cannot be longer than hateful_deadline_hours")


# --------------------------------------------------------------------------- [veille]

#: a feed plugin's key ("rss", "vigicrues", "meteoalarm"): what veille_sources.plugin holds
FeedPluginKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
#: a French département code (01–95, 2A, 2B, 971–976)
Departement = Annotated[str, msgspec.Meta(pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])$")]
FeedUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$", max_length=MAX_URL)]
#: a fixed polling interval: 5 minutes to 24 hours (the collector's clamp)
IntervalSeconds = Annotated[int, msgspec.Meta(ge=300, le=86400)]


class VeilleSourceSeed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A feed the persona watches by default, kept in step with the file (origin ``file``)."""

    label: Name
    plugin: FeedPluginKey = "rss"
    url: FeedUrl
    #: an official crisis feed: polled at a fixed short interval, its breaking is an alert
    crisis: bool = False
    interval_s: IntervalSeconds | None = None


#: a safety template's code, what the composer link names (``?template=flood``)
TemplateCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class SafetyTemplate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A pre-approved safety message a crisis posture offers (drafted in one click, checked as any post).

    ``text`` holds ``{source}`` where the official source's address goes: a safety message always
    cites where its instructions come from (Vigicrues, the préfecture, Météo-France)."""

    code: TemplateCode
    label: Name
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ANSWER)]
    #: the source cited when the posture's trigger gives none (a keyword in a press article)
    default_source: HttpUrl = ""

    def __post_init__(self) -> None:
        if "{source}" not in self.text:
            raise ValueError(f"safety template {self.code!r}: its text must cite {{source}}")


class VeilleSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``[veille]`` section: default sources, crisis keywords, the départements watched, safety templates."""

    sources: list[VeilleSourceSeed] = []
    #: words that mark an item as a possible crisis (matched case- and accent-folded)
    keywords: list[Name] = []
    #: an orange or red official vigilance for one of these proposes a crisis posture
    departements: list[Departement] = []
    #: what a crisis posture offers to publish (``core.veille.crisis``)
    safety_templates: list[SafetyTemplate] = []

    def __post_init__(self) -> None:
        codes = [t.code for t in self.safety_templates]
        if len(set(codes)) != len(codes):
            raise ValueError("safety_templates: a code is used twice")


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
    inbox: InboxSettings = msgspec.field(default_factory=InboxSettings)
    veille: VeilleSettings = msgspec.field(default_factory=VeilleSettings)
