"""A few weeks of simulated history for ``portevoix run``, so the usage charts mean something at once.

For the :data:`DAYS` local days before today, on every account of every persona: the day's
posts and reposts against the policy's cadence (now and then one missing, as in a real team),
one audience sample a day growing towards the seed's figures (175,000 followers on Facebook,
117,900 on LinkedIn, 82,000 on X, 99,000 on Instagram), the engagement of each post, the API
budget the networks' headers would have told, and the inbox: comments answered by the persona's
editor, with their response events in business time — and, twice a week, a 14-hour day, the
warning sign the workload table and the ``long_day`` alert show.

Every row is marked: ``demo`` on posts and samples, :data:`REMOTE_PREFIX` on the network ids of
deliveries and inbox items (they went to no network). Written with bulk Core inserts (a few
thousand rows, well under two seconds on SQLite), from a fixed random seed (the same history at
every first launch), and only once: a database that holds demo rows gets nothing more.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountStatus, DeliveryKind, DeliveryState, InboxKind, InboxStatus, Role
from core.db.models import (
    Account,
    Assignment,
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
from core.db.types import utcnow
from core.inbox.targets import business_seconds
from core.usage.series import local_day, local_midnight

DAYS = 35
#: the network id of what the demo history "published" or "received": it went to no network
REMOTE_PREFIX = "demo-history:"
SEED = 13
#: followers when the persona file gives no audience (the president's accounts)
DEFAULT_AUDIENCE = {"x": 48_300, "instagram": 36_800, "tiktok": 21_500, "facebook": 25_000, "linkedin": 9_800}
API_VERSION = {"facebook": "v21.0", "instagram": "v21.0", "x": "2", "linkedin": "202411", "tiktok": "v2"}
TEXTS = [
    "Nouvelle ligne de train régionale : horaires renforcés dès lundi entre Toulouse et Montpellier.",
    "Les lycées de la Région s'équipent de panneaux solaires : découvrez les premiers établissements.",
    "Marché de producteurs ce week-end : l'Occitanie à l'honneur dans vos assiettes.",
    "Appel à projets pour l'économie circulaire : dépôt des dossiers jusqu'à la fin du mois.",
    "Randonnée sur le chemin de Saint-Jacques : les plus beaux paysages de nos territoires.",
    "Aides à l'installation des jeunes agriculteurs : permanence dans chaque département.",
    "La Région soutient les festivals de l'été : programme complet en ligne.",
]
COMMENTS = [
    ("Marie L.", "Merci pour l'info, est-ce que la ligne passe aussi par Sète ?"),
    ("Karim B.", "Super initiative pour les lycées !"),
    ("Sophie R.", "À quelle heure ouvre le marché samedi ?"),
    ("Julien P.", "Où trouver le dossier de l'appel à projets ?"),
    ("Claire M.", "Magnifiques photos, ça donne envie !"),
    ("Thomas V.", "Y aura-t-il des navettes pour le festival ?"),
]
ANSWER = "Merci pour votre message ! Toutes les informations sont sur le site de la Région."


class DemoHistory(msgspec.Struct, kw_only=True):
    """How many rows were written (all zero: the history was there already)."""

    posts: int = 0
    deliveries: int = 0
    audience_samples: int = 0
    engagement_samples: int = 0
    usage_samples: int = 0
    inbox_items: int = 0
    inbox_events: int = 0


async def has_demo_history(session: AsyncSession) -> bool:
    for model in (Post, AudienceSample):
        if await session.scalar(select(model.id).where(model.demo.is_(True)).limit(1)) is not None:
            return True
    return False


class _Rows:
    """The rows to insert, per table, and what makes each of them."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.posts: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.audience: list[dict[str, Any]] = []
        self.engagement: list[dict[str, Any]] = []
        self.usage: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def publish(
        self, persona: Persona, account: Account, kind: DeliveryKind, at: datetime, text: str, **extra: Any
    ) -> uuid.UUID:
        post_id, delivery_id = uuid.uuid4(), uuid.uuid4()
        self.posts.append(
            {
                "id": post_id,
                "persona_id": persona.id,
                "author_id": extra.pop("author_id", None),
                "kind": kind,
                "text": text,
                "link": None,
                "format": "post",
                "repost_of": f"{REMOTE_PREFIX}shared/{uuid.uuid4().hex[:12]}" if kind == DeliveryKind.REPOST else None,
                "variants": {},
                "publish_options": {},
                "demo": True,
                "created_at": at - timedelta(hours=2),
                "updated_at": at,
            }
        )
        self.deliveries.append(
            {
                "id": delivery_id,
                "post_id": post_id,
                "account_id": account.id,
                "kind": kind,
                "in_reply_to_id": extra.pop("in_reply_to_id", None),
                "state": DeliveryState.PUBLISHED,
                "scheduled_at": at,
                "client_ref": uuid.uuid4().hex,
                "attempts": 1,
                "remote_id": f"{REMOTE_PREFIX}{delivery_id.hex}",
                "remote_url": None,
                "published_at": at,
                "approved_rules": [],
                "created_at": at - timedelta(hours=2),
                "updated_at": at,
            }
        )
        return delivery_id


def _audience(policy: ChannelPolicy | None, channel: str) -> int:
    return policy.audience if policy is not None and policy.audience else DEFAULT_AUDIENCE.get(channel, 10_000)


def _account_days(rows: _Rows, rng: random.Random, persona: Persona, account: Account, policy: Any, days: list) -> None:
    final = _audience(policy, account.channel)
    posts, reposts = (policy.posts_per_day or 0, policy.reposts_per_day or 0) if policy is not None else (1, 0)
    for n, day in enumerate(days):
        midnight = local_midnight(day, persona.timezone)
        # followers climb about 3 % over the weeks, to the seed's figure on the last day
        followers = round(final * (1 - 0.03 * (len(days) - 1 - n) / len(days))) - (rng.randint(0, 40) if n else 0)
        if n == len(days) - 1:
            followers = final
        rows.audience.append(
            {
                "id": uuid.uuid4(),
                "account_id": account.id,
                "at": midnight + timedelta(hours=22),
                "followers": followers,
                "following": rng.randint(200, 400),
                "posts": None,
                "impressions": round(followers * rng.uniform(0.08, 0.2)),
                "extra": {},
                "api_version": API_VERSION.get(account.channel, ""),
                "demo": True,
            }
        )
        sent = 0
        for i in range(posts):
            if rng.random() < 0.12:  # a missed post now and then: the cadence chart shows it
                continue
            at = midnight + timedelta(hours=8 + i * 5, minutes=rng.randint(0, 50))
            delivery = rows.publish(persona, account, DeliveryKind.POST, at, rng.choice(TEXTS))
            sent += 1
            reach = round(followers * rng.uniform(0.02, 0.09))
            rows.engagement.append(
                {
                    "id": uuid.uuid4(),
                    "delivery_id": delivery,
                    "account_id": account.id,
                    "at": (at + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0),
                    "impressions": reach,
                    "likes": round(reach * rng.uniform(0.01, 0.05)),
                    "reposts": round(reach * rng.uniform(0.001, 0.01)),
                    "replies": rng.randint(0, 40),
                    "extra": {},
                    "api_version": API_VERSION.get(account.channel, ""),
                    "demo": True,
                }
            )
        for i in range(reposts):
            if rng.random() < 0.3:
                continue
            at = midnight + timedelta(hours=10 + i * 2, minutes=rng.randint(0, 50))
            rows.publish(persona, account, DeliveryKind.REPOST, at, "")
            sent += 1
        rows.usage.extend(_budget(account, midnight + timedelta(hours=21), sent, rng))


def _budget(account: Account, at: datetime, sent: int, rng: random.Random) -> list[dict[str, Any]]:
    """What the networks' headers would have said that evening (``core.publishing.outbox.flush_usage``)."""

    def sample(metric: str, value: float, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "account_id": account.id,
            "at": at,
            "metric": metric,
            "value": value,
            "detail": detail,
            "resolution": "raw",
            "demo": True,
        }

    if account.channel == "x":
        detail = {"endpoint": "POST /2/tweets", "limit": 100, "reset_at": None}
        return [sample("quota_remaining", max(0, 100 - sent - rng.randint(0, 6)), detail)]
    if account.channel == "instagram":
        detail = {"endpoint": "content_publishing_limit", "limit": 100, "reset_at": None}
        return [sample("quota_remaining", 100 - sent, detail)]
    if account.channel == "facebook":
        return [sample("quota_used_percent", rng.randint(4, 28), {"endpoint": "X-App-Usage call_count"})]
    return [sample("api_calls", rng.randint(12, 40), {"endpoint": f"{account.channel} API"})]


def _responder(team: list[tuple[uuid.UUID, Role]]) -> uuid.UUID | None:
    for wanted in (Role.EDITOR, Role.MANAGER, Role.MODERATOR):
        for staff_id, role in team:
            if role == wanted:
                return staff_id
    return None


def _inbox_days(
    rows: _Rows, rng: random.Random, persona: Persona, account: Account, who: uuid.UUID | None, days: list
) -> None:
    """Comments on the main account, answered by the persona's editor; a 14-hour day twice a week."""
    for day in days:
        midnight = local_midnight(day, persona.timezone)
        long_day = day.weekday() in (1, 3)
        weekend = day.weekday() >= 5
        for n in range(rng.randint(1, 2) if weekend else rng.randint(4, 7)):
            # mostly in office hours: from 07:30 to 16:30, local
            received = midnight + timedelta(hours=7, minutes=30 + rng.randint(0, 540))
            answered = received + timedelta(minutes=rng.randint(15, 300))
            if long_day and n == 0:
                received, answered = (
                    midnight + timedelta(hours=7, minutes=30),
                    midnight + timedelta(hours=7, minutes=50),
                )
            if long_day and n == 1:
                received, answered = midnight + timedelta(hours=21, minutes=10), midnight + timedelta(hours=22)
            name, text = rng.choice(COMMENTS)
            item_id = uuid.uuid4()
            rows.items.append(
                {
                    "id": item_id,
                    "account_id": account.id,
                    "persona_id": persona.id,
                    "remote_id": f"{REMOTE_PREFIX}{item_id.hex}",
                    "kind": InboxKind.COMMENT,
                    "author_remote_id": f"{REMOTE_PREFIX}author-{rng.randint(1, 400)}",
                    "author_handle": "",
                    "author_name": name,
                    "text": text,
                    "received_at": received,
                    "first_seen_via": "poll",
                    "status": InboxStatus.ANSWERED,
                    "assignee_id": None,
                    "flags": [],
                    "first_response_at": answered,
                    "last_response_at": answered,
                    "hidden": False,
                    "created_at": received,
                    "updated_at": answered,
                }
            )
            event = {"item_id": item_id, "persona_id": persona.id, "detail": {}}
            received_event = {"id": uuid.uuid4(), "staff_id": None, "kind": "received", "at": received}
            rows.events.append(event | received_event | {"seconds": None, "business_seconds": None})
            rows.events.append(
                event
                | {
                    "id": uuid.uuid4(),
                    "staff_id": who,
                    "kind": "first_response",
                    "at": answered,
                    "seconds": (answered - received).total_seconds(),
                    "business_seconds": business_seconds(persona, received, answered),
                }
            )
            rows.publish(persona, account, DeliveryKind.REPLY, answered, ANSWER, author_id=who, in_reply_to_id=item_id)


async def seed_demo_history(session: AsyncSession, now: datetime | None = None) -> DemoHistory:
    """Write the history once (nothing when the database holds demo rows already)."""
    if await has_demo_history(session):
        return DemoHistory()
    rows = _Rows(now or utcnow())
    rng = random.Random(SEED)
    personas = (await session.scalars(select(Persona).order_by(Persona.slug))).all()
    for persona in personas:
        today = local_day(rows.now, persona.timezone)
        days = [today - timedelta(days=n) for n in range(DAYS, 0, -1)]
        policies = {
            p.channel: p
            for p in (await session.scalars(select(ChannelPolicy).where(ChannelPolicy.persona_id == persona.id))).all()
        }
        accounts = (
            await session.scalars(
                select(Account)
                .where(Account.persona_id == persona.id, Account.status != AccountStatus.DISABLED)
                .order_by(Account.channel)
            )
        ).all()
        assigned = select(Assignment.staff_id, Assignment.role).where(Assignment.persona_id == persona.id)
        team = [(r[0], Role(r[1])) for r in (await session.execute(assigned)).all()]
        for account in accounts:
            _account_days(rows, rng, persona, account, policies.get(account.channel), days)
        main = next((a for a in accounts if (policies.get(a.channel) and policies[a.channel].main)), None)
        if main is not None:
            _inbox_days(rows, rng, persona, main, _responder(team), days)
    # items before the replies that point at them, posts before their deliveries
    for model, found in (
        (InboxItem, rows.items),
        (InboxEvent, rows.events),
        (Post, rows.posts),
        (Delivery, rows.deliveries),
        (AudienceSample, rows.audience),
        (EngagementSample, rows.engagement),
        (UsageSample, rows.usage),
    ):
        if found:
            await session.execute(insert(model), found)
    return DemoHistory(
        posts=len(rows.posts),
        deliveries=len(rows.deliveries),
        audience_samples=len(rows.audience),
        engagement_samples=len(rows.engagement),
        usage_samples=len(rows.usage),
        inbox_items=len(rows.items),
        inbox_events=len(rows.events),
    )
