"""What the publishing API and the composer share: "when" as people give it, a draft as the
services take it, and the live check's answer.

The rules live in ``core.publishing`` and ``core.policy``; this module only turns HTTP inputs
into service calls, the same way for JSON and for forms.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import count_text
from core.channels.registry import ChannelRegistry
from core.db.models import Persona
from core.errors import N_
from core.media import service as media_service
from core.policy import delivery_text
from core.publishing import compose as service
from core.publishing import queries
from core.publishing.compose import ComposeRequest, ComposeResult, PublishingError, StaffActor
from personas.policy import Finding, Outcome, Override, decide
from web.publishing.schemas import CheckIn, CheckOut, ComposeIn, OverrideIn, TextLimitOut, findings_out

#: times outside these years are typing mistakes (and would overflow time zone arithmetic)
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _out_of_range(field: str) -> PublishingError:
    return PublishingError(
        N_("the date must be between %(first)s and %(last)s"),
        params={"first": FIRST_YEAR, "last": LAST_YEAR},
        field=field,
        code="date_out_of_range",
    )


def _in_range(moment: datetime, field: str) -> datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise _out_of_range(field)
    return moment


def resolve_when(persona: Persona, scheduled_at: datetime | None, local_time: datetime | None) -> datetime | None:
    """An aware UTC time from either an ISO time with its offset or a wall-clock time in the
    persona's time zone (DST-safe: a time inside the spring-forward gap is refused)."""
    if scheduled_at is not None and local_time is not None:
        raise PublishingError(N_("give scheduledAt or localTime, not both"), field="scheduled_at")
    if scheduled_at is not None:
        if scheduled_at.tzinfo is None:
            raise PublishingError(
                N_(
                    "scheduledAt must carry its offset (…+01:00 or …Z); "
                    "use localTime for a time in the persona's time zone"
                ),
                field="scheduled_at",
            )
        return _in_range(scheduled_at, "scheduled_at").astimezone(ZoneInfo("UTC"))
    if local_time is not None:
        if local_time.tzinfo is not None:
            raise PublishingError(
                N_("localTime is a wall-clock time without offset; use scheduledAt for an offset"), field="local_time"
            )
        try:
            return service.local_to_utc(_in_range(local_time, "local_time"), persona.timezone).astimezone(
                ZoneInfo("UTC")
            )
        except PublishingError as exc:
            raise PublishingError(exc.template, params=exc.params, field="local_time", code=exc.code) from None
    return None


def local_midnight(day: date, timezone: str, field: str, *, end_of_day: bool = False) -> datetime:
    """The start of a local day in the persona's time zone (a query's ``from``), or with
    ``end_of_day`` the start of the next one (a query's ``to``, the day included). The year is
    checked first: the day after 9999-12-31 does not exist."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise _out_of_range(field)
    return datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min, tzinfo=ZoneInfo(timezone))


def overrides_in(overrides: Iterable[OverrideIn]) -> tuple[Override, ...]:
    return tuple(Override(rule=o.rule, reason=o.reason) for o in overrides)


def _draft(persona: Persona, data: ComposeIn | CheckIn, when: datetime | None) -> ComposeRequest:
    return ComposeRequest(
        persona_id=persona.id,
        account_ids=tuple(data.account_ids),
        text=data.text,
        link=data.link or None,
        format=data.format,
        media_ids=tuple(data.media_ids),
        variants={k: v for k, v in data.variants.items() if v.strip()},
        scheduled_at=when,
        repost_of=data.repost_of or None,
        publish_options=option_texts(data.options),
    )


def option_texts(options: dict[str, dict[str, str | bool]]) -> dict[str, dict[str, str]]:
    """The API's options (JSON booleans or texts) as the services keep them: texts."""

    def text(value: str | bool) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else value

    return {channel: {name: text(value) for name, value in chosen.items()} for channel, chosen in options.items()}


async def compose_post(
    db: AsyncSession, registry: ChannelRegistry, actor: StaffActor, persona: Persona, data: ComposeIn
) -> ComposeResult:
    """Compose through the service ("add to queue": each account at its own next free slot, the service's job)."""
    chosen = [data.scheduled_at is not None, data.local_time is not None, data.publish_now, data.add_to_queue]
    if sum(chosen) > 1:
        raise PublishingError(N_("choose one of: a time, publish now, add to the queue"), field="scheduled_at")
    # a media another post uses is copied for this one: the other keeps it (core.media.service)
    media_ids = await media_service.for_a_new_post(db, persona.id, data.media_ids, actor.actor)
    request = msgspec.structs.replace(
        _draft(persona, data, resolve_when(persona, data.scheduled_at, data.local_time)),
        media_ids=media_ids,
        publish_now=data.publish_now,
        add_to_queue=data.add_to_queue,
        save_as_draft=data.save_as_draft,
        overrides=overrides_in(data.overrides),
        origin={"item_id": str(data.from_item)} if data.from_item else None,
    )
    return await service.compose(db, registry, actor, request)


async def live_check(
    db: AsyncSession, registry: ChannelRegistry, persona: Persona, composer_id: uuid.UUID, data: CheckIn
) -> CheckOut:
    """The policy engine and the networks' limits on a draft, per account; nothing is written."""
    draft = _draft(persona, data, resolve_when(persona, data.scheduled_at, data.local_time))
    checked = await queries.check_draft(db, registry, persona, draft, composer_id)
    items = findings_out(checked.findings, {a.id: (a.channel, a.handle) for a in checked.accounts})
    for item in items:
        item.text = text_limit(registry, item.channel, delivery_text(checked.post, item.channel))
    return CheckOut(accounts=items, outcome=worst_outcome(checked.findings.values()))


def text_limit(registry: ChannelRegistry, channel: str, text: str) -> TextLimitOut | None:
    if channel not in registry:
        return None
    capabilities = registry.get(channel).capabilities
    return TextLimitOut(
        length=count_text(text, capabilities.text.counting),
        limit=capabilities.text.limit,
        counting=capabilities.text.counting.value,
        notices=list(capabilities.notices),
    )


def worst_outcome(findings: Iterable[list[Finding]]) -> Literal["blocked", "needs_review", "ok"]:
    """What the post would become: blocked if any account blocks, else needs review if any does."""
    outcomes = {decide(f).outcome for f in findings}
    if Outcome.BLOCKED in outcomes:
        return "blocked"
    return "needs_review" if Outcome.NEEDS_REVIEW in outcomes else "ok"
