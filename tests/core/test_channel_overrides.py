"""The host lays raw setting overrides over the configured ones, and builds a one-off plugin
instance for another OAuth redirect URI (the web app's own callback)."""

from __future__ import annotations

import pytest

from core.channels.host import ChannelHost
from core.channels.registry import discover
from core.security import CredentialVault

pytestmark = pytest.mark.anyio


async def test_settings_overrides_and_redirect_uri() -> None:
    host = ChannelHost(
        discover(),
        CredentialVault("k" * 40),
        {"x": {"client_id": "configured", "extra_web_url": "https://x.example"}},
        base_url_overrides={"x": "http://127.0.0.1:1"},
        settings_overrides={"x": {"client_id": "demo", "extra_authorize_url": "http://127.0.0.1:1/i/oauth2/authorize"}},
    )
    try:
        plugin = host.plugin("x")
        assert plugin.settings.client_id == "demo"
        assert plugin.settings.base_url == "http://127.0.0.1:1"
        assert plugin.settings.extra == {
            "web_url": "https://x.example",
            "authorize_url": "http://127.0.0.1:1/i/oauth2/authorize",
        }
        assert host.plugin("x") is plugin
        other = host.plugin("x", redirect_uri="http://127.0.0.1:8090/oauth/x/callback")
        assert other is not plugin and other.settings.redirect_uri.endswith("/oauth/x/callback")
        assert other.settings.client_id == "demo" and host.plugin("x").settings.redirect_uri == ""
        url = other.authorization_url(state="s").url
        assert url.startswith("http://127.0.0.1:1/i/oauth2/authorize?") and "oauth%2Fx%2Fcallback" in url
    finally:
        await host.aclose()
