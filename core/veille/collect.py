"""The collector: every minute, the due feeds fetched politely and their new entries stored once.

Politeness (the rules distilled from Miniflux, FreshRSS and reader, docs/veille.md):

- a conditional GET: ``If-None-Match`` and ``If-Modified-Since`` from the last answer, both kept
  (a 304 keeps the Last-Modified even when only the ETag came back); a 200 whose ETag or
  Last-Modified is the one we sent is read as "not modified" too (servers that ignore the headers);
- the next check: ``max(base, RSS <ttl>, Cache-Control max-age unless no-cache/no-store, Expires,
  Retry-After on 429/503)`` clamped to [5 min, 24 h], plus up to 10 % jitter so that sources
  added together do not stay in step; a crisis feed (or a source with its own interval) keeps its
  fixed short interval, a Retry-After still honoured;
- 20 s timeout, a body cap (streamed: a larger body is never read whole), at most
  :data:`PER_HOST` requests at a time to one host, a User-Agent naming this instance;
- 3 consecutive errors and the source is broken: no longer polled until someone repairs it
  (core.veille.sources.repair_source); a broken crisis feed is itself an alert (``source_broken``).

Safety: titles are always text, HTML is sanitised with nh3 (its text version is nh3 with no tag
at all, unescaped), every field is truncated, and one source's failure (malformed XML, a timeout,
a plugin's bug) is recorded on that source only: the job never stops for it.

Deduplication, per source: SHA-256 of the raw GUID (a second entry with the same GUID in one
document: GUID + URL, then GUID + its index), else of the URL, else of title + content; keys in
``veille_tombstones`` (dismissed items) are skipped; ``INSERT … ON CONFLICT DO NOTHING`` keeps two
workers from storing one entry twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import random
import re
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import nh3
import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona, VeilleItem, VeilleSource, VeilleTombstone, utcnow
from core.runtime import Runtime
from core.settings import Settings
from core.usage.alerts import Condition, open_alert
from core.usage.series import local_day
from core.veille.feeds import FeedEntry, FeedPlugin, FeedRegistry, ParsedFeed, feed_registry
from core.veille.sources import MAX_INTERVAL_S, MIN_INTERVAL_S, due
from personas.policy.text import fold

log = structlog.get_logger(__name__)

TIMEOUT_S = 20.0
#: the body cap (Miniflux: 15 MiB; an official alert feed or a press feed is far below 5 MiB)
MAX_BODY = 5 * 1024 * 1024
#: requests at a time to one host, and in all
PER_HOST = 2
#: redirects a fetch follows (each hop's address checked)
MAX_REDIRECTS = 5
CONCURRENCY = 32
#: sources picked per run (the cron runs every minute)
BATCH = 1000
#: a feed's base interval when it gives no hint (FreshRSS's default TTL, reader's interval)
BASE_INTERVAL_S = 3600
#: a crisis feed's fixed interval (Vigicrues, MeteoAlarm: 5–15 min, a design choice)
CRISIS_INTERVAL_S = 10 * 60
ERRORS_TO_BREAK = 3
JITTER = 0.1
#: what one document may bring, and what one entry may hold
MAX_ENTRIES = 500
MAX_TITLE = 1000
MAX_HTML = 100_000
MAX_TEXT = 20_000
MAX_URL = 2000
MAX_AUTHOR = 300
MAX_AREA = 200
MAX_GUID = 2000
MAX_ERROR = 500

_BLOCK_END = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


class CollectRun(msgspec.Struct, kw_only=True):
    """What one run did."""

    sources: int = 0
    not_modified: int = 0
    errors: int = 0
    broken: int = 0
    items: int = 0
    #: the items stored, for whoever reads them next (the crisis checks)
    item_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class Fetched(msgspec.Struct, kw_only=True):
    """One answer, or why there is none."""

    status: int = 0
    body: bytes = b""
    headers: dict[str, str] = {}
    error: str | None = None


class FetchError(Exception):
    pass


# ------------------------------------------------------------------ the next check


def _seconds_until(value: str, now: datetime) -> float | None:
    """An HTTP date's distance from ``now`` in seconds, or None if it is not a date."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()


def _max_age(cache_control: str) -> float | None:
    directives = {d.strip().split("=", 1)[0].lower(): d.strip() for d in cache_control.split(",") if d.strip()}
    if "no-cache" in directives or "no-store" in directives:
        return None
    directive = directives.get("max-age")
    if directive is None or "=" not in directive:
        return None
    try:
        return float(directive.split("=", 1)[1].strip().strip('"'))
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now`` (it may be a number of seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return _seconds_until(value, now)


def hinted_delay(
    *,
    status: int,
    headers: Mapping[str, str],
    now: datetime,
    ttl_s: int | None = None,
    base_s: int = BASE_INTERVAL_S,
    fixed_s: int | None = None,
) -> float:
    """Seconds to the next check, before jitter: the largest of the source's hints, clamped to
    [5 min, 24 h]. ``fixed_s`` (a crisis feed, a source's own interval) replaces the base and the
    caching hints; only Retry-After (on 429 and 503) may push it later."""
    headers = {k.lower(): v for k, v in headers.items()}
    hints: list[float] = [float(fixed_s if fixed_s is not None else base_s)]
    if fixed_s is None:
        if ttl_s:
            hints.append(float(ttl_s))
        cache_control = headers.get("cache-control")
        max_age = _max_age(cache_control) if cache_control else None
        if max_age is not None:
            hints.append(max_age)
        elif headers.get("expires") and not (cache_control and "no-cache" in cache_control.lower()):
            expires = _seconds_until(headers["expires"], now)
            if expires is not None:
                hints.append(expires)
    if status in (429, 503):
        wait = retry_after(headers, now)
        if wait is not None:
            hints.append(wait)
    return min(float(MAX_INTERVAL_S), max(float(MIN_INTERVAL_S), max(hints)))


def next_check(delay_s: float, now: datetime, rng: random.Random | None = None) -> datetime:
    """``now`` + ``delay_s`` + up to 10 % jitter, never past 24 h."""
    jitter = (rng or random).uniform(0, JITTER * delay_s)
    return now + timedelta(seconds=min(float(MAX_INTERVAL_S), delay_s + jitter))


def _fixed_interval(source: VeilleSource) -> int | None:
    if source.interval_s is not None:
        return source.interval_s
    return CRISIS_INTERVAL_S if source.crisis else None


# ------------------------------------------------------------------ fetching


def user_agent(settings: Settings) -> str:
    """Who is asking, and where to reach them (the instance's public address)."""
    contact = settings.public_url.rstrip("/") if settings.public_url else "no public URL configured"
    return f"Porte-voix/1 (veille; +{contact})"


class Fetcher:
    """One HTTP client for the run, with a limit per host and in all."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
        max_body: int = MAX_BODY,
    ) -> None:
        self.timeout_s, self.max_body = timeout_s, max_body
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # followed by hand: each hop's address is checked
            headers={"User-Agent": user_agent(settings)},
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
        )
        self._owns = client is None
        #: feeds on private, loopback or link-local addresses (an intranet, the demo's simulated
        #: feeds): refused unless the instance allows them, so an admin-entered URL cannot reach
        #: the instance's own database, Redis or a cloud metadata service
        self.private_allowed = settings.veille_private_hosts or settings.simulated_networks
        self._all = asyncio.Semaphore(CONCURRENCY)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def aclose(self) -> None:
        if self._owns:
            await self._client.aclose()

    def _host(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        return self._hosts.setdefault(host, asyncio.Semaphore(PER_HOST))

    async def get(self, url: str, *, etag: str | None, last_modified: str | None, accept: str) -> Fetched:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._host(url), self._all:
            try:
                # the whole exchange within the timeout: a server trickling bytes is cut off too
                async with asyncio.timeout(self.timeout_s):
                    return await self._get(url, headers)
            except (TimeoutError, httpx.TimeoutException):
                return Fetched(error=f"no answer within {self.timeout_s:g} s")
            except FetchError as exc:
                return Fetched(error=str(exc))
            except httpx.HTTPError as exc:
                return Fetched(error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])

    async def _public(self, url: str) -> None:
        """Refuse a URL (the source's, or a redirect's) whose host is not a public address."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) address: {url[:200]}")
        if self.private_allowed:
            return
        host = parts.hostname
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                found = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
            except OSError:
                raise FetchError(f"{host} does not resolve") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        for address in addresses:
            if not address.is_global:
                raise FetchError(f"{host} is a private address ({address}): PORTEVOIX_VEILLE_PRIVATE_HOSTS allows it")

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched:
        # redirects followed here, one hop at a time, so that each hop's address is checked
        for _ in range(MAX_REDIRECTS + 1):
            await self._public(url)
            async with self._client.stream("GET", url, headers=headers, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                return await self._read(response)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response) -> Fetched:
        answer = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code != 200:
            return Fetched(status=response.status_code, headers=answer)
        declared = answer.get("content-length", "")
        too_big = f"the body is larger than {self.max_body:,} bytes"
        if declared.isdigit() and int(declared) > self.max_body:
            raise FetchError(too_big)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body:
                raise FetchError(too_big)
            chunks.append(chunk)
        return Fetched(status=200, body=b"".join(chunks), headers=answer)


# ------------------------------------------------------------------ entries to rows


def text_of(markup: str) -> str:
    """Text from HTML: no tag at all (nh3 drops scripts and styles with their content), entities
    unescaped, block ends as line breaks, runs of spaces and blank lines folded."""
    cleaned = html.unescape(nh3.clean(_BLOCK_END.sub("\n", markup), tags=set()))
    lines = _LINES.sub("\n\n", _SPACES.sub(" ", cleaned).replace(" \n", "\n").replace("\n ", "\n"))
    return lines.strip()


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def sha256(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def dedup_keys(entries: Sequence[FeedEntry], titles: Sequence[str], texts: Sequence[str]) -> list[str]:
    """Each entry's key (see the module's docstring); in-document GUID collisions degrade."""
    keys: list[str] = []
    seen: set[str] = set()
    for index, (entry, title, text) in enumerate(zip(entries, titles, texts, strict=True)):
        guid = (entry.guid or "").strip()[:MAX_GUID]
        url = (entry.url or "").strip()[:MAX_URL]
        if guid:
            key = sha256("guid", guid)
            if key in seen:
                key = sha256("guid+url", guid, url)
            if key in seen:
                key = sha256("guid+index", guid, str(index))
        elif url:
            key = sha256("url", url)
        else:
            key = sha256("content", title, text)
        if key in seen:  # the same URL or text twice in one document: one item
            keys.append("")
            continue
        seen.add(key)
        keys.append(key)
    return keys


def keyword_patterns(keywords: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    """A persona's crisis keywords as (keyword, pattern on folded text): whole words, plural allowed."""
    patterns = []
    for keyword in keywords:
        folded = fold(keyword.strip())
        if folded:
            patterns.append((keyword, re.compile(r"(?<!\w)" + re.escape(folded) + r"(?:s|x)?(?!\w)")))
    return patterns


def matched(patterns: Sequence[tuple[str, re.Pattern[str]]], *texts: str) -> list[str]:
    folded = fold("\n".join(texts))
    return [keyword for keyword, pattern in patterns if pattern.search(folded)]


def rows_of(
    source: VeilleSource,
    parsed: ParsedFeed,
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    now: datetime,
) -> list[dict[str, Any]]:
    """The entries of one document as ``veille_items`` rows (one per dedup key)."""
    entries = parsed.entries[:MAX_ENTRIES]
    titles = [text_of(e.title)[:MAX_TITLE] for e in entries]
    htmls = [nh3.clean(e.summary[:MAX_HTML]) if e.summary_is_html and e.summary else None for e in entries]
    texts = [
        (text_of(h) if h is not None else " ".join(e.summary.split()))[:MAX_TEXT]
        for e, h in zip(entries, htmls, strict=True)
    ]
    rows = []
    for entry, key, title, summary_html, text in zip(
        entries, dedup_keys(entries, titles, texts), titles, htmls, texts, strict=True
    ):
        if not key:
            continue
        url = _safe_url(entry.url)
        rows.append(
            {
                "id": uuid.uuid4(),
                "source_id": source.id,
                "persona_id": source.persona_id,
                "dedup_key": key,
                "guid": _cut(entry.guid, MAX_GUID),
                "url": url,
                "title": title,
                "summary_html": summary_html[:MAX_HTML] if summary_html else None,
                "summary_text": text,
                "author": _cut(text_of(entry.author) if entry.author else None, MAX_AUTHOR),
                "published_at": entry.published_at,
                "captured_at": now,
                "content_hash": sha256(title, text, url or ""),
                "keywords": matched(patterns, title, text),
                "severity": entry.severity.value if entry.severity else None,
                "area": _cut(entry.area, MAX_AREA),
                "status": "new",
                "demo": False,
            }
        )
    return rows


def _safe_url(url: str | None) -> str | None:
    """An entry's link, if it is http(s): a ``javascript:`` link never reaches the board."""
    url = (url or "").strip()
    return url[:MAX_URL] if url.lower().startswith(("http://", "https://")) else None


async def store(session: AsyncSession, source: VeilleSource, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert the rows whose key is neither stored nor tombstoned; the ids of the new ones."""
    if not rows:
        return []
    keys = [row["dedup_key"] for row in rows]
    buried: set[str] = set()
    for start in range(0, len(keys), 500):
        buried.update(
            (
                await session.scalars(
                    select(VeilleTombstone.dedup_key).where(
                        VeilleTombstone.source_id == source.id, VeilleTombstone.dedup_key.in_(keys[start : start + 500])
                    )
                )
            ).all()
        )
    rows = [row for row in rows if row["dedup_key"] not in buried]
    if not rows:
        return []
    table = VeilleItem.__table__
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["source_id", "dedup_key"]).returning(table.c.id)
    return list((await session.execute(statement, rows)).scalars().all())


# ------------------------------------------------------------------ one source


def _validators(source: VeilleSource, headers: Mapping[str, str], *, not_modified: bool) -> None:
    # a 304 may send only one of them: the other one stays (Miniflux keeps Last-Modified)
    etag, modified = headers.get("etag"), headers.get("last-modified")
    if not_modified:
        source.etag = etag or source.etag
        source.last_modified = modified or source.last_modified
    else:
        source.etag, source.last_modified = etag, modified


def _unchanged(source: VeilleSource, headers: Mapping[str, str]) -> bool:
    """A 200 with the validators we sent: the server ignored the conditional GET."""
    etag, modified = headers.get("etag"), headers.get("last-modified")
    return bool((etag and etag == source.etag) or (not etag and modified and modified == source.last_modified))


async def _fail(
    session: AsyncSession, runtime: Runtime, source: VeilleSource, error: str, delay_s: float, now: datetime
) -> bool:
    """One more error on ``source``; True when it broke now."""
    source.consecutive_errors += 1
    source.last_error = error[:MAX_ERROR]
    source.next_check_at = next_check(delay_s, now)
    if source.consecutive_errors < ERRORS_TO_BREAK:
        return False
    source.broken_at = now
    if source.crisis:
        await _alert_broken(session, runtime, source, now)
    return True


async def _alert_broken(session: AsyncSession, runtime: Runtime, source: VeilleSource, now: datetime) -> None:
    persona = await session.get(Persona, source.persona_id)
    if persona is None:
        return
    condition = Condition(
        kind="source_broken",
        subject=str(source.id),
        detail={"source": source.label, "url": source.target, "error": source.last_error or ""},
    )
    await open_alert(
        session,
        persona,
        condition,
        day=local_day(now, persona.timezone).isoformat(),
        now=now,
        settings=runtime.settings,
    )


class Outcome(msgspec.Struct, kw_only=True):
    """What a fetched answer means for its source: read (rows), not modified, or an error."""

    error: str | None = None
    not_modified: bool = False
    rows: list[dict[str, Any]] = []
    ttl_s: int | None = None


def read(
    source: VeilleSource,
    fetched: Fetched,
    plugin: FeedPlugin | None,
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    now: datetime,
) -> Outcome:
    """The CPU part, off the event loop and outside any transaction (SQLite's writer waits for no parser)."""
    if plugin is None:
        return Outcome(error=f"no feed reader called {source.plugin!r} is installed")
    if fetched.error is not None:
        return Outcome(error=fetched.error)
    if fetched.status == 304 or (fetched.status == 200 and _unchanged(source, fetched.headers)):
        return Outcome(not_modified=True)
    if fetched.status != 200:
        return Outcome(error=f"HTTP {fetched.status}")
    try:
        parsed = plugin.parse(fetched.body, source.target, fetched.headers)
        return Outcome(rows=rows_of(source, parsed, patterns, now), ttl_s=parsed.ttl_s)
    except Exception as exc:  # a malformed document or a plugin's bug: this source's error only
        return Outcome(error=f"{type(exc).__name__}: {exc}")


async def _record(
    runtime: Runtime, source_id: uuid.UUID, fetched: Fetched, outcome: Outcome, run: CollectRun, now: datetime
) -> None:
    """What one fetch brought, in the source's own transaction."""
    async with runtime.session() as session:
        source = await session.get(VeilleSource, source_id)
        if source is None or not source.enabled or source.broken_at is not None:
            return
        source.last_checked_at = now
        fixed = _fixed_interval(source)
        delay = hinted_delay(
            status=fetched.status, headers=fetched.headers, now=now, ttl_s=outcome.ttl_s, fixed_s=fixed
        )
        if outcome.error is not None:
            run.errors += 1
            if await _fail(session, runtime, source, outcome.error, delay, now):
                run.broken += 1
                log.warning("veille.source_broken", source=str(source.id), error=source.last_error)
            return
        if outcome.not_modified:
            run.not_modified += 1
        else:
            created = await store(session, source, outcome.rows)
            run.items += len(created)
            run.item_ids.extend(created)
        _validators(source, fetched.headers, not_modified=outcome.not_modified)
        source.consecutive_errors, source.last_error, source.last_success_at = 0, None, now
        source.next_check_at = next_check(delay, now)


async def _collect_one(
    runtime: Runtime,
    fetcher: Fetcher,
    registry: FeedRegistry,
    source: VeilleSource,
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    run: CollectRun,
    now: datetime,
) -> None:
    plugin = registry.get(source.plugin)
    try:
        if plugin is None:
            fetched = Fetched(error="unknown plugin")
        else:
            fetched = await fetcher.get(
                source.target, etag=source.etag, last_modified=source.last_modified, accept=plugin.accept
            )
        outcome = await asyncio.to_thread(read, source, fetched, plugin, patterns, now)
        await _record(runtime, source.id, fetched, outcome, run, now)
    except Exception:  # bookkeeping failed (the database?): the other sources go on
        run.errors += 1
        log.exception("veille.collect_failed", source=str(source.id))


# ------------------------------------------------------------------ the run


async def _due_sources(runtime: Runtime, now: datetime, limit: int) -> list[VeilleSource]:
    async with runtime.sessions() as session:
        query = (
            select(VeilleSource)
            .where(due(now))
            .order_by(VeilleSource.next_check_at.is_not(None), VeilleSource.next_check_at, VeilleSource.id)
            .limit(limit)
        )
        sources = list((await session.scalars(query)).all())
        session.expunge_all()
    return sources


async def _claim(runtime: Runtime, sources: list[VeilleSource], now: datetime) -> list[VeilleSource]:
    """Push the picked sources' next check a little later (compare-and-set on their next check):
    a second worker's run in the same minute does not fetch them again."""
    claimed = []
    async with runtime.session() as session:
        for source in sources:
            result = await session.execute(
                update(VeilleSource)
                .where(
                    VeilleSource.id == source.id, VeilleSource.next_check_at.is_not_distinct_from(source.next_check_at)
                )
                .values(next_check_at=now + timedelta(seconds=TIMEOUT_S * 3))
            )
            if result.rowcount:
                claimed.append(source)
    return claimed


async def _keywords(
    runtime: Runtime, persona_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, re.Pattern[str]]]]:
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Persona.id, Persona.definition).where(Persona.id.in_(persona_ids)))).all()
    return {
        persona_id: keyword_patterns(((definition or {}).get("veille") or {}).get("keywords") or [])
        for persona_id, definition in rows
    }


async def collect_due(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
    registry: FeedRegistry | None = None,
    limit: int = BATCH,
    timeout_s: float = TIMEOUT_S,
    max_body: int = MAX_BODY,
) -> CollectRun:
    """Fetch every due source (enabled, not broken, its next check passed) and store what is new."""
    now = now or utcnow()
    run = CollectRun()
    sources = await _claim(runtime, await _due_sources(runtime, now, limit), now)
    if not sources:
        return run
    run.sources = len(sources)
    patterns = await _keywords(runtime, {s.persona_id for s in sources})
    fetcher = Fetcher(runtime.settings, client, timeout_s=timeout_s, max_body=max_body)
    registry = registry or feed_registry()
    try:
        await asyncio.gather(
            *(_collect_one(runtime, fetcher, registry, s, patterns.get(s.persona_id, []), run, now) for s in sources)
        )
    finally:
        await fetcher.aclose()
    log.info(
        "veille.collect",
        sources=run.sources,
        items=run.items,
        not_modified=run.not_modified,
        errors=run.errors,
        broken=run.broken,
    )
    return run
