"""Personas in the database: loaded from persona files, upserted by slug, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

import msgspec
from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import Actor, record, snapshot
from core.channels import Format
from core.channels.registry import ChannelRegistry
from core.db.models import Account, ChannelPolicy, Persona, PostingSlot
from core.pagination import Page, keyset
from core.veille.sources import sync_file_sources
from personas import PersonaFile

_PERSONA_FIELDS = ("name", "kind", "embodies", "timezone", "language", "editorial_line")
KNOWN_FORMATS = frozenset(f.value for f in Format)


def known_channels(registry: ChannelRegistry) -> set[str]:
    """Channels a persona file may name: installed plugins, including broken ones (disabled, not unknown)."""
    return set(registry.keys()) | {broken.name for broken in registry.broken}


def _with_policies_and_accounts(persona_ids: Collection[uuid.UUID] | None = None) -> Select[tuple[Persona]]:
    query = select(Persona).options(selectinload(Persona.channel_policies), selectinload(Persona.accounts))
    return query if persona_ids is None else query.where(Persona.id.in_(persona_ids or {uuid.UUID(int=0)}))


async def get_persona(session: AsyncSession, persona_id: uuid.UUID) -> Persona | None:
    """A persona with its policies and accounts."""
    return await session.scalar(_with_policies_and_accounts().where(Persona.id == persona_id))


async def visible_personas(session: AsyncSession, persona_ids: Collection[uuid.UUID] | None) -> list[Persona]:
    """The personas among ``persona_ids`` (None: all of them), institutions first, then by name."""
    query = _with_policies_and_accounts(persona_ids).order_by(Persona.kind.desc(), Persona.name)
    return list((await session.scalars(query)).all())


async def persona_page(
    session: AsyncSession, persona_ids: Collection[uuid.UUID] | None, *, cursor: str | None, limit: int
) -> Page[Persona]:
    """The personas among ``persona_ids`` (None: all of them), by slug."""
    return await keyset(
        session, _with_policies_and_accounts(persona_ids), (Persona.slug, Persona.id), cursor=cursor, limit=limit
    )


async def personas_by_name(session: AsyncSession) -> list[Persona]:
    return list((await session.scalars(select(Persona).order_by(Persona.name))).all())


async def upsert_personas(session: AsyncSession, files: Sequence[PersonaFile], actor: Actor) -> list[Persona]:
    """Create or update each persona by slug. The caller's transaction makes it all-or-nothing."""
    return [await _upsert_one(session, file, actor) for file in files]


async def _upsert_one(session: AsyncSession, file: PersonaFile, actor: Actor) -> Persona:
    persona = await session.scalar(
        select(Persona)
        .where(Persona.slug == file.slug)
        .options(selectinload(Persona.channel_policies), selectinload(Persona.accounts))
    )
    created = persona is None
    if persona is None:
        persona = Persona(slug=file.slug)
        persona.channel_policies = []
        persona.accounts = []
        session.add(persona)
    before = None if created else {**snapshot(persona, _PERSONA_FIELDS), "definition": persona.definition}
    persona.name = file.name
    persona.kind = file.kind
    persona.embodies = file.embodies
    persona.timezone = file.timezone
    persona.language = file.language
    persona.editorial_line = file.editorial_line.strip()
    persona.definition = msgspec.to_builtins(file)
    _replace_policies(persona, file)
    _merge_accounts(persona, file)
    await session.flush()
    await _replace_slots(session, persona, file)
    await sync_file_sources(session, persona, file, actor)
    after = {**snapshot(persona, _PERSONA_FIELDS), "definition": persona.definition}
    if created or before != after:
        record(
            session,
            actor,
            "persona.created" if created else "persona.updated",
            "persona",
            persona.id,
            persona_id=persona.id,
            before=before,
            after=after,
        )
    return persona


def _replace_policies(persona: Persona, file: PersonaFile) -> None:
    existing = {policy.channel: policy for policy in persona.channel_policies}
    kept: list[ChannelPolicy] = []
    for channel, spec in file.channels.items():
        policy = existing.get(channel) or ChannelPolicy(channel=channel)
        policy.allowed = spec.allowed
        policy.refusal_reason = (spec.refusal_reason or "").strip() or None
        policy.main = spec.main
        policy.audience = spec.audience
        policy.tone = spec.tone
        policy.purpose = spec.purpose
        policy.posts_per_day = spec.posts_per_day
        policy.reposts_per_day = spec.reposts_per_day
        policy.formats = list(spec.formats)
        kept.append(policy)
    persona.channel_policies = kept


def _merge_accounts(persona: Persona, file: PersonaFile) -> None:
    # Accounts are never deleted by a persona file: they carry history. New ones are added,
    # known ones get their handle and name refreshed. An account is known by its network id,
    # or by its handle: once connected, the network's own id replaces the file's.
    existing = {(a.channel, a.external_id): a for a in persona.accounts}
    by_handle = {(a.channel, a.handle.lower()): a for a in persona.accounts}
    for seed in file.accounts:
        account = existing.get((seed.channel, seed.external_id)) or by_handle.get((seed.channel, seed.handle.lower()))
        if account is None:
            persona.accounts.append(
                Account(
                    channel=seed.channel,
                    handle=seed.handle,
                    external_id=seed.external_id,
                    display_name=seed.display_name,
                    mode=seed.mode,
                )
            )
        else:
            account.handle = seed.handle
            account.display_name = seed.display_name


async def _replace_slots(session: AsyncSession, persona: Persona, file: PersonaFile) -> None:
    """The file's posting times, every day of the week, for the accounts that list them."""
    by_handle = {(a.channel, a.handle.lower()): a for a in persona.accounts}
    for seed in file.accounts:
        if seed.slots is None:
            continue
        account = by_handle[(seed.channel, seed.handle.lower())]
        await session.execute(delete(PostingSlot).where(PostingSlot.account_id == account.id))
        session.add_all(
            PostingSlot(account_id=account.id, weekday=day, local_time=time)
            for time in sorted(set(seed.slots))
            for day in range(7)
        )
