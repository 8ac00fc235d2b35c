"""[rules.*] in persona files: validated by the loader, applied by the engine."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from personas.loader import PersonaFileError, load_file
from personas.policy import ALIASES, REGISTRY
from personas.schema import RuleSetting

from .conftest import CHANNELS, FORMATS, INSTITUTION, image, persona, run, severities

HEAD = """slug = "demo"
name = "Demo"
kind = "institution"
embodies = false

[channels.x]
posts_per_day = 2
"""


def _load(tmp_path: Path, rules: str):  # noqa: ANN202
    path = tmp_path / "demo.toml"
    path.write_text(HEAD + rules, encoding="utf-8")
    return load_file(path, known_channels=CHANNELS, known_formats=FORMATS)


@pytest.mark.parametrize(
    ("rules", "field", "reason"),
    [
        ("[rules.no_such_rule]\nenabled = false\n", "$.rules.no_such_rule", "unknown rule id"),
        ('[rules.alt_text]\nseverity = "fatal"\n', "$.rules.alt_text.severity", "Invalid enum value"),
        (
            '[rules.alt_text]\nparams = { min_length = "long" }\n',
            "$.rules.alt_text.params",
            "min_length: Expected `int`",
        ),
        ("[rules.alt_text]\nparams = { minimum = 10 }\n", "$.rules.alt_text.params", "unknown field"),
        ("[rules.first_person]\nparams = { x = 1 }\n", "$.rules.first_person.params", "unknown field"),
        ('[rules.election_eve]\nparams = { polls_close = "8pm" }\n', "$.rules.election_eve.params", "HH:MM"),
        ('[rules.official_named]\nseverity = "info"\n', "$.rules.official_named.severity", "from the law"),
        ("[rules.A1]\nenabled = true\n[rules.alt_text]\nenabled = true\n", "$.rules.alt_text", "same rule"),
    ],
)
def test_bad_rule_settings_are_persona_file_errors(tmp_path: Path, rules: str, field: str, reason: str) -> None:
    with pytest.raises(PersonaFileError) as info:
        _load(tmp_path, rules)
    assert info.value.field == field
    assert reason.lower() in info.value.reason.lower()
    assert info.value.path.endswith("demo.toml")
    if "[rules." in rules and field.count(".") >= 2:
        assert info.value.line is not None  # points at the section


def test_good_rule_settings_load(tmp_path: Path) -> None:
    loaded = _load(tmp_path, '[rules.A4]\nparams = { extra_words = ["tarn"] }\n[rules.cadence]\nenabled = false\n')
    assert set(loaded.rules) == {"A4", "cadence"}


def test_catalogue_aliases_cover_the_implemented_ids() -> None:
    required = {
        "E1",
        "E2",
        "I1",
        "I2",
        "I3",
        "I4",
        "I6",
        "P1",
        "P2",
        "S1",
        "S2",
        "S3",
        "A1",
        "A3",
        "A4",
        "A5",
        "A6",
        "A7",
        "L1",
        "L2",
    }
    assert required <= set(ALIASES)
    assert all(ALIASES[a] in REGISTRY for a in required)


def _with_rules(**rules: RuleSetting):  # noqa: ANN202
    base = persona(INSTITUTION)
    return msgspec.structs.replace(base, rules={**base.rules, **rules})


def test_disabled_rule_is_silent() -> None:
    who = _with_rules(alt_text=RuleSetting(enabled=False))
    assert severities(run(text="Photo", media=(image(""),), who=who), "alt_text") == []


def test_severity_override_replaces_the_rule_s_level() -> None:
    who = _with_rules(first_person=RuleSetting(severity="block"))
    assert severities(run(text="Je viens.", who=who), "first_person") == ["block"]


def test_info_guidance_keeps_its_level_under_an_override() -> None:
    who = _with_rules(cadence=RuleSetting(severity="review"))
    assert severities(run(text="Info", who=who), "cadence") == ["info"]


def test_alias_section_applies_params() -> None:
    who = _with_rules(A5=RuleSetting(params={"max_hashtags": 1}))
    assert severities(run(text="Été.\n#Occitanie #Toulouse", who=who), "hashtag_placement") == ["warn"]
    assert severities(run(text="Été.\n#Occitanie #Toulouse"), "hashtag_placement") == []


def test_explicit_section_switches_a_rule_on_for_another_kind() -> None:
    who = msgspec.structs.replace(persona("presidente-region"), rules={"inclusive_writing": RuleSetting()})
    assert severities(run(text="Merci aux habitant·e·s", who=who), "inclusive_writing") == ["warn"]


def test_extra_words_extend_hashtag_splitting() -> None:
    who = _with_rules(hashtag_case=RuleSetting(params={"extra_words": ["aveyron"]}))
    assert severities(run(text="Été.\n#aveyronterre", who=who), "hashtag_case") == ["warn"]
    assert severities(run(text="Été.\n#aveyronterre"), "hashtag_case") == []
