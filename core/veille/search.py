"""Network searches and the persona's mentions as watch sources.

A ``search`` source (``plugin`` = the channel, ``target`` = the query: words or a ``#hashtag``)
is read through the channel contract's ``search`` operation with one of the persona's
connected accounts of that channel (the source's ``account_id``, else the first connected one,
then kept on the source: the account's read budget pays for it). A ``mentions`` source copies
the persona's inbox items of kind mention received since its last check onto the board (the
inbox already polls them; nothing is fetched).

The hits become ``veille_items`` through the collector's own :func:`core.veille.collect.rows_of`
and :func:`core.veille.collect.store` (sanitised, truncated, crisis keywords, dedup key = the
network's id of the post, or the inbox item's id, tombstones honoured).

Politeness towards the networks, which count every read:

- a search is checked every :data:`SEARCH_INTERVAL_S` (or the source's own interval), at most
  :data:`MAX_PAGES` pages a check; the plugin's cursor (``since_id`` and the like) is kept on the
  source (in ``etag``, the column that means "what we already have" for a feed), so a check
  reads only what is new; ``cost`` records the calls the last check made;
- an account whose API budget is low (:func:`core.usage.budget.yielding`) or that is throttled
  is left alone, the check put off: posts and replies keep what is left;
- Instagram: at most :data:`INSTAGRAM_HASHTAGS` distinct hashtags per account in a rolling 7
  days. The history is the source rows themselves (the account's Instagram searches checked
  in the last 7 days, by target): a 31st distinct hashtag is refused before any call;
- a rate limit throttles the account as publishing does; expired credentials, a refused query
  or a network error count as the source's errors (3 in a row: broken, as a feed).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import AccountRef, ChannelError, Feature, InboxKind, RateLimited, RemoteItem
from core.channels.host import NotConnected
from core.channels.registry import ChannelRegistry
from core.db.enums import AccountStatus
from core.db.models import Account, InboxItem, Persona, VeilleSource, utcnow
from core.errors import N_, Refusal
from core.publishing.outbox import flush_usage, throttle
from core.runtime import Runtime
from core.usage import budget
from core.veille import collect
from core.veille.feeds import FeedEntry, ParsedFeed

log = structlog.get_logger(__name__)

KINDS = ("search", "mentions")
#: a search's interval when the source sets none (X: 300 reads a 15-minute window per user)
SEARCH_INTERVAL_S = 15 * 60
#: mentions come from our own database: cheap, checked often
MENTIONS_INTERVAL_S = 5 * 60
#: pages a search check may read (each one a call against the account's budget)
MAX_PAGES = 3
#: Instagram's hashtag search: distinct hashtags per IG account in a rolling 7 days
INSTAGRAM_HASHTAGS = 30
HASHTAG_WINDOW = timedelta(days=7)
#: a refused or yielding check is tried again this much later
PUT_OFF_S = 15 * 60
HASHTAG_PUT_OFF_S = 6 * 3600
#: a mentions source's first check looks back this far; later ones overlap their last one by a minute
MENTIONS_LOOKBACK = timedelta(days=7)
MENTIONS_OVERLAP = timedelta(minutes=1)
MAX_MENTIONS = 500
#: a hit's title: its first line, cut at a word
TITLE_CHARS = 200


class SearchRun(msgspec.Struct, kw_only=True):
    """What one run did."""

    sources: int = 0
    #: put off without a call: budget low, account throttled, Instagram's hashtag limit
    put_off: int = 0
    errors: int = 0
    broken: int = 0
    items: int = 0
    calls: int = 0
    item_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


# ------------------------------------------------------------------ hits to entries


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


def entry_of(hit: RemoteItem) -> FeedEntry:
    """A search hit (or an inbox mention) as the collector's entry: the post's id as its GUID,
    its first line as the title, the whole text as the summary when it says more."""
    title = _title(hit.text)
    summary = hit.text.strip() if hit.text.strip() != title else ""
    author = f"@{hit.author_handle}" if hit.author_handle else hit.author_name or None
    return FeedEntry(
        guid=hit.remote_id,
        url=hit.url,
        title=title or (author or ""),
        summary=summary,
        summary_is_html=False,
        author=author,
        published_at=hit.created_at,
    )


def _mention_entry(item: InboxItem) -> FeedEntry:
    hit = RemoteItem(
        remote_id=str(item.id),  # the dedup key: the inbox item, whichever account received it
        kind=item.kind,
        text=item.text,
        author_id=item.author_remote_id,
        author_handle=item.author_handle,
        author_name=item.author_name,
        created_at=item.received_at,
        url=item.url,
    )
    return entry_of(hit)


# ------------------------------------------------------------------ the run


def due(now: datetime) -> Any:
    """The search and mentions sources to check at ``now`` (the feeds are the collector's)."""
    return (
        VeilleSource.enabled.is_(True)
        & VeilleSource.broken_at.is_(None)
        & VeilleSource.kind.in_(KINDS)
        & (VeilleSource.next_check_at.is_(None) | (VeilleSource.next_check_at <= now))
    )


class SearchRefusal(Refusal):
    """A search the persona's accounts cannot run as asked."""


async def searchable_accounts(session: AsyncSession, registry: ChannelRegistry, persona_id: uuid.UUID) -> list[Account]:
    """The persona's connected accounts on networks whose plugin offers a search."""
    accounts = (
        await session.scalars(
            select(Account)
            .where(Account.persona_id == persona_id, Account.status == AccountStatus.CONNECTED)
            .order_by(Account.channel, Account.handle)
        )
    ).all()
    return [
        a for a in accounts if a.channel in registry and registry.get(a.channel).capabilities.supports(Feature.SEARCH)
    ]


async def check_search(
    session: AsyncSession, registry: ChannelRegistry, persona_id: uuid.UUID, account_id: uuid.UUID | None, query: str
) -> Account:
    """The account a new search runs with (the persona's own, on a network that searches), and
    the query it takes (Instagram searches one hashtag): refused here rather than at the first check."""
    accounts = {a.id: a for a in await searchable_accounts(session, registry, persona_id)}
    account = accounts.get(account_id) if account_id is not None else None
    if account is None:
        raise SearchRefusal(
            N_("choose one of the persona's connected accounts on a network that offers a search"),
            field="accountId",
            code="search_account",
        )
    words = query.split()
    if account.channel == "instagram" and (len(words) != 1 or not words[0].startswith("#") or len(words[0]) < 2):
        raise SearchRefusal(
            N_("Instagram searches one hashtag at a time, such as #occitanie"), field="target", code="hashtag_only"
        )
    return account


async def collect_watch_searches(ctx: dict[str, Any]) -> int:
    """The arq cron (every minute): due searches and mentions, then the crisis checks on what came."""
    from core.veille import crisis  # the crisis side reads the board; imported when the cron runs

    run = await collect_searches(ctx["runtime"])
    await crisis.assess_collected(ctx["runtime"], run.item_ids)
    return run.items


async def collect_searches(runtime: Runtime, *, now: datetime | None = None, limit: int = 200) -> SearchRun:
    """Check every due search and mentions source, one after the other (the networks' budgets
    are per account, and a search is a few calls)."""
    now = now or utcnow()
    run = SearchRun()
    async with runtime.sessions() as session:
        query = select(VeilleSource).where(due(now)).order_by(VeilleSource.next_check_at.is_not(None))
        picked = list((await session.scalars(query.order_by(VeilleSource.next_check_at).limit(limit))).all())
        session.expunge_all()
    sources = await collect._claim(runtime, picked, now)
    run.sources = len(sources)
    for source in sources:
        try:
            if source.kind == "mentions":
                await _mentions(runtime, source.id, run, now)
            else:
                await _search(runtime, source.id, run, now)
        except Exception:  # one source's bug must not starve the others
            run.errors += 1
            log.exception("veille.search_failed", source=str(source.id))
    if run.sources:
        log.info("veille.search", **{k: v for k, v in msgspec.structs.asdict(run).items() if k != "item_ids"})
    return run


def _interval(source: VeilleSource, default: int) -> float:
    return float(source.interval_s or default)


async def _patterns(session: AsyncSession, persona_id: uuid.UUID) -> list[Any]:
    definition = await session.scalar(select(Persona.definition).where(Persona.id == persona_id))
    return collect.keyword_patterns(((definition or {}).get("veille") or {}).get("keywords") or [])


async def _stored(
    session: AsyncSession, source: VeilleSource, entries: list[FeedEntry], run: SearchRun, now: datetime
) -> None:
    rows = collect.rows_of(source, ParsedFeed(entries=tuple(entries)), await _patterns(session, source.persona_id), now)
    created = await collect.store(session, source, rows)
    run.items += len(created)
    run.item_ids.extend(created)


def _succeeded(source: VeilleSource, delay_s: float, now: datetime) -> None:
    source.last_checked_at = source.last_success_at = now
    source.consecutive_errors, source.last_error = 0, None
    source.next_check_at = collect.next_check(delay_s, now)


def _put_off(source: VeilleSource, reason: str, delay_s: float, now: datetime, run: SearchRun) -> None:
    """Not checked this time, and not the source's fault: no error counted."""
    run.put_off += 1
    source.last_error = reason
    source.next_check_at = collect.next_check(delay_s, now)


# ------------------------------------------------------------------ mentions


async def _mentions(runtime: Runtime, source_id: uuid.UUID, run: SearchRun, now: datetime) -> None:
    async with runtime.session() as session:
        source = await session.get(VeilleSource, source_id)
        if source is None or not source.enabled:
            return
        since = source.last_success_at - MENTIONS_OVERLAP if source.last_success_at else now - MENTIONS_LOOKBACK
        mentions = (
            await session.scalars(
                select(InboxItem)
                .where(
                    InboxItem.persona_id == source.persona_id,
                    InboxItem.kind == InboxKind.MENTION,
                    InboxItem.received_at >= since,
                )
                .order_by(InboxItem.received_at)
                .limit(MAX_MENTIONS)
            )
        ).all()
        await _stored(session, source, [_mention_entry(m) for m in mentions], run, now)
        _succeeded(source, _interval(source, MENTIONS_INTERVAL_S), now)
        if len(mentions) == MAX_MENTIONS:  # more are waiting: from the last one copied, next minute
            source.last_success_at = mentions[-1].received_at + MENTIONS_OVERLAP
            source.next_check_at = now


# ------------------------------------------------------------------ searches


class _Ready(msgspec.Struct, kw_only=True):
    channel: str
    query: str
    account_id: uuid.UUID
    ref: AccountRef
    cursor: str | None


async def _account(session: AsyncSession, source: VeilleSource) -> Account | None:
    """The source's account, else the persona's first connected account of that channel (kept)."""
    if source.account_id is not None:
        account = await session.get(Account, source.account_id)
        return account if account is not None and account.persona_id == source.persona_id else None
    account = await session.scalar(
        select(Account)
        .where(
            Account.persona_id == source.persona_id,
            Account.channel == source.plugin,
            Account.status == AccountStatus.CONNECTED,
            Account.credentials_encrypted.is_not(None),
        )
        .order_by(Account.created_at, Account.id)
        .limit(1)
    )
    if account is not None:
        source.account_id = account.id
    return account


async def hashtags_in_use(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, *, besides: uuid.UUID | None = None
) -> set[str]:
    """The distinct hashtags this Instagram account searched in the last 7 days (by the source
    rows: their target, checked in the window), ``besides`` one source left out."""
    query = select(func.lower(VeilleSource.target)).where(
        VeilleSource.kind == "search",
        VeilleSource.plugin == "instagram",
        VeilleSource.account_id == account_id,
        VeilleSource.last_checked_at >= now - HASHTAG_WINDOW,
    )
    if besides is not None:
        query = query.where(VeilleSource.id != besides)
    return {target.lstrip("#") for target in (await session.scalars(query)).all()}


async def _ready(runtime: Runtime, source: VeilleSource, session: AsyncSession, run: SearchRun, now: datetime) -> Any:
    """What the call needs, or a reason (str) to fail, or None when it was put off."""
    if source.plugin not in runtime.channels:
        return f"no channel plugin called {source.plugin!r} is installed"
    if not runtime.channels.get(source.plugin).capabilities.supports(Feature.SEARCH):
        return f"{source.plugin} offers no search"
    account = await _account(session, source)
    if account is None or account.status != AccountStatus.CONNECTED or account.credentials_encrypted is None:
        return f"no connected {source.plugin} account of this persona to search with"
    if account.throttled_until is not None and account.throttled_until > now:
        wait = (account.throttled_until - now).total_seconds()
        _put_off(source, "the account is rate limited", max(wait, 60.0), now, run)
        return None
    if account.id in await budget.yielding(session, [account.id], now=now):
        _put_off(source, "the account's API budget is low", PUT_OFF_S, now, run)
        return None
    if source.plugin == "instagram":
        used = await hashtags_in_use(session, account.id, now, besides=source.id)
        if source.target.lower().lstrip("#") not in used and len(used) >= INSTAGRAM_HASHTAGS:
            reason = f"Instagram allows {INSTAGRAM_HASHTAGS} distinct hashtags per account in 7 days"
            _put_off(source, reason, HASHTAG_PUT_OFF_S, now, run)
            return None
    try:
        ref = runtime.host.account_ref(account)
    except (NotConnected, ValueError) as exc:
        return str(exc)
    return _Ready(channel=source.plugin, query=source.target, account_id=account.id, ref=ref, cursor=source.etag)


async def _search(runtime: Runtime, source_id: uuid.UUID, run: SearchRun, now: datetime) -> None:
    async with runtime.session() as session:
        source = await session.get(VeilleSource, source_id)
        if source is None or not source.enabled:
            return
        ready = await _ready(runtime, source, session, run, now)
        if isinstance(ready, str):
            await _error(session, runtime, source, ready, run, now)
        if not isinstance(ready, _Ready):
            return
    # the network is called outside any transaction (SQLite's single writer waits for nobody)
    hits, cursor, calls, failure = await _pages(runtime, ready)
    run.calls += calls
    await _flush_usage_quietly(runtime)
    async with runtime.session() as session:
        source = await session.get(VeilleSource, source_id)
        if source is None or not source.enabled:
            return
        source.cost = max(calls, 1)
        if isinstance(failure, RateLimited):
            until = now + timedelta(seconds=max(failure.retry_after, 1.0))
            await throttle(session, ready.account_id, until)
            _put_off(source, failure.network_message, max(failure.retry_after, 60.0), now, run)
        elif failure is not None:
            await _error(session, runtime, source, f"{type(failure).__name__}: {failure.network_message}", run, now)
        if hits:  # what came before a failure is kept
            await _stored(session, source, [entry_of(h) for h in hits], run, now)
        if failure is None:
            source.etag = cursor
            _succeeded(source, _interval(source, SEARCH_INTERVAL_S), now)


async def _pages(runtime: Runtime, ready: _Ready) -> tuple[list[RemoteItem], str | None, int, ChannelError | None]:
    """Up to :data:`MAX_PAGES` pages from the cursor kept: the hits, the cursor to keep, the
    calls made, and the error that stopped them (if one did)."""
    plugin = runtime.host.plugin(ready.channel)
    hits: list[RemoteItem] = []
    cursor, calls = ready.cursor, 0
    for _ in range(MAX_PAGES):
        try:
            calls += 1
            page = await plugin.search(ready.ref, ready.query, cursor)
        except ChannelError as exc:
            return hits, cursor, calls, exc
        hits.extend(page.items)
        caught_up = page.next_cursor is None or page.next_cursor == cursor
        cursor = page.next_cursor
        if caught_up:
            break
    return hits, cursor, calls, None


async def _error(
    session: AsyncSession, runtime: Runtime, source: VeilleSource, error: str, run: SearchRun, now: datetime
) -> None:
    run.errors += 1
    source.last_checked_at = now
    if await collect._fail(session, runtime, source, error, _interval(source, SEARCH_INTERVAL_S), now):
        run.broken += 1
        log.warning("veille.source_broken", source=str(source.id), error=source.last_error)


async def _flush_usage_quietly(runtime: Runtime) -> None:
    # the rate-limit headers of the calls become the account's budget; bookkeeping never undoes a run
    try:
        await flush_usage(runtime)
    except Exception:
        log.exception("usage reports not stored")
