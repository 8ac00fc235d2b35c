"""Persona files: the loader, `portevoix personas check`, and idempotent all-or-nothing loading."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.channels import Format
from core.db.models import Account, AuditEvent, ChannelPolicy, Persona
from core.personas.service import upsert_personas
from core.runtime import Runtime
from core.settings import Settings
from personas import SEED_DIR, PersonaFileError, load_dir, load_file
from web.cli import cli

CHANNELS = {"facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon"}
FORMATS = {f.value for f in Format}

MINIMAL = """\
slug = "ville-exemple"
name = "Ville d'Exemple"
kind = "institution"
embodies = false

[channels.mastodon]
posts_per_day = 1
"""


def _write(tmp_path: Path, text: str, name: str = "persona.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_personas_load() -> None:
    loaded = {p.slug: p for p in load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS)}
    region, president = loaded["region-occitanie"], loaded["presidente-region"]
    assert region.slug == "region-occitanie" and not region.embodies
    assert region.channels["facebook"].audience == 175_000 and region.channels["facebook"].main
    assert region.channels["linkedin"].audience == 117_900 and region.channels["linkedin"].posts_per_day == 1
    assert region.channels["x"].posts_per_day == 2 and region.channels["instagram"].formats
    assert not region.channels["tiktok"].allowed and "incarnation" in (region.channels["tiktok"].refusal_reason or "")
    assert president.embodies and president.channels["tiktok"].allowed
    assert {a.channel for a in president.accounts} == {"x", "instagram", "tiktok"}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            ("posts_per_day = 1", 'posts_per_day = "two"'),
            "$.channels.mastodon.posts_per_day",
            "Expected `int | null`, got `str`",
        ),
        (("posts_per_day = 1", "posts_per_day = -2"), "$.channels.mastodon.posts_per_day", ">= 0"),
        (("[channels.mastodon]", "[channels.myspace]"), "$.channels.myspace", "unknown channel 'myspace'"),
        (("embodies = false", "embodies = true"), "$.embodies", "cannot embody"),
        (('kind = "institution"', 'kind = "company"'), "$.kind", "Invalid enum value 'company'"),
        (
            ("posts_per_day = 1", "posts_per_day = 1\nallowed = false"),
            "$.channels.mastodon.refusal_reason",
            "needs the reason",
        ),
        (
            ("posts_per_day = 1", 'posts_per_day = 1\nformats = ["hologram"]'),
            "$.channels.mastodon.formats",
            "unknown format",
        ),
        (("posts_per_day = 1", "posts_per_day = 1\ncolour = 3"), "$.channels.mastodon", "unknown field `colour`"),
    ],
)
def test_invalid_files_name_file_field_and_reason(
    tmp_path: Path, change: tuple[str, str], field: str, reason: str
) -> None:
    path = _write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    error = caught.value
    assert error.path == str(path) and error.field == field and reason in error.reason
    assert str(path) in str(error)


def test_error_gives_the_line_of_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("posts_per_day = 1", "posts_per_day = -1"))
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert caught.value.line == 7
    assert f"{path}:7:" in str(caught.value)


def test_cli_check_reports_each_bad_file_and_fails(tmp_path: Path) -> None:
    good = _write(tmp_path, MINIMAL, "good.toml")
    bad = _write(tmp_path, MINIMAL.replace("posts_per_day = 1", "posts_per_day = -1"), "bad.toml")
    unknown = _write(tmp_path, MINIMAL.replace("mastodon", "myspace"), "unknown.toml")
    result = CliRunner().invoke(cli, ["personas", "check", str(good), str(bad), str(unknown)])
    assert result.exit_code == 1
    assert f"ok: {good}" in result.output
    assert f"{bad}:7: $.channels.mastodon.posts_per_day: Expected `int` >= 0" in result.output
    assert "unknown channel 'myspace'" in result.output
    assert CliRunner().invoke(cli, ["personas", "check", str(good)]).exit_code == 0


pytestmark_db = pytest.mark.anyio


@pytest.mark.anyio
async def test_loading_twice_is_idempotent_and_audited(runtime: Runtime, db: AsyncSession) -> None:
    files = load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS)
    for _ in range(2):
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("test"))
    assert await db.scalar(select(func.count()).select_from(Persona)) == 2
    assert await db.scalar(select(func.count()).select_from(Account)) == 7
    assert await db.scalar(select(func.count()).select_from(ChannelPolicy)) == 8
    created = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "persona.created")
    )
    updated = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "persona.updated")
    )
    assert (created, updated) == (2, 0)  # the second load changed nothing, so it recorded nothing


@pytest.mark.anyio
async def test_a_bad_file_in_a_folder_loads_nothing(runtime: Runtime, db: AsyncSession, tmp_path: Path) -> None:
    folder = tmp_path / "personas"
    shutil.copytree(SEED_DIR, folder)
    _write(folder, MINIMAL.replace("posts_per_day = 1", "posts_per_day = -1"), "zz-broken.toml")
    with pytest.raises(PersonaFileError, match="zz-broken.toml"):
        load_dir(folder, known_channels=CHANNELS, known_formats=FORMATS)
    assert await db.scalar(select(func.count()).select_from(Persona)) == 0


@pytest.mark.anyio
async def test_a_failure_during_upsert_rolls_everything_back(runtime: Runtime, db: AsyncSession) -> None:
    files = load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS)
    with pytest.raises(RuntimeError):
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("test"))
            raise RuntimeError("crash after the first writes")
    assert await db.scalar(select(func.count()).select_from(Persona)) == 0


@pytest.mark.anyio
async def test_a_changed_file_updates_in_place(runtime: Runtime, db: AsyncSession, tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    async with runtime.session() as session:
        await upsert_personas(
            session, [load_file(path, known_channels=CHANNELS, known_formats=FORMATS)], Actor.system("t")
        )
    _write(tmp_path, MINIMAL.replace("posts_per_day = 1", "posts_per_day = 3"))
    async with runtime.session() as session:
        await upsert_personas(
            session, [load_file(path, known_channels=CHANNELS, known_formats=FORMATS)], Actor.system("t")
        )
    assert await db.scalar(select(ChannelPolicy.posts_per_day)) == 3
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "persona.updated"))
    assert event is not None
    assert event.before["definition"]["channels"]["mastodon"]["posts_per_day"] == 1
    assert event.after["definition"]["channels"]["mastodon"]["posts_per_day"] == 3


# ------------------------------------------------------------------ hostile persona files (issue 10, R6)
def test_a_file_that_is_not_utf8_is_refused_with_file_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.replace("Ville d'Exemple", "Région").encode("latin-1"))
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert caught.value.field == "(file)" and caught.value.line == 2
    assert "not UTF-8" in caught.value.reason and "0xe9" in caught.value.reason
    result = CliRunner().invoke(cli, ["personas", "check", str(path)])
    assert result.exit_code == 1 and f"error: {path}:2: (file): not UTF-8" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # a message, not a traceback


_TOO_LONG = "x" * 5000
ACCEPTED_BY_CHECK_YESTERDAY = [
    (("posts_per_day = 1", "posts_per_day = 3000000000"), "$.channels.mastodon.posts_per_day", "<= 1000"),
    (
        ("posts_per_day = 1", "posts_per_day = 1\nreposts_per_day = 3000000000"),
        "$.channels.mastodon.reposts_per_day",
        "<= 1000",
    ),
    (
        ("posts_per_day = 1", "posts_per_day = 1\naudience = 3000000000"),
        "$.channels.mastodon.audience",
        "<= 2147483647",
    ),
    (("Ville d'Exemple", _TOO_LONG), "$.name", "length <= 200"),
    (("embodies = false", f'embodies = false\ntimezone = "{_TOO_LONG}"'), "$.timezone", "length <= 64"),
    (("embodies = false", 'embodies = false\nlanguage = "fr-FR-x-occitan"'), "$.language", "length <= 8"),
    (("Ville d'Exemple", "Ville\\u0000"), "$.name", "NUL character"),
    (("posts_per_day = 1", 'posts_per_day = 1\ntone = "a\\u0000b"'), "$.channels.mastodon.tone", "NUL character"),
    (
        ("posts_per_day = 1", "posts_per_day = 1\n\n[rules.cadence]\nparams = { slack = nan }"),
        "$.rules.cadence.params.slack",
        "not a finite number",
    ),
]
_ACCOUNT = '\n[[accounts]]\nchannel = "mastodon"\nhandle = "{handle}"\nexternal_id = "{external_id}"\n'


@pytest.mark.parametrize(("change", "field", "reason"), ACCEPTED_BY_CHECK_YESTERDAY)
def test_check_refuses_what_the_database_cannot_store(
    tmp_path: Path, change: tuple[str, str], field: str, reason: str
) -> None:
    """What ``personas check`` accepts, ``personas load`` stores: the file's limits are the columns'."""
    path = _write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert caught.value.field == field and reason in caught.value.reason, str(caught.value)


@pytest.mark.parametrize(
    ("accounts", "field", "reason"),
    [
        (_ACCOUNT.format(handle=_TOO_LONG, external_id="1"), "$.accounts[0].handle", "length <= 200"),
        (_ACCOUNT.format(handle="ville", external_id=_TOO_LONG), "$.accounts[0].external_id", "length <= 200"),
        (_ACCOUNT.format(handle="a", external_id="1") + _ACCOUNT.format(handle="b", external_id="1"),
         "$.accounts[1].external_id", "also the id of $.accounts[0]"),
    ],
)  # fmt: skip
def test_check_refuses_accounts_the_database_cannot_store(
    tmp_path: Path, accounts: str, field: str, reason: str
) -> None:
    path = _write(tmp_path, MINIMAL + accounts)
    with pytest.raises(PersonaFileError) as caught:
        load_file(path, known_channels=CHANNELS, known_formats=FORMATS)
    assert caught.value.field == field and reason in caught.value.reason, str(caught.value)


def test_the_files_limits_are_the_columns_limits() -> None:
    from personas import schema

    assert Persona.__table__.c.name.type.length == schema.MAX_NAME
    assert Persona.__table__.c.timezone.type.length == schema.MAX_TIMEZONE
    assert Persona.__table__.c.language.type.length == schema.MAX_LANGUAGE
    for column in ("handle", "external_id", "display_name"):
        assert Account.__table__.c[column].type.length == schema.MAX_NAME, column


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PORTEVOIX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)


def _persona_count(settings: Settings) -> int:
    async def count() -> int:
        runtime = Runtime(settings)
        try:
            async with runtime.session() as session:
                return int(await session.scalar(select(func.count()).select_from(Persona)) or 0)
        finally:
            await runtime.aclose()

    return asyncio.run(count())


def test_personas_load_refuses_a_bad_folder_with_a_message_and_writes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, settings, tmp_path)
    folder = tmp_path / "personas"
    shutil.copytree(SEED_DIR, folder)
    (folder / "zz-latin1.toml").write_bytes(MINIMAL.replace("Ville d'Exemple", "Région").encode("latin-1"))
    result = CliRunner().invoke(cli, ["personas", "load", str(folder)])
    assert result.exit_code == 1, result.output
    assert "zz-latin1.toml:2: (file): not UTF-8" in result.output and "Traceback" not in result.output
    (folder / "zz-latin1.toml").write_text(MINIMAL.replace("posts_per_day = 1", "posts_per_day = 3000000000"))
    result = CliRunner().invoke(cli, ["personas", "load", str(folder)])
    assert result.exit_code == 1 and "$.channels.mastodon.posts_per_day" in result.output, result.output
    assert _persona_count(settings) == 0  # nothing half-written


def test_personas_load_says_what_the_database_refused(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net behind the checks: a refusal of the database is a message, and the
    transaction leaves nothing behind."""
    _env(monkeypatch, settings, tmp_path)

    async def refused(session: AsyncSession, files: object, actor: Actor) -> None:
        await upsert_personas(session, load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS), actor)
        raise DataError("INSERT INTO personas …", {}, ValueError("value too long for type character varying(200)"))

    monkeypatch.setattr("core.personas.service.upsert_personas", refused)
    result = CliRunner().invoke(cli, ["personas", "load"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the database refused the personas" in result.output and "value too long" in result.output
    assert _persona_count(settings) == 0
