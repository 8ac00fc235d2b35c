"""The reconciliation poll: each account's inbox read page after page from its stored cursor.

Webhooks lose events in practice; this poll is what guarantees nothing is lost. Each page's
items and the cursor after it are stored in one transaction, so a crash resumes exactly at
the page it stopped on — nothing lost, nothing twice (and a page read twice is harmless: the
upsert of :mod:`core.inbox.ingest` keeps one row). The network is called outside any
transaction. Within the network's limits: a throttled account is skipped, a ``RateLimited``
throttles it the way publishing does (:func:`core.publishing.outbox.throttle`), and the
usage reports are stored like the publisher's (:func:`core.publishing.outbox.flush_usage`).

An account whose token expired goes to ``needs_reauth`` and keeps ``inbox_failing_since`` at
its first failure: the inbox and the dashboard say "messages no longer arrive since …"
instead of going silent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import or_, select, update

from core.accounts.service import mark_needs_reauth
from core.audit import Actor
from core.channels import AccountRef, ChannelError, CredentialsExpired, Feature, InboxPage, RateLimited
from core.channels.host import NotConnected
from core.db.enums import AccountStatus
from core.db.models import Account
from core.db.types import utcnow
from core.inbox.duties import act_on_arrival
from core.inbox.ingest import ingest
from core.publishing.outbox import flush_usage, throttle
from core.runtime import Runtime
from core.usage import budget

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("inbox-sync")
#: an error kept on the account is for people to read, not a dump
MAX_ERROR = 1000


class SyncResult(msgspec.Struct, kw_only=True):
    #: synced, skipped, throttled, needs_reauth or failed
    status: str
    #: why it was skipped or failed, in a word or the network's words
    reason: str = ""
    pages: int = 0
    new: int = 0
    duplicates: int = 0
    #: the sources the network refused this time (``conversations`` → its words)
    unavailable: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class _Start:
    channel: str
    ref: AccountRef
    cursor: str | None
    unavailable: dict[str, Any]


def inbox_channels(runtime: Runtime) -> list[str]:
    """The installed channels whose plugin reads an inbox."""
    return [key for key, plugin in runtime.channels.items() if plugin.capabilities.supports(Feature.INBOX)]


async def sync_due_accounts(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Poll every account due (last success older than the poll interval); returns how many synced."""
    now = now or utcnow()
    interval = timedelta(seconds=runtime.settings.inbox_poll_seconds)
    channels = inbox_channels(runtime)
    if not channels:
        return 0
    async with runtime.session() as session:
        due = (
            await session.scalars(
                select(Account.id)
                .where(
                    Account.channel.in_(channels),
                    Account.status == AccountStatus.CONNECTED,
                    Account.credentials_encrypted.is_not(None),
                    or_(Account.throttled_until.is_(None), Account.throttled_until <= now),
                    or_(Account.inbox_synced_at.is_(None), Account.inbox_synced_at <= now - interval),
                )
                .order_by(Account.inbox_synced_at.is_not(None), Account.inbox_synced_at)
            )
        ).all()
        # polling is non-urgent: an account low on API budget keeps it for posts and replies
        low = await budget.yielding(session, due, now=now)
    synced = 0
    for account_id in due:
        if account_id in low:
            log.info("inbox poll skipped: API budget low", account=str(account_id))
            continue
        try:
            result = await sync_account(runtime, account_id)
        except Exception:  # one account's bug must not starve the others
            log.exception("inbox sync crashed", account=str(account_id))
            continue
        synced += result.status == "synced"
    return synced


async def sync_account(runtime: Runtime, account_id: uuid.UUID, *, max_pages: int = 20) -> SyncResult:
    """Read the account's inbox from its cursor, at most ``max_pages`` pages; store each page with its cursor."""
    start = await _start(runtime, account_id)
    if isinstance(start, SyncResult):
        return start
    plugin = runtime.host.plugin(start.channel)
    cursor = start.cursor
    # A sweep that starts from the beginning says afresh which sources are refused; one resumed
    # in the middle keeps what its beginning found.
    unavailable: dict[str, str] = {} if cursor is None else {str(k): str(v) for k, v in start.unavailable.items()}
    result = SyncResult(status="synced")
    try:
        while result.pages < max_pages:
            page = await plugin.fetch_inbox(start.ref, cursor)
            result.pages += 1
            unavailable.update(page.unavailable)
            result.unavailable.update(page.unavailable)
            await _store_page(runtime, account_id, page, unavailable, result)
            # None: the sweep is over; the same cursor back: caught up, nothing new since.
            caught_up = page.next_cursor == cursor
            cursor = page.next_cursor
            if cursor is None or caught_up:
                break
    except RateLimited as exc:
        await _throttled(runtime, account_id, exc)
        result.status, result.reason = "throttled", exc.network_message
        return result
    except (CredentialsExpired, NotConnected) as exc:
        await _needs_reauth(runtime, account_id, getattr(exc, "network_message", str(exc)))
        result.status, result.reason = "needs_reauth", str(exc)
        return result
    except ChannelError as exc:  # Transient, Rejected, NotSupported: this poll failed, the next one tries again
        log.warning("inbox sync failed", account=str(account_id), channel=start.channel, error=str(exc))
        await _failed(runtime, account_id, exc.network_message)
        result.status, result.reason = "failed", exc.network_message
        return result
    finally:
        await _flush_usage_quietly(runtime)
    await _succeeded(runtime, account_id)
    return result


async def _start(runtime: Runtime, account_id: uuid.UUID) -> _Start | SyncResult:
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            return SyncResult(status="skipped", reason="no_such_account")
        if account.channel not in runtime.channels:
            return SyncResult(status="skipped", reason="channel_not_installed")
        if not runtime.channels.get(account.channel).capabilities.supports(Feature.INBOX):
            return SyncResult(status="skipped", reason="no_inbox")
        if account.status != AccountStatus.CONNECTED or account.credentials_encrypted is None:
            return SyncResult(status="skipped", reason="account_not_connected")
        if account.throttled_until is not None and account.throttled_until > utcnow():
            return SyncResult(status="skipped", reason="account_throttled")
        try:
            ref = runtime.host.account_ref(account)
        except ValueError as exc:  # sealed with another SECRET_KEY: as good as no credentials
            await mark_needs_reauth(session, account.id, account.persona_id, actor=SYSTEM, reason=str(exc))
            _failing(account, str(exc))
            return SyncResult(status="needs_reauth", reason=str(exc))
        return _Start(account.channel, ref, account.inbox_cursor, dict(account.inbox_unavailable or {}))


async def _store_page(
    runtime: Runtime, account_id: uuid.UUID, page: InboxPage, unavailable: dict[str, str], result: SyncResult
) -> None:
    """The page's items and the cursor after it, in one transaction."""
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            return
        stored = await ingest(session, account, page.items, via="poll")
        await act_on_arrival(session, runtime.channels, stored.new)
        account.inbox_cursor = page.next_cursor
        if account.inbox_unavailable != unavailable:
            account.inbox_unavailable = dict(unavailable)
    result.new += len(stored.new)
    result.duplicates += stored.duplicates


async def _succeeded(runtime: Runtime, account_id: uuid.UUID) -> None:
    async with runtime.session() as session:
        await session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(inbox_synced_at=utcnow(), inbox_failing_since=None, inbox_error=None)
        )


async def _throttled(runtime: Runtime, account_id: uuid.UUID, error: RateLimited) -> None:
    async with runtime.session() as session:
        await throttle(session, account_id, utcnow() + timedelta(seconds=max(error.retry_after, 1.0)))


async def _failed(runtime: Runtime, account_id: uuid.UUID, message: str) -> None:
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is not None:
            _failing(account, message)


async def _needs_reauth(runtime: Runtime, account_id: uuid.UUID, message: str) -> None:
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            return
        await mark_needs_reauth(session, account.id, account.persona_id, actor=SYSTEM, reason=message)
        _failing(account, message)


def _failing(account: Account, message: str) -> None:
    """Keep the first failure's time: "messages no longer arrive since" the first, not the last."""
    account.inbox_failing_since = account.inbox_failing_since or utcnow()
    account.inbox_error = message[:MAX_ERROR]


async def _flush_usage_quietly(runtime: Runtime) -> None:
    # Usage is bookkeeping: failing to store it must never undo a sync.
    try:
        await flush_usage(runtime)
    except Exception:
        log.exception("usage reports not stored")
