"""`portevoix run` as a new user starts it: embedded database and Redis, worker in the process,
simulated networks — and a scheduled demo post goes out on them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Persona, Staff
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from core.settings import load_settings

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_app(tmp_path: Path) -> tuple[str, Path]:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PORTEVOIX_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))
    }
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError((tmp_path / "run.log").read_text()[-3000:])
        time.sleep(0.3)
    yield base, tmp_path
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


async def test_run_serves_the_demo_and_publishes_a_scheduled_post_to_the_simulated_networks(
    demo_app: tuple[str, Path],
) -> None:
    base, folder = demo_app
    output = (folder / "run.log").read_text()
    assert "admin@demo.portevoix.fr" in output and (folder / "var" / "demo-logins.txt").exists()
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "healthy" and health["queue"] is True
    page = httpx.get(f"{base}/login").text
    assert "réseaux" in page.lower() or "simul" in page.lower()  # labelled as a demo with simulated networks

    settings = load_settings({"PORTEVOIX_DATA_DIR": str(folder / "var")}, dotenv=None)
    runtime = Runtime(settings)
    try:
        async with runtime.session() as session:
            persona = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
            assert persona is not None
            accounts = (await session.scalars(select(Account).where(Account.persona_id == persona.id))).all()
            assert all(a.credentials_encrypted for a in accounts)  # connected to the simulated networks
            editor = await session.scalar(select(Staff).where(Staff.email == "cm.region@demo.portevoix.fr"))
            assert editor is not None
            result = await compose(
                session,
                runtime.channels,
                StaffActor(id=editor.id, label=editor.email, role=Role.EDITOR),
                ComposeRequest(
                    persona_id=persona.id,
                    account_ids=tuple(a.id for a in accounts if a.channel in ("x", "linkedin")),
                    text="Le festival des cinémas de plein air commence ce soir dans 30 communes d'Occitanie.",
                    scheduled_at=datetime.now(UTC) + timedelta(seconds=2),
                ),
            )
            ids = [d.id for d in result.deliveries]
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with runtime.sessions() as session:
                deliveries = (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all()
            if all(d.state == DeliveryState.PUBLISHED for d in deliveries):
                break
            assert asyncio.get_running_loop().time() < deadline, [(d.state, d.last_error) for d in deliveries]
            await asyncio.sleep(0.3)
        # The simulated networks gave each post an id, but no link to a real site's page.
        assert all(d.remote_id for d in deliveries)
        assert all(d.remote_url is None for d in deliveries)
    finally:
        await runtime.aclose()
