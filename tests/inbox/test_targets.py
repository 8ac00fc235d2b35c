"""Targets and legal deadlines per persona: the seed's Région and president, their [inbox] sections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from core.channels import Format
from core.channels.contract import InboxKind
from core.db.models import Persona
from core.inbox.targets import add_month, assess, business_seconds, in_election_window, inbox_settings, sla_state
from personas import SEED_DIR, PersonaFileError, load_file
from personas.schema import InboxSettings, PersonaFile

PARIS = ZoneInfo("Europe/Paris")
CHANNELS = {"facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon"}
FORMATS = {f.value for f in Format}
MINUTE = 60.0

DOCUMENT_REQUEST = "Bonjour, je demande la copie de la délibération sur les TER."
HATEFUL = "Je vais te tuer"


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def _persona(file: PersonaFile, definition: dict | None = None) -> Persona:
    """A persona row as ``personas load`` writes it (not flushed: the functions read no database)."""
    return Persona(
        slug=file.slug,
        name=file.name,
        kind=file.kind,
        embodies=file.embodies,
        timezone=file.timezone,
        definition=msgspec.to_builtins(file) if definition is None else definition,
    )


def _seed(name: str) -> PersonaFile:
    return load_file(SEED_DIR / f"{name}.toml", known_channels=CHANNELS, known_formats=FORMATS)


@pytest.fixture(scope="module")
def region() -> Persona:
    return _persona(_seed("region-occitanie"))


@pytest.fixture(scope="module")
def presidente() -> Persona:
    return _persona(_seed("presidente-region"))


# ---------------------------------------------------------------------- settings


def test_seed_settings(region: Persona, presidente: Persona) -> None:
    settings = inbox_settings(region.definition)
    assert (settings.business_hours.start, settings.business_hours.end) == ("08:30", "17:30")
    assert settings.business_hours.days == [0, 1, 2, 3, 4]
    assert (settings.targets.first_response_minutes, settings.targets.next_response_minutes) == (120, 240)
    assert settings.targets.resolution_hours == 48
    assert settings.official_form_url.startswith("https://")
    for answer in (settings.personal_data_answer, settings.administrative_answer):
        assert settings.official_form_url in answer and "vous" in answer
    theirs = inbox_settings(presidente.definition)
    assert theirs.business_hours.days == [0, 1, 2, 3, 4, 5]
    assert (theirs.business_hours.start, theirs.business_hours.end) == ("09:00", "19:00")
    assert (theirs.targets.first_response_minutes, theirs.targets.next_response_minutes) == (60, 180)


def test_a_definition_stored_before_the_inbox_section_gets_the_defaults(region: Persona) -> None:
    older = {key: value for key, value in region.definition.items() if key != "inbox"}
    assert inbox_settings(older) == InboxSettings()
    assert inbox_settings({}) == InboxSettings()
    assert InboxSettings().targets.first_response_minutes == 240
    assert InboxSettings().business_hours.holidays == "FR"


def test_a_bad_section_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="first_response_minutes"):
        inbox_settings({"inbox": {"targets": {"first_response_minutes": 0}}})
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        inbox_settings({"inbox": {"colour": "red"}})


# ---------------------------------------------------------------------- response targets


@pytest.mark.parametrize("kind", [InboxKind.COMMENT, InboxKind.MESSAGE])
def test_first_and_next_response_targets_in_business_time(region: Persona, kind: InboxKind) -> None:
    wednesday = paris(2026, 6, 10, 10, 0)
    first = assess(region, kind, "Bonjour", wednesday, first=True)
    assert first.response_due_at == paris(2026, 6, 10, 12, 0)
    assert first.response_due_at is not None and first.response_due_at.tzinfo is UTC
    assert assess(region, kind, "Bonjour", wednesday, first=False).response_due_at == paris(2026, 6, 10, 14, 0)
    # Friday 17:00: half an hour today, an hour and a half from Monday 08:30
    friday = assess(region, kind, "Bonjour", paris(2026, 6, 12, 17, 0), first=True)
    assert friday.response_due_at == paris(2026, 6, 15, 10, 0)
    assert first.legal_due_at is None and first.flags == ()


def test_the_presidents_cabinet_works_on_saturdays(presidente: Persona) -> None:
    friday = paris(2026, 6, 12, 18, 30)
    assert assess(presidente, InboxKind.MENTION, "Bravo", friday, first=True).response_due_at == paris(
        2026, 6, 13, 9, 30
    )
    saturday = paris(2026, 6, 13, 18, 30)
    assert assess(presidente, InboxKind.MENTION, "Bravo", saturday, first=True).response_due_at == paris(
        2026, 6, 15, 9, 30
    )


def test_targets_are_shorter_inside_an_election_window(region: Persona) -> None:
    # the présidentielle 2027's window opens on 1 October 2026 for every institution
    assert not in_election_window(region, paris(2026, 9, 30, 23, 59))
    assert in_election_window(region, paris(2026, 10, 1, 0, 0))
    wednesday = paris(2026, 11, 4, 10, 0)
    assert assess(region, InboxKind.COMMENT, "Bonjour", wednesday, first=True).response_due_at == paris(
        2026, 11, 4, 11, 0
    )
    assert assess(region, InboxKind.COMMENT, "Bonjour", wednesday, first=False).response_due_at == paris(
        2026, 11, 4, 12, 0
    )


def test_the_window_is_the_policy_engines_scope(presidente: Persona) -> None:
    # not a candidate at the présidentielle: not bound by its window; a candidate at the régionales 2028
    assert not in_election_window(presidente, paris(2026, 11, 4, 10, 0))
    assert in_election_window(presidente, paris(2027, 9, 1, 0, 0))
    assert not in_election_window(presidente, paris(2027, 8, 31, 23, 59))
    # the local day decides: 31 August at 22:30 UTC is already 1 September in Paris
    assert in_election_window(presidente, datetime(2027, 8, 31, 22, 30, tzinfo=UTC))
    assert not in_election_window(presidente, paris(2028, 3, 27, 10, 0))  # after the decisive round


# ---------------------------------------------------------------------- legal deadlines


def test_a_document_request_by_message_is_due_in_one_calendar_month(region: Persona) -> None:
    received = paris(2026, 1, 31, 10, 0)
    found = assess(region, InboxKind.MESSAGE, DOCUMENT_REQUEST, received, first=True)
    assert found.flags == ("document_request",)
    assert found.legal_due_at == paris(2026, 2, 28, 10, 0)  # calendar time, the month's last day
    # across the spring DST change the wall clock is kept: 10:00 on 15 April
    spring = assess(region, InboxKind.MESSAGE, DOCUMENT_REQUEST, paris(2026, 3, 15, 10, 0), first=True)
    assert spring.legal_due_at == paris(2026, 4, 15, 10, 0)
    assert spring.legal_due_at is not None and spring.legal_due_at.tzinfo is UTC


def test_a_document_request_elsewhere_starts_no_legal_clock(region: Persona, presidente: Persona) -> None:
    received = paris(2026, 6, 10, 10, 0)
    assert assess(region, InboxKind.COMMENT, DOCUMENT_REQUEST, received, first=True).legal_due_at is None
    assert assess(presidente, InboxKind.MESSAGE, DOCUMENT_REQUEST, received, first=True).legal_due_at is None


def test_hateful_content_is_due_in_24_hours_or_6_in_a_window(region: Persona, presidente: Persona) -> None:
    saturday = paris(2026, 6, 13, 23, 0)  # calendar hours: the weekend does not stop the clock
    found = assess(region, InboxKind.COMMENT, HATEFUL, saturday, first=True)
    assert found.flags == ("hateful",)
    assert found.legal_due_at == paris(2026, 6, 14, 23, 0)
    in_window = paris(2026, 11, 7, 23, 0)
    assert assess(region, InboxKind.COMMENT, HATEFUL, in_window, first=True).legal_due_at == paris(2026, 11, 8, 5, 0)
    assert assess(presidente, InboxKind.REPLY, HATEFUL, saturday, first=True).legal_due_at == paris(2026, 6, 14, 23, 0)


def test_the_earlier_legal_deadline_wins(region: Persona) -> None:
    received = paris(2026, 6, 10, 10, 0)
    found = assess(region, InboxKind.MESSAGE, f"{DOCUMENT_REQUEST} {HATEFUL}", received, first=True)
    assert set(found.flags) == {"document_request", "hateful"}
    assert found.legal_due_at == paris(2026, 6, 11, 10, 0)


def test_personal_data_is_reported_with_its_kinds(presidente: Persona) -> None:
    found = assess(presidente, InboxKind.COMMENT, "appelez-moi au 06 12 34 56 78", paris(2026, 6, 10, 10), first=True)
    assert found.flags == ("personal_data",) and found.personal_data == ("phone",)
    assert found.legal_due_at is None


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (paris(2026, 1, 15, 9, 0), paris(2026, 2, 15, 9, 0)),
        (paris(2026, 12, 20, 9, 0), paris(2027, 1, 20, 9, 0)),
        (paris(2028, 1, 31, 9, 0), paris(2028, 2, 29, 9, 0)),  # a leap year
        (paris(2026, 10, 10, 9, 0), paris(2026, 11, 10, 9, 0)),  # across the autumn change
    ],
)
def test_add_month(received: datetime, due: datetime) -> None:
    assert add_month(received, "Europe/Paris") == due


# ---------------------------------------------------------------------- measuring and states


def test_business_seconds_follow_the_personas_hours(region: Persona, presidente: Persona) -> None:
    friday, monday = paris(2026, 6, 12, 17, 0), paris(2026, 6, 15, 9, 0)
    assert business_seconds(region, friday, monday) == 60 * MINUTE  # 17:00–17:30, 08:30–09:00
    assert business_seconds(presidente, friday, monday) == 12 * 60 * MINUTE  # 17–19 Friday, 09–19 Saturday


@pytest.mark.parametrize(
    ("left", "target", "state"),
    [
        (timedelta(hours=3), None, "ok"),
        (timedelta(minutes=61), None, "ok"),
        (timedelta(minutes=60), None, "at_risk"),
        (timedelta(minutes=1), None, "at_risk"),
        (timedelta(0), None, "breached"),
        (timedelta(minutes=-5), None, "breached"),
        (timedelta(minutes=20), 60 * MINUTE, "ok"),  # a one-hour target is at risk in its last quarter
        (timedelta(minutes=15), 60 * MINUTE, "at_risk"),
        (timedelta(minutes=59), 8 * 60 * MINUTE, "at_risk"),  # a long one in its last hour
    ],
)
def test_sla_state(left: timedelta, target: float | None, state: str) -> None:
    now = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    assert sla_state(now + left, now, target_seconds=target) == state


def test_no_target_no_state() -> None:
    assert sla_state(None, datetime(2026, 6, 10, tzinfo=UTC)) is None


# ---------------------------------------------------------------------- the [inbox] section, checked at load


HEADER = """\
slug = "ville-exemple"
name = "Ville d'Exemple"
kind = "institution"
embodies = false

"""


@pytest.mark.parametrize(
    ("section", "field", "reason"),
    [
        ('[inbox.business_hours]\nstart = "18:00"\nend = "17:00"', "$.inbox.business_hours", "end 17:00 must be after"),
        ('[inbox.business_hours]\nstart = "9h"', "$.inbox.business_hours.start", "matching regex"),
        ('[inbox.business_hours]\nend = "24:00"', "$.inbox.business_hours.end", "matching regex"),
        ("[inbox.business_hours]\ndays = []", "$.inbox.business_hours", "at least one working day"),
        ("[inbox.business_hours]\ndays = [0, 0]", "$.inbox.business_hours", "listed twice"),
        ("[inbox.business_hours]\ndays = [7]", "$.inbox.business_hours.days[0]", "<= 6"),
        ('[inbox.business_hours]\nholidays = "XX"', "$.inbox.business_hours", "unknown country 'XX'"),
        ('[inbox.business_hours]\nsubdivision = "99"', "$.inbox.business_hours", "not a subdivision of FR"),
        ('[inbox.business_hours]\nholidays = ""\nsubdivision = "57"', "$.inbox.business_hours", "needs a holidays"),
        ("[inbox.targets]\nfirst_response_minutes = 0", "$.inbox.targets.first_response_minutes", ">= 1"),
        ("[inbox.targets]\nelection_factor = 1.5", "$.inbox.targets.election_factor", "<= 1"),
        ("[inbox.targets]\nelection_factor = 0.0", "$.inbox.targets.election_factor", "> 0"),
        ('[inbox]\nofficial_form_url = "laregion.fr"', "$.inbox.official_form_url", "matching regex"),
        ("[inbox]\nhateful_deadline_hours = 4", "$.inbox", "cannot be longer"),
        ("[inbox]\nretention_days = 0", "$.inbox.retention_days", ">= 1"),
        ('[inbox]\nfavourite_colour = "red"', "$.inbox", "unknown field"),
    ],
)
def test_a_bad_inbox_section_is_refused_at_load(tmp_path: Path, section: str, field: str, reason: str) -> None:
    path = tmp_path / "ville.toml"
    path.write_text(HEADER + section + "\n", encoding="utf-8")
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_a_good_inbox_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "ville.toml"
    section = '[inbox.business_hours]\ndays = [0, 1, 2, 3, 4, 5, 6]\nstart = "00:00"\nend = "23:59"\nsubdivision = "57"'
    path.write_text(HEADER + section + "\n", encoding="utf-8")
    loaded = load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert loaded.inbox.business_hours.subdivision == "57"
    assert inbox_settings(msgspec.to_builtins(loaded)).business_hours.days == [0, 1, 2, 3, 4, 5, 6]
