"""A fake feed server for the watch's tests, benchmark and demo: real HTTP on 127.0.0.1.

It serves documents by path, each with its own ETag and Last-Modified, answers 304 to a
conditional GET that matches (as a polite server does), and logs every request with its headers
(``requests``) so a test sees the conditional GET. The built-in paths:

==================  ===============================================================
``/rss``            RSS 2.0, three items (raw GUIDs that feedparser would resolve as URLs)
``/atom``           Atom 1.0, two entries
``/malformed``      broken XML
``/slow``           answers after ``slow_s`` seconds (a timeout for a short client)
``/script``         RSS whose title and description carry ``<script>`` and ``onclick``
``/huge``           RSS with one entry of 2 MB
``/cap``            MeteoAlarm-style Atom with CAP fields: an orange thunderstorm warning
``/vigicrues``      InfoVigiCru GeoJSON: one green, one yellow and one orange section
``/status/<code>``  that HTTP status (with ``Retry-After: 120`` on 429 and 503)
==================  ===============================================================

:meth:`FakeFeeds.put` adds or replaces a document (the benchmark serves 200 feeds of 50 items).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
GEOJSON = "application/geo+json"
#: the fixed clock of the documents (their dates and Last-Modified)
EPOCH = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Document:
    body: bytes
    content_type: str = RSS
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    delay_s: float = 0.0
    #: honour If-None-Match / If-Modified-Since with a 304 (a server may ignore them)
    conditional: bool = True


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    headers: dict[str, str]
    status: int
    at: float


def item(guid: str, title: str, *, link: str | None = None, description: str = "", when: datetime = EPOCH) -> dict:
    return {"guid": guid, "title": title, "link": link, "description": description, "when": when}


def rss_document(items: list[dict[str, Any]], *, title: str = "Fil", ttl_min: int | None = None) -> bytes:
    """RSS 2.0: title, link, description and guid escaped as XML text (so HTML in them is HTML)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://presse.example/</link><description>{escape(title)}</description>",
    ]
    if ttl_min is not None:
        parts.append(f"<ttl>{ttl_min}</ttl>")
    for entry in items:
        parts.append("<item>")
        if entry.get("guid") is not None:
            parts.append(f"<guid>{escape(entry['guid'])}</guid>")
        parts.append(f"<title>{escape(entry['title'])}</title>")
        if entry.get("link"):
            parts.append(f"<link>{escape(entry['link'])}</link>")
        parts.append(f"<description>{escape(entry.get('description', ''))}</description>")
        parts.append(f"<pubDate>{format_datetime(entry.get('when', EPOCH), usegmt=True)}</pubDate></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def atom_document(items: list[dict[str, Any]], *, title: str = "Fil Atom") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>urn:fake:atom</id><updated>{EPOCH.isoformat()}</updated>",
    ]
    for entry in items:
        parts.append(
            f"<entry><id>{escape(entry['guid'])}</id><title>{escape(entry['title'])}</title>"
            f'<link href="{escape(entry.get("link") or "")}"/><updated>{entry.get("when", EPOCH).isoformat()}</updated>'
            f'<summary type="html">{escape(entry.get("description", ""))}</summary></entry>'
        )
    parts.append("</feed>")
    return "".join(parts).encode()


def cap_document(alerts: list[dict[str, Any]]) -> bytes:
    """MeteoAlarm's legacy Atom: one entry per warning, CAP fields in the CAP namespace."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">',
        f"<title>MeteoAlarm France</title><id>urn:fake:meteoalarm</id><updated>{EPOCH.isoformat()}</updated>",
    ]
    for alert in alerts:
        parts.append(
            f"<entry><id>{escape(alert['id'])}</id><title>{escape(alert['title'])}</title>"
            f'<link href="https://meteoalarm.example/alert/{escape(alert["id"])}"/>'
            f"<updated>{EPOCH.isoformat()}</updated><published>{EPOCH.isoformat()}</published>"
            f"<cap:event>{escape(alert['event'])}</cap:event><cap:severity>{alert['severity']}</cap:severity>"
            f"<cap:areaDesc>{escape(alert['area'])}</cap:areaDesc>"
            f"<cap:geocode><valueName>EMMA_ID</valueName><value>{alert.get('emma', 'FR000')}</value></cap:geocode>"
            f"<cap:expires>{(EPOCH + timedelta(days=1)).isoformat()}</cap:expires></entry>"
        )
    parts.append("</feed>")
    return "".join(parts).encode()


def vigicrues_document(sections: list[tuple[str, str, int]]) -> bytes:
    """InfoVigiCru: (code, label, level 1–4) per river section."""
    features = [
        {
            "type": "Feature",
            "properties": {"CdEntCru": code, "LbEntCru": label, "TypEntCru": "8", "NivInfViCr": level},
            "geometry": {"type": "LineString", "coordinates": [[1.44, 43.6], [1.45, 43.61]]},
        }
        for code, label, level in sections
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _validators(body: bytes) -> tuple[str, str]:
    return f'"{hashlib.sha256(body).hexdigest()[:16]}"', format_datetime(EPOCH, usegmt=True)


class FakeFeeds:
    """A plain ASGI app: ``serve_in_thread(FakeFeeds())`` gives its base URL."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.requests: list[LoggedRequest] = []
        self.slow_s = 3.0
        self.put("/rss", rss_document(RSS_ITEMS, ttl_min=90))
        self.put("/atom", atom_document(ATOM_ITEMS), content_type=ATOM)
        self.put("/malformed", '<?xml version="1.0"?><rss><channel><item><title>Coupé'.encode(), validators=False)
        self.put("/slow", rss_document(RSS_ITEMS[:1]), validators=False)
        self.documents["/slow"].delay_s = -1  # read slow_s at request time
        self.put("/script", rss_document(SCRIPT_ITEMS), validators=False)
        self.put("/huge", rss_document([item("huge-1", "Très long", description="<p>" + "x" * 2_000_000 + "</p>")]))
        self.put("/cap", cap_document(CAP_ALERTS), content_type=ATOM)
        self.put("/vigicrues", vigicrues_document(VIGICRUES_SECTIONS), content_type=GEOJSON)

    def put(self, path: str, body: bytes, *, content_type: str = RSS, validators: bool = True, **kw: Any) -> Document:
        etag, modified = _validators(body) if validators else (None, None)
        document = Document(body=body, content_type=content_type, etag=etag, last_modified=modified, **kw)
        self.documents[path] = document
        return document

    def log(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, answer, body = self._answer(path, headers)
        document = self.documents.get(path)
        if document is not None and document.delay_s:
            await asyncio.sleep(self.slow_s if document.delay_s < 0 else document.delay_s)
        self.requests.append(LoggedRequest(path, headers, status, time.time()))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in answer.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            extra = {"retry-after": "120"} if code in (429, 503) else {}
            return code, {"content-type": "text/plain", **extra}, b"status"
        document = self.documents.get(path)
        if document is None:
            return 404, {"content-type": "text/plain"}, b"not found"
        answer = {"content-type": document.content_type, **document.headers}
        if document.etag:
            answer["etag"] = document.etag
        if document.last_modified:
            answer["last-modified"] = document.last_modified
        if document.conditional and (
            (document.etag and headers.get("if-none-match") == document.etag)
            or (
                not document.etag
                and document.last_modified
                and headers.get("if-modified-since") == document.last_modified
            )
        ):
            return 304, {k: v for k, v in answer.items() if k != "content-type"}, b""
        return document.status, answer, document.body


RSS_ITEMS = [
    item(
        "g1",
        "Crue de la Garonne : la Région mobilise",
        link="https://presse.example/crue",
        description="<p>Les <b>pompiers</b> sont sur place.</p>",
    ),
    item(
        "g2",
        "Le marché de Noël ouvre à Toulouse",
        link="https://presse.example/noel",
        description="Animations &amp; concerts",
    ),
    item(
        "g3",
        "Budget des lycées voté",
        link="https://presse.example/budget",
        description="<p>Vote en séance plénière.</p>",
    ),
]
ATOM_ITEMS = [
    item(
        "tag:prefecture.example,2026:1",
        "Communiqué de la préfecture",
        link="https://prefecture.example/1",
        description="<p>Point de situation</p>",
    ),
    item(
        "tag:prefecture.example,2026:2",
        "Route départementale fermée",
        link="https://prefecture.example/2",
        description="<p>Déviation</p>",
    ),
]
SCRIPT_ITEMS = [
    item(
        "s1",
        'Alerte <script>alert("titre")</script> évacuation',
        link="javascript:alert(1)",
        description='<p onclick="steal()">Texte<script>alert("corps")</script> <a href="https://ex.example/">lien</a></p>',
    )
]
CAP_ALERTS = [
    {
        "id": "urn:oid:2.49.0.1.250.0.FR.260110.1",
        "title": "Orange Thunderstorm Warning issued for France - Haute-Garonne",
        "event": "Orange Thunderstorm Warning",
        "severity": "Severe",
        "area": "Haute-Garonne",
        "emma": "FR431",
    }
]
VIGICRUES_SECTIONS = [("AG1", "Ariège amont", 1), ("GA2", "Garonne toulousaine", 2), ("TA3", "Tarn albigeois", 3)]
