"""Posting slots come from the persona file: the demo's accounts can "add to the queue"."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from sqlalchemy import select

from core.audit import Actor
from core.channels import Format
from core.db.models import Account, PostingSlot
from core.personas.service import upsert_personas
from core.publishing.compose import next_free_slot
from personas import SEED_DIR, load_dir

pytestmark = pytest.mark.anyio
CHANNELS = {"facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon"}


def load_directory() -> list:
    return load_dir(SEED_DIR, known_channels=CHANNELS, known_formats={f.value for f in Format})


async def _slots(db, account: Account) -> list[tuple[int, str]]:
    rows = await db.scalars(select(PostingSlot).where(PostingSlot.account_id == account.id))
    return sorted((s.weekday, s.local_time) for s in rows)


async def test_every_demo_account_gets_the_slots_of_its_file_every_day(db) -> None:
    personas = await upsert_personas(db, load_directory(), Actor.system())
    for persona in personas:
        assert persona.accounts
        for account in persona.accounts:
            slots = await _slots(db, account)
            times = sorted({t for _, t in slots})
            assert times, f"@{account.handle} has no posting slot"
            assert slots == sorted((day, t) for day in range(7) for t in times)


async def test_the_next_slot_is_in_the_persona_time_zone(db) -> None:
    [region] = [p for p in await upsert_personas(db, load_directory(), Actor.system()) if p.slug == "region-occitanie"]
    linkedin = next(a for a in region.accounts if a.channel == "linkedin")  # 08:30 every day
    # 2026-12-02 06:00 UTC is 07:00 in Paris: today's 08:30 is still ahead
    when = await next_free_slot(db, linkedin, region.timezone, after=datetime(2026, 12, 2, 6, 0, tzinfo=UTC))
    assert when == datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


async def test_a_file_without_slots_leaves_them_and_a_file_with_slots_replaces_them(db) -> None:
    files = load_directory()
    [region] = [p for p in await upsert_personas(db, files, Actor.system()) if p.slug == "region-occitanie"]
    x = next(a for a in region.accounts if a.channel == "x")
    db.add(PostingSlot(account_id=x.id, weekday=0, local_time="23:00"))  # set in the admin
    await db.flush()
    unlisted = [
        msgspec.structs.replace(f, accounts=[msgspec.structs.replace(a, slots=None) for a in f.accounts]) for f in files
    ]
    await upsert_personas(db, unlisted, Actor.system())
    assert (0, "23:00") in await _slots(db, x)
    await upsert_personas(db, files, Actor.system())
    assert (0, "23:00") not in await _slots(db, x)
