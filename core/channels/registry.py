"""Discovery of channel plugins through the ``portevoix.channels`` entry-point group.

A broken third-party plugin is reported and left out; it never takes the app down.
Two plugins claiming the same key is a configuration error that names both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import msgspec
import structlog

from core.channels.contract import CONTRACT_VERSION, Capabilities, ChannelPlugin

ENTRY_POINT_GROUP = "portevoix.channels"
log = structlog.get_logger(__name__)


class DuplicateChannelKey(Exception):
    """Two installed plugins claim the same channel key."""


class BrokenPlugin(msgspec.Struct, frozen=True):
    name: str  # entry point name
    source: str  # "module:attr" it points at
    error: str


class ChannelRegistry:
    """The channel plugin classes available to this process, by key."""

    def __init__(self) -> None:
        self._plugins: dict[str, type[ChannelPlugin]] = {}
        self._sources: dict[str, str] = {}
        self.broken: list[BrokenPlugin] = []

    def register(self, plugin: type[ChannelPlugin], *, source: str | None = None) -> None:
        _check_plugin_class(plugin)
        source = source or f"{plugin.__module__}:{plugin.__qualname__}"
        existing = self._sources.get(plugin.key)
        if existing is not None and existing != source:
            raise DuplicateChannelKey(f"channel key {plugin.key!r} is claimed by both {existing} and {source}")
        self._plugins[plugin.key] = plugin
        self._sources[plugin.key] = source

    def get(self, key: str) -> type[ChannelPlugin]:
        try:
            return self._plugins[key]
        except KeyError:
            raise KeyError(f"no channel plugin {key!r}; installed: {', '.join(sorted(self._plugins))}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._plugins

    def keys(self) -> list[str]:
        return sorted(self._plugins)

    def items(self) -> Iterable[tuple[str, type[ChannelPlugin]]]:
        return sorted(self._plugins.items())

    def source(self, key: str) -> str:
        return self._sources[key]


def _check_plugin_class(plugin: object) -> None:
    if not (isinstance(plugin, type) and issubclass(plugin, ChannelPlugin)):
        raise TypeError(f"{plugin!r} is not a ChannelPlugin subclass")
    for attr in ("key", "name", "capabilities", "default_base_url"):
        if not hasattr(plugin, attr):
            raise TypeError(f"{plugin.__qualname__} does not declare {attr!r}")
    if not re.fullmatch(r"[a-z][a-z0-9]{0,31}", str(plugin.key)):
        # Keys name settings (PORTEVOIX_CHANNEL_<KEY>_<FIELD>) and URLs: lower-case letters and digits only.
        raise TypeError(f"{plugin.__qualname__}.key {plugin.key!r} must be lower-case letters and digits")
    if not isinstance(plugin.capabilities, Capabilities):
        raise TypeError(f"{plugin.__qualname__}.capabilities is not a Capabilities")
    if CONTRACT_VERSION not in plugin.contract_versions:
        raise TypeError(
            f"{plugin.__qualname__} supports contract versions {sorted(plugin.contract_versions)}, "
            f"this Porte-voix speaks {CONTRACT_VERSION}"
        )


def discover(eps: Iterable[EntryPoint] | None = None) -> ChannelRegistry:
    """Load every plugin of the entry-point group; report and skip the broken ones."""
    registry = ChannelRegistry()
    if eps is None:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(eps, key=lambda e: e.name):
        try:
            plugin = ep.load()
            registry.register(plugin, source=ep.value)
        except DuplicateChannelKey:
            raise
        except Exception as exc:  # a third party's bug must not take the app down
            broken = BrokenPlugin(name=ep.name, source=ep.value, error=f"{type(exc).__name__}: {exc}")
            registry.broken.append(broken)
            log.error("channel plugin disabled", plugin=ep.name, source=ep.value, error=broken.error)
    return registry
