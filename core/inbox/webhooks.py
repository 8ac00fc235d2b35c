"""Webhooks: what a network pushes, checked, then fed to the same upsert as the poll.

One public route per channel (``/webhooks/{channel}``, in ``web/inbox/webhooks.py``): the
network's subscription check (Meta ``hub.challenge``, X's CRC) is answered as the plugin says;
every other request must carry the network's signature over its raw body
(``X-Hub-Signature-256``, X's, TikTok's). A request without a valid one is refused with a 403,
logged with its channel and remote address — never its payload — audited as
``webhook_refused``, and nothing of it is stored. A signed one is parsed, its items grouped by
the account they arrived on and ingested with ``via="webhook"``: a Meta retry 36 hours later,
or a webhook for an item the poll already stored, makes no second row.
"""

from __future__ import annotations

from collections import defaultdict

import msgspec
import structlog
from sqlalchemy import select

from core.audit import Actor, record
from core.channels import ChannelError, ChannelPlugin, Feature, NotSupported, RemoteItem, WebhookRequest
from core.db.enums import AccountStatus
from core.db.models import Account
from core.inbox.duties import act_on_arrival
from core.inbox.ingest import ingest
from core.runtime import Runtime

log = structlog.get_logger(__name__)
SYSTEM = Actor.system("webhooks")
#: bodies above this are refused (413) before any signature is computed over them
MAX_BODY_BYTES = 1024 * 1024


class WebhookOutcome(msgspec.Struct, kw_only=True):
    """What to answer the network, and what the request did (for logs and tests)."""

    status: int
    body: str = ""
    content_type: str = "text/plain"
    stored: int = 0
    duplicates: int = 0
    #: items for accounts we do not know (or no longer poll): counted, ignored
    unknown_accounts: int = 0


def _answer(status: int, body: str) -> WebhookOutcome:
    return WebhookOutcome(status=status, body=body)


def webhook_plugin(runtime: Runtime, channel: str) -> ChannelPlugin | None:
    """The channel's plugin when it takes webhooks; None makes the route a 404."""
    if channel not in runtime.channels:
        return None
    if not runtime.channels.get(channel).capabilities.supports(Feature.WEBHOOKS):
        return None
    return runtime.host.plugin(channel)


async def receive_webhook(
    runtime: Runtime, channel: str, request: WebhookRequest, *, remote_address: str = ""
) -> WebhookOutcome:
    plugin = webhook_plugin(runtime, channel)
    if plugin is None:
        return _answer(404, "no webhook here")
    if len(request.body) > MAX_BODY_BYTES:
        return _answer(413, "payload too large")
    try:
        challenge = plugin.webhook_challenge(request)
    except NotSupported:
        challenge = None
    if challenge is not None:
        return WebhookOutcome(status=challenge.status, body=challenge.body, content_type=challenge.content_type)
    if request.method.upper() != "POST":
        return _answer(405, "POST the events here")
    if not _verified(plugin, request):
        await _refused(runtime, channel, remote_address)
        return _answer(403, "signature refused")
    try:
        items = plugin.parse_webhook(request)
    except ChannelError as exc:  # signed, yet not a payload the plugin understands
        log.warning("webhook not understood", channel=channel, error=str(exc))
        return _answer(400, "payload not understood")
    outcome = await _store(runtime, channel, items)
    log.info(
        "webhook received",
        channel=channel,
        items=len(items),
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        unknown_accounts=outcome.unknown_accounts,
    )
    return outcome


def _verified(plugin: ChannelPlugin, request: WebhookRequest) -> bool:
    try:
        return plugin.verify_webhook(request) is True
    except Exception:  # a hostile header must not become a 500, nor pass
        log.exception("webhook signature check failed", channel=plugin.key)
        return False


async def _refused(runtime: Runtime, channel: str, remote_address: str) -> None:
    # Never the payload: an unsigned body is anyone's words, and may be anything.
    log.warning("webhook refused: bad or missing signature", channel=channel, remote_address=remote_address)
    async with runtime.session() as session:
        record(
            session,
            SYSTEM,
            "webhook_refused",
            "webhook",
            channel,
            after={"channel": channel, "remote_address": remote_address},
            reason="bad or missing signature",
        )


async def _store(runtime: Runtime, channel: str, items: list[RemoteItem]) -> WebhookOutcome:
    groups: dict[str, list[RemoteItem]] = defaultdict(list)
    outcome = WebhookOutcome(status=200, body="ok")
    for item in items:
        if item.account_id:
            groups[item.account_id].append(item)
        else:
            outcome.unknown_accounts += 1
    if not groups:
        return outcome
    async with runtime.session() as session:
        accounts = (
            await session.scalars(
                select(Account).where(
                    Account.channel == channel,
                    Account.external_id.in_(groups),
                    Account.status != AccountStatus.DISABLED,
                )
            )
        ).all()
        known = {account.external_id for account in accounts}
        outcome.unknown_accounts += sum(len(group) for key, group in groups.items() if key not in known)
        for account in accounts:
            result = await ingest(session, account, groups[account.external_id], via="webhook")
            await act_on_arrival(session, runtime.channels, result.new)
            outcome.stored += len(result.new)
            outcome.duplicates += result.duplicates
    return outcome
