"""Simulated networks for the demo: the plugin testing kit's fake servers, on 127.0.0.1.

With ``PORTEVOIX_SIMULATED_NETWORKS=true`` (the default of ``portevoix run``) each fake network
installed through the ``portevoix.fakes`` entry points is served on a local port, the plugins
are pointed at it, and the demo accounts are connected to it — so a new user sees the whole
path work (compose, schedule, queue, plugin, HTTP request shaped as the network documents)
without any credentials. The admin labels them as simulated everywhere; nothing here ever
reaches a real network.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

from core.accounts.service import SimulatedIdentity, connect_simulated
from core.db.models import Account
from core.runtime import Runtime
from plugins.testing import FakeNetwork, discover_fakes, serve_in_thread


class SimulatedNetworks:
    def __init__(self) -> None:
        # Every installed fake network: the ``portevoix.fakes`` entry points, by channel key.
        self.fakes: dict[str, FakeNetwork] = {key: cls() for key, cls in discover_fakes().items()}
        self.urls: dict[str, str] = {}
        self._stack = contextlib.ExitStack()

    def start(self) -> dict[str, str]:
        for key, fake in self.fakes.items():
            self.urls[key] = self._stack.enter_context(serve_in_thread(fake))
        return self.urls

    def oauth_settings(self) -> dict[str, dict[str, str]]:
        """Plugin settings that send each OAuth flow to its fake's consent page (call after start):
        each fake says which (``FakeNetwork.plugin_settings``), with the environment's names
        (``extra_…`` for a plugin's own keys); the redirect URI is left to the app."""
        found = {key: self.fakes[key].plugin_settings(url) for key, url in self.urls.items()}
        return {key: settings for key, settings in found.items() if settings}

    def stop(self) -> None:
        self._stack.close()

    async def connect_accounts(self, runtime: Runtime) -> int:
        """Give every account of a simulated channel an identity and credentials on its fake network."""

        def identity(account: Account) -> SimulatedIdentity | None:
            if account.channel not in self.fakes:
                return None
            ref = _make_account(self.fakes[account.channel], account)
            return SimulatedIdentity(external_id=ref.external_id, credentials=ref.credentials)

        async with runtime.session() as session:
            return await connect_simulated(session, runtime.vault, identity)

    def received(self, key: str) -> list[dict[str, Any]]:
        """What a simulated network received, newest first (for the admin's simulated-network page)."""
        fake = self.fakes[key]
        return [
            {"method": r.method, "path": r.path, "at": r.at, "body": r.body.decode("utf-8", "replace")[:2000]}
            for r in reversed(fake.received)
            if r.method != "GET"
        ]


def _make_account(fake: FakeNetwork, account: Account) -> Any:
    # Fakes that model several users take a handle; the others have one account each.
    parameters = inspect.signature(fake.make_account).parameters  # type: ignore[attr-defined]
    if "username" in parameters:
        return fake.make_account(account.handle, name=account.display_name or account.handle)  # type: ignore[attr-defined]
    if "handle" in parameters:
        return fake.make_account(f"{account.handle.lower()}.bsky.social")  # type: ignore[attr-defined]
    return fake.make_account()  # type: ignore[attr-defined]
