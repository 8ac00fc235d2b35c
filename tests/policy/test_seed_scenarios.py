"""The issue's scenarios on the seed data, end to end through evaluate() and decide()."""

from __future__ import annotations

from datetime import datetime

import pytest

from personas.policy import DayCount, Outcome, decide, default_elections, open_windows

from .conftest import IN_PRESIDENTIAL, INSTITUTION, OUTSIDE, PARIS, image, of, persona, run


def test_tiktok_on_the_institution_is_blocked_with_the_refusal_reason() -> None:
    findings = run(INSTITUTION, "Découvrez le Pic du Midi", channel="tiktok")
    [refused] = of(findings, "channel_refused")
    assert refused.severity == "block" and not refused.overridable
    assert "incarnation" in refused.message_fr and "incarnation" in refused.message_en
    assert decide(findings).outcome == Outcome.BLOCKED


def test_first_person_on_the_institution_goes_to_review() -> None:
    findings = run(INSTITUTION, "Je suis fière de ce nouveau lycée à Montauban.", channel="facebook")
    assert [f.severity for f in of(findings, "first_person")] == ["review"]
    assert decide(findings).outcome == Outcome.NEEDS_REVIEW


@pytest.mark.parametrize("mention", ["Camille Delorme", "@CamilleDelorme", "la présidente de la Région"])
def test_naming_the_president_inside_the_presidential_window_goes_to_review(mention: str) -> None:
    text = f"Inauguration du lycée de Muret ce matin avec {mention}."
    inside = run(INSTITUTION, text, moment=IN_PRESIDENTIAL)
    assert [f.severity for f in of(inside, "official_named")] == ["review"]
    assert of(inside, "official_named")[0].data["justification_required"] is True
    assert decide(inside).outcome == Outcome.NEEDS_REVIEW
    outside = run(INSTITUTION, text, moment=OUTSIDE)
    assert of(outside, "official_named") == []
    assert decide(outside).outcome == Outcome.OK


def test_the_shipped_elections_give_no_window_on_2029_06_01() -> None:
    assert open_windows(default_elections(), persona(INSTITUTION), OUTSIDE.date()) == []


def test_image_without_alt_text_on_the_institution_is_blocked() -> None:
    findings = run(
        INSTITUTION, "Le marché de Noël de Carcassonne.", channel="facebook", fmt="photo", media=(image(""),)
    )
    assert [f.severity for f in of(findings, "alt_text")] == ["block"]
    assert decide(findings).outcome == Outcome.BLOCKED


def test_the_same_image_on_the_official_only_warns() -> None:
    findings = run("presidente-region", "Au marché de Noël.", channel="instagram", fmt="photo", media=(image(""),))
    assert [f.severity for f in of(findings, "alt_text")] == ["warn"]


def test_third_facebook_post_of_the_day_draws_the_cadence_warning() -> None:
    findings = run(
        INSTITUTION, "Les horaires des TER changent.", channel="facebook", day_counts={"facebook": DayCount(posts=2)}
    )
    [cadence] = of(findings, "cadence")
    assert cadence.severity == "warn" and cadence.data["count"] == 3 and cadence.data["target"] == 2
    second = run(
        INSTITUTION, "Les horaires des TER changent.", channel="facebook", day_counts={"facebook": DayCount(posts=1)}
    )
    assert of(second, "cadence") == []


def test_the_same_draft_changes_outcome_when_the_window_opens() -> None:
    """What re-checking at publish time relies on: the moment decides, not the day it was written."""
    text = "Camille Delorme inaugure le nouveau lycée de Muret."
    before = run(INSTITUTION, text, moment=datetime(2026, 9, 30, 23, 30, tzinfo=PARIS))
    after = run(INSTITUTION, text, moment=datetime(2026, 10, 1, 0, 30, tzinfo=PARIS))
    assert decide(before).outcome == Outcome.OK
    assert decide(after).outcome == Outcome.NEEDS_REVIEW


def test_the_local_day_is_the_persona_s_not_utc() -> None:
    # 2026-09-30 22:30 UTC is 2026-10-01 00:30 in Paris: inside the window
    from datetime import UTC

    findings = run(INSTITUTION, "Camille Delorme à Muret.", moment=datetime(2026, 9, 30, 22, 30, tzinfo=UTC))
    assert of(findings, "official_named")
