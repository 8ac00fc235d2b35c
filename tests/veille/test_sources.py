"""Watch sources on both databases: created in the admin's service with their URL checked
(http and https only), refused twice, changed and audited, and kept in step with the persona file."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.audit import Actor
from core.db.models import AuditEvent, Persona, VeilleSource
from core.errors import Conflict
from core.personas.service import KNOWN_FORMATS, upsert_personas
from core.runtime import Runtime
from core.veille.sources import (
    SourceRefusal,
    create_source,
    disable_source,
    repair_source,
    sources_of,
    update_source,
)
from personas import load_file

pytestmark = pytest.mark.anyio
ACTOR = Actor.system("test")
CHANNELS = {"facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon"}

PERSONA = """\
slug = "ville-exemple"
name = "Ville d'Exemple"
kind = "institution"
embodies = false

[channels.mastodon]
posts_per_day = 1

[veille]
keywords = ["Inondation"]
departements = ["31", "2A"]
{sources}
"""

FEED = """
[[veille.sources]]
label = "{label}"
plugin = "{plugin}"
url = "{url}"
crisis = {crisis}
"""


def _file(tmp_path, *feeds: tuple[str, str, str, bool]):
    sources = "".join(
        FEED.format(label=label, plugin=plugin, url=url, crisis=str(crisis).lower())
        for label, plugin, url, crisis in feeds
    )
    path = tmp_path / "persona.toml"
    path.write_text(PERSONA.format(sources=sources), encoding="utf-8")
    return load_file(path, known_channels=CHANNELS, known_formats=KNOWN_FORMATS)


async def _persona(runtime: Runtime) -> Persona:
    async with runtime.sessions() as session:
        persona = Persona(slug="p", name="P", kind="institution", embodies=False, timezone="Europe/Paris")
        session.add(persona)
        await session.commit()
        return persona


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "ftp://ex.fr/feed", "https://", "not a url", "http://u:p@ex.fr/f"],
)
async def test_only_http_urls_are_accepted(runtime: Runtime, url: str) -> None:
    persona = await _persona(runtime)
    async with runtime.sessions() as session:
        with pytest.raises(SourceRefusal) as refused:
            await create_source(session, persona, kind="feed", plugin="rss", target=url, label="L", actor=ACTOR)
        assert refused.value.field == "target"
        assert refused.value.code in {"url_scheme", "url_credentials"}


async def test_create_update_disable_repair_are_audited(runtime: Runtime) -> None:
    persona = await _persona(runtime)
    async with runtime.sessions() as session:
        source = await create_source(
            session,
            persona,
            kind="feed",
            plugin="vigicrues",
            target=" https://ex.fr/v.geojson ",
            label=" Crues ",
            actor=ACTOR,
        )
        # an official alert plugin makes a crisis source unless told otherwise
        assert (source.target, source.label, source.crisis, source.origin) == (
            "https://ex.fr/v.geojson",
            "Crues",
            True,
            "admin",
        )
        assert source.next_check_at is not None
        with pytest.raises(Conflict):
            await create_source(
                session,
                persona,
                kind="feed",
                plugin="vigicrues",
                target="https://ex.fr/v.geojson",
                label="x",
                actor=ACTOR,
            )
        with pytest.raises(SourceRefusal) as refused:
            await create_source(
                session, persona, kind="feed", plugin="nope", target="https://ex.fr/", label="x", actor=ACTOR
            )
        assert refused.value.code == "unknown_plugin"
        with pytest.raises(SourceRefusal) as refused:
            await update_source(session, source, actor=ACTOR, interval_s=60)
        assert refused.value.code == "interval_range"
        source.etag, source.last_modified = '"v1"', "Mon, 01 Dec 2026 10:00:00 GMT"
        await update_source(session, source, actor=ACTOR, target="https://ex.fr/v2.geojson", interval_s=600)
        # a new address forgets the old one's validators
        assert (source.etag, source.last_modified, source.interval_s) == (None, None, 600)
        await disable_source(session, source, actor=ACTOR)
        assert source.enabled is False
        source.broken_at, source.consecutive_errors = source.updated_at, 3
        await repair_source(session, source, actor=ACTOR)
        assert (source.broken_at, source.consecutive_errors) == (None, 0)
        await session.commit()
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.at))).all()
    assert [a for a in actions if a.startswith("veille_source.")] == [
        "veille_source.created",
        "veille_source.updated",
        "veille_source.updated",
        "veille_source.repaired",
    ]


async def test_the_persona_file_sources_are_kept_in_step(runtime: Runtime, tmp_path) -> None:
    first = _file(
        tmp_path,
        ("Presse", "rss", "https://presse.example/rss", False),
        ("Crues", "vigicrues", "https://vigi.example/InfoVigiCru.geojson", True),
    )
    async with runtime.sessions() as session:
        [persona] = await upsert_personas(session, [first], ACTOR)
        await session.commit()
        sources = await sources_of(session, persona.id)
        assert [(s.label, s.plugin, s.crisis, s.origin, s.enabled) for s in sources] == [
            ("Crues", "vigicrues", True, "file", True),
            ("Presse", "rss", False, "file", True),
        ]
        # loaded again unchanged: nothing new, nothing audited twice
        await upsert_personas(session, [first], ACTOR)
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(VeilleSource)) == 2
        # a source the team added in the admin is the team's: the file never touches it
        await create_source(
            session, persona, kind="feed", plugin="rss", target="https://mine.example/rss", label="Mine", actor=ACTOR
        )
        await session.commit()

    second = _file(tmp_path, ("La presse", "rss", "https://presse.example/rss", False))
    async with runtime.sessions() as session:
        [persona] = await upsert_personas(session, [second], ACTOR)
        await session.commit()
        by_label = {s.label: s for s in await sources_of(session, persona.id)}
    assert set(by_label) == {"La presse", "Crues", "Mine"}
    assert by_label["La presse"].enabled and by_label["Mine"].enabled
    # the file dropped it: disabled, its items kept
    assert by_label["Crues"].enabled is False
    assert persona.definition["veille"]["keywords"] == ["Inondation"]


def test_a_file_with_a_bad_source_is_refused(tmp_path) -> None:
    from personas import PersonaFileError

    with pytest.raises(PersonaFileError) as refused:
        _file(tmp_path, ("Local", "rss", "file:///etc/passwd", False))
    assert "url" in str(refused.value)
