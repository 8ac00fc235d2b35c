"""A persona's accounts: the few changes staff make by hand (mode), audited."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import AccountMode
from core.db.models import Account
from core.services.audit import Actor, record


async def set_mode(session: AsyncSession, account: Account, mode: AccountMode, actor: Actor) -> bool:
    """Switch an account between ``live`` and ``dry_run``; returns whether anything changed.

    In dry run everything is validated and the exact request is built and recorded, nothing is
    sent: the switch is how a team rehearses on a real account, so each switch is audited.
    """
    if account.mode == mode:
        return False
    before = account.mode.value
    account.mode = mode
    record(
        session, actor, "account.mode_changed", "account", account.id, persona_id=account.persona_id,
        before={"mode": before}, after={"mode": mode.value, "handle": account.handle, "channel": account.channel},
    )
    return True
