"""`portevoix policy explain`: a persona's policy tried on a draft file, no UI, no database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from web.cli import cli


def _explain(tmp_path: Path, body: str, *args: str) -> tuple[int, str]:
    draft = tmp_path / "draft.toml"
    draft.write_text(body, encoding="utf-8")
    result = CliRunner().invoke(cli, ["policy", "explain", *args, str(draft)])
    return result.exit_code, result.output


def test_institution_tiktok_is_blocked_with_the_reason(tmp_path: Path) -> None:
    code, output = _explain(
        tmp_path, 'channel = "tiktok"\ntext = "Bonjour"\n', "--persona", "region-occitanie", "--lang", "en"
    )
    assert code == 2 and "[BLOCK] channel_refused" in output and "incarnation" in output


def test_first_person_on_the_institution_goes_to_review_but_not_on_the_president(tmp_path: Path) -> None:
    body = 'channel = "x"\ntext = "Je suis fière de nos apprentis."\nscheduled_at = 2029-06-01T09:00:00+02:00\n'
    code, output = _explain(tmp_path, body, "--persona", "region-occitanie")
    assert code == 1 and "first_person" in output and "À VALIDER" in output
    code, output = _explain(tmp_path, body, "--persona", "presidente-region")
    assert code == 0 and "first_person" not in output


def test_naming_the_president_inside_and_outside_the_2027_window(tmp_path: Path) -> None:
    inside = (
        'channel = "x"\ntext = "Camille Delorme inaugure le lycée de Rodez."\n'
        "scheduled_at = 2027-01-15T09:00:00+01:00\n"
    )
    outside = inside.replace("2027-01-15T09:00:00+01:00", "2029-06-01T09:00:00+02:00")
    assert _explain(tmp_path, inside, "--persona", "region-occitanie")[0] == 1
    assert _explain(tmp_path, outside, "--persona", "region-occitanie")[0] == 0


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    code, output = _explain(tmp_path, 'channel = "x"\ntext = 3\n', "--persona", "region-occitanie")
    assert code == 1 and "draft.toml" in output and "Expected `str`" in output
    code, output = _explain(tmp_path, 'channel = "x"\n', "--persona", "nobody")
    assert code == 1 and "no persona 'nobody'" in output
