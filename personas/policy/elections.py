"""Elections as configuration, and the L52-1 windows they open (rules E1 and E2).

``personas/data/elections.toml`` lists the elections; :func:`load_elections` decodes and checks
it. The window of an election (Code électoral, art. L52-1 al. 2) runs from the first day of the
sixth month before the month of the first round to the decisive round, both days included.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from personas.schema import PersonaFile, PersonaKind

ELECTIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "elections.toml"

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]


class ElectionKind(enum.StrEnum):
    PRESIDENTIELLE = "presidentielle"
    LEGISLATIVES = "legislatives"
    REGIONALES = "regionales"
    DEPARTEMENTALES = "departementales"
    MUNICIPALES = "municipales"
    EUROPEENNES = "europeennes"


class Election(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Slug
    kind: ElectionKind
    label: str
    rounds: tuple[date, ...]
    #: 1-based index of the round where the result is decided; None: the last round (the safe side)
    decisive_round: int | None = None
    #: institutions "intéressées par le scrutin": "all" (présidentielle) or persona slugs
    institutions: Literal["all"] | tuple[Slug, ...] = ()
    #: persona slugs of our officials who stand in this election
    candidates: tuple[Slug, ...] = ()
    #: true until the convocation decree fixes the dates
    provisional: bool = False
    #: overrides the computed start (a snap election, where the 6-month look-back cannot apply)
    window_start: date | None = None
    note: str = ""

    @property
    def first_round(self) -> date:
        return self.rounds[0]

    @property
    def decisive(self) -> date:
        return self.rounds[(self.decisive_round or len(self.rounds)) - 1]

    @property
    def start(self) -> date:
        return self.window_start or l52_1_start(self.first_round)

    def window_contains(self, day: date) -> bool:
        return self.start <= day <= self.decisive


class ElectionsFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    elections: tuple[Election, ...] = ()


class ElectionsFileError(Exception):
    """An elections file that cannot be accepted; says which file, where, and why."""

    def __init__(self, path: Path | str, field: str, reason: str) -> None:
        self.path, self.field, self.reason = str(path), field, reason
        super().__init__(f"{self.path}: {field}: {reason}")


def l52_1_start(first_round: date) -> date:
    """First day of the sixth month before the month of the first round (E1).

    April 2027 -> 1 October 2026; March 2028 -> 1 September 2027; March 2026 -> 1 September 2025.
    """
    months = first_round.year * 12 + (first_round.month - 1) - 6
    return date(months // 12, months % 12 + 1, 1)


def load_elections(path: Path | str = ELECTIONS_FILE) -> tuple[Election, ...]:
    """Decode and check an elections file; raise :class:`ElectionsFileError` on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ElectionsFileError(path, "(file)", f"cannot read: {exc.strerror}") from exc
    return parse_elections(text, path)


def parse_elections(text: str, path: Path | str = "<elections>") -> tuple[Election, ...]:
    try:
        decoded = msgspec.toml.decode(text, type=ElectionsFile)
    except msgspec.ValidationError as exc:
        match = re.match(r"^(?P<reason>.*?)(?: - at `(?P<field>[^`]+)`)?$", str(exc), re.DOTALL)
        assert match is not None
        raise ElectionsFileError(path, match.group("field") or "$", match.group("reason")) from exc
    except msgspec.DecodeError as exc:
        raise ElectionsFileError(path, "(syntax)", str(exc)) from exc
    for field, reason in election_problems(decoded.elections):
        raise ElectionsFileError(path, field, reason)
    return decoded.elections


@cache
def default_elections() -> tuple[Election, ...]:
    """The shipped ``personas/data/elections.toml``, read once."""
    return load_elections(ELECTIONS_FILE)


def election_problems(elections: Iterable[Election]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, election in enumerate(elections):
        where = f"$.elections[{index}]"
        if election.id in seen:
            problems.append((f"{where}.id", f"duplicate election id {election.id!r}"))
        seen.add(election.id)
        if not 1 <= len(election.rounds) <= 3:
            problems.append((f"{where}.rounds", "an election has one, two or three rounds"))
            continue
        if list(election.rounds) != sorted(set(election.rounds)):
            problems.append((f"{where}.rounds", "rounds must be distinct dates in increasing order"))
        if election.decisive_round is not None and not 1 <= election.decisive_round <= len(election.rounds):
            problems.append((f"{where}.decisive_round", f"must be between 1 and {len(election.rounds)}"))
        if election.window_start is not None and election.window_start > election.first_round:
            problems.append((f"{where}.window_start", "the window cannot start after the first round"))
    return problems


# --------------------------------------------------------------------------- scope (E2)


@dataclass(frozen=True)
class OpenWindow:
    """An election whose L52-1 window contains the moment, seen from one persona."""

    election: Election
    in_scope: bool  # E2: the institution is "intéressée par le scrutin", or the official is a candidate
    candidate: bool  # the persona (or, for an institution, one of its office-holders) stands


def in_scope(election: Election, persona: PersonaFile) -> bool:
    """E2: does this election's window bind this persona?

    An institution is bound when the election names it (or "all", for the présidentielle), or
    when one of its office-holders is a candidate (municipales: the Région's officials who run
    for mayor put the Région in scope). An official is bound when she is a candidate.
    """
    if persona.kind == PersonaKind.INSTITUTION:
        if election.institutions == "all" or persona.slug in election.institutions:
            return True
        return any(holder.persona in election.candidates for holder in persona.office_holders)
    return persona.slug in election.candidates


def is_candidate(election: Election, persona: PersonaFile) -> bool:
    if persona.slug in election.candidates:
        return True
    return any(holder.persona in election.candidates for holder in persona.office_holders)


def open_windows(elections: Iterable[Election], persona: PersonaFile, day: date) -> list[OpenWindow]:
    """Every election whose window contains ``day`` (a local date), scope computed for ``persona``."""
    return [
        OpenWindow(election=e, in_scope=in_scope(e, persona), candidate=is_candidate(e, persona))
        for e in elections
        if e.window_contains(day)
    ]
