"""docs/plugin-reference.md describes every public name of the plugin contract, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import core.channels

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugin-reference.md"
HEADING = re.compile(r"^### `([A-Za-z_][A-Za-z0-9_]*)`\s*$", re.MULTILINE)


def described() -> list[str]:
    return HEADING.findall(PAGE.read_text(encoding="utf-8"))


def test_every_public_name_has_its_heading() -> None:
    missing = sorted(set(core.channels.__all__) - set(described()))
    assert not missing, f"docs/plugin-reference.md does not describe: {missing} (add a ### `Name` section)"


def test_every_heading_names_something_exported() -> None:
    stale = sorted(set(described()) - set(core.channels.__all__))
    assert not stale, f"docs/plugin-reference.md describes names core.channels does not export: {stale}"


def test_each_name_is_described_once_with_some_words() -> None:
    text = PAGE.read_text(encoding="utf-8")
    names = described()
    assert len(names) == len(set(names)), "a name has two headings"
    for name in names:
        body = text.split(f"### `{name}`", 1)[1].split("\n#", 1)[0]
        assert len(body.split()) >= 5, f"### `{name}` has no description"
