"""elections.toml: the E1 window arithmetic, E2 scope, and the file's validation."""

from __future__ import annotations

from datetime import date

import pytest

from personas.policy import (
    ElectionsFileError,
    default_elections,
    in_scope,
    l52_1_start,
    load_elections,
    open_windows,
    parse_elections,
)

from .conftest import INSTITUTION, OFFICIAL, persona


@pytest.mark.parametrize(
    ("first_round", "start"),
    [
        (date(2027, 4, 11), date(2026, 10, 1)),
        (date(2028, 3, 19), date(2027, 9, 1)),
        (date(2026, 3, 15), date(2025, 9, 1)),
        (date(2029, 6, 10), date(2028, 12, 1)),
        (date(2027, 7, 1), date(2027, 1, 1)),  # across a year boundary, month 7 -> January
    ],
)
def test_l52_1_start_is_the_first_day_of_the_sixth_month_before(first_round: date, start: date) -> None:
    assert l52_1_start(first_round) == start


def test_shipped_file_windows() -> None:
    elections = {e.id: e for e in default_elections()}
    assert set(elections) == {"municipales-2026", "presidentielle-2027", "regionales-2028"}
    assert elections["presidentielle-2027"].start == date(2026, 10, 1)
    assert elections["presidentielle-2027"].provisional
    assert elections["regionales-2028"].start == date(2027, 9, 1) and elections["regionales-2028"].provisional
    municipales = elections["municipales-2026"]
    assert (municipales.start, municipales.decisive, municipales.provisional) == (
        date(2025, 9, 1),
        date(2026, 3, 22),
        False,
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 30), []),
        (date(2026, 10, 1), ["presidentielle-2027"]),
        (date(2027, 4, 25), ["presidentielle-2027"]),
        (date(2027, 4, 26), []),
        (date(2027, 9, 1), ["regionales-2028"]),
        (date(2028, 3, 26), ["regionales-2028"]),
        (date(2028, 3, 27), []),
        (date(2029, 6, 1), []),
    ],
)
def test_window_edges(day: date, expected: list[str]) -> None:
    assert [w.election.id for w in open_windows(default_elections(), persona(INSTITUTION), day)] == expected


def test_scope_e2() -> None:
    elections = {e.id: e for e in default_elections()}
    institution, official = persona(INSTITUTION), persona(OFFICIAL)
    assert in_scope(elections["presidentielle-2027"], institution)
    assert in_scope(elections["regionales-2028"], institution)
    assert not in_scope(elections["municipales-2026"], institution)  # no Région official stood
    assert not in_scope(elections["presidentielle-2027"], official)  # not a candidate
    assert in_scope(elections["regionales-2028"], official)


def test_municipales_bind_the_institution_when_its_official_stands() -> None:
    [municipales] = parse_elections(
        """
[[elections]]
id = "municipales-2026"
kind = "municipales"
label = "Municipales"
rounds = [2026-03-15, 2026-03-22]
candidates = ["presidente-region"]
"""
    )
    assert in_scope(municipales, persona(INSTITUTION))


_BASE = 'id = "x-2030"\nkind = "legislatives"\nlabel = "L"\n'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_BASE + "rounds = [2030-06-16, 2030-06-09]", "$.elections[0].rounds"),
        (_BASE + "rounds = []", "$.elections[0].rounds"),
        (_BASE + "rounds = [2030-06-09]\ndecisive_round = 2", "$.elections[0].decisive_round"),
        (_BASE + "rounds = [2030-06-09]\nwindow_start = 2030-07-01", "$.elections[0].window_start"),
        ('id = "x-2030"\nkind = "referendum"\nlabel = "L"\nrounds = [2030-06-09]', "$.elections[0].kind"),
        (_BASE + "rounds = [2030-06-09]\nsurprise = 1", "$.elections[0]"),
        (_BASE + 'rounds = [2030-06-09]\ninstitutions = "some"', "$.elections[0].institutions"),
        (_BASE + 'rounds = [2030-06-09]\ncandidates = ["Not A Slug"]', "$.elections[0].candidates[0]"),
    ],
)
def test_invalid_elections_files(body: str, field: str) -> None:
    with pytest.raises(ElectionsFileError) as info:
        parse_elections("[[elections]]\n" + body, "elections.toml")
    assert info.value.field == field
    assert "elections.toml" in str(info.value)


def test_duplicate_ids() -> None:
    one = "[[elections]]\n" + _BASE + "rounds = [2030-06-09]\n"
    with pytest.raises(ElectionsFileError, match="duplicate"):
        parse_elections(one + one)


def test_snap_election_window_start_override() -> None:
    [snap] = parse_elections("[[elections]]\n" + _BASE + "rounds = [2030-06-09, 2030-06-16]\nwindow_start = 2030-05-01")
    assert snap.start == date(2030, 5, 1) and snap.decisive == date(2030, 6, 16)


def test_missing_file(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ElectionsFileError, match="cannot read"):
        load_elections(tmp_path / "nope.toml")
