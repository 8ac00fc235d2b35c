"""Discovery of channel plugins through the ``portevoix.channels`` entry-point group.

A broken third-party plugin is reported and left out; it never takes the app down: the
registry keeps why (``registry.broken``), and :func:`describe` tells what loaded and what did
not, as msgspec structs (``portevoix channels``, the admin's health detail). Two plugins
claiming the same key is a configuration error that names both.
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
    """An entry point left out, and why."""

    name: str  # entry point name
    source: str  # "module:attr" it points at
    error: str
    distribution: str | None = None  # the package that declared it
    version: str | None = None


class PluginInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A loaded plugin, as ``portevoix channels`` shows it."""

    key: str
    name: str
    source: str
    distribution: str | None
    version: str | None
    contract_versions: tuple[str, ...]
    features: tuple[str, ...]
    formats: tuple[str, ...]


class ChannelsReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every plugin this process was offered: the loaded ones and the disabled ones."""

    contract_version: str
    loaded: tuple[PluginInfo, ...]
    disabled: tuple[BrokenPlugin, ...]


class ChannelRegistry:
    """The channel plugin classes available to this process, by key."""

    def __init__(self) -> None:
        self._plugins: dict[str, type[ChannelPlugin]] = {}
        self._sources: dict[str, str] = {}
        self._origins: dict[str, tuple[str | None, str | None]] = {}  # key -> (package, version)
        self.broken: list[BrokenPlugin] = []

    def register(
        self,
        plugin: type[ChannelPlugin],
        *,
        source: str | None = None,
        origin: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Add a plugin class; ``origin`` is the (package, version) that installed it."""
        _check_plugin_class(plugin)
        source = source or f"{plugin.__module__}:{plugin.__qualname__}"
        existing = self._sources.get(plugin.key)
        if existing is not None and existing != source:
            raise DuplicateChannelKey(f"channel key {plugin.key!r} is claimed by both {existing} and {source}")
        self._plugins[plugin.key] = plugin
        self._sources[plugin.key] = source
        self._origins[plugin.key] = origin

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

    def origin(self, key: str) -> tuple[str | None, str | None]:
        return self._origins.get(key, (None, None))


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


def _origin(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)  # None for an EntryPoint built by hand
    return (dist.name, dist.version) if dist is not None else (None, None)


def discover(eps: Iterable[EntryPoint] | None = None, *, strict: bool = True) -> ChannelRegistry:
    """Load every plugin of the entry-point group; report and skip the broken ones.

    ``strict=False`` reports a duplicate key as a disabled plugin instead of stopping: what a
    listing wants (``portevoix channels``), not a running host.
    """
    registry = ChannelRegistry()
    if eps is None:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(eps, key=lambda e: e.name):
        origin = _origin(ep)
        try:
            plugin = ep.load()
            registry.register(plugin, source=ep.value, origin=origin)
        except DuplicateChannelKey as exc:
            if strict:
                raise
            registry.broken.append(BrokenPlugin(ep.name, ep.value, f"DuplicateChannelKey: {exc}", *origin))
        except Exception as exc:  # a third party's bug must not take the app down
            broken = BrokenPlugin(ep.name, ep.value, f"{type(exc).__name__}: {exc}", *origin)
            registry.broken.append(broken)
            log.error("channel plugin disabled", plugin=ep.name, source=ep.value, error=broken.error)
    return registry


def describe(registry: ChannelRegistry) -> ChannelsReport:
    """What the registry holds, loaded and disabled, ready to print or to serve as JSON."""
    loaded = tuple(
        PluginInfo(
            key=key,
            name=plugin.name,
            source=registry.source(key),
            distribution=registry.origin(key)[0],
            version=registry.origin(key)[1],
            contract_versions=tuple(sorted(plugin.contract_versions)),
            features=tuple(sorted(f.value for f in plugin.capabilities.features)),
            formats=tuple(rules.format.value for rules in plugin.capabilities.formats),
        )
        for key, plugin in registry.items()
    )
    return ChannelsReport(contract_version=CONTRACT_VERSION, loaded=loaded, disabled=tuple(registry.broken))
