"""A persona's watch sources: created and changed in the admin, or kept in step with the persona file.

Every change is audited (``veille_source.*``). A source from the file (origin ``file``) is
updated by the next persona load; one the file no longer lists is disabled, not deleted (its
items stay on the board). The collector (core/veille/collect.py) reads what is here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record, snapshot
from core.db.models import Persona, UsageAlert, VeilleSource, utcnow
from core.errors import N_, Conflict, NotFound, Refusal
from core.veille.feeds import feed_registry
from personas.schema import MAX_NAME, MAX_URL, PersonaFile

KINDS = ("feed", "search", "mentions")
#: the collector's clamp: a fixed interval outside it is refused, not silently changed
MIN_INTERVAL_S = 5 * 60
MAX_INTERVAL_S = 24 * 3600
#: a search query (a keyword, a #hashtag): what the networks' search endpoints take
MAX_QUERY = 512
_FIELDS = ("kind", "plugin", "target", "label", "crisis", "enabled", "interval_s", "account_id", "origin")


class SourceRefusal(Refusal):
    """A source that cannot be created or changed as asked."""


class _Unset:
    pass


UNSET: Any = _Unset()


def check_url(url: str, *, field: str = "target") -> str:
    """``url`` stripped, if it is an http(s) URL with a host; other schemes (file:, ftp:,
    javascript:…) are refused: the collector only speaks HTTP, and to the outside world."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise SourceRefusal(
            N_("the address is longer than %(max)s characters"), params={"max": MAX_URL}, field=field, code="too_long"
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceRefusal(
            N_("a feed's address must start with http:// or https:// and name a host"), field=field, code="url_scheme"
        )
    if parts.username or parts.password:
        raise SourceRefusal(N_("a feed's address cannot hold a password"), field=field, code="url_credentials")
    if any(c.isspace() for c in url):
        raise SourceRefusal(N_("a feed's address cannot hold spaces"), field=field, code="url_scheme")
    return url


def _check_label(label: str) -> str:
    label = " ".join(label.split())
    if not label:
        raise SourceRefusal(N_("give the source a name"), field="label", code="label_required")
    if len(label) > MAX_NAME:
        raise SourceRefusal(
            N_("the name is longer than %(max)s characters"), params={"max": MAX_NAME}, field="label", code="too_long"
        )
    return label


def _check_interval(interval_s: int | None) -> int | None:
    if interval_s is not None and not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise SourceRefusal(
            N_("the interval must be between %(min)s and %(max)s minutes"),
            params={"min": MIN_INTERVAL_S // 60, "max": MAX_INTERVAL_S // 60},
            field="interval_s",
            code="interval_range",
        )
    return interval_s


def _check_target(kind: str, plugin: str, target: str) -> tuple[str, str]:
    """The (plugin, target) pair a source of ``kind`` may hold."""
    if kind not in KINDS:
        raise SourceRefusal(N_("unknown kind of source: %(kind)s"), params={"kind": kind}, field="kind", code="kind")
    if kind == "feed":
        if plugin not in feed_registry():
            raise SourceRefusal(
                N_("no feed reader called %(plugin)s is installed"),
                params={"plugin": plugin},
                field="plugin",
                code="unknown_plugin",
            )
        return plugin, check_url(target)
    if kind == "search":
        target = " ".join(target.split())
        if not target or len(target) > MAX_QUERY:
            raise SourceRefusal(
                N_("a search needs a query of at most %(max)s characters"),
                params={"max": MAX_QUERY},
                field="target",
                code="query",
            )
        return plugin, target
    return plugin or "inbox", ""  # mentions: the persona's inbox, nothing to fetch


async def _refuse_duplicate(
    session: AsyncSession, persona_id: uuid.UUID, kind: str, plugin: str, target: str, own: uuid.UUID | None = None
) -> None:
    other = await session.scalar(
        select(VeilleSource.id).where(
            VeilleSource.persona_id == persona_id,
            VeilleSource.kind == kind,
            VeilleSource.plugin == plugin,
            VeilleSource.target == target,
        )
    )
    if other is not None and other != own:
        raise Conflict(N_("this persona already watches this source"), field="target", code="duplicate_source")


async def create_source(
    session: AsyncSession,
    persona: Persona,
    *,
    kind: str,
    plugin: str,
    target: str,
    label: str,
    crisis: bool | None = None,
    interval_s: int | None = None,
    actor: Actor,
    account_id: uuid.UUID | None = None,
    origin: str = "admin",
) -> VeilleSource:
    """A new source for ``persona``, due at once. ``crisis`` None: the plugin's own nature (an
    official alert feed such as Vigicrues is a crisis feed)."""
    plugin, target = _check_target(kind, plugin, target)
    if crisis is None:
        feed = feed_registry().get(plugin) if kind == "feed" else None
        crisis = bool(feed and feed.crisis)
    await _refuse_duplicate(session, persona.id, kind, plugin, target)
    source = VeilleSource(
        persona_id=persona.id,
        kind=kind,
        plugin=plugin,
        target=target,
        label=_check_label(label),
        crisis=crisis,
        enabled=True,
        interval_s=_check_interval(interval_s),
        account_id=account_id,
        origin=origin,
        consecutive_errors=0,
        cost=1,
        next_check_at=utcnow(),
    )
    session.add(source)
    await session.flush()
    record(
        session,
        actor,
        "veille_source.created",
        "veille_source",
        source.id,
        persona_id=persona.id,
        after=snapshot(source, _FIELDS),
    )
    return source


async def get_source(
    session: AsyncSession, source_id: uuid.UUID, persona_ids: Sequence[uuid.UUID] | None = None
) -> VeilleSource:
    """The source, if it belongs to one of ``persona_ids`` (None: any persona); else NotFound."""
    source = await session.get(VeilleSource, source_id)
    if source is None or (persona_ids is not None and source.persona_id not in persona_ids):
        raise NotFound(N_("no such source"), code="source_not_found")
    return source


async def sources_of(session: AsyncSession, persona_id: uuid.UUID) -> list[VeilleSource]:
    """A persona's sources: crisis feeds first, then by name."""
    query = (
        select(VeilleSource)
        .where(VeilleSource.persona_id == persona_id)
        .order_by(VeilleSource.crisis.desc(), VeilleSource.label, VeilleSource.id)
    )
    return list((await session.scalars(query)).all())


async def update_source(
    session: AsyncSession,
    source: VeilleSource,
    *,
    actor: Actor,
    label: str = UNSET,
    target: str = UNSET,
    crisis: bool = UNSET,
    interval_s: int | None = UNSET,
    enabled: bool = UNSET,
) -> VeilleSource:
    """Change what is given. A new address forgets the old validators and is due at once."""
    before = snapshot(source, _FIELDS)
    if label is not UNSET:
        source.label = _check_label(label)
    if target is not UNSET:
        _, checked = _check_target(source.kind, source.plugin, target)
        if checked != source.target:
            await _refuse_duplicate(session, source.persona_id, source.kind, source.plugin, checked, source.id)
            source.target, source.etag, source.last_modified = checked, None, None
            source.next_check_at = utcnow()
    if crisis is not UNSET:
        source.crisis = bool(crisis)
    if interval_s is not UNSET:
        source.interval_s = _check_interval(interval_s)
    if enabled is not UNSET:
        source.enabled = bool(enabled)
        if source.enabled:
            source.next_check_at = utcnow()
    after = snapshot(source, _FIELDS)
    if after != before:
        await session.flush()
        record(
            session,
            actor,
            "veille_source.updated",
            "veille_source",
            source.id,
            persona_id=source.persona_id,
            before=before,
            after=after,
        )
    return source


async def disable_source(session: AsyncSession, source: VeilleSource, *, actor: Actor) -> VeilleSource:
    """No longer polled; its items stay."""
    return await update_source(session, source, actor=actor, enabled=False)


async def enable_source(session: AsyncSession, source: VeilleSource, *, actor: Actor) -> VeilleSource:
    return await update_source(session, source, actor=actor, enabled=True)


async def repair_source(session: AsyncSession, source: VeilleSource, *, actor: Actor) -> VeilleSource:
    """Someone checked a broken source: poll it again now, errors forgotten (a manual refresh)."""
    before = snapshot(source, ("broken_at", "consecutive_errors", "last_error"))
    now = utcnow()
    source.broken_at, source.consecutive_errors, source.next_check_at = None, 0, now
    # the alert a broken crisis feed raised is over: someone looked at it
    await session.execute(
        update(UsageAlert)
        .where(
            UsageAlert.persona_id == source.persona_id,
            UsageAlert.kind == "source_broken",
            UsageAlert.subject == str(source.id),
            UsageAlert.resolved_at.is_(None),
        )
        .values(resolved_at=now)
    )
    record(
        session,
        actor,
        "veille_source.repaired",
        "veille_source",
        source.id,
        persona_id=source.persona_id,
        before=before,
    )
    await session.flush()
    return source


async def delete_source(session: AsyncSession, source: VeilleSource, *, actor: Actor) -> None:
    """Gone with its items and tombstones (a file source comes back with the next persona load)."""
    record(
        session,
        actor,
        "veille_source.deleted",
        "veille_source",
        source.id,
        persona_id=source.persona_id,
        before=snapshot(source, _FIELDS),
    )
    await session.delete(source)
    await session.flush()


async def sync_file_sources(session: AsyncSession, persona: Persona, file: PersonaFile, actor: Actor) -> None:
    """The file's ``[veille] sources`` as the persona's ``file`` sources: new ones created, known
    ones (same plugin and URL) brought in step, the ones the file dropped disabled. A source
    someone created in the admin is never touched; one the file also lists becomes the file's.
    Whether a listed source is enabled stays the team's choice: a load never re-enables one."""
    existing = {
        (s.plugin, s.target): s
        for s in (
            await session.scalars(
                select(VeilleSource).where(VeilleSource.persona_id == persona.id, VeilleSource.kind == "feed")
            )
        ).all()
    }
    listed: set[tuple[str, str]] = set()
    for seed in file.veille.sources:
        key = (seed.plugin, seed.url.strip())
        listed.add(key)
        source = existing.get(key)
        if source is None:
            await create_source(
                session,
                persona,
                kind="feed",
                plugin=seed.plugin,
                target=seed.url,
                label=seed.label,
                crisis=seed.crisis,
                interval_s=seed.interval_s,
                actor=actor,
                origin="file",
            )
            continue
        # whether it is polled stays the team's choice (a file load never re-enables a source)
        source.origin = "file"
        await update_source(
            session, source, actor=actor, label=seed.label, crisis=seed.crisis, interval_s=seed.interval_s
        )
    for key, source in existing.items():
        if source.origin == "file" and key not in listed and source.enabled:
            await disable_source(session, source, actor=actor)


def due(now: datetime) -> Any:
    """The condition of a source the collector should fetch at ``now``."""
    return (
        VeilleSource.enabled.is_(True)
        & VeilleSource.broken_at.is_(None)
        & (VeilleSource.kind == "feed")
        & ((VeilleSource.next_check_at.is_(None)) | (VeilleSource.next_check_at <= now))
    )
