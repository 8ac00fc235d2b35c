"""The data the policy engine reads and writes: findings, the draft, the context.

Everything here is a frozen msgspec Struct so that ``core`` can build it from database rows,
the CLI can decode it from a file, and the web layer can encode it as JSON without glue.
Nothing in this package imports ``core``: the network's hard limits arrive as plain
:class:`NetworkViolation` values that ``core`` copies from ``validate_draft``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import msgspec

from personas.policy.elections import Election
from personas.schema import Severity

__all__ = [
    "AssetOrigin",
    "DayCount",
    "Employer",
    "Finding",
    "Fix",
    "MediaInput",
    "NetworkViolation",
    "Novelty",
    "PolicyAccount",
    "PolicyContext",
    "PolicyDraft",
    "Regularity",
    "RepostOf",
    "WatchOrigin",
    "Severity",
    "Stage",
]

#: most to least serious; used to sort findings and to compare severities
SEVERITY_ORDER: dict[Severity, int] = {Severity.BLOCK: 0, Severity.REVIEW: 1, Severity.WARN: 2, Severity.INFO: 3}


class Stage(enum.StrEnum):
    """When the engine runs. Every stage re-runs every rule: the moment may have moved into a window."""

    DRAFT = "draft"
    SCHEDULE = "schedule"
    APPROVE = "approve"
    PUBLISH = "publish"


class Employer(enum.StrEnum):
    """Who pays the person who composes the post (art. L52-8 looks at whose resources are used).

    Also what a staff member's record says (``core.db.enums`` re-exports this one enum).
    """

    INSTITUTION = "institution"  # an agent of the collectivity (its communication service)
    CABINET = "cabinet"  # the official's cabinet: also paid by the collectivity
    CAMPAIGN = "campaign"  # a campaign volunteer or employee, paid by the campaign account
    OTHER = "other"  # anyone else: the official herself, someone she pays privately


class AssetOrigin(enum.StrEnum):
    REGION_DAM = "region_dam"  # the institution's photo/video library, templates, logo
    PERSONAL = "personal"
    CAMPAIGN = "campaign"


class Fix(msgspec.Struct, frozen=True, kw_only=True):
    """An automatic fix the composer can apply: replace ``original`` by ``replacement`` in the text."""

    original: str
    replacement: str


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """What one rule says of one draft. ``rule`` and ``reference`` are stamped by the runner."""

    severity: Severity
    message_fr: str
    message_en: str
    rule: str = ""
    catalogue: str | None = None  # the research note's id (E1, I1, A4…) when the rule has one
    reference: str | None = None  # the law or guideline, e.g. "Code électoral, art. L52-1 al. 2"
    #: whether a manager may override this block with a recorded reason (meaningless below block)
    overridable: bool = True
    fix: Fix | None = None
    evidence: str | None = None  # the words of the draft that triggered the rule
    data: dict[str, Any] = {}  # numbers for the UI (counts, limits, election id…)


class MediaInput(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # "image", "video", "gif" (core's MediaKind values)
    alt_text: str = ""
    has_captions: bool = False  # a caption track or burned-in captions
    live: bool = False  # live streams are exempt from captions (RGAA)
    filename: str | None = None  # to catch alt texts that are only the file name
    origin: AssetOrigin | None = None
    #: persona slugs of the people shown (face tags), for "names, tags or shows" (I1)
    depicts: tuple[str, ...] = ()


class PolicyDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The content being judged, on one channel (the per-channel variant already applied)."""

    channel: str
    text: str = ""
    format: str = "post"
    media: tuple[MediaInput, ...] = ()
    link: str | None = None
    title: str | None = None
    #: an answer in a conversation (a comment's reply, a private message): the line's formats
    #: are about posts, not answers; every rule on the words still applies
    reply: bool = False


class PolicyAccount(msgspec.Struct, frozen=True, kw_only=True):
    """The persona's account the draft targets (optional: a draft may not have one yet)."""

    channel: str
    handle: str = ""
    created_at: datetime | None = None  # an account opened inside a window breaks "antériorité" (I4)


class NetworkViolation(msgspec.Struct, frozen=True, kw_only=True):
    """One of ``core.channels.validation.Violation``, copied field by field by ``core``."""

    code: str
    message: str
    params: dict[str, str | int | float] = {}


class DayCount(msgspec.Struct, frozen=True, kw_only=True):
    """Posts and reposts already scheduled or published on one channel that local day (this draft excluded)."""

    posts: int = 0
    reposts: int = 0


class RepostOf(msgspec.Struct, frozen=True, kw_only=True):
    """Whose content a repost (share, retweet, quote) carries."""

    persona: str | None = None  # slug of the persona whose post is reposted, when known
    campaign: bool = False  # campaign content (a candidate's campaign account or material)
    handle: str | None = None  # the original author's handle, when not a persona of ours


class WatchOrigin(msgspec.Struct, frozen=True, kw_only=True):
    """Whose watch (veille) the item a draft starts from belongs to."""

    persona: str  # slug of the persona whose source brought the item
    campaign: bool = False  # an elected official's watch: personal or campaign monitoring


class Regularity(msgspec.Struct, frozen=True, kw_only=True):
    """Posting rhythm on this account, for the "régularité" test (I3)."""

    last_28_days: int  # posts in the 28 days before the moment, this draft excluded
    baseline_28_days: float  # same 28 days last year, or the 12-month median before the window


class Novelty(msgspec.Struct, frozen=True, kw_only=True):
    """What this post starts that did not exist before ("antériorité" / "identité", I4)."""

    new_account: bool = False
    new_series: bool = False  # a new recurring format or rubric
    new_branding: bool = False  # a new visual template or identity


class PolicyContext(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a rule needs from outside the persona file and the draft. ``core`` fills it.

    Only ``moment`` is required; every other field has a neutral default, so a partial context
    evaluates safely (missing facts make fewer rules fire, never crash).
    """

    #: when the public will see the post: the scheduled time, or now. Aware datetime (UTC is fine).
    moment: datetime
    stage: Stage = Stage.DRAFT
    #: channel key -> posts and reposts already that local day (in the persona's time zone)
    day_counts: dict[str, DayCount] = {}
    elections: tuple[Election, ...] = ()
    network_violations: tuple[NetworkViolation, ...] = ()
    repost_of: RepostOf | None = None  # None: an original post
    watch_origin: WatchOrigin | None = None  # None: not started from a watch item
    composer_employer: Employer | None = None
    paid_boost: bool = False  # sponsored / boosted / promoted
    #: declared by the author or the campaign; None lets the rules detect it from the text
    electoral_character: bool | None = None
    regularity: Regularity | None = None
    novelty: Novelty = Novelty()

    @property
    def is_repost(self) -> bool:
        return self.repost_of is not None
