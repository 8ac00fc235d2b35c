"""The app served for real by uvicorn on 127.0.0.1 (a thread), on its own SQLite file and data directory."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import uvicorn

from core.audit import Actor
from core.db import migrate
from core.demo import DemoLogin, seed_demo_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import Settings, load_settings
from personas import SEED_DIR, load_dir
from web.app import create_app


class LiveApp(msgspec.Struct, frozen=True):
    url: str
    logins: dict[str, DemoLogin]
    settings: Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(settings: Settings) -> dict[str, DemoLogin]:
    runtime = Runtime(settings)
    try:
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("test"))
            logins = await seed_demo_staff(session)
    finally:
        await runtime.aclose()
    return {login.email.split("@")[0]: login for login in logins}


@contextmanager
def serve(
    directory: Path, redis_url: str | None = None, *, extra_env: dict[str, str] | None = None
) -> Iterator[LiveApp]:
    """Migrate a fresh database, load the seed personas and the demo team, serve; stop at the end."""
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'live.db'}",
        "PORTEVOIX_DATA_DIR": str(directory / "var"),
        "SECRET_KEY": "live-test-secret-key-" + "y" * 32,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra_env or {})
    settings = load_settings(env, dotenv=None)
    migrate.upgrade(settings.database_url)
    logins = asyncio.run(_seed(settings))
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"portevoix-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(url=f"http://127.0.0.1:{port}", logins=logins, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
