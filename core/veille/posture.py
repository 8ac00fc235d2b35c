"""What an accepted crisis posture lets through the persona's pause (read by the outbox).

Accepting a posture pulls the persona's kill switch (``core.publishing.pause``) with the reason
"crisis posture: …": one pause, one resume, one state machine. What differs is what the pause
holds. A crisis posture holds the *promotional* deliveries only; these still go out:

- replies to the public (the inbox is what a crisis needs most);
- safety messages: posts drafted from a pre-approved safety template (``Post.origin`` kind
  :data:`SAFETY`, written by ``core.veille.crisis.draft_safety_message``).

While it stands, the inbox answers faster: new items get the posture's tighter response targets
(:func:`crisis_inbox_targets`, read by ``core.inbox.ingest``).

A pause pulled by hand (mourning, election silence) still holds everything. This module imports
only the models, so the outbox can read it without importing the crisis service (which imports
the pause, which imports the outbox).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import DeliveryKind
from core.db.models import CrisisPosture, Delivery, Persona, Post

#: ``Post.origin["kind"]`` of a safety message
SAFETY = "safety"
ACCEPTED = "accepted"


def is_safety(origin: dict[str, Any] | None) -> bool:
    return bool(origin) and origin.get("kind") == SAFETY  # type: ignore[union-attr]


def is_promotional(delivery: Delivery, post: Post) -> bool:
    """A delivery a crisis posture holds: a post or repost that is not a safety message."""
    return delivery.kind != DeliveryKind.REPLY and not is_safety(post.origin)


def through_crisis_pause() -> ColumnElement[bool]:
    """SQL (correlated to ``Delivery`` and ``Persona`` in the query): the delivery is not
    promotional and its persona's pause is an accepted crisis posture's."""
    accepted = exists().where(CrisisPosture.persona_id == Persona.id, CrisisPosture.state == ACCEPTED)
    safety = exists().where(Post.id == Delivery.post_id, Post.origin["kind"].as_string() == SAFETY)
    return and_(accepted, or_(Delivery.kind == DeliveryKind.REPLY, safety))


async def lets_through(session: AsyncSession, persona_id: uuid.UUID, delivery: Delivery, post: Post) -> bool:
    """The worker's check of the same rule for one claimed delivery of a paused persona."""
    if is_promotional(delivery, post):
        return False
    query = select(CrisisPosture.id).where(CrisisPosture.persona_id == persona_id, CrisisPosture.state == ACCEPTED)
    return (await session.scalar(query.limit(1))) is not None


async def crisis_inbox_targets(session: AsyncSession, persona_id: uuid.UUID) -> tuple[int, int] | None:
    """The first- and next-response targets (minutes) of the persona's accepted posture, if one stands."""
    query = select(CrisisPosture.detail).where(CrisisPosture.persona_id == persona_id, CrisisPosture.state == ACCEPTED)
    detail = await session.scalar(query.limit(1))
    targets = (detail or {}).get("inbox_targets")
    if not targets:
        return None
    return int(targets["first_response_minutes"]), int(targets["next_response_minutes"])
