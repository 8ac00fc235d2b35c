"""The public contract between Porte-voix and a feed plugin (RSS/Atom, official alert feeds).

A feed is not a channel: nothing is published to it, it is only read. A feed plugin turns the
bytes the collector fetched into :class:`FeedEntry` values; the collector does everything else
(the polite HTTP, deduplication, sanitising, storage). Like the channel contract
(core/channels/contract.py), what crosses the boundary is frozen msgspec Structs owned by the
host, and plugins are discovered through an entry-point group, ``portevoix.feeds``, so a third
party ships one as its own package. A plugin imports only this module and its parsing library.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar

import msgspec
import structlog

#: Bumped on a breaking change of this module; a plugin lists the versions it supports.
FEED_CONTRACT_VERSION = "1"
ENTRY_POINT_GROUP = "portevoix.feeds"
log = structlog.get_logger(__name__)


class Severity(enum.StrEnum):
    """An official vigilance level, the colours Vigicrues, Météo-France and MeteoAlarm share."""

    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class FeedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry as the feed gave it. The host sanitises and deduplicates it."""

    #: the entry's id exactly as written in the document (not resolved against the feed's URL:
    #: feedparser turns ``<guid>g1</guid>`` into ``https://ex.fr/g1``), or None
    guid: str | None = None
    url: str | None = None
    #: the title as given (it may hold markup or entities: the host makes it text)
    title: str = ""
    #: the summary or content as given
    summary: str = ""
    #: whether ``summary`` is HTML (sanitised with nh3 and kept) or plain text (escaped)
    summary_is_html: bool = True
    author: str | None = None
    published_at: datetime | None = None
    #: an official alert's level, and where (a département, a river section)
    severity: Severity | None = None
    area: str | None = None


class ParsedFeed(msgspec.Struct, frozen=True, kw_only=True):
    """What one document held: its entries, and the feed's own polling hint (RSS ``<ttl>``)."""

    entries: tuple[FeedEntry, ...] = ()
    ttl_s: int | None = None


class FeedError(Exception):
    """The document cannot be read as this kind of feed (malformed XML, not GeoJSON…)."""


class FeedPlugin:
    """Subclass and implement :meth:`parse`. Instances hold no state: one serves every source."""

    #: the key sources name (``veille_sources.plugin``): lower-case letters, digits, ``-`` or ``_``
    key: ClassVar[str]
    #: the name shown in the admin
    name: ClassVar[str]
    contract_versions: ClassVar[frozenset[str]] = frozenset({FEED_CONTRACT_VERSION})
    #: an official crisis feed by nature (a new source of this plugin is a crisis source)
    crisis: ClassVar[bool] = False
    #: sent as Accept
    accept: ClassVar[str] = "*/*"

    def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        """The entries of ``body`` fetched from ``url``; raise :class:`FeedError` if unreadable."""
        raise NotImplementedError


class BrokenFeedPlugin(msgspec.Struct, frozen=True):
    """An entry point left out, and why."""

    name: str
    source: str
    error: str


class FeedRegistry:
    """The feed plugins available to this process, by key."""

    def __init__(self) -> None:
        self._plugins: dict[str, FeedPlugin] = {}
        self.broken: list[BrokenFeedPlugin] = []

    def register(self, plugin: type[FeedPlugin]) -> None:
        if not (isinstance(plugin, type) and issubclass(plugin, FeedPlugin)):
            raise TypeError(f"{plugin!r} is not a FeedPlugin subclass")
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", str(getattr(plugin, "key", ""))):
            raise TypeError(f"{plugin.__qualname__}.key must be lower-case letters, digits, - or _")
        if FEED_CONTRACT_VERSION not in plugin.contract_versions:
            raise TypeError(f"{plugin.__qualname__} does not speak feed contract {FEED_CONTRACT_VERSION}")
        existing = self._plugins.get(plugin.key)
        if existing is not None and type(existing) is not plugin:
            raise TypeError(f"feed key {plugin.key!r} is claimed by two plugins")
        self._plugins[plugin.key] = plugin()

    def get(self, key: str) -> FeedPlugin | None:
        return self._plugins.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._plugins

    def keys(self) -> list[str]:
        return sorted(self._plugins)


def discover(eps: Iterable[EntryPoint] | None = None) -> FeedRegistry:
    """Load every plugin of ``portevoix.feeds``; a broken one is reported and left out."""
    registry = FeedRegistry()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP) if eps is None else eps, key=lambda e: e.name):
        try:
            registry.register(ep.load())
        except Exception as exc:  # a third party's bug must not stop the watch
            registry.broken.append(BrokenFeedPlugin(ep.name, ep.value, f"{type(exc).__name__}: {exc}"))
            log.error("feed plugin disabled", plugin=ep.name, source=ep.value, error=str(exc))
    return registry


@cache
def feed_registry() -> FeedRegistry:
    """The installed feed plugins, discovered once per process."""
    return discover()
