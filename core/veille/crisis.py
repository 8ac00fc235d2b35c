"""Crisis posture: from a signal in the watch to a manager's decision, audited at every step.

Three signals, each a usage alert (``core.usage.alerts``: the dashboard, the notifications, the
e-mail and the webhook work as for any alert) and a crisis posture *proposed* to the managers:

- ``crisis_keyword``: an item holding one of the persona's ``[veille] keywords`` (the collector
  fills ``VeilleItem.keywords``; when it did not, they are matched here, folded as the policy
  engine folds);
- ``vigilance``: an official alert (``VeilleItem.severity``) orange or red for one of the
  persona's ``[veille] departements`` (``VeilleItem.area``, :mod:`core.veille.departements`);
- ``volume_spike``: the persona's items of the last 24 hours above the 7-day mean by k σ,
  checked hourly with a cool-down (:mod:`core.veille.spike`).

One open posture per persona at a time (proposed or accepted): a new signal joins the open one's
``detail["signals"]``. Nothing happens until a manager (``Action.DECIDE_POSTURE``) decides:

- **accept**: the persona's kill switch (``core.publishing.pause``) with the reason "crisis
  posture: …"; a posture's pause holds the promotional deliveries only (replies and safety
  messages go on, :mod:`core.veille.posture`); the pre-approved safety templates are offered;
  the tighter inbox targets are recorded on the posture and shown;
- **decline**: nothing is paused; the day's alerts of the posture are resolved and do not
  propose it again today (a red vigilance after a declined orange does);
- **end**: the pause's own resume (each overdue delivery chosen: send now, reschedule, cancel).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.channels.registry import ChannelRegistry
from core.db.enums import AccountStatus
from core.db.models import Account, CrisisPosture, Persona, Post, UsageAlert, VeilleItem
from core.db.types import utcnow
from core.errors import N_, Conflict, NotFound
from core.inbox.targets import inbox_settings
from core.people.permissions import PERMISSIONS, Action, allows, require
from core.policy import persona_file
from core.publishing import pause
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from core.settings import Settings
from core.usage import series
from core.usage.alerts import Condition, open_alert
from core.veille import departements, spike
from core.veille.posture import ACCEPTED, SAFETY, is_promotional
from personas.policy.text import find_terms, fold
from personas.schema import SafetyTemplate, VeilleSettings

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("veille")

KINDS = ("crisis_keyword", "vigilance", "volume_spike")
TRIGGER = {"crisis_keyword": "keyword", "vigilance": "vigilance", "volume_spike": "spike"}
OPEN = ("proposed", ACCEPTED)
#: the official levels that propose a posture (yellow is "be attentive", not a crisis)
LEVELS = ("orange", "red")
#: the cron looks back this far for items the collector did not assess (it runs every 5 minutes)
LOOKBACK = timedelta(minutes=30)
#: a posture quarters the inbox's response targets, never below this (design choice, docs/veille.md)
CRISIS_TARGET_FACTOR = 0.25
CRISIS_TARGET_FLOOR_MINUTES = 15
#: how far back the spike detector reads (its 7-day baseline and the last day)
SPIKE_SPAN = timedelta(days=spike.BASELINE_DAYS + 1)


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """Something that proposes a posture: the alert it raises and the item behind it, if any."""

    kind: str
    subject: str
    detail: dict[str, Any]
    item_id: uuid.UUID | None = None


class CrisisRun(msgspec.Struct, kw_only=True):
    """What one assessment did (logs and tests)."""

    signals: int = 0
    raised: int = 0
    proposed: int = 0
    joined: int = 0
    resolved: int = 0
    ended: int = 0


class NoSuchPosture(NotFound):
    """No such posture for this persona."""


# ------------------------------------------------------------------ the persona's settings


def veille_settings(persona: Persona) -> VeilleSettings:
    return persona_file(persona).veille


def keywords_in(item: VeilleItem, keywords: Sequence[str]) -> list[str]:
    """The crisis keywords of the item: the collector's, else matched here (whole words, folded)."""
    if item.keywords:
        return [str(k) for k in item.keywords]
    if not keywords:
        return []
    # a French plural is the same word ("inondations" is an "inondation")
    forms = {form: keyword for keyword in keywords for form in (keyword, f"{keyword}s", f"{keyword}x")}
    found = find_terms(f"{item.title}\n{item.summary_text}", tuple(forms))
    return list(dict.fromkeys(forms.get(term, term) for term in found))


def tighter_targets(persona: Persona) -> dict[str, int]:
    """The inbox targets while a posture stands: a quarter of the persona's, at least 15 minutes."""
    targets = inbox_settings(persona.definition).targets

    def tighter(minutes: int) -> int:
        return max(CRISIS_TARGET_FLOOR_MINUTES, min(minutes, round(minutes * CRISIS_TARGET_FACTOR)))

    return {
        "first_response_minutes": tighter(targets.first_response_minutes),
        "next_response_minutes": tighter(targets.next_response_minutes),
        "usual_first_response_minutes": targets.first_response_minutes,
        "usual_next_response_minutes": targets.next_response_minutes,
    }


# ------------------------------------------------------------------ signals


def _item_facts(item: VeilleItem) -> dict[str, Any]:
    return {"item": str(item.id), "title": item.title[:200], "url": item.url}


def signals_of(item: VeilleItem, settings: VeilleSettings) -> list[Signal]:
    """The signals one item gives: an orange or red vigilance for a listed département (first: the
    posture is named after it), then each crisis keyword it holds."""
    found = []
    if item.severity in LEVELS:
        code = departements.match(item.area, settings.departements)
        if code is not None:
            detail = {
                "level": item.severity,
                "area": item.area,
                "departement": code,
                "departement_name": departements.name_of(code),
                **_item_facts(item),
            }
            found.append(Signal(kind="vigilance", subject=f"{code}:{item.severity}", detail=detail, item_id=item.id))
    for keyword in keywords_in(item, settings.keywords):
        detail = {"keyword": keyword, **_item_facts(item)}
        found.append(Signal(kind="crisis_keyword", subject=fold(keyword)[:64], detail=detail, item_id=item.id))
    return found


# ------------------------------------------------------------------ alerts and the open posture


async def open_posture(session: AsyncSession, persona_id: uuid.UUID) -> CrisisPosture | None:
    """The persona's proposed or accepted posture (one at a time)."""
    query = (
        select(CrisisPosture)
        .where(CrisisPosture.persona_id == persona_id, CrisisPosture.state.in_(OPEN))
        .order_by(CrisisPosture.proposed_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _lock_persona(session: AsyncSession, persona_id: uuid.UUID) -> None:
    """Two workers assessing one persona at once would propose two postures: the persona row is the lock
    (SQLite has one writer at a time anyway)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(Persona.id).where(Persona.id == persona_id).with_for_update())


async def _alert_today(session: AsyncSession, persona: Persona, signal: Signal, day: str) -> UsageAlert | None:
    query = select(UsageAlert).where(
        UsageAlert.persona_id == persona.id,
        UsageAlert.kind == signal.kind,
        UsageAlert.subject == signal.subject,
        UsageAlert.day == day,
    )
    return await session.scalar(query)


def _signal_entry(signal: Signal, now: datetime) -> dict[str, Any]:
    return {"kind": signal.kind, "at": now.isoformat(), **signal.detail}


async def _propose(
    session: AsyncSession, persona: Persona, signal: Signal, alert: UsageAlert, now: datetime, run: CrisisRun
) -> CrisisPosture:
    """The open posture takes the signal, or a new one is proposed for it."""
    entry = _signal_entry(signal, now) | {"alert": str(alert.id)}
    posture = await open_posture(session, persona.id)
    if posture is not None:
        posture.detail = {**posture.detail, "signals": [*posture.detail.get("signals", []), entry]}
        run.joined += 1
        return posture
    posture = CrisisPosture(
        id=uuid.uuid4(),
        persona_id=persona.id,
        trigger=TRIGGER[signal.kind],
        item_id=signal.item_id,
        detail={"signals": [entry], "inbox_targets": tighter_targets(persona)},
        state="proposed",
        proposed_at=now,
        held_delivery_ids=[],
    )
    session.add(posture)
    await session.flush()
    record(
        session,
        SYSTEM,
        "crisis.posture_proposed",
        "crisis_posture",
        posture.id,
        persona_id=persona.id,
        after={"trigger": posture.trigger, **{k: v for k, v in entry.items() if k != "at"}},
    )
    run.proposed += 1
    return posture


async def raise_signal(
    session: AsyncSession, persona: Persona, signal: Signal, *, now: datetime, settings: Settings, run: CrisisRun
) -> bool:
    """Raise the signal's alert for the persona's day and propose (or join) a posture; False when
    the day already has it open, or a manager declined it today."""
    day = series.local_day(now, persona.timezone).isoformat()
    alert = await _alert_today(session, persona, signal, day)
    if alert is not None and (alert.resolved_at is None or alert.detail.get("decided")):
        return False
    condition = Condition(kind=signal.kind, subject=signal.subject, detail={**signal.detail, "persona": persona.name})
    await _lock_persona(session, persona.id)
    alert, _ = await open_alert(session, persona, condition, day=day, now=now, settings=settings, alert=alert)
    run.raised += 1
    await _propose(session, persona, signal, alert, now, run)
    return True


async def assess_items(
    session: AsyncSession,
    persona: Persona,
    items: Iterable[VeilleItem],
    *,
    settings: Settings,
    now: datetime | None = None,
) -> CrisisRun:
    """The collector's call after storing new items (and the cron's for items it did not assess):
    keywords and vigilances raise their alerts and propose a posture. Safe to call twice on an item."""
    now = now or utcnow()
    run = CrisisRun()
    file_settings = veille_settings(persona)
    for item in items:
        if item.persona_id != persona.id:
            continue
        if not item.keywords and (found := keywords_in(item, file_settings.keywords)):
            item.keywords = found  # the board filters on them
        for signal in signals_of(item, file_settings):
            run.signals += 1
            await raise_signal(session, persona, signal, now=now, settings=settings, run=run)
    await session.flush()
    return run


# ------------------------------------------------------------------ the volume spike


async def item_times(session: AsyncSession, persona_id: uuid.UUID, now: datetime) -> list[datetime]:
    """When the persona's items of the last 8 days appeared (published, else captured)."""
    moment = func.coalesce(VeilleItem.published_at, VeilleItem.captured_at)
    query = select(moment).where(VeilleItem.persona_id == persona_id, moment > now - SPIKE_SPAN, moment <= now)
    return [_aware(t) for t in (await session.scalars(query)).all()]


async def check_spike(
    session: AsyncSession,
    persona: Persona,
    *,
    settings: Settings,
    now: datetime | None = None,
    params: spike.SpikeParams | None = None,
    run: CrisisRun | None = None,
) -> spike.Spike:
    """The hourly check: a spike raises its alert (once within the cool-down) and proposes a
    posture; a spike over resolves its alert."""
    now = now or utcnow()
    run = run or CrisisRun()
    params = params or spike.SpikeParams()
    verdict = spike.spike_at(await item_times(session, persona.id, now), now, params)
    day = series.local_day(now, persona.timezone).isoformat()
    signal = Signal(
        kind="volume_spike",
        subject="",
        detail={
            "last24": verdict.last24,
            "mean": verdict.mean,
            "sigma": verdict.sigma,
            "threshold": verdict.threshold,
            "k": verdict.k,
            "baseline": list(verdict.baseline),
        },
    )
    alert = await _alert_today(session, persona, signal, day)
    if not verdict.spike:
        if alert is not None and alert.resolved_at is None:
            alert.resolved_at = now
            run.resolved += 1
        return verdict
    if alert is not None and alert.resolved_at is None:
        alert.detail = {**alert.detail, **signal.detail}
        return verdict
    if alert is not None and not spike.cooled_down(_aware(alert.raised_at), now, params):
        return verdict
    run.signals += 1
    await raise_signal(session, persona, signal, now=now, settings=settings, run=run)
    return verdict


def _aware(moment: datetime) -> datetime:
    # a coalesce keeps the column's type (aware), except where a driver gives a naive UTC value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------ the crons


async def _personas(runtime: Runtime) -> list[uuid.UUID]:
    async with runtime.sessions() as session:
        return list((await session.scalars(select(Persona.id).order_by(Persona.slug))).all())


async def watch_crisis(runtime: Runtime, *, now: datetime | None = None) -> CrisisRun:
    """Every 5 minutes: the items captured lately assessed (a collector that called
    :func:`assess_items` already leaves nothing new), and postures whose pause was lifted by hand ended."""
    now = now or utcnow()
    run = CrisisRun()
    for persona_id in await _personas(runtime):
        async with runtime.session() as session:
            persona = await session.get(Persona, persona_id)
            if persona is None:
                continue
            items = (
                await session.scalars(
                    select(VeilleItem)
                    .where(VeilleItem.persona_id == persona_id, VeilleItem.captured_at >= now - LOOKBACK)
                    .order_by(VeilleItem.captured_at)
                )
            ).all()
            found = await assess_items(session, persona, items, settings=runtime.settings, now=now)
            for name in ("signals", "raised", "proposed", "joined"):
                setattr(run, name, getattr(run, name) + getattr(found, name))
            run.ended += await _end_if_resumed(session, persona, now)
    log.info("veille.crisis", **msgspec.structs.asdict(run))
    return run


async def assess_collected(
    runtime: Runtime, item_ids: Sequence[uuid.UUID], *, now: datetime | None = None
) -> CrisisRun:
    """Right after a collection, the items it stored, persona by persona: a vigilance is seen the
    minute it arrives (the 5-minute :func:`watch_crisis` is the safety net, and finds them done)."""
    run = CrisisRun()
    if not item_ids:
        return run
    async with runtime.session() as session:
        items = (await session.scalars(select(VeilleItem).where(VeilleItem.id.in_(list(item_ids))))).all()
        by_persona: dict[uuid.UUID, list[VeilleItem]] = {}
        for item in items:
            by_persona.setdefault(item.persona_id, []).append(item)
        for persona_id, found in by_persona.items():
            persona = await session.get(Persona, persona_id)
            if persona is None:
                continue
            assessed = await assess_items(session, persona, found, settings=runtime.settings, now=now)
            for name in ("signals", "raised", "proposed", "joined"):
                setattr(run, name, getattr(run, name) + getattr(assessed, name))
    return run


async def watch_spikes(runtime: Runtime, *, now: datetime | None = None) -> CrisisRun:
    """Hourly: the volume-spike check of every persona."""
    now = now or utcnow()
    run = CrisisRun()
    for persona_id in await _personas(runtime):
        async with runtime.session() as session:
            persona = await session.get(Persona, persona_id)
            if persona is not None:
                await check_spike(session, persona, settings=runtime.settings, now=now, run=run)
    log.info("veille.spikes", raised=run.raised, resolved=run.resolved)
    return run


async def _end_if_resumed(session: AsyncSession, persona: Persona, now: datetime) -> int:
    """A posture whose pause a manager lifted with the plain resume is over: ended, and said so."""
    posture = await open_posture(session, persona.id)
    if posture is None or posture.state != ACCEPTED or persona.paused:
        return 0
    posture.state, posture.ended_at = "ended", now
    await _resolve_alerts(session, posture, now)
    record(
        session,
        SYSTEM,
        "crisis.posture_ended",
        "crisis_posture",
        posture.id,
        persona_id=persona.id,
        reason="the persona was resumed",
    )
    return 1


# ------------------------------------------------------------------ a manager's decision


def may_decide(role: Any, *, site_admin: bool = False) -> bool:
    """What the permission table says of accepting, declining or ending a posture (the pages' buttons)."""
    return allows(role, Action.DECIDE_POSTURE) or (
        site_admin and PERMISSIONS[Action.DECIDE_POSTURE].admin_without_assignment
    )


def _check(actor: pause.PauseActor) -> None:
    if not may_decide(actor.role, site_admin=actor.site_admin):
        require(actor.role, Action.DECIDE_POSTURE)


async def get_posture(session: AsyncSession, persona_id: uuid.UUID, posture_id: uuid.UUID) -> CrisisPosture:
    posture = await session.get(CrisisPosture, posture_id)
    if posture is None or posture.persona_id != persona_id:
        raise NoSuchPosture(N_("no such crisis posture"), code="no_such_posture")
    return posture


async def postures_of(session: AsyncSession, persona_id: uuid.UUID, *, limit: int = 50) -> list[CrisisPosture]:
    """The persona's postures, the latest first."""
    query = (
        select(CrisisPosture)
        .where(CrisisPosture.persona_id == persona_id)
        .order_by(CrisisPosture.proposed_at.desc(), CrisisPosture.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


def _in_state(posture: CrisisPosture, *states: str) -> None:
    if posture.state not in states:
        raise Conflict(
            N_("this crisis posture is already %(state)s"), params={"state": posture.state}, code="posture_decided"
        )


def summary(posture: CrisisPosture) -> str:
    """What triggered the posture, in a few words (the pause's reason, the audit log)."""
    first = (posture.detail.get("signals") or [{}])[0]
    if posture.trigger == "vigilance":
        return f"{first.get('level')} vigilance, {first.get('area')} ({first.get('departement')})"
    if posture.trigger == "keyword":
        return f"“{first.get('keyword')}” — {first.get('title', '')}"[:200]
    if posture.trigger == "spike":
        return f"{first.get('last24')} items in 24 h (mean {first.get('mean')} a day)"
    return str(first.get("title") or posture.trigger)


async def _resolve_alerts(session: AsyncSession, posture: CrisisPosture, now: datetime) -> None:
    """The alerts behind the posture resolved, marked decided (not raised again today)."""
    ids = [uuid.UUID(s["alert"]) for s in posture.detail.get("signals", []) if s.get("alert")]
    if not ids:
        return
    for alert in (await session.scalars(select(UsageAlert).where(UsageAlert.id.in_(ids)))).all():
        alert.resolved_at = alert.resolved_at or now
        alert.detail = {**alert.detail, "decided": posture.state}


async def accept(
    session: AsyncSession,
    actor: pause.PauseActor,
    persona_id: uuid.UUID,
    posture_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> CrisisPosture:
    """A manager's click: the persona's promotional deliveries held by its kill switch."""
    _check(actor)
    now = now or utcnow()
    posture = await get_posture(session, persona_id, posture_id)
    _in_state(posture, "proposed")
    persona = await pause.load_persona(session, persona_id)
    held = [d for d in await pause.paused_deliveries(session, persona_id) if is_promotional(d, d.post)]
    reason = f"crisis posture: {summary(posture)}"
    detail = {**posture.detail, "pause_reason": reason}
    if persona.paused:  # paused before (mourning, silence): that pause stays, and stays after the posture
        detail["paused_before"] = persona.pause_reason or ""
    else:
        await pause.pause_persona(session, actor, persona_id, reason=reason)
    posture.state, posture.decided_by_id, posture.decided_at = ACCEPTED, actor.id, now
    posture.held_delivery_ids = [str(d.id) for d in held]
    posture.detail = detail | {"inbox_targets": tighter_targets(persona)}
    record(
        session,
        actor.actor,
        "crisis.posture_accepted",
        "crisis_posture",
        posture.id,
        persona_id=persona_id,
        after={"held": posture.held_delivery_ids, "inbox_targets": posture.detail["inbox_targets"]},
        reason=reason,
    )
    return posture


async def decline(
    session: AsyncSession,
    actor: pause.PauseActor,
    persona_id: uuid.UUID,
    posture_id: uuid.UUID,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> CrisisPosture:
    """Not a crisis for this persona: nothing paused; its alerts resolved for the day."""
    _check(actor)
    now = now or utcnow()
    posture = await get_posture(session, persona_id, posture_id)
    _in_state(posture, "proposed")
    posture.state, posture.decided_by_id, posture.decided_at = "declined", actor.id, now
    await _resolve_alerts(session, posture, now)
    record(
        session,
        actor.actor,
        "crisis.posture_declined",
        "crisis_posture",
        posture.id,
        persona_id=persona_id,
        reason=reason.strip() or None,
    )
    return posture


async def end(
    session: AsyncSession,
    actor: pause.PauseActor,
    persona_id: uuid.UUID,
    posture_id: uuid.UUID,
    *,
    choices: Sequence[pause.OverdueChoice] = (),
    registry: ChannelRegistry | None = None,
    now: datetime | None = None,
) -> CrisisPosture:
    """The crisis is over: the pause's resume gives the held deliveries back (each overdue one as
    chosen; refused with :class:`core.publishing.pause.OverdueWithoutChoice` while one has no choice).
    A pause that was there before the posture stays."""
    _check(actor)
    now = now or utcnow()
    posture = await get_posture(session, persona_id, posture_id)
    _in_state(posture, ACCEPTED)
    if "paused_before" not in posture.detail:
        await pause.resume_persona(session, actor, persona_id, choices=choices, registry=registry, now=now)
    posture.state, posture.ended_at = "ended", now
    await _resolve_alerts(session, posture, now)
    record(session, actor.actor, "crisis.posture_ended", "crisis_posture", posture.id, persona_id=persona_id)
    return posture


# ------------------------------------------------------------------ safety messages


def source_of(posture: CrisisPosture, template: SafetyTemplate) -> str:
    """The official source a safety message cites: the alert's own link, else the template's default."""
    for signal in posture.detail.get("signals", []):
        if signal.get("kind") == "vigilance" and signal.get("url"):
            return str(signal["url"])
    return template.default_source or next(
        (str(s["url"]) for s in posture.detail.get("signals", []) if s.get("url")), ""
    )


def safety_text(posture: CrisisPosture, template: SafetyTemplate) -> str:
    return template.text.replace("{source}", source_of(posture, template))


def template_of(persona: Persona, code: str) -> SafetyTemplate:
    for template in veille_settings(persona).safety_templates:
        if template.code == code:
            return template
    raise NotFound(N_("no such safety template: %(code)s"), params={"code": code}, code="no_such_template")


async def draft_safety_message(
    session: AsyncSession,
    registry: ChannelRegistry,
    actor: StaffActor,
    persona_id: uuid.UUID,
    posture_id: uuid.UUID,
    code: str,
    *,
    account_ids: Sequence[uuid.UUID] | None = None,
) -> Post:
    """One click: a draft of the safety template on the persona's connected accounts, citing the
    official source, marked a safety message (``Post.origin``: the posture's pause lets it out).
    It goes through the policy like any post when it is submitted."""
    posture = await get_posture(session, persona_id, posture_id)
    _in_state(posture, *OPEN)
    persona = await pause.load_persona(session, persona_id)
    template = template_of(persona, code)
    # every connected account unless told (the author unticks, on the draft, a network that needs a picture)
    accounts = (
        account_ids
        or (
            await session.scalars(
                select(Account.id)
                .where(Account.persona_id == persona_id, Account.status == AccountStatus.CONNECTED)
                .order_by(Account.channel)
            )
        ).all()
    )
    source = source_of(posture, template)
    request = ComposeRequest(
        persona_id=persona_id,
        account_ids=tuple(accounts),
        text=safety_text(posture, template),
        link=source or None,
        save_as_draft=True,
    )
    result = await compose(session, registry, actor, request)
    post = result.post
    post.origin = {
        "kind": SAFETY,
        "template": template.code,
        "posture_id": str(posture.id),
        "source_url": source or None,
        "item_id": str(posture.item_id) if posture.item_id else None,
    }
    record(
        session,
        actor.actor,
        "crisis.safety_drafted",
        "post",
        post.id,
        persona_id=persona_id,
        after={"template": template.code, "posture_id": str(posture.id), "source": source},
    )
    return post
