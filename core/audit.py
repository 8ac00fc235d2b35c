"""The audit log: who did what, when, to what, with before/after."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AuditEvent

# notifications derive from the events written here and in a delivery's history, in the same flush
from core.notifications import service as _notifications  # noqa: F401


class Actor(msgspec.Struct, frozen=True):
    """Who acts: a staff member, or the system itself (CLI, worker)."""

    id: uuid.UUID | None
    label: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(id=None, label=label)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A JSON-able picture of some fields of a model, for before/after."""
    return {name: msgspec.to_builtins(getattr(obj, name)) for name in fields}


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str | None,
    *,
    persona_id: uuid.UUID | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        persona_id=persona_id,
        # JSON-able whatever the caller passes (datetimes, UUIDs, enums…)
        before=msgspec.to_builtins(before) if before is not None else None,
        after=msgspec.to_builtins(after) if after is not None else None,
        reason=reason,
    )
    session.add(event)
    return event
