"""The e-mail of a notification, in its recipient's language, through the configured SMTP server.

A notification is mailed once (``email_state``: pending → sending → sent, or failed after
:data:`MAX_ATTEMPTS`); one brought up by a new event is not mailed again. The job
:func:`send_pending` claims each notification with a compare-and-set, so two workers never mail
the same one; a claim older than :data:`CLAIM_S` (a worker that died mid-send) is taken again,
which may send that e-mail twice (at least once, never lost). With no ``PORTEVOIX_SMTP_HOST``
nothing is mailed and notifications stay in the admin's list.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import structlog
from sqlalchemy import ColumnElement, or_, select, update

from core.db.models import Notification, Staff
from core.db.types import utcnow
from core.notifications import texts
from core.runtime import Runtime
from core.settings import Settings

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
CLAIM_S = 600
#: notifications older than this are not mailed any more (SMTP configured late, a long outage)
TOO_OLD = timedelta(days=2)
BATCH = 50
TIMEOUT_S = 30.0


def message(settings: Settings, notification: Notification, staff: Staff) -> EmailMessage:
    """The e-mail: the title as subject, the text, a link when the app knows its public address."""
    locale = staff.locale
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = staff.email
    mail["Subject"] = texts.title(notification.kind, locale)
    lines = [texts.body(notification.kind, notification.detail, locale), ""]
    if settings.public_url:
        base = settings.public_url.rstrip("/")
        where = texts.path(notification.kind, notification.subject_id, notification.persona_id, notification.detail)
        lines += [f"{texts.translate(texts.OPEN, locale)}: {base}{where}", ""]
        lines.append(texts.translate(texts.MAIL_FOOTER, locale) % {"url": f"{base}/admin/notifications"})
    mail.set_content("\n".join(lines))
    mail["Content-Language"] = locale
    return mail


async def deliver(settings: Settings, mail: EmailMessage) -> None:
    await aiosmtplib.send(
        mail,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        timeout=TIMEOUT_S,
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Waits for its e-mail, or was claimed by a worker that died mid-send."""
    stale = (Notification.email_state == "sending") & (Notification.emailed_at < now - timedelta(seconds=CLAIM_S))
    return or_(Notification.email_state == "pending", stale)


async def _claim(runtime: Runtime, notification_id: uuid.UUID) -> bool:
    now = utcnow()
    async with runtime.session() as session:
        claimed = await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                _claimable(now),
            )
            .values(email_state="sending", emailed_at=now, email_attempts=Notification.email_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(claimed.rowcount)


async def send_one(runtime: Runtime, notification_id: uuid.UUID) -> bool:
    """Mail one notification if nobody else is; True when this call sent it."""
    settings = runtime.settings
    if not settings.smtp_host or not await _claim(runtime, notification_id):
        return False
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(Notification, Staff)
                .join(Staff, Staff.id == Notification.staff_id)
                .where(Notification.id == notification_id)
            )
        ).first()
    if row is None:
        return False
    notification, staff = row
    error: str | None = None
    if staff.is_active:
        try:
            await deliver(settings, message(settings, notification, staff))
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = str(exc) or type(exc).__name__
            log.warning("notifications.mail_failed", notification=str(notification_id), error=error)
    async with runtime.session() as session:
        if error is None:
            values = {"email_state": "sent", "emailed_at": utcnow(), "email_error": None}
        else:
            spent = notification.email_attempts >= MAX_ATTEMPTS
            values = {"email_state": "failed" if spent else "pending", "email_error": error}
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.email_state == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return error is None and staff.is_active


async def send_pending(runtime: Runtime) -> int:
    """The job: mail what waits (oldest first, a batch at a time); how many were sent."""
    if not runtime.settings.smtp_host:
        return 0
    now = utcnow()
    async with runtime.sessions() as session:
        ids = (
            await session.scalars(
                select(Notification.id)
                .where(
                    Notification.created_at > now - TOO_OLD,
                    _claimable(now),
                )
                .order_by(Notification.created_at)
                .limit(BATCH)
            )
        ).all()
    sent = 0
    for notification_id in ids:
        sent += await send_one(runtime, notification_id)
    return sent
