"""MeteoAlarm's Atom feeds of CAP warnings (``feeds.meteoalarm.org/feeds/meteoalarm-legacy-atom-france``).

Each Atom entry is one warning with CAP fields beside the Atom ones: ``cap:event``,
``cap:severity``, ``cap:areaDesc``, ``cap:geocode`` (the EMMA id), ``cap:onset``, ``cap:expires``
and, in full CAP documents, the ``awareness_level`` parameter ("3; orange; Severe"). The level is
read from ``awareness_level`` when there is one, else from the colour the event names ("Orange
Thunderstorm Warning"), else from CAP severity (Minor green, Moderate yellow, Severe orange,
Extreme red: MeteoAlarm's own correspondence). Attribution CC BY 4.0: "EUMETNET – MeteoAlarm".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.veille.feeds import FeedEntry, FeedPlugin, ParsedFeed, Severity
from plugins.feeds.rss import parse_document, published, raw_ids, summary_of

BY_CAP_SEVERITY = {
    "minor": Severity.GREEN,
    "moderate": Severity.YELLOW,
    "severe": Severity.ORANGE,
    "extreme": Severity.RED,
}
_COLOUR = re.compile(r"\b(green|yellow|orange|red)\b", re.IGNORECASE)


def severity_of(entry: Mapping[str, Any]) -> Severity | None:
    """The awareness level of one CAP entry (see the module's docstring for the order)."""
    for text in (_awareness(entry), entry.get("cap_event", ""), entry.get("title", "")):
        match = _COLOUR.search(text or "")
        if match:
            return Severity(match.group(1).lower())
    return BY_CAP_SEVERITY.get(str(entry.get("cap_severity", "")).strip().lower())


def _awareness(entry: Mapping[str, Any]) -> str:
    # feedparser flattens <cap:parameter><valueName/><value/></cap:parameter> to its last texts
    name = str(entry.get("valuename", "")).strip().lower()
    return str(entry.get("value", "")) if name == "awareness_level" else ""


class MeteoAlarmFeed(FeedPlugin):
    key = "meteoalarm"
    name = "MeteoAlarm (CAP)"
    crisis = True
    accept = "application/atom+xml, application/xml;q=0.9"

    def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        parsed = parse_document(body, url, headers)
        ids = raw_ids(body)
        aligned = len(ids) == len(parsed.entries)
        entries = []
        for index, entry in enumerate(parsed.entries):
            summary, is_html = summary_of(entry)
            area = str(entry.get("cap_areadesc", "")).strip() or None
            entries.append(
                FeedEntry(
                    guid=ids[index] if aligned else entry.get("id"),
                    url=entry.get("link") or None,
                    title=entry.get("title") or entry.get("cap_event", ""),
                    summary=summary or entry.get("cap_headline", ""),
                    summary_is_html=is_html,
                    author=entry.get("author") or "MeteoAlarm",
                    published_at=published(entry),
                    severity=severity_of(entry),
                    area=area,
                )
            )
        return ParsedFeed(entries=tuple(entries), ttl_s=None)
