"""Simulated networks for the demo: the plugin testing kit's fake servers, on 127.0.0.1.

With ``PORTEVOIX_SIMULATED_NETWORKS=true`` (the default of ``portevoix run``) each built-in
channel's fake network is served on a local port, the plugins are pointed at it, and the demo
accounts are connected to it — so a new user sees the whole path work (compose, schedule,
queue, plugin, HTTP request shaped as the network documents) without any credentials. The
admin labels them as simulated everywhere; nothing here ever reaches a real network.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any
from urllib.parse import urlencode

import structlog
from sqlalchemy import select

from core.db.enums import AccountStatus
from core.db.models import Account
from core.runtime import Runtime
from core.audit import Actor, record
from plugins.testing import FakeNetwork, FakeResponse, ReceivedRequest, route, serve_in_thread
from plugins.testing.fakes.bluesky import FakeBluesky
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.linkedin import FakeLinkedIn
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.tiktok import FakeTikTok
from plugins.testing.fakes.x import FakeX

log = structlog.get_logger(__name__)


class _MetaDialog:
    """Facebook Login's consent dialog, simulated: approve at once and send the person back
    with a code the fake's token endpoint accepts (the Graph fakes model the API, not the dialog)."""

    @route("GET", "/{version}/dialog/oauth")
    async def dialog(self, request: ReceivedRequest, version: str) -> FakeResponse:
        redirect_uri, state = request.q("redirect_uri"), request.q("state")
        if not redirect_uri or request.q("client_id") != self.app_id:  # type: ignore[attr-defined]
            return FakeResponse(status=400, json={"error": {"message": "Invalid redirect_uri or client_id"}})
        code = self.issue_code()  # type: ignore[attr-defined]
        return FakeResponse(status=302, headers={"location": f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"})


class DemoFacebook(_MetaDialog, FakeFacebook):
    pass


class DemoInstagram(_MetaDialog, FakeInstagram):
    pass


FAKES: dict[str, type[FakeNetwork]] = {
    "facebook": DemoFacebook,
    "instagram": DemoInstagram,
    "linkedin": FakeLinkedIn,
    "x": FakeX,
    "tiktok": FakeTikTok,
    "bluesky": FakeBluesky,
    "mastodon": FakeMastodon,
}


class SimulatedNetworks:
    def __init__(self) -> None:
        self.fakes: dict[str, FakeNetwork] = {key: cls() for key, cls in FAKES.items()}
        self.urls: dict[str, str] = {}
        self._stack = contextlib.ExitStack()

    def start(self) -> dict[str, str]:
        for key, fake in self.fakes.items():
            self.urls[key] = self._stack.enter_context(serve_in_thread(fake))
        return self.urls

    def oauth_settings(self) -> dict[str, dict[str, str]]:
        """Plugin settings that send each OAuth flow to its fake's consent page (call after start).

        Same names as the environment's ``PORTEVOIX_CHANNEL_<KEY>_<FIELD>`` (``extra_…`` for a
        plugin's own keys); the redirect URI is left to the app (its own callback).
        """
        demo = {"client_id": "portevoix-demo", "client_secret": "portevoix-demo-secret"}
        found: dict[str, dict[str, str]] = {}
        for key, url in self.urls.items():
            fake: Any = self.fakes[key]
            if key in ("facebook", "instagram"):
                found[key] = {"client_id": fake.app_id, "client_secret": fake.app_secret, "extra_oauth_dialog_base": url}
            elif key == "x":
                found[key] = {"client_id": fake.client_id, "client_secret": fake.client_secret,
                              "extra_authorize_url": f"{url}/i/oauth2/authorize"}
            elif key == "linkedin":
                found[key] = {**demo, "extra_oauth_base_url": url}
            elif key == "tiktok":
                found[key] = {**demo, "extra_auth_base_url": url}
            elif key == "mastodon":
                found[key] = dict(demo)  # its consent page is on the instance itself
        return found

    def stop(self) -> None:
        self._stack.close()

    async def connect_accounts(self, runtime: Runtime) -> int:
        """Give every account of a simulated channel an identity and credentials on its fake network."""
        connected = 0
        async with runtime.session() as session:
            accounts = (await session.scalars(select(Account).where(Account.channel.in_(self.fakes)))).all()
            for account in accounts:
                ref = _make_account(self.fakes[account.channel], account)
                account.external_id = ref.external_id
                account.credentials_encrypted = runtime.vault.encrypt(ref.credentials)
                account.status = AccountStatus.CONNECTED
                record(session, Actor.system("demo"), "account.connected", "account", account.id,
                       persona_id=account.persona_id, after={"network": "simulated", "channel": account.channel})
                connected += 1
        return connected

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
