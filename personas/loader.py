"""Read and check persona files. Pure: no database here (``core`` stores what this returns)."""

from __future__ import annotations

import math
import re
import tomllib
import zoneinfo
from collections.abc import Collection
from pathlib import Path
from typing import Any

import msgspec

from personas.policy import setting_problems
from personas.schema import ChannelPolicy, PersonaFile, RuleSetting

#: where the seed's personas live
SEED_DIR = Path(__file__).parent / "data"
#: files of a persona folder that are not personas (the elections calendar lives beside them)
NOT_PERSONAS = frozenset({"elections.toml"})


class PersonaFileError(Exception):
    """A persona file that cannot be accepted; says which file, where, and why."""

    def __init__(self, path: Path | str, field: str, reason: str, line: int | None = None) -> None:
        self.path, self.field, self.reason, self.line = str(path), field, reason, line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field}: {reason}")


def load_file(path: Path | str, *, known_channels: Collection[str], known_formats: Collection[str]) -> PersonaFile:
    """Decode and check one persona file; raise :class:`PersonaFileError` on the first problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PersonaFileError(path, "(file)", f"cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (save the file as UTF-8)"
        raise PersonaFileError(path, "(file)", reason, line) from None
    try:
        persona = msgspec.toml.decode(text, type=PersonaFile)
    except msgspec.ValidationError as exc:
        field, reason = _split_validation_message(str(exc))
        field = _name_the_key(text, field)
        raise PersonaFileError(path, field, reason, _locate(text, field)) from exc
    except msgspec.DecodeError as exc:
        raise PersonaFileError(path, "(syntax)", str(exc), _toml_line(str(exc))) from exc
    for field, reason in _semantic_problems(persona, set(known_channels), set(known_formats)):
        raise PersonaFileError(path, field, reason, _locate(text, field))
    return persona


def load_dir(
    directory: Path | str, *, known_channels: Collection[str], known_formats: Collection[str]
) -> list[PersonaFile]:
    """Every ``*.toml`` persona of a folder, all checked before any is returned (all or nothing)."""
    files = [f for f in sorted(Path(directory).glob("*.toml")) if f.name not in NOT_PERSONAS]
    if not files:
        raise PersonaFileError(directory, "(folder)", "no *.toml persona file here")
    personas = [load_file(f, known_channels=known_channels, known_formats=known_formats) for f in files]
    seen: dict[str, Path] = {}
    for file, persona in zip(files, personas, strict=True):
        if persona.slug in seen:
            raise PersonaFileError(file, "$.slug", f"{persona.slug!r} is also the slug of {seen[persona.slug]}")
        seen[persona.slug] = file
    return personas


def _unstorable(persona: PersonaFile) -> list[tuple[str, str]]:
    """Values no database column takes: a NUL character (PostgreSQL's text cannot hold one), a
    number that is not finite (TOML's ``nan`` and ``inf``; JSON has no such number)."""
    problems: list[tuple[str, str]] = []
    pending: list[tuple[str, Any]] = [("$", msgspec.to_builtins(persona))]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            problems.append((where, "contains a NUL character (\\u0000), which cannot be stored"))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append((where, f"{value} is not a finite number"))
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    problems.append((where, "a key contains a NUL character (\\u0000)"))
                pending.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return sorted(problems)


def _duplicate_accounts(persona: PersonaFile) -> list[tuple[str, str]]:
    """Two accounts with one network id on one channel are one account (the database says so too)."""
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, account in enumerate(persona.accounts):
        key = (account.channel, account.external_id)
        if key in seen:
            reason = f"{account.external_id!r} on {account.channel} is also the id of $.accounts[{seen[key]}]"
            problems.append((f"$.accounts[{index}].external_id", reason))
        seen.setdefault(key, index)
    return problems


def _semantic_problems(persona: PersonaFile, channels: set[str], formats: set[str]) -> list[tuple[str, str]]:
    problems = _unstorable(persona)
    try:
        zoneinfo.ZoneInfo(persona.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        problems.append(
            ("$.timezone", f"unknown time zone {persona.timezone!r} (expected an IANA name like 'Europe/Paris')")
        )
    if persona.embodies and persona.kind == "institution":
        problems.append(("$.embodies", "an institution cannot embody itself"))
    for key, policy in persona.channels.items():
        where = f"$.channels.{key}"
        if key not in channels:
            problems.append((where, f"unknown channel {key!r}; known: {', '.join(sorted(channels))}"))
            continue
        if not policy.allowed and not (policy.refusal_reason or "").strip():
            problems.append((f"{where}.refusal_reason", "a refused channel needs the reason shown to authors"))
        for fmt in policy.formats:
            if fmt not in formats:
                problems.append((f"{where}.formats", f"unknown format {fmt!r}; known: {', '.join(sorted(formats))}"))
    mains = [key for key, policy in persona.channels.items() if policy.main]
    if len(mains) > 1:
        problems.append(("$.channels", f"only one main network; got {', '.join(mains)}"))
    for index, account in enumerate(persona.accounts):
        where = f"$.accounts[{index}].channel"
        policy = persona.channels.get(account.channel)
        if account.channel not in channels:
            problems.append((where, f"unknown channel {account.channel!r}"))
        elif policy is None:
            problems.append((where, f"no [channels.{account.channel}] policy for this account"))
        elif not policy.allowed:
            problems.append((where, f"channel {account.channel!r} is refused for this persona"))
    problems += _duplicate_accounts(persona)
    # [rules.*]: unknown rule id, a severity the law fixes, params the rule does not take
    problems += setting_problems(persona.rules)
    return problems


_VALIDATION = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<field>[^`]+)`)?$", re.DOTALL)


def _split_validation_message(message: str) -> tuple[str, str]:
    match = _VALIDATION.match(message)
    assert match is not None  # the pattern matches any string
    return match.group("field") or "$", match.group("reason")


# Tables keyed by name in a persona file, and the type of their values.
_KEYED_TABLES: dict[str, type[msgspec.Struct]] = {"channels": ChannelPolicy, "rules": RuleSetting}


def _name_the_key(text: str, field: str) -> str:
    """msgspec says ``$.channels[...].x`` for a dict value; find which key it was."""
    table = field.removeprefix("$.").split("[...]", 1)[0]
    if "[...]" not in field or table not in _KEYED_TABLES:
        return field
    for key, value in tomllib.loads(text).get(table, {}).items():
        try:
            msgspec.convert(value, _KEYED_TABLES[table])
        except msgspec.ValidationError:
            return field.replace("[...]", f".{key}", 1)
    return field


def _toml_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _locate(text: str, field: str) -> int | None:
    """Best-effort line of a ``$.a.b[2].c`` field in a TOML text, for error messages."""
    parts = [p for p in re.split(r"\.|\[\d+\]", field.removeprefix("$")) if p]
    if not parts:
        return None
    *tables, key = parts
    current: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?([^\]]+)\]\]?", line)
        if header:
            current = [p.strip().strip('"') for p in header.group(1).split(".")]
            if current == parts:
                return number
            continue
        in_table = current[-len(tables) :] == tables if tables else not current
        if in_table and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return None
