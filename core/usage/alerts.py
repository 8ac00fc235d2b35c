"""Usage alerts: what a persona's team must see today, raised and resolved by a cron, told once.

Every quarter of an hour :func:`raise_usage_alerts` computes, for each persona, what is wrong
now (:func:`conditions`) from the figures of :mod:`core.usage.series` and the inbox's deadlines:

- ``behind_cadence``: from ``PORTEVOIX_USAGE_ALERT_HOUR`` (local), a network that published fewer
  posts today than its policy's daily target (one alert per account);
- ``quota_low``: an account whose API budget is low now (:mod:`core.usage.budget`, the same
  reading as the worker's before a send, which may have raised the day's alert first);
- ``needs_reauth``: an account the network no longer lets us use;
- ``inbox_over_target``: open items past their response deadline, or today's median first
  response (business time) over the persona's target;
- ``long_day``: a person whose day on the persona spans more than ``PORTEVOIX_USAGE_LONG_DAY_HOURS``
  (first to last act: the seed's 14-hour days are a warning sign, not a target);
- ``metrics_failing``: an account whose last metrics call failed (``Account.metrics_error``).

One row per persona, kind, subject and local day (the database's unique constraint): an alert
still true on the next run is left as it is (its figures refreshed), one no longer true is
resolved, and yesterday's open alerts are resolved by today's first run (today's row replaces
them when the condition lasts). When an alert opens (or opens again), the persona's managers and
the site admins are notified (``usage_alert``, mailed by the notifications' mailer when SMTP is
configured) and, with ``PORTEVOIX_USAGE_WEBHOOK_URL``, it waits for :func:`send_usage_webhooks`:
a JSON POST, retried once a minute up to :data:`WEBHOOK_MAX_ATTEMPTS` times, then ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any

import httpx
import msgspec
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountStatus
from core.db.models import Persona, UsageAlert
from core.db.types import utcnow
from core.inbox.queries import deadlines
from core.notifications import texts
from core.notifications.service import Kind, Notice, give
from core.runtime import Runtime
from core.settings import Settings
from core.usage import series
from core.usage.budget import budgets_of

log = structlog.get_logger(__name__)

KINDS = ("behind_cadence", "quota_low", "needs_reauth", "inbox_over_target", "long_day", "metrics_failing")
WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_TIMEOUT_S = 10.0
WEBHOOK_BATCH = 50
SIGNATURE_HEADER = "X-Portevoix-Signature"


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """Something wrong now: what it is about and the figures the message shows."""

    kind: str
    subject: str
    detail: dict[str, Any]


class AlertRun(msgspec.Struct, kw_only=True):
    """What one run did: alerts opened (new or again), still open, resolved; people told."""

    raised: int = 0
    kept: int = 0
    resolved: int = 0
    notified: int = 0


# ------------------------------------------------------------------ the conditions


def _account(account: Any, persona: Persona) -> dict[str, Any]:
    return {"persona": persona.name, "channel": account.channel, "handle": account.handle}


async def _cadence(session: AsyncSession, persona: Persona, now: datetime, settings: Settings) -> list[Condition]:
    found = []
    for today in await series.today_so_far(session, persona, now):
        if today.local_hour < settings.usage_alert_hour or not today.posts_target or not today.posts_missing:
            continue
        detail = _account(today, persona) | {
            "posts": today.posts,
            "target": today.posts_target,
            "hour": settings.usage_alert_hour,
        }
        found.append(Condition(kind="behind_cadence", subject=str(today.account_id), detail=detail))
    return found


async def _quotas(
    session: AsyncSession, persona: Persona, accounts: list[series.AccountRef], now: datetime
) -> list[Condition]:
    """The accounts whose budget is low now, as the worker reads it before a send (``core.usage.budget``)."""
    refs = {a.account_id: a for a in accounts}
    found = []
    for account_id, budget in (await budgets_of(session, list(refs), now=now)).items():
        if not budget.is_low:
            continue
        worst = budget.low[0]
        detail = _account(refs[account_id], persona) | {
            "endpoint": worst.endpoint,
            "left": round(100 * worst.remaining_share, 1),
            "reset_at": worst.reset_at.isoformat() if worst.reset_at else None,
        }
        found.append(Condition(kind="quota_low", subject=str(account_id), detail=detail))
    return found


def _accounts(persona: Persona, accounts: list[series.AccountRef]) -> list[Condition]:
    found = []
    for account in accounts:
        if account.status == AccountStatus.NEEDS_REAUTH:
            found.append(
                Condition(kind="needs_reauth", subject=str(account.account_id), detail=_account(account, persona))
            )
        if account.metrics_error:
            detail = _account(account, persona) | {"error": account.metrics_error[:300]}
            found.append(Condition(kind="metrics_failing", subject=str(account.account_id), detail=detail))
    return found


async def _inbox(session: AsyncSession, persona: Persona, now: datetime, today: series.Period) -> list[Condition]:
    overdue = (await deadlines(session, persona.id, see_messages=True, now=now))["breached"]
    times = await series.response_times(session, persona, today)
    median = times.first.median_business_s
    slow = median is not None and median > times.first_target_s
    if not overdue and not slow:
        return []
    detail = {
        "persona": persona.name,
        "overdue": overdue,
        "median": None if median is None else round(median / 60),
        "target": round(times.first_target_s / 60),
    }
    return [Condition(kind="inbox_over_target", subject="", detail=detail)]


async def _long_days(
    session: AsyncSession, persona: Persona, today: series.Period, settings: Settings
) -> list[Condition]:
    found = []
    for person in await series.workload(session, persona, today):
        day = person.days[-1]
        if day.span_hours > settings.usage_long_day_hours:
            detail = {"persona": persona.name, "who": person.name, "hours": round(day.span_hours, 1)}
            detail["hours_worked"] = day.hours_worked
            found.append(Condition(kind="long_day", subject=str(person.staff_id), detail=detail))
    return found


async def conditions(session: AsyncSession, persona: Persona, now: datetime, settings: Settings) -> list[Condition]:
    """Everything wrong with ``persona`` at ``now`` (its local day so far)."""
    today = series.make_period("day", series.local_day(now, persona.timezone), persona.timezone)
    accounts = await series.accounts_of(session, persona.id)
    return [
        *await _cadence(session, persona, now, settings),
        *await _quotas(session, persona, accounts, now),
        *_accounts(persona, accounts),
        *await _inbox(session, persona, now, today),
        *await _long_days(session, persona, today, settings),
    ]


# ------------------------------------------------------------------ raise, keep, resolve


def _notify(session: AsyncSession, alert: UsageAlert, persona: Persona) -> Any:
    detail = {**alert.detail, "alert": alert.kind, "persona": persona.name, "day": alert.day}
    notice = Notice(Kind.USAGE_ALERT, "alert", alert.id, persona.id, actor_id=None, detail=detail, at=alert.raised_at)
    return session.run_sync(lambda sync: give(sync.connection(), notice))


async def raise_for(
    session: AsyncSession, persona: Persona, now: datetime, settings: Settings, run: AlertRun | None = None
) -> AlertRun:
    """Open, refresh and resolve ``persona``'s alerts for its local day at ``now``."""
    run = run or AlertRun()
    day = series.local_day(now, persona.timezone).isoformat()
    found = {(c.kind, c.subject): c for c in await conditions(session, persona, now, settings)}
    rows = (
        await session.scalars(
            select(UsageAlert).where(
                UsageAlert.persona_id == persona.id,
                # the watch's alerts (core.veille.crisis) are raised and resolved by their own job
                UsageAlert.kind.in_(KINDS),
                (UsageAlert.day == day) | UsageAlert.resolved_at.is_(None),
            )
        )
    ).all()
    existing = {(a.kind, a.subject): a for a in rows if a.day == day}
    for alert in rows:
        if alert.resolved_at is None and (alert.day != day or (alert.kind, alert.subject) not in found):
            alert.resolved_at = now
            run.resolved += 1
    for key, condition in found.items():
        alert = existing.get(key)
        # one the worker raised before a send (core.usage.budget) has told nobody yet: told here
        untold = alert is not None and (alert.detail or {}).get("source") == "send"
        if alert is not None and alert.resolved_at is None and not untold:
            alert.detail = condition.detail
            run.kept += 1
            continue
        _, told = await open_alert(session, persona, condition, day=day, now=now, settings=settings, alert=alert)
        run.notified += told
        run.raised += 1
    await session.flush()
    return run


async def open_alert(
    session: AsyncSession,
    persona: Persona,
    condition: Condition,
    *,
    day: str,
    now: datetime,
    settings: Settings,
    alert: UsageAlert | None = None,
) -> tuple[UsageAlert, int]:
    """Open ``condition`` as the day's alert (new, or ``alert`` opened again): the persona's managers
    and the site admins told, the webhook to send. The alert and how many people were told."""
    if alert is None:
        alert = UsageAlert(id=uuid.uuid4(), persona_id=persona.id, kind=condition.kind, subject=condition.subject)
        alert.day = day
        session.add(alert)
    alert.detail, alert.raised_at, alert.resolved_at = condition.detail, now, None
    alert.webhook_state = "pending" if settings.usage_webhook_url else "none"
    alert.webhook_attempts, alert.webhook_error = 0, None
    await session.flush()
    return alert, await _notify(session, alert, persona)


async def raise_usage_alerts(runtime: Runtime, now: datetime | None = None) -> AlertRun:
    """The cron: every persona, one transaction each (a failing persona does not hold the others)."""
    now = now or utcnow()
    run = AlertRun()
    async with runtime.sessions() as session:
        personas = [p.id for p in (await session.scalars(select(Persona).order_by(Persona.slug))).all()]
    for persona_id in personas:
        async with runtime.session() as session:
            persona = await session.get(Persona, persona_id)
            if persona is not None:
                await raise_for(session, persona, now, runtime.settings, run)
    log.info("usage.alerts", raised=run.raised, kept=run.kept, resolved=run.resolved, notified=run.notified)
    return run


async def open_alerts(session: AsyncSession, persona_ids: list[uuid.UUID]) -> list[UsageAlert]:
    """The open alerts of these personas (those the reader may see), the latest first: the dashboard's."""
    if not persona_ids:
        return []
    query = (
        select(UsageAlert)
        .where(UsageAlert.persona_id.in_(persona_ids), UsageAlert.resolved_at.is_(None))
        .order_by(UsageAlert.raised_at.desc(), UsageAlert.id)
    )
    return list((await session.scalars(query)).all())


def text(alert: UsageAlert, persona_name: str, gettext: Any) -> str:
    """An alert's sentence in the reader's language (``gettext``: the web's, or a catalogue's)."""
    detail = {**alert.detail, "persona": persona_name}
    return str(gettext(texts.template("usage_alert", {**detail, "alert": alert.kind}))) % texts.names(detail)


# ------------------------------------------------------------------ the webhook


def payload(alert: UsageAlert, persona: Persona, locale: str) -> dict[str, Any]:
    """What the webhook receives: the alert, its persona, and its sentence in the site's language."""
    return {
        "event": "usage_alert",
        "id": str(alert.id),
        "kind": alert.kind,
        "subject": alert.subject,
        "day": alert.day,
        "raised_at": alert.raised_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "persona": {"id": str(persona.id), "slug": persona.slug, "name": persona.name},
        "detail": alert.detail,
        "text": text(alert, persona.name, lambda m: texts.translate(m, locale)),
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _post(client: httpx.AsyncClient, settings: Settings, body: bytes) -> str | None:
    """POST one body; None when the receiver took it (2xx), else what went wrong."""
    headers = {"Content-Type": "application/json", "User-Agent": "Porte-voix usage alerts"}
    if settings.usage_webhook_secret:
        headers[SIGNATURE_HEADER] = signature(settings.usage_webhook_secret, body)
    try:
        answer = await client.post(settings.usage_webhook_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}: {answer.text[:200]}"


async def send_usage_webhooks(runtime: Runtime, *, client: httpx.AsyncClient | None = None) -> int:
    """The cron (every minute): POST the pending alerts; how many were taken.

    One attempt per alert and run: a refusal or a timeout leaves it ``pending`` with the error,
    the :data:`WEBHOOK_MAX_ATTEMPTS`-th makes it ``failed``. The row is updated only if it is
    still pending with the attempts seen (two workers never count one attempt twice); a receiver
    may see an alert twice if a worker dies between the POST and the update (at least once).
    """
    settings = runtime.settings
    if not settings.usage_webhook_url:
        return 0
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(UsageAlert, Persona)
                .join(Persona, Persona.id == UsageAlert.persona_id)
                .where(UsageAlert.webhook_state == "pending")
                .order_by(UsageAlert.raised_at, UsageAlert.id)
                .limit(WEBHOOK_BATCH)
            )
        ).all()
    if not rows:
        return 0
    sent = 0
    own = client is None
    client = client or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S)
    try:
        for alert, persona in rows:
            body = msgspec.json.encode(payload(alert, persona, settings.default_locale))
            error = await _post(client, settings, body)
            attempts = alert.webhook_attempts + 1
            if error is None:
                values: dict[str, Any] = {"webhook_state": "sent", "webhook_error": None}
                sent += 1
            else:
                log.warning("usage.webhook_failed", alert=str(alert.id), attempt=attempts, error=error)
                state = "failed" if attempts >= WEBHOOK_MAX_ATTEMPTS else "pending"
                values = {"webhook_state": state, "webhook_error": error}
            async with runtime.session() as session:
                await session.execute(
                    update(UsageAlert)
                    .where(
                        UsageAlert.id == alert.id,
                        UsageAlert.webhook_state == "pending",
                        UsageAlert.webhook_attempts == alert.webhook_attempts,
                    )
                    .values(webhook_attempts=attempts, **values)
                    .execution_options(synchronize_session=False)
                )
    finally:
        if own:
            await client.aclose()
    return sent
