"""RSS 2.0, RSS 1.0 and Atom, read with feedparser (bytes fetched by the host's httpx).

feedparser resolves an RSS ``<guid>`` against the feed's address as if it were a permalink
(``<guid>g1</guid>`` becomes ``https://ex.fr/g1``), so the raw ids are read from the document
itself, item by item, and handed over as they were written: the host's dedup key is theirs.
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from core.veille.feeds import FeedEntry, FeedError, FeedPlugin, ParsedFeed

# the start of an item (RSS) or entry (Atom), any namespace prefix
_ITEM = re.compile(rb"<(?:[\w-]+:)?(?:item|entry)[\s>/]", re.IGNORECASE)
# the first <guid> or <id> of an item, its text as written (CDATA or escaped)
_RAW_ID = re.compile(
    rb"<(?:[\w-]+:)?(?:guid|id)(?:\s[^>]*)?>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*?))\s*</(?:[\w-]+:)?(?:guid|id)\s*>",
    re.IGNORECASE | re.DOTALL,
)


# an href or src (escaped inside the XML, or in CDATA) that is not absolute
_RELATIVE = re.compile(
    rb"""(?:href|src)\s*=\s*(?:&quot;|&#34;|&#x22;|&apos;|&#39;|"|')(?!\s*(?:[a-z][a-z0-9+.-]*:|//|#))""",
    re.IGNORECASE,
)
_BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def raw_ids(body: bytes) -> list[str | None]:
    """Each item's id exactly as written, in document order (None where an item has none)."""
    starts = [m.start() for m in _ITEM.finditer(body)]
    ids: list[str | None] = []
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        match = _RAW_ID.search(body, start, end)
        if match is None:
            ids.append(None)
            continue
        cdata, text = match.group(1), match.group(2)
        raw = cdata.decode("utf-8", "replace") if cdata is not None else html.unescape(text.decode("utf-8", "replace"))
        ids.append(raw.strip() or None)
    return ids


def published(entry: Mapping[str, Any]) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def summary_of(entry: Mapping[str, Any]) -> tuple[str, bool]:
    """The fullest text of an entry (content, else summary) and whether it is HTML."""
    for detail in (*(entry.get("content") or ()), entry.get("summary_detail")):
        if detail and detail.get("value"):
            return detail["value"], detail.get("type", "text/html") != "text/plain"
    return "", False


def ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    """RSS ``<ttl>`` (minutes), if it is a number."""
    try:
        minutes = int(str(feed.get("ttl", "")).strip())
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def parse_document(body: bytes, url: str, headers: Mapping[str, str]) -> Any:
    """feedparser's reading of ``body``; a document it could not read at all is a FeedError."""
    response_headers = {"content-location": url, **{k.lower(): v for k, v in headers.items()}}
    # the host sanitises with nh3 (feedparser's own sanitiser would be a second, slower pass), and
    # relative links are resolved only when the document has some (half of feedparser's time)
    parsed = feedparser.parse(
        body,
        response_headers=response_headers,
        sanitize_html=False,
        resolve_relative_uris=_RELATIVE.search(body) is not None,
    )
    # as reader does: a document that is not well-formed is an error (its loosely parsed entries
    # are guesses), a wrong charset or content type declared is not
    problem = parsed.get("bozo_exception") if parsed.bozo else None
    if problem is not None and not isinstance(problem, _BENIGN):
        raise FeedError(f"not a well-formed feed: {problem}"[:300])
    if not parsed.version and not parsed.entries:
        raise FeedError("not an RSS or Atom document")
    return parsed


class RssFeed(FeedPlugin):
    key = "rss"
    name = "RSS / Atom"
    accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"

    def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        parsed = parse_document(body, url, headers)
        ids = raw_ids(body)
        # the raw ids line up with feedparser's entries when both saw the same items
        aligned = len(ids) == len(parsed.entries)
        entries = []
        for index, entry in enumerate(parsed.entries):
            guid = ids[index] if aligned else (None if entry.get("guidislink") else entry.get("id"))
            summary, is_html = summary_of(entry)
            entries.append(
                FeedEntry(
                    guid=guid,
                    url=entry.get("link") or None,
                    title=entry.get("title", ""),
                    summary=summary,
                    summary_is_html=is_html,
                    author=entry.get("author") or None,
                    published_at=published(entry),
                )
            )
        return ParsedFeed(entries=tuple(entries), ttl_s=ttl_seconds(parsed.feed))
