"""A public body's duties on what arrives, acted on as soon as an item is stored.

- M2: personal data in a public comment (an e-mail, a phone number, a social security number,
  a postal address) → a hide is *proposed* (a person decides) with the persona's standard answer
  pointing to the official contact form.
- M1: hateful or illegal content → a hide is proposed and the removal deadline runs
  (``legal_due_at``: 24 h, 6 h inside an election window — set by :func:`core.inbox.targets.assess`).
- R1: on an institution's account, a private message that looks like an administrative request
  gets the standard auto-answer with the official form, through the outbox like any reply (the
  policy engine still speaks: a block leaves it to a person).
- CADA: a request for a public document starts its one-month clock (``legal_due_at``); silence
  beyond it is a refusal, so the inbox shows it as a legal deadline, not a mere target.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels.contract import Feature
from core.channels.registry import ChannelRegistry
from core.db.enums import InboxKind, PersonaKind, Role
from core.db.models import Account, InboxEvent, InboxItem, ModerationAction, Persona
from core.errors import Refusal
from core.inbox.targets import inbox_settings
from core.publishing.compose import StaffActor, compose_reply

#: Porte-voix itself, answering under the persona's policy (an editor's rights: no approval wait)
AUTO_ANSWER = StaffActor(id=None, label="Porte-voix (réponse automatique)", role=Role.EDITOR)
_PUBLIC = (InboxKind.COMMENT, InboxKind.REPLY, InboxKind.MENTION)


async def act_on_arrival(session: AsyncSession, registry: ChannelRegistry, item_ids: Sequence[uuid.UUID]) -> int:
    """Propose hides and send auto-answers for newly stored items; returns how many acts were taken."""
    if not item_ids:
        return 0
    rows = (
        await session.execute(
            select(InboxItem, Persona, Account.channel)
            .join(Persona, Persona.id == InboxItem.persona_id)
            .join(Account, Account.id == InboxItem.account_id)
            .where(InboxItem.id.in_(item_ids))
        )
    ).all()
    acts = 0
    for item, persona, channel in rows:
        flags = set(item.flags)
        if item.kind in _PUBLIC and flags & {"personal_data", "hateful"}:
            reason = "personal_data" if "personal_data" in flags else "hateful"
            session.add(_proposal(item, reason))
            acts += 1
        if "administrative" in flags and item.kind == InboxKind.MESSAGE and persona.kind == PersonaKind.INSTITUTION:
            acts += await _auto_answer(session, registry, item, persona, channel)
    return acts


def _proposal(item: InboxItem, reason_code: str) -> ModerationAction:
    return ModerationAction(
        item_id=item.id, persona_id=item.persona_id, action="hide", state="proposed", reason_code=reason_code
    )


async def _auto_answer(
    session: AsyncSession, registry: ChannelRegistry, item: InboxItem, persona: Persona, channel: str
) -> int:
    answer = inbox_settings(persona.definition).administrative_answer.strip()
    if not answer or channel not in registry or not registry.get(channel).capabilities.supports(Feature.REPLY):
        return 0
    try:
        async with session.begin_nested():
            result = await compose_reply(session, registry, AUTO_ANSWER, item.id, answer)
    except Refusal as refused:  # the policy blocks it, the network's window closed…: a person answers
        session.add(_event(item, "auto_answer_skipped", reason=refused.message))
        return 0
    session.add(_event(item, "auto_answered", post_id=str(result.post.id)))
    return 1


def _event(item: InboxItem, kind: str, **detail: str) -> InboxEvent:
    return InboxEvent(item_id=item.id, persona_id=item.persona_id, kind=kind, detail=detail)
