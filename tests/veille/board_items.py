"""Watch items for the board's tests: a source of a persona and items captured a minute apart."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.models import Persona, VeilleItem, VeilleSource
from core.db.types import utcnow
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from personas import SEED_DIR, load_dir


async def seed_personas(runtime: Runtime) -> dict[str, Persona]:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
    async with runtime.session() as session:
        return {p.slug: p for p in (await session.scalars(select(Persona))).all()}


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def watch_source(session: AsyncSession, persona: Persona, label: str, *, crisis: bool = False) -> VeilleSource:
    source = VeilleSource(
        persona_id=persona.id,
        kind="feed",
        plugin="rss",
        target=f"https://presse.example.test/{_hash(persona.slug, label)[:12]}.xml",
        label=label,
        crisis=crisis,
    )
    session.add(source)
    await session.flush()
    return source


async def watch_items(
    session: AsyncSession,
    source: VeilleSource,
    titles: list[str],
    *,
    start: datetime | None = None,
    keywords: list[str] | None = None,
    summary_html: str | None = None,
) -> list[VeilleItem]:
    """One item per title, the first captured earliest (a minute apart)."""
    start = start or utcnow() - timedelta(hours=1)
    items = []
    for n, title in enumerate(titles):
        url = f"https://presse.example.test/articles/{_hash(str(source.id), title)[:16]}"
        summary = f"Résumé de « {title} » : les faits, les lieux et les horaires."
        item = VeilleItem(
            source_id=source.id,
            persona_id=source.persona_id,
            dedup_key=_hash("guid", str(source.id), title),
            guid=url,
            url=url,
            title=title,
            summary_html=summary_html,
            summary_text=summary,
            captured_at=start + timedelta(minutes=n),
            content_hash=_hash(title, summary, url),
            keywords=list(keywords or []),
        )
        session.add(item)
        items.append(item)
    await session.flush()
    return items
