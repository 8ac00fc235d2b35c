"""decide(), explain() and the draft file read by `portevoix policy explain`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from personas.policy import (
    DraftFileError,
    Finding,
    Outcome,
    Override,
    decide,
    draft_file_inputs,
    evaluate,
    explain,
    load_draft_file,
)
from personas.schema import Severity

from .conftest import INSTITUTION, PARIS, persona, run


def f(rule: str, severity: str, overridable: bool = True) -> Finding:
    return Finding(rule=rule, severity=Severity(severity), message_fr="fr", message_en="en", overridable=overridable)


@pytest.mark.parametrize(
    ("findings", "overrides", "outcome"),
    [
        ([], [], Outcome.OK),
        ([f("a", "warn"), f("b", "info")], [], Outcome.OK),
        ([f("a", "review")], [], Outcome.NEEDS_REVIEW),
        ([f("a", "block"), f("b", "review")], [], Outcome.BLOCKED),
        (
            [f("a", "block")],
            [Override(rule="a", reason="Photo décorative, validé par la direction")],
            Outcome.NEEDS_REVIEW,
        ),
        ([f("a", "block")], [Override(rule="a", reason="   ")], Outcome.BLOCKED),  # no reason, no override
        ([f("a", "block", overridable=False)], [Override(rule="a", reason="urgent")], Outcome.BLOCKED),
        ([f("a", "block"), f("b", "block")], [Override(rule="a", reason="ok")], Outcome.BLOCKED),
    ],
)
def test_decide(findings: list[Finding], overrides: list[Override], outcome: Outcome) -> None:
    assert decide(findings, overrides).outcome == outcome


def test_decide_reports_refused_and_used_overrides() -> None:
    verdict = decide(
        [f("a", "block"), f("b", "block", overridable=False)],
        [Override(rule="a", reason="ok"), Override(rule="b", reason="please"), Override(rule="c", reason="x")],
    )
    assert [x.rule for x in verdict.overridden] == ["a"]
    assert [x.rule for x in verdict.blocking] == ["b"]
    assert [o.rule for o in verdict.refused_overrides] == ["b", "c"]


def test_explain_lists_every_finding_in_both_languages() -> None:
    findings = run(INSTITUTION, "Je suis fière ! #fetedelamusique", channel="tiktok")
    fr, en = explain(findings, lang="fr"), explain(findings, lang="en")
    assert fr.startswith("BLOQUÉ") and en.startswith("BLOCKED")
    for found in findings:
        assert found.rule in fr and found.rule in en
        assert found.message_fr in fr and found.message_en in en
    assert "#fetedelamusique → #FeteDeLaMusique" in fr


def test_explain_marks_overrides() -> None:
    findings = [f("format", "block")]
    text = explain(findings, lang="en", overrides=[Override(rule="format", reason="one-off reel")])
    assert text.startswith("NEEDS REVIEW") and "lifted by override" in text


DRAFT_TOML = """
channel = "x"
text = "Inauguration du lycée de Muret avec @CamilleDelorme."
scheduled_at = 2027-01-15T10:00:00
paid_boost = false

[[media]]
kind = "image"
alt_text = ""
origin = "region_dam"

[day_counts]
posts = 2
"""


def test_draft_file_toml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "draft.toml"
    path.write_text(DRAFT_TOML, encoding="utf-8")
    draft_file = load_draft_file(path)
    draft, context = draft_file_inputs(draft_file, now=datetime(2030, 1, 1, tzinfo=PARIS))
    findings = evaluate(persona(INSTITUTION), draft, context)
    rules = {x.rule for x in findings}
    assert {"official_named", "alt_text", "cadence"} <= rules  # naive time read in Paris: inside the window
    assert decide(findings).outcome == Outcome.BLOCKED


def test_draft_file_json_and_now(tmp_path: Path) -> None:
    path = tmp_path / "draft.json"
    path.write_text(json.dumps({"channel": "facebook", "text": "Les TER circulent."}), encoding="utf-8")
    draft, context = draft_file_inputs(load_draft_file(path), now=datetime(2029, 6, 1, 9, tzinfo=PARIS))
    assert context.moment == datetime(2029, 6, 1, 9, tzinfo=PARIS)
    assert decide(evaluate(persona(INSTITUTION), draft, context)).outcome == Outcome.OK


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad.toml", 'channel = "x"\ncolour = "red"\n', "unknown field"),
        ("bad.toml", 'text = "no channel"\n', "channel"),
        ("bad.json", '{"channel": "x", "media": [{"kind": "image", "origin": "stolen"}]}', "origin"),
        ("bad.toml", "channel = \n", "Invalid"),
    ],
)
def test_bad_draft_files(tmp_path: Path, name: str, content: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DraftFileError, match=reason):
        load_draft_file(path)


def test_evaluate_is_pure_and_ordered() -> None:
    args = dict(text="Je suis fière 😀", channel="facebook", moment=datetime(2027, 1, 15, tzinfo=PARIS))
    first, second = run(INSTITUTION, **args), run(INSTITUTION, **args)
    assert first == second
    order = ["block", "review", "warn", "info"]
    assert [order.index(x.severity) for x in first] == sorted(order.index(x.severity) for x in first)
