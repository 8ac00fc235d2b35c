"""Retention: raw usage samples folded into days, and the public's personal data purged (X3).

:func:`purge_usage` runs nightly. For each persona, in its time zone:

- **Downsampling.** Raw samples of the local days that ended more than ``PORTEVOIX_USAGE_RAW_DAYS``
  ago are folded, then deleted. ``usage_samples``: one ``day`` point per account, local day, metric
  and endpoint — the calls summed (a raw quota sample was one call: it becomes one more in the
  day's ``api_calls`` point, so the calls per day read the same before and after), the lowest
  ``quota_remaining`` and the highest ``quota_used_percent`` kept with their limit, other counts
  summed. ``audience_samples`` and ``engagement_samples`` (one per hour): the day's last sample of
  each account or delivery is kept, which is the one the daily series read, and the others go.
- **Personal data.** Inbox items received longer ago than the persona's ``[inbox] retention_days``
  lose their author's name, handle and network id, their text and their link, unless the item
  was archived (X1: a write-once copy under archive retention, Code du patrimoine) — those are
  kept whole. The item itself stays (its status, timestamps and response events still count).

It returns what it did (:class:`PurgeReport`) and writes it in the audit log (``usage.purge``).
Running it twice does nothing the second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.db.models import Account, AudienceSample, EngagementSample, InboxArchive, InboxItem, Persona, UsageSample
from core.db.types import utcnow
from core.inbox.targets import inbox_settings
from core.runtime import Runtime
from core.usage.series import QUOTA_METRICS, local_midnight

#: ids deleted per statement (SQLite's bound-parameter limit is far above; the statements stay small)
CHUNK = 500


class PersonaPurge(msgspec.Struct, kw_only=True):
    slug: str
    usage_samples_folded: int = 0
    usage_points_written: int = 0
    audience_samples_deleted: int = 0
    engagement_samples_deleted: int = 0
    inbox_items_purged: int = 0
    #: the first local day still raw, and the items' retention limit (UTC)
    raw_from: date
    inbox_before: datetime


class PurgeReport(msgspec.Struct, kw_only=True):
    at: datetime
    personas: list[PersonaPurge]

    def total(self, field: str) -> int:
        return sum(getattr(p, field) for p in self.personas)


# ------------------------------------------------------------------ usage samples


def _endpoint(detail: dict[str, Any] | None) -> str:
    return str((detail or {}).get("endpoint") or "")


def fold(rows: Iterable[Any], timezone: str) -> list[dict[str, Any]]:
    """The day points of raw ``usage_samples`` rows (``id, account_id, at, metric, value, detail``)."""
    zone = ZoneInfo(timezone)
    groups: dict[tuple[uuid.UUID, date, str, str], list[Any]] = {}
    for row in rows:
        day = row.at.astimezone(zone).date()
        # a quota report is one call too: counted in the day's api_calls point of its endpoint
        if row.metric in QUOTA_METRICS:
            groups.setdefault((row.account_id, day, "api_calls", _endpoint(row.detail)), []).append(row)
        groups.setdefault((row.account_id, day, row.metric, _endpoint(row.detail)), []).append(row)
    points = []
    for (account_id, _day, metric, endpoint), found in groups.items():
        last = max(r.at for r in found)
        if metric == "api_calls":
            value = sum(float(r.value) if r.metric == "api_calls" else 1.0 for r in found)
            detail: dict[str, Any] = {"endpoint": endpoint}
        elif metric in QUOTA_METRICS:
            pick = min if metric == "quota_remaining" else max
            chosen = pick(found, key=lambda r: (float(r.value), r.at))
            value, detail = float(chosen.value), dict(chosen.detail or {})
        else:
            value = sum(float(r.value) for r in found)
            detail = {"endpoint": endpoint} if endpoint else {}
        points.append(
            {
                "id": uuid.uuid4(),
                "account_id": account_id,
                "at": last,
                "metric": metric,
                "value": value,
                "detail": detail,
                "resolution": "day",
                "demo": any(bool(getattr(r, "demo", False)) for r in found),
            }
        )
    return points


async def _delete(session: AsyncSession, model: Any, ids: Sequence[uuid.UUID]) -> int:
    for start in range(0, len(ids), CHUNK):
        await session.execute(delete(model).where(model.id.in_(ids[start : start + CHUNK])))
    return len(ids)


def _accounts(persona_id: uuid.UUID) -> Any:
    return select(Account.id).where(Account.persona_id == persona_id).scalar_subquery()


async def _downsample_usage(session: AsyncSession, persona: Persona, cutoff: datetime, report: PersonaPurge) -> None:
    rows = (
        await session.execute(
            select(
                UsageSample.id,
                UsageSample.account_id,
                UsageSample.at,
                UsageSample.metric,
                UsageSample.value,
                UsageSample.detail,
                UsageSample.demo,
            ).where(
                UsageSample.account_id.in_(_accounts(persona.id)),
                UsageSample.resolution == "raw",
                UsageSample.at < cutoff,
            )
        )
    ).all()
    if not rows:
        return
    points = fold(rows, persona.timezone)
    await session.execute(insert(UsageSample), points)
    report.usage_points_written = len(points)
    report.usage_samples_folded = await _delete(session, UsageSample, [r.id for r in rows])


def _not_last_of_day(rows: Iterable[Any], owner: str, timezone: str) -> list[uuid.UUID]:
    """Ids of the samples that are not their owner's (account, delivery) last of a local day."""
    zone = ZoneInfo(timezone)
    last: dict[tuple[Any, date], Any] = {}
    others: list[uuid.UUID] = []
    for row in rows:
        key = (getattr(row, owner), row.at.astimezone(zone).date())
        kept = last.get(key)
        if kept is None or (row.at, str(row.id)) > (kept.at, str(kept.id)):
            if kept is not None:
                others.append(kept.id)
            last[key] = row
        else:
            others.append(row.id)
    return others


async def _thin(session: AsyncSession, model: Any, owner: str, persona: Persona, cutoff: datetime) -> int:
    query = select(model.id, getattr(model, owner), model.at).where(
        model.account_id.in_(_accounts(persona.id)), model.at < cutoff
    )
    rows = (await session.execute(query)).all()
    return await _delete(session, model, _not_last_of_day(rows, owner, persona.timezone))


# ------------------------------------------------------------------ personal data


#: what an item keeps of its author and words once purged
PURGED = {"author_name": "", "author_handle": "", "author_remote_id": "", "text": "", "url": None}


async def _purge_inbox(session: AsyncSession, persona: Persona, before: datetime) -> int:
    archived = select(InboxArchive.item_id).where(InboxArchive.persona_id == persona.id)
    done = await session.execute(
        update(InboxItem)
        .where(
            InboxItem.persona_id == persona.id,
            InboxItem.received_at < before,
            InboxItem.id.not_in(archived),
            sa.or_(
                InboxItem.text != "",
                InboxItem.author_name != "",
                InboxItem.author_handle != "",
                InboxItem.author_remote_id != "",
                InboxItem.url.is_not(None),
            ),
        )
        .values(**PURGED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)


# ------------------------------------------------------------------ the job


async def purge_persona(session: AsyncSession, persona: Persona, now: datetime, raw_days: int) -> PersonaPurge:
    """One persona's retention at ``now``: fold its old raw samples, purge its old items' personal data."""
    today = now.astimezone(ZoneInfo(persona.timezone)).date()
    raw_from = today - timedelta(days=raw_days)
    cutoff = local_midnight(raw_from, persona.timezone)  # whole local days only
    before = now - timedelta(days=inbox_settings(persona.definition or {}).retention_days)
    report = PersonaPurge(slug=persona.slug, raw_from=raw_from, inbox_before=before)
    await _downsample_usage(session, persona, cutoff, report)
    report.audience_samples_deleted = await _thin(session, AudienceSample, "account_id", persona, cutoff)
    report.engagement_samples_deleted = await _thin(session, EngagementSample, "delivery_id", persona, cutoff)
    report.inbox_items_purged = await _purge_inbox(session, persona, before)
    return report


async def purge_usage(runtime: Runtime, now: datetime | None = None) -> PurgeReport:
    """The nightly job: every persona in its own transaction, then the report in the audit log."""
    now = now or utcnow()
    async with runtime.sessions() as session:
        ids = [p.id for p in (await session.scalars(select(Persona).order_by(Persona.slug))).all()]
    done: list[PersonaPurge] = []
    for persona_id in ids:
        async with runtime.session() as session:
            persona = await session.get(Persona, persona_id)
            if persona is None:
                continue
            found = await purge_persona(session, persona, now, runtime.settings.usage_raw_days)
            done.append(found)
            record(
                session,
                Actor.system("retention"),
                "usage.purge",
                "persona",
                persona.id,
                persona_id=persona.id,
                after=msgspec.to_builtins(found),
            )
    return PurgeReport(at=now, personas=done)
