"""Response targets and legal deadlines of an inbox item, for one persona.

Two clocks, kept apart because the law and the team count differently:

- ``response_due_at``, the service target: the persona's first- or next-response target in
  *business* time (:mod:`core.inbox.clock`), shortened by ``election_factor`` inside an L52-1
  window that binds the persona (the same windows as the policy engine's, E1 and E2).
- ``legal_due_at``, in *calendar* time: a request for administrative documents is refused by
  one month of silence (CRPA R311-13); hateful or illegal content is acted on within 24 hours,
  6 inside an election window (M1, ``fr-public-comms-rules.md`` §8). The earlier one wins.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from core.channels.contract import InboxKind
from core.db.models import Persona
from core.inbox.clock import BusinessClock
from core.inbox.triage import DOCUMENT_REQUEST, HATEFUL, triage
from core.policy import elections, persona_file
from personas.policy.elections import open_windows
from personas.schema import BusinessHours, InboxSettings

#: "at risk" when at most this much is left (Productlane's preset; a quarter of short targets)
AT_RISK_SECONDS = 3600.0


class Assessment(msgspec.Struct, frozen=True):
    flags: tuple[str, ...]
    personal_data: tuple[str, ...]
    response_due_at: datetime | None
    legal_due_at: datetime | None


def inbox_settings(definition: Mapping[str, Any]) -> InboxSettings:
    """The ``[inbox]`` section of a loaded persona file; defaults for a file loaded before it existed."""
    return msgspec.convert(definition.get("inbox") or {}, InboxSettings)


class Assessor:
    """Assesses the items of one persona: its settings, clock and election windows read once
    (an ingestion of thousands of items must not re-read the persona file for each)."""

    def __init__(self, persona: Persona, *, tighter: tuple[int, int] | None = None) -> None:
        self.settings = inbox_settings(persona.definition)
        #: a crisis posture's first- and next-response targets (minutes), instead of the file's
        self.tighter = tighter
        self.timezone = persona.timezone
        self.institutional = persona.kind == "institution"
        self.clock = _clock(self.settings.business_hours, persona.timezone)
        self._file = persona_file(persona)
        self._zone = ZoneInfo(self._file.timezone)
        self._windows: dict[date, bool] = {}

    def in_election_window(self, at: datetime) -> bool:
        day = _utc(at).astimezone(self._zone).date()
        if day not in self._windows:
            self._windows[day] = any(window.in_scope for window in open_windows(elections(), self._file, day))
        return self._windows[day]

    def __call__(self, kind: InboxKind, text: str, received_at: datetime, *, first: bool) -> Assessment:
        found = triage(text, kind, institutional=self.institutional)
        election = self.in_election_window(received_at)
        targets = self.settings.targets
        minutes = targets.first_response_minutes if first else targets.next_response_minutes
        if self.tighter is not None:
            minutes = min(minutes, self.tighter[0] if first else self.tighter[1])
        if election:
            minutes *= targets.election_factor
        return Assessment(
            flags=found.flags,
            personal_data=found.personal_data,
            response_due_at=self.clock.add(received_at, minutes * 60),
            legal_due_at=legal_due_at(self.settings, found.flags, received_at, self.timezone, election=election),
        )


def assess(persona: Persona, kind: InboxKind, text: str, received_at: datetime, *, first: bool) -> Assessment:
    """Flags and deadlines of an item received at ``received_at`` (``first``: no answer yet in its
    conversation, so the first-response target applies; otherwise the next-response one)."""
    return Assessor(persona)(kind, text, received_at, first=first)


def legal_due_at(
    settings: InboxSettings, flags: tuple[str, ...], received_at: datetime, timezone: str, *, election: bool
) -> datetime | None:
    """The earliest legal deadline the flags start, in calendar time (UTC); None when none applies."""
    deadlines: list[datetime] = []
    if DOCUMENT_REQUEST in flags:
        deadlines.append(add_month(received_at, timezone))
    if HATEFUL in flags:
        hours = settings.election_hateful_deadline_hours if election else settings.hateful_deadline_hours
        deadlines.append(_utc(received_at) + timedelta(hours=hours))
    return min(deadlines, default=None)


def add_month(moment: datetime, timezone: str) -> datetime:
    """One calendar month later on the persona's wall clock (31 January → 28 or 29 February), in UTC.

    A month is counted on local dates, as an administration counts it: "reçue le 15 mars, refus
    implicite le 15 avril", whatever DST did in between.
    """
    local = _utc(moment).astimezone(ZoneInfo(timezone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


def business_seconds(persona: Persona, start: datetime, end: datetime) -> float:
    """Business seconds between two instants in the persona's hours (reports: time to first response)."""
    settings = inbox_settings(persona.definition)
    return _clock(settings.business_hours, persona.timezone).between(start, end)


def sla_state(due_at: datetime | None, now: datetime, *, target_seconds: float | None = None) -> str | None:
    """None (no target), "ok", "at_risk" (an hour or less left, a quarter of a shorter target) or "breached"."""
    if due_at is None:
        return None
    left = (_utc(due_at) - _utc(now)).total_seconds()
    if left <= 0:
        return "breached"
    threshold = AT_RISK_SECONDS if target_seconds is None else min(AT_RISK_SECONDS, target_seconds / 4)
    return "at_risk" if left <= threshold else "ok"


def in_election_window(persona: Persona, at: datetime) -> bool:
    """Is ``at`` inside an L52-1 window that binds this persona (E2 scope), on its local day?

    The policy engine's own decision (``Facts.scoped_windows``): the same elections file, the
    same local day, the same scope.
    """
    return Assessor(persona).in_election_window(at)


@lru_cache(maxsize=64)
def _cached_clock(
    days: tuple[int, ...], start: str, end: str, country: str | None, subdivision: str | None, timezone: str
) -> BusinessClock:
    # One clock per set of hours: it keeps its holiday calendar, filled once per year looked up.
    hours = BusinessHours(days=list(days), start=start, end=end, holidays=country, subdivision=subdivision)
    return BusinessClock(hours, timezone)


def _clock(hours: BusinessHours, timezone: str) -> BusinessClock:
    return _cached_clock(tuple(hours.days), hours.start, hours.end, hours.holidays, hours.subdivision, timezone)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the inbox takes aware datetimes only")
    return moment.astimezone(UTC)
