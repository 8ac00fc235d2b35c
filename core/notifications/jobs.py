"""The arq job of this room (registered in ``core.queue.worker``)."""

from __future__ import annotations

from typing import Any

from core.notifications import mail


async def mail_notifications(ctx: dict[str, Any]) -> int:
    """Every 15 seconds: mail the notifications that wait, when SMTP is configured."""
    return await mail.send_pending(ctx["runtime"])
