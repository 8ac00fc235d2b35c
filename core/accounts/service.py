"""A persona's accounts: the changes staff make by hand (mode, connecting through the
network's OAuth flow) and the token refresh, audited. Never a token in the audit log.

Framework-free: the web app keeps a :class:`PendingConnection` in the person's session between
:func:`start_connection` and :func:`finish_connection`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor, record
from core.channels.contract import (
    ChannelError,
    ChannelPlugin,
    Credentials,
    CredentialsExpired,
    Feature,
    NotSupported,
    PublishOptions,
    TokenSet,
)
from core.channels.host import ChannelHost, NotConnected
from core.db.enums import AccountMode, AccountStatus
from core.db.models import Account
from core.db.types import utcnow
from core.errors import N_, Refusal
from core.pagination import Page, keyset
from core.runtime import Runtime
from core.security import CredentialVault

log = structlog.get_logger(__name__)


class SimulatedIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """An account's identity on one of the demo's simulated networks."""

    external_id: str
    credentials: Credentials


async def persona_account(session: AsyncSession, persona_id: uuid.UUID, account_id: uuid.UUID) -> Account | None:
    """An account of THIS persona (another persona's account id finds nothing)."""
    return await session.scalar(select(Account).where(Account.id == account_id, Account.persona_id == persona_id))


async def connect_simulated(
    session: AsyncSession, vault: CredentialVault, identities: Callable[[Account], SimulatedIdentity | None]
) -> int:
    """The demo: connect every account ``identities`` knows to its simulated network (audited).

    ``identities`` gives an account its identity on the simulated network of its channel, or None
    for a channel that has none; the caller (the web's demo composition) owns the fake networks.
    """
    connected = 0
    for account in (await session.scalars(select(Account).order_by(Account.channel, Account.id))).all():
        identity = identities(account)
        if identity is None:
            continue
        account.external_id = identity.external_id
        account.credentials_encrypted = vault.encrypt(identity.credentials)
        account.status = AccountStatus.CONNECTED
        after = {"network": "simulated", "channel": account.channel}
        record(
            session,
            Actor.system("demo"),
            "account.connected",
            "account",
            account.id,
            persona_id=account.persona_id,
            after=after,
        )
        connected += 1
    return connected


async def account_page(
    session: AsyncSession, persona_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[Account]:
    """A persona's accounts, by network."""
    query = select(Account).where(Account.persona_id == persona_id)
    return await keyset(session, query, (Account.channel, Account.id), cursor=cursor, limit=limit)


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
        session,
        actor,
        "account.mode_changed",
        "account",
        account.id,
        persona_id=account.persona_id,
        before={"mode": before},
        after={"mode": mode.value, "handle": account.handle, "channel": account.channel},
    )
    return True


# ------------------------------------------------------------------ connecting through OAuth
#: how long a started connection may wait for the network to send the person back
CONNECT_TTL = timedelta(minutes=10)
#: tokens expiring within this margin are refreshed ahead of time
REFRESH_MARGIN = timedelta(days=2)
#: where a plugin's token set names the network identity it was granted for (compared with
#: the account's external id: a reconnect must not swap the account for another one)
IDENTITY_KEYS = ("user_id", "ig_user_id", "page_id", "open_id")


class ConnectionRefused(Refusal):
    """A connection that cannot be made; ``message`` says why, for the manager.

    ``code``: "not_supported", "disabled", "state", "expired", "network", "identity"…
    """

    def __init__(
        self, template: str, *, params: dict[str, Any] | None = None, code: str = "refused", handle: str = ""
    ) -> None:
        super().__init__(template, params=params, code=code)
        self.handle = handle


class PendingConnection(msgspec.Struct, frozen=True, kw_only=True):
    """A started OAuth flow, kept server-side (the session) until the network sends the person back."""

    state: str
    account_id: uuid.UUID
    persona_id: uuid.UUID
    channel: str
    redirect_uri: str
    code_verifier: str | None = None
    expires_at: datetime


def start_connection(
    host: ChannelHost, account: Account, *, default_redirect_uri: str, now: datetime | None = None
) -> tuple[str, PendingConnection]:
    """The network's consent URL for this account, and what to keep until the callback.

    The configured redirect URI wins (the operator knows the public address); otherwise
    ``default_redirect_uri`` (the web app's own callback for this channel).
    """
    if account.status == AccountStatus.DISABLED:
        raise ConnectionRefused(
            N_("@%(handle)s is disabled: enable it before connecting it"),
            params={"handle": account.handle},
            code="disabled",
        )
    configured = host.plugin(account.channel)
    redirect_uri = configured.settings.redirect_uri or default_redirect_uri
    plugin = host.plugin(account.channel, redirect_uri=redirect_uri)
    state = secrets.token_urlsafe(32)
    try:
        request = plugin.authorization_url(state=state, scopes=None)
    except NotSupported:
        raise ConnectionRefused(
            N_("%(network)s offers no OAuth connection: its credentials are set by an administrator"),
            params={"network": plugin.name},
            code="not_supported",
        ) from None
    pending = PendingConnection(
        state=request.state or state,
        account_id=account.id,
        persona_id=account.persona_id,
        channel=account.channel,
        redirect_uri=redirect_uri,
        code_verifier=request.code_verifier,
        expires_at=(now or utcnow()) + CONNECT_TTL,
    )
    return request.url, pending


async def finish_connection(
    session: AsyncSession,
    host: ChannelHost,
    pending: PendingConnection | None,
    *,
    state: str,
    code: str,
    actor: Actor,
    now: datetime | None = None,
) -> Account:
    """Check the state, exchange the code, store the tokens encrypted; the account is connected.

    Nothing is stored when the state does not match the one kept at the start, when the flow
    is older than :data:`CONNECT_TTL`, when the network refuses the code, or when the tokens
    belong to another network identity than the account's.
    """
    if pending is None or not state or not secrets.compare_digest(pending.state, state):
        raise ConnectionRefused(
            N_("this answer from the network does not match a connection started here; start again"), code="state"
        )
    if (now or utcnow()) > pending.expires_at:
        raise ConnectionRefused(N_("the connection took too long (more than 10 minutes); start again"), code="expired")
    account = await session.get(Account, pending.account_id)
    if account is None or account.persona_id != pending.persona_id or account.channel != pending.channel:
        raise ConnectionRefused(N_("the account is gone"), code="state")
    if not code:
        raise ConnectionRefused(N_("the network sent no authorization code (consent refused?)"), code="network")
    plugin = host.plugin(account.channel, redirect_uri=pending.redirect_uri)
    try:
        tokens = await plugin.exchange_code(code=code, code_verifier=pending.code_verifier)
        tokens = await _same_identity(plugin, account, tokens)
    except ChannelError as exc:
        raise ConnectionRefused(
            N_("%(network)s: %(detail)s"),
            params={"network": plugin.name, "detail": exc.network_message},
            code="network",
        ) from None
    _store(session, host, account, tokens, actor, "account.connected")
    return account


async def _same_identity(plugin: ChannelPlugin, account: Account, tokens: TokenSet) -> TokenSet:
    """The tokens must act for this account, not for another the person also manages."""
    granted = next((tokens.extra[k] for k in IDENTITY_KEYS if tokens.extra.get(k)), None)
    if granted is None or not account.external_id or granted == account.external_id:
        return tokens
    # A person managing several Pages: the plugin can derive the token of the right one.
    if "pages" in tokens.extra and account.external_id in tokens.extra["pages"]:
        other = await plugin.refresh(
            Credentials(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                extra={"page_id": account.external_id},
            )
        )
        if other.extra.get("page_id") == account.external_id:
            return other
    raise ConnectionRefused(
        N_(
            "the network granted access to another account (%(granted)s), not to @%(handle)s; "
            "sign in on the network as @%(handle)s and start again"
        ),
        params={"granted": granted, "handle": account.handle},
        code="identity",
        handle=account.handle,
    )


def _store(
    session: AsyncSession,
    host: ChannelHost,
    account: Account,
    tokens: TokenSet,
    actor: Actor,
    action: str,
    previous: Credentials | None = None,
) -> None:
    credentials = Credentials(
        access_token=tokens.access_token,
        # a network that does not rotate refresh tokens sends none back: keep the one we have
        refresh_token=tokens.refresh_token or (previous.refresh_token if previous else None),
        expires_at=tokens.expires_at,
        token_type=tokens.token_type,
        scope=tokens.scope or (previous.scope if previous else None),
        extra={**(previous.extra if previous else {}), **tokens.extra},
    )
    before = {"status": account.status.value, "token_expires_at": account.token_expires_at}
    account.credentials_encrypted = host.seal(credentials)
    account.token_expires_at = tokens.expires_at
    account.status = AccountStatus.CONNECTED
    # Never a token in the audit log: what changed, when it expires, what was granted.
    record(
        session,
        actor,
        action,
        "account",
        account.id,
        persona_id=account.persona_id,
        before=before,
        after={
            "status": account.status.value,
            "token_expires_at": tokens.expires_at,
            "scope": credentials.scope,
            "channel": account.channel,
            "handle": account.handle,
        },
    )


# ------------------------------------------------------------------ refreshing tokens
async def mark_needs_reauth(
    session: AsyncSession, account_id: uuid.UUID, persona_id: uuid.UUID, *, actor: Actor, reason: str
) -> bool:
    """The network refused the account's credentials: nothing goes out, nothing comes in, until a
    manager reconnects it. A compare-and-set from ``connected`` (several jobs may notice at once,
    the team is told once, in the audit log and on its dashboard); True when this call moved it."""
    moved = await session.execute(
        update(Account)
        .where(Account.id == account_id, Account.status == AccountStatus.CONNECTED)
        .values(status=AccountStatus.NEEDS_REAUTH)
        .execution_options(synchronize_session="fetch")
    )
    if not moved.rowcount:
        return False
    record(
        session,
        actor,
        "account.needs_reauth",
        "account",
        account_id,
        persona_id=persona_id,
        before={"status": "connected"},
        after={"status": "needs_reauth"},
        reason=reason,
    )
    return True


async def refresh_credentials(runtime: Runtime, account_id: uuid.UUID) -> bool:
    """Ask the plugin for fresh tokens and store them; returns whether the account got new ones.

    A refused refresh (revoked, no refresh token) sets the account to ``needs_reauth``; a
    network that cannot refresh (NotSupported) or a temporary failure changes nothing. The
    network is called outside any database transaction.
    """
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None or account.credentials_encrypted is None or account.status != AccountStatus.CONNECTED:
            return False
        current = runtime.vault.decrypt(account.credentials_encrypted)
        channel, persona_id = account.channel, account.persona_id
    plugin = runtime.host.plugin(channel)
    actor = Actor.system("token-refresh")
    try:
        tokens = await plugin.refresh(current)
    except NotSupported:
        return False
    except CredentialsExpired as exc:
        async with runtime.session() as session:
            await mark_needs_reauth(session, account_id, persona_id, actor=actor, reason=exc.network_message)
        return False
    except ChannelError as exc:
        log.warning("token refresh failed", account_id=str(account_id), channel=channel, error=str(exc))
        return False
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        if account is None or account.status != AccountStatus.CONNECTED:
            return False
        _store(session, runtime.host, account, tokens, actor, "account.token_refreshed", previous=current)
    return True


async def refresh_due(runtime: Runtime, *, margin: timedelta = REFRESH_MARGIN, now: datetime | None = None) -> int:
    """Refresh every connected account whose token expires within ``margin``; returns how many got new tokens."""
    limit = (now or utcnow()) + margin
    async with runtime.session() as session:
        due = (
            await session.scalars(
                select(Account.id).where(
                    Account.status == AccountStatus.CONNECTED,
                    Account.credentials_encrypted.is_not(None),
                    Account.token_expires_at.is_not(None),
                    Account.token_expires_at <= limit,
                )
            )
        ).all()
    refreshed = 0
    for account_id in due:
        refreshed += await refresh_credentials(runtime, account_id)
    return refreshed


async def publish_options(runtime: Runtime, account: Account) -> PublishOptions | None:
    """What the network lets the author choose for a post on ``account`` (TikTok: its
    creator_info), or None when it asks nothing. When the network cannot be asked (the account is
    not connected, the network is down), the options it always asks, without the account's own
    values: the composer still asks, and the worker's check refuses a value it does not offer."""
    if account.channel not in runtime.channels:
        return None
    capabilities = runtime.channels.get(account.channel).capabilities
    if Feature.PUBLISH_OPTIONS not in capabilities.features:
        return PublishOptions(options=capabilities.options) if capabilities.options else None
    cached = _OPTIONS_READ.get(account.id)
    if cached is not None and time.monotonic() - cached[0] < OPTIONS_KEPT_S:
        return cached[1]
    try:
        plugin = runtime.host.plugin(account.channel)
        options = await plugin.publish_options(runtime.host.account_ref(account))
    except (ChannelError, NotConnected) as exc:
        log.info("publish options unavailable", account=str(account.id), error=type(exc).__name__)
        return PublishOptions(options=capabilities.options)
    _OPTIONS_READ[account.id] = (time.monotonic(), options)
    return options


#: how long an account's options read from its network are reused: the composer, its live check
#: and a refused form ask again within seconds; TikTok rate-limits creator_info and the author's
#: settings there change rarely. A failed read is not kept.
OPTIONS_KEPT_S = 60.0
_OPTIONS_READ: dict[uuid.UUID, tuple[float, PublishOptions]] = {}
