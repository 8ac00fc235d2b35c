"""Connecting an account through the network's OAuth flow, against LinkedIn's fake on 127.0.0.1.

The manager starts the flow in the admin, the fake's consent page sends the browser back with a
code, the callback checks the state and stores the tokens encrypted. Also: a state that does not
match or has expired is refused with nothing stored, a plugin without OAuth says so, and the
token refresh stores the new tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.accounts import service as service
from core.audit import Actor
from core.db.enums import AccountStatus
from core.db.models import Account, AuditEvent
from core.demo import DemoLogin
from core.runtime import Runtime
from core.settings import Settings
from plugins.testing import serve_in_thread
from plugins.testing.fakes.linkedin import FakeLinkedIn
from tests.web.conftest import clear_login_throttle, login, persona_ids
from web.app import create_app

pytestmark = pytest.mark.anyio
REGION = "region-occitanie"


@pytest.fixture
def fake() -> Iterator[tuple[FakeLinkedIn, str]]:
    network = FakeLinkedIn()
    with serve_in_thread(network) as url:
        yield network, url


def _point_at(runtime: Runtime, url: str) -> Runtime:
    runtime.base_url_overrides["linkedin"] = url
    runtime.channel_overrides["linkedin"] = {
        "client_id": "pv-test",
        "client_secret": "pv-secret",
        "extra_oauth_base_url": url,
    }
    return runtime


@pytest.fixture
async def app_client(settings: Settings, fake: tuple[FakeLinkedIn, str]) -> AsyncIterator[AsyncTestClient]:
    app = create_app(runtime=_point_at(Runtime(settings), fake[1]))
    await clear_login_throttle(settings)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client


async def _account(runtime: Runtime, channel: str) -> Account:
    ids = await persona_ids(runtime)
    async with runtime.session() as session:
        account = await session.scalar(
            select(Account).where(Account.persona_id == ids[REGION], Account.channel == channel)
        )
        assert account is not None
        return account


async def _consent(client: AsyncTestClient, account: Account) -> str:
    """Start the flow and pass the fake's consent page: the callback URL the browser comes back to."""
    started = await client.get(
        f"/admin/personas/{account.persona_id}/accounts/{account.id}/connect", follow_redirects=False
    )
    assert started.status_code == 303, started.text
    authorize = started.headers["location"]
    assert "/oauth/v2/authorization?" in authorize
    assert parse_qs(urlsplit(authorize).query)["redirect_uri"] == ["http://127.0.0.1/oauth/linkedin/callback"]
    consent = httpx.get(authorize, follow_redirects=False)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["location"])
    return f"{back.path}?{back.query}"


async def test_manager_connects_a_needs_reauth_account(
    app_client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin], fake: tuple[FakeLinkedIn, str]
) -> None:
    _point_at(runtime, fake[1])  # the test's own runtime refreshes the tokens below
    account = await _account(runtime, "linkedin")
    async with runtime.session() as session:
        row = await session.get(Account, account.id)
        assert row is not None
        row.status, row.credentials_encrypted = AccountStatus.NEEDS_REAUTH, None
    await login(app_client, demo["dircom.region"].email, demo["dircom.region"].password)
    page = await app_client.get("/admin/accounts")
    assert f'/accounts/{account.id}/connect"' in page.text

    callback = await _consent(app_client, account)
    done = await app_client.get(callback, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/accounts"

    async with runtime.session() as session:
        row = await session.get(Account, account.id)
        assert row is not None and row.status == AccountStatus.CONNECTED
        assert row.credentials_encrypted is not None and row.token_expires_at is not None
        credentials = runtime.vault.decrypt(row.credentials_encrypted)
        assert credentials.access_token and credentials.access_token.encode() not in row.credentials_encrypted
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "account.connected", AuditEvent.entity_id == str(account.id)
                )
            )
        ).all()
    assert len(events) == 1 and events[0].before == {"status": "needs_reauth", "token_expires_at": None}
    audit = repr((events[0].before, events[0].after))
    assert credentials.access_token not in audit and (credentials.refresh_token or "-") not in audit

    # the same answer twice: the state was good for one answer only
    again = await app_client.get(callback, follow_redirects=False)
    assert again.status_code == 400

    # the token refresh stores new tokens (LinkedIn rotates them)
    assert await service.refresh_credentials(runtime, account.id) is True
    async with runtime.session() as session:
        row = await session.get(Account, account.id)
        assert row is not None and row.credentials_encrypted is not None
        assert runtime.vault.decrypt(row.credentials_encrypted).access_token != credentials.access_token
    # nothing due for refresh (expires in about 60 days)
    assert await service.refresh_due(runtime) == 0


async def test_state_mismatch_is_refused_and_nothing_stored(
    app_client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    account = await _account(runtime, "linkedin")
    await login(app_client, demo["dircom.region"].email, demo["dircom.region"].password)
    callback = await _consent(app_client, account)
    forged = callback.replace("state=", "state=x")
    refused = await app_client.get(forged)
    assert refused.status_code == 400
    assert "does not match" in refused.text or "ne correspond" in refused.text
    async with runtime.session() as session:
        row = await session.get(Account, account.id)
        assert row is not None and row.credentials_encrypted == account.credentials_encrypted
        assert (
            await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "account.connected", AuditEvent.actor_label != "demo")
            )
            is None
        )


async def test_editor_cannot_start_and_bluesky_explains(
    app_client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    account = await _account(runtime, "linkedin")
    await login(app_client, demo["cm.region"].email, demo["cm.region"].password)
    response = await app_client.get(
        f"/admin/personas/{account.persona_id}/accounts/{account.id}/connect", follow_redirects=False
    )
    assert response.status_code == 403
    # a forged callback without any started flow
    response = await app_client.get("/oauth/linkedin/callback?code=abc&state=nothing")
    assert response.status_code == 400


async def test_service_refuses_expired_state_and_unsupported_plugin(
    runtime: Runtime, fake: tuple[FakeLinkedIn, str], demo: dict[str, DemoLogin]
) -> None:
    _point_at(runtime, fake[1])
    account = await _account(runtime, "linkedin")
    url, pending = service.start_connection(
        runtime.host, account, default_redirect_uri="http://127.0.0.1:9/oauth/linkedin/callback"
    )
    consent = httpx.get(url, follow_redirects=False)
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    async with runtime.session() as session:
        with pytest.raises(service.ConnectionRefused) as refused:
            await service.finish_connection(
                session,
                runtime.host,
                pending,
                state=query["state"][0],
                code=query["code"][0],
                actor=Actor.system("t"),
                now=pending.expires_at + timedelta(seconds=1),
            )
        assert refused.value.code == "expired"
        row = await session.get(Account, account.id)
        assert row is not None and row.credentials_encrypted == account.credentials_encrypted
    bluesky = await _account(runtime, "bluesky") if await _has(runtime, "bluesky") else None
    if bluesky is not None:
        with pytest.raises(service.ConnectionRefused) as unsupported:
            service.start_connection(runtime.host, bluesky, default_redirect_uri="http://127.0.0.1:9/cb")
        assert unsupported.value.code == "not_supported"


async def _has(runtime: Runtime, channel: str) -> bool:
    ids = await persona_ids(runtime)
    async with runtime.session() as session:
        return (
            await session.scalar(
                select(Account.id).where(Account.persona_id == ids[REGION], Account.channel == channel)
            )
            is not None
        )
