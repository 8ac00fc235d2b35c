"""A persona's usage history written as the app writes it: one audience sample a day per account,
the posts of its cadence (published, each with an engagement sample), API calls and a quota per
account, and a few answered comments a day (response events by a staff member).

Bulk Core inserts (the models' Python defaults apply), so two years on seven accounts take seconds.
Used by the usage tests, the browser test and the benchmark.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryKind, DeliveryState
from core.db.models import (
    Account,
    AudienceSample,
    ChannelPolicy,
    Delivery,
    EngagementSample,
    InboxEvent,
    InboxItem,
    Persona,
    Post,
    UsageSample,
)

TEXT = "La Région ouvre les inscriptions aux transports scolaires pour la rentrée"


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


async def fill(
    session: AsyncSession,
    persona: Persona,
    end: date,
    days: int,
    *,
    staff_id: uuid.UUID | None = None,
    followers: int = 100_000,
    chunk: int = 5_000,
) -> dict[str, int]:
    """``days`` local days of history ending on ``end`` for every account of ``persona``; the counts written."""
    zone = ZoneInfo(persona.timezone)
    accounts = (await session.scalars(select(Account).where(Account.persona_id == persona.id))).all()
    targets = {
        p.channel: p.posts_per_day or 0
        for p in (await session.scalars(select(ChannelPolicy).where(ChannelPolicy.persona_id == persona.id))).all()
    }
    rows: dict[Any, list[dict[str, Any]]] = {
        Post: [],
        Delivery: [],
        AudienceSample: [],
        EngagementSample: [],
        UsageSample: [],
        InboxItem: [],
        InboxEvent: [],
    }
    for n, account in enumerate(accounts):
        for offset in range(days):
            day = end - timedelta(days=days - 1 - offset)
            rows[AudienceSample].append(
                {
                    "account_id": account.id,
                    "at": _at(day, 20, 0, zone),
                    "followers": followers + 1_000 * n + 37 * offset,
                    "api_version": "v21.0",
                }
            )
            # one post short of the target on Sundays: the tables show a day behind
            for k in range(max(0, targets.get(account.channel, 1) - (1 if day.weekday() == 6 else 0))):
                post_id, delivery_id = uuid.uuid4(), uuid.uuid4()
                at = _at(day, 9 + 4 * k, 15, zone)
                rows[Post].append({"id": post_id, "persona_id": persona.id, "kind": DeliveryKind.POST, "text": TEXT})
                rows[Delivery].append(
                    {
                        "id": delivery_id,
                        "post_id": post_id,
                        "account_id": account.id,
                        "kind": DeliveryKind.POST,
                        "state": DeliveryState.PUBLISHED,
                        "client_ref": uuid.uuid4().hex,
                        "remote_id": uuid.uuid4().hex,
                        "scheduled_at": at,
                        "published_at": at,
                    }
                )
                rows[EngagementSample].append(
                    {
                        "delivery_id": delivery_id,
                        "account_id": account.id,
                        "at": at + timedelta(hours=6),
                        "impressions": 1_000 + 10 * offset,
                        "likes": 20 + offset % 17,
                        "reposts": 3,
                        "replies": 2,
                        "api_version": "v21.0",
                    }
                )
            rows[UsageSample].append(
                {
                    "account_id": account.id,
                    "at": _at(day, 12, 0, zone),
                    "metric": "api_calls",
                    "value": 40 + offset % 9,
                    "detail": {"endpoint": "GET /me"},
                }
            )
            rows[UsageSample].append(
                {
                    "account_id": account.id,
                    "at": _at(day, 12, 5, zone),
                    "metric": "quota_remaining",
                    "value": 60 - n,
                    "detail": {"endpoint": "POST /publish", "limit": 100},
                }
            )
            if staff_id is not None and n == 0:
                for hour in (8, 21):  # an 8:10 and a 21:40 answer: a 13-hour day
                    item_id = uuid.uuid4()
                    received = _at(day, hour, 0, zone)
                    rows[InboxItem].append(
                        {
                            "id": item_id,
                            "account_id": account.id,
                            "persona_id": persona.id,
                            "remote_id": uuid.uuid4().hex,
                            "kind": "comment",
                            "author_remote_id": "a",
                            "author_handle": "habitant",
                            "text": "Quand ouvrent les inscriptions ?",
                            "received_at": received,
                        }
                    )
                    rows[InboxEvent].append(
                        {
                            "item_id": item_id,
                            "persona_id": persona.id,
                            "staff_id": staff_id,
                            "kind": "first_response",
                            "at": received + timedelta(minutes=10 if hour == 8 else 40),
                            "seconds": 600.0 if hour == 8 else 2400.0,
                            "business_seconds": 600.0 if hour == 8 else 0.0,
                        }
                    )
    for model, values in rows.items():  # in this order: posts before their deliveries, items before events
        for start in range(0, len(values), chunk):
            await session.execute(insert(model), values[start : start + chunk])
    return {model.__tablename__: len(values) for model, values in rows.items()}
