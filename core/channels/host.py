"""The host side of the plugin contract: plugin instances, account references, usage.

Builds one instance per channel for this process (sharing one HTTP client), with its
settings from the environment (``PORTEVOIX_CHANNEL_<KEY>_<FIELD>``) or, for the demo, the
simulated network's URL. Turns an ``Account`` row into the ``AccountRef`` a plugin sees, and
collects the usage reports plugins emit so the worker can store them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import httpx
import msgspec

from core.channels.contract import AccountRef, ChannelPlugin, ChannelSettings, Credentials, UsageReport
from core.channels.registry import ChannelRegistry
from core.db.models import Account
from core.security import CredentialVault

#: a worker sends up to ``MAX_JOBS`` (50) requests at once: as many connections stay open between
#: them (httpx keeps 20 by default, so a burst closed and reopened a connection for most requests)
HTTP_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=64)
#: account references kept per process (one per account in use)
_REFS_KEPT = 1024
_SETTINGS_FIELDS = ("base_url", "client_id", "client_secret", "redirect_uri", "webhook_secret")


class NotConnected(Exception):
    """The account has no credentials yet: connect it in the admin first."""


class UsageBuffer:
    """Collects the plugins' usage reports; the worker drains them into usage samples."""

    def __init__(self) -> None:
        self._reports: list[UsageReport] = []
        self._lock = threading.Lock()

    def record(self, report: UsageReport) -> None:
        with self._lock:
            self._reports.append(report)

    def drain(self) -> list[UsageReport]:
        with self._lock:
            reports, self._reports = self._reports, []
        return reports


def channel_settings(plugin: type[ChannelPlugin], raw: Mapping[str, str], base_url: str | None) -> ChannelSettings:
    extra = {name.removeprefix("extra_"): value for name, value in raw.items() if name.startswith("extra_")}
    known = {name: raw[name] for name in _SETTINGS_FIELDS if name in raw}
    known["base_url"] = base_url or known.get("base_url") or plugin.default_base_url
    return ChannelSettings(**known, extra=extra)


class ChannelHost:
    def __init__(
        self,
        registry: ChannelRegistry,
        vault: CredentialVault,
        configured: Mapping[str, Mapping[str, str]],
        *,
        base_url_overrides: Mapping[str, str] | None = None,
        settings_overrides: Mapping[str, Mapping[str, str]] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.registry = registry
        self.vault = vault
        self._configured = configured
        self.base_url_overrides: dict[str, str] = dict(base_url_overrides or {})
        #: channel key -> raw settings laid over the configured ones, same names as the
        #: environment's (``client_id``, ``extra_authorize_url``…): the demo's simulated networks
        self.settings_overrides: dict[str, dict[str, str]] = {k: dict(v) for k, v in (settings_overrides or {}).items()}
        self.usage = UsageBuffer()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)), limits=HTTP_LIMITS
        )
        self._plugins: dict[str, ChannelPlugin] = {}
        #: (external id, handle, sealed credentials) → the reference: a burst of sends on one
        #: account opens its credentials once (new credentials are a new key)
        self._refs: dict[tuple[str, str, bytes], AccountRef] = {}

    def plugin(self, key: str, *, redirect_uri: str | None = None) -> ChannelPlugin:
        """The channel's plugin instance; with ``redirect_uri``, a one-off instance whose OAuth
        redirect goes there (when no redirect URI is configured, the web app derives one)."""
        if key not in self._plugins:
            cls = self.registry.get(key)
            raw = {**self._configured.get(key, {}), **self.settings_overrides.get(key, {})}
            settings = channel_settings(cls, raw, self.base_url_overrides.get(key))
            self._plugins[key] = cls(settings, http=self._http, usage=self.usage)
        plugin = self._plugins[key]
        if redirect_uri is None or redirect_uri == plugin.settings.redirect_uri:
            return plugin
        settings = msgspec.structs.replace(plugin.settings, redirect_uri=redirect_uri)
        return type(plugin)(settings, http=self._http, usage=self.usage)

    def account_ref(self, account: Account) -> AccountRef:
        if account.credentials_encrypted is None:
            raise NotConnected(f"account @{account.handle} on {account.channel} is not connected")
        key = (account.external_id, account.handle, bytes(account.credentials_encrypted))
        ref = self._refs.get(key)
        if ref is None:
            ref = AccountRef(
                external_id=account.external_id,
                handle=account.handle,
                credentials=self.vault.decrypt(account.credentials_encrypted),
            )
            if len(self._refs) >= _REFS_KEPT:
                self._refs.clear()
            self._refs[key] = ref
        return ref

    def seal(self, credentials: Credentials) -> bytes:
        return self.vault.encrypt(credentials)

    async def aclose(self) -> None:
        self._plugins.clear()
        await self._http.aclose()
