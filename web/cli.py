"""The ``portevoix`` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from core.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="porte-voix")
def cli() -> None:
    """Porte-voix: persona-aware social-media management for public institutions."""


# ---------------------------------------------------------------- database
@cli.group()
def db() -> None:
    """Database schema migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    from core.db import migrate  # Alembic: 0.2 s to import, so not at the top (`portevoix --help` stays fast)

    migrate.upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION ("base" empties it)."""
    from core.db import migrate

    migrate.downgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of this code."""
    from core.db import migrate
    from core.db.engine import make_engine

    async def current() -> str | None:
        engine = make_engine(_settings().database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database: {_run(current()) or '(empty)'}\ncode:     {migrate.head_revision()}")


# ---------------------------------------------------------------- personas
@cli.group()
def personas() -> None:
    """Persona files: check them, load them."""


def _persona_vocabulary() -> tuple[set[str], frozenset[str]]:
    from core.channels.registry import discover
    from core.personas.service import KNOWN_FORMATS, known_channels

    return known_channels(discover()), KNOWN_FORMATS


@personas.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def personas_check(files: tuple[Path, ...]) -> None:
    """Check persona FILES without touching the database."""
    from personas import PersonaFileError, load_file

    channels, formats = _persona_vocabulary()
    failed = False
    for file in files:
        try:
            persona = load_file(file, known_channels=channels, known_formats=formats)
        except PersonaFileError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
        else:
            click.echo(
                f"ok: {file} ({persona.slug}, {len(persona.channels)} channels, {len(persona.accounts)} accounts)"
            )
    if failed:
        sys.exit(1)


@personas.command("load")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
def personas_load(directory: Path | None) -> None:
    """Load every persona of DIRECTORY (default: the seed) into the database, all or nothing."""
    from sqlalchemy.exc import DBAPIError

    from personas import SEED_DIR, PersonaFileError

    try:
        slugs = _run(_load_personas(_settings(), directory or SEED_DIR))
    except PersonaFileError as exc:
        raise click.ClickException(str(exc)) from None
    except DBAPIError as exc:
        # the checks should have caught it; the transaction left nothing behind either way
        raise click.ClickException(f"the database refused the personas, nothing was written: {exc.orig}") from None
    click.echo(f"loaded: {', '.join(slugs)}")


async def _load_personas(settings: Settings, directory: Path) -> list[str]:
    from core.audit import Actor
    from core.db import migrate
    from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
    from core.runtime import Runtime
    from personas import load_dir

    runtime = Runtime(settings)
    try:
        await migrate.ensure_schema_current(runtime.engine)
        files = load_dir(directory, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            loaded = await upsert_personas(session, files, Actor.system("cli"))
            return [p.slug for p in loaded]
    finally:
        await runtime.aclose()


# ---------------------------------------------------------------- policy
@cli.group()
def policy() -> None:
    """The editorial policy engine."""


@policy.command("explain")
@click.option("--persona", "slug", required=True, help="the persona's slug")
@click.option(
    "--personas-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="read the persona from this folder of persona files (default: the seed)",
)
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.argument("draft", type=click.Path(path_type=Path, dir_okay=False))
def policy_explain(slug: str, personas_dir: Path | None, lang: str, draft: Path) -> None:
    """Print every finding of the policy engine for a DRAFT file (TOML or JSON) — no database needed.

    \b
    Example draft.toml:
        channel = "x"
        text = "Je suis fière de nos lycéens"
        scheduled_at = 2027-01-15T09:00:00+01:00
    Exit status: 0 ok, 1 needs review, 2 blocked.
    """
    from datetime import UTC, datetime

    from core.channels import Draft, Format, MediaItem, MediaKind
    from core.channels.registry import discover
    from core.personas.service import KNOWN_FORMATS, known_channels
    from core.policy import network_violations
    from personas import SEED_DIR, PersonaFileError, load_dir
    from personas.policy import DraftFileError, decide, draft_file_inputs, evaluate, explain, load_draft_file

    registry = discover()
    try:
        personas = {
            p.slug: p
            for p in load_dir(
                personas_dir or SEED_DIR, known_channels=known_channels(registry), known_formats=KNOWN_FORMATS
            )
        }
        draft_file = load_draft_file(draft)
    except (PersonaFileError, DraftFileError) as exc:
        raise click.ClickException(str(exc)) from None
    if slug not in personas:
        raise click.ClickException(f"no persona {slug!r}; known: {', '.join(sorted(personas))}")
    try:
        fmt = Format(draft_file.format)
    except ValueError:
        fmt = Format.POST
    plugin_draft = Draft(
        text=draft_file.text,
        format=fmt,
        link=draft_file.link,
        title=draft_file.title,
        media=tuple(
            MediaItem(kind=MediaKind(m.kind), content_type="", alt_text=m.alt_text, has_captions=m.has_captions)
            for m in draft_file.media
        ),
    )
    policy_draft, context = draft_file_inputs(
        draft_file,
        now=datetime.now(UTC),
        network_violations=network_violations(registry, draft_file.channel, plugin_draft),
    )
    findings = evaluate(personas[slug], policy_draft, context)
    click.echo(explain(findings, lang=lang, title=f"{personas[slug].name} — {draft_file.channel}"))
    outcome = decide(findings).outcome.value
    sys.exit({"ok": 0, "needs_review": 1, "blocked": 2}[outcome])


# ---------------------------------------------------------------- staff
@cli.group()
def staff() -> None:
    """Staff accounts."""


@staff.command("add")
@click.option("--email", required=True)
@click.option("--name", "display_name", default="")
@click.option("--admin", "is_admin", is_flag=True, help="site administrator (manages staff and assignments)")
@click.option("--employer", type=click.Choice(["institution", "cabinet", "campaign", "other"]), default="institution")
@click.option("--locale", type=click.Choice(["fr", "en"]), default="fr")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def staff_add(email: str, display_name: str, is_admin: bool, employer: str, locale: str, password_stdin: bool) -> None:
    """Create a staff member (asks for the password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    from core.db.enums import Employer
    from core.people.staff import StaffError
    from core.security import WeakPassword

    try:
        _run(_add_staff(_settings(), email, display_name, password, is_admin, Employer(employer), locale))
    except (StaffError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created: {email}")


async def _add_staff(
    settings: Settings, email: str, name: str, password: str, is_admin: bool, employer: Any, locale: str
) -> None:
    from core.audit import Actor
    from core.db import migrate
    from core.people.staff import create_staff
    from core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        await migrate.ensure_schema_current(runtime.engine)
        async with runtime.session() as session:
            await create_staff(
                session,
                email=email,
                display_name=name,
                password=password,
                actor=Actor.system("cli"),
                is_admin=is_admin,
                employer=employer,
                locale=locale,
            )
    finally:
        await runtime.aclose()


# ---------------------------------------------------------------- serving
def _serve(settings: Settings, host: str, port: int, *, ready: str = "") -> None:
    """Serve until stopped; ``ready`` is printed once the socket listens (last, so that it stays
    on screen: the demo's logins)."""
    import uvicorn

    from core.db import migrate
    from core.db.engine import make_engine

    async def check() -> None:
        engine = make_engine(settings.database_url)
        try:
            await migrate.ensure_schema_current(engine)
        finally:
            await engine.dispose()

    try:
        _run(check())
    except migrate.SchemaBehind as exc:
        raise click.ClickException(str(exc)) from None
    from core.runtime import Runtime
    from web.app import create_app

    runtime = Runtime(settings)
    try:
        app = create_app(runtime=runtime)
        config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False)
        _announcing_server(config, f"{ready}\nReady on http://{host}:{port}/admin\n").run()
    finally:
        # the app's shutdown stops it too; not when the server never started (a port already taken)
        runtime.stop_embedded_redis()


def _announcing_server(config: Any, message: str) -> Any:
    """uvicorn's server, saying once it listens what it serves (uvicorn's own line is easy to miss).
    uvicorn is imported here, not at the top: the command line stays quick to start."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                click.echo(message)

    return AnnouncingServer(config)


def _quiet_routine_logs(settings: Settings) -> None:
    """The demo's console: arq's line per job and httpx's per request (each dispatch, each poll) pushes the logins
    off screen; warnings and errors still show, and PORTEVOIX_LOG_LEVEL=DEBUG brings them back."""
    import logging

    if settings.log_level.upper() != "DEBUG":
        for name in ("arq.worker", "arq.jobs", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the admin and the API (the schema must be current)."""
    _serve(_settings(), host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """All in one: migrate, load the personas, create the demo team, serve (embedded database and queue)."""
    from core.db import migrate

    # The demo talks to simulated networks unless told otherwise, and serves its media here.
    os.environ.setdefault("PORTEVOIX_SIMULATED_NETWORKS", "true")
    os.environ.setdefault("PORTEVOIX_PUBLIC_URL", f"http://{host}:{port}")
    settings = _settings()
    migrate.upgrade(settings.database_url)
    from personas import SEED_DIR, PersonaFileError

    try:
        slugs = _run(_load_personas(settings, SEED_DIR))
    except PersonaFileError as exc:
        raise click.ClickException(str(exc)) from None
    logins = _run(_seed(settings))
    banner = [f"personas: {', '.join(slugs)}"]
    if logins:
        banner.append("\nDemo team (fictional people) — write these down, they are shown once:")
        banner += [f"  {login.email:38} {login.password:16} {login.who}" for login in logins]
    else:
        banner.append(f"\nDemo team: the logins are in {settings.data_path / 'demo-logins.txt'}")
    banner.append(f"\nAPI: http://{host}:{port}/schema")
    _quiet_routine_logs(settings)
    _serve(settings, host, port, ready="\n".join(banner))


async def _seed(settings: Settings) -> list[Any]:
    from core.demo import seed_demo
    from core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        async with runtime.session() as session:
            logins = await seed_demo(session)
    finally:
        await runtime.aclose()
    if logins:
        path = settings.data_path / "demo-logins.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{login.email}\t{login.password}\t{login.who}\n" for login in logins)
    return logins


@cli.command()
@click.option("--burst", is_flag=True, help="stop when the queue is empty (scripts, tests)")
def worker(burst: bool) -> None:
    """Run an arq worker: publishes, reconciles, dispatches due posts (run as many as you like)."""
    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set: in the embedded mode the worker runs inside `portevoix run`")
    from core.queue.worker import run_worker

    run_worker(settings, burst=burst)


# ---------------------------------------------------------------- channels
@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="the same report as JSON")
@click.pass_context
def channels(ctx: click.Context, as_json: bool) -> None:
    """The channel plugins found through the portevoix.channels entry points, and the disabled
    ones with why."""
    if ctx.invoked_subcommand is not None:
        return
    import structlog

    from core.channels.registry import describe, discover

    # the registry logs each disabled plugin: on stderr, so that stdout stays the report
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    report = describe(discover(strict=False))  # a duplicate key is listed, not fatal
    if as_json:
        import msgspec

        click.echo(msgspec.json.format(msgspec.json.encode(report)).decode())
    else:
        click.echo(_channels_text(report))
    if report.disabled:
        ctx.exit(1)  # scripts and CI notice a plugin that did not load


def _channels_text(report: Any) -> str:
    lines = [f"Channel plugins (this Porte-voix speaks contract {report.contract_version})", ""]
    for plugin in report.loaded:
        package = f"{plugin.distribution} {plugin.version}" if plugin.distribution else "-"
        contract = ", ".join(plugin.contract_versions)
        lines += [
            f"  {plugin.key:<10} {plugin.name}  ·  {package}  ·  contract {contract}",
            f"  {'':<10} {plugin.source}",
            f"  {'':<10} features: {', '.join(plugin.features)}",
            f"  {'':<10} formats:  {', '.join(plugin.formats)}",
        ]
    if report.disabled:
        lines += ["", "Disabled:"]
    for broken in report.disabled:
        package = f"  ·  {broken.distribution} {broken.version}" if broken.distribution else ""
        lines += [f"  {broken.name:<10} {broken.source}{package}", f"  {'':<10} {broken.error}"]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m web.cli
    cli()
