"""The publishing pipeline for real: arq on a real Redis (embedded, and the server when it answers),
both databases, a fake X on 127.0.0.1, the worker running; and ``portevoix worker`` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from core.audit import Actor
from core.db.enums import DeliveryState, Employer, Role
from core.db.models import Account, Delivery, Persona
from core.people.staff import create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import ComposeRequest, ComposeResult, StaffActor, compose
from core.queue.worker import EmbeddedWorker
from core.runtime import EmbeddedRedis, Runtime
from core.settings import Settings, load_settings
from personas import SEED_DIR, load_dir
from plugins.testing import serve_in_thread
from plugins.testing.fakes.x import FakeX
from tests.conftest import REDIS_SERVER_URL, REDIS_UP


@pytest.fixture(scope="session")
def fake_x() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture(scope="session")
def server_redis() -> str:
    """The session's own database of the Redis server (claimed in ``tests/conftest.py``): two
    test runs on one machine never take each other's jobs or flush each other's queue."""
    if not REDIS_UP:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    return REDIS_SERVER_URL


@pytest.fixture(params=["embedded-redis", "redis-server"])
def redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "embedded-redis":
        server = EmbeddedRedis(tmp_path / "redis")
        yield server.url
        server.close()
        return
    url: str = request.getfixturevalue("server_redis")

    async def flush() -> None:
        client = Redis.from_url(url)
        await client.flushdb()
        await client.aclose()

    asyncio.run(flush())
    yield url


@dataclass
class Pipeline:
    runtime: Runtime
    fake: FakeX
    persona: Persona
    account: Account
    editor: StaffActor
    redis_url: str
    worker: EmbeddedWorker | None = None
    extra: dict[str, object] = field(default_factory=dict)

    async def compose(
        self, text: str, *, when: datetime | None = None, publish_now: bool = False, role: Role | None = None
    ) -> ComposeResult:
        actor = self.editor if role is None else msgspec.structs.replace(self.editor, role=role)
        async with self.runtime.session() as session:
            return await compose(
                session,
                self.runtime.channels,
                actor,
                ComposeRequest(
                    persona_id=self.persona.id,
                    account_ids=(self.account.id,),
                    text=text,
                    scheduled_at=when,
                    publish_now=publish_now,
                ),
            )

    async def delivery(self, delivery_id: uuid.UUID) -> Delivery:
        async with self.runtime.sessions() as session:
            found = await session.get(Delivery, delivery_id)
            assert found is not None
            return found

    async def wait_for(self, delivery_id: uuid.UUID, *states: DeliveryState, timeout: float = 15.0) -> Delivery:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            delivery = await self.delivery(delivery_id)
            if delivery.state in states:
                return delivery
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"delivery stayed {delivery.state.value} (last error: {delivery.last_error})")
            await asyncio.sleep(0.1)

    def tweets(self) -> list[dict[str, object]]:
        return [r.json for r in self.fake.requests_to("POST", r"^/2/tweets$") if r.json]


async def connect(runtime: Runtime, fake: FakeX, persona_slug: str, channel: str = "x") -> Account:
    """Give the persona's account the credentials and identity the fake network accepts."""
    ref = fake.make_account(f"user{uuid.uuid4().hex[:8]}")
    async with runtime.session() as session:
        account = await session.scalar(
            select(Account).join(Persona).where(Persona.slug == persona_slug, Account.channel == channel)
        )
        assert account is not None
        await session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(external_id=ref.external_id, credentials_encrypted=runtime.vault.encrypt(ref.credentials))
        )
    async with runtime.sessions() as session:
        refreshed = await session.get(Account, account.id)
        assert refreshed is not None
        return refreshed


def pipeline_settings(settings: Settings, redis_url: str, **env: str) -> Settings:
    """The test's settings with a 2 s lease; ``env`` adds or overrides variables."""
    return load_settings(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": settings.secret_key,
            "PORTEVOIX_DATA_DIR": settings.data_dir,
            "PORTEVOIX_PUBLISH_LEASE_SECONDS": "2",
            **env,
        },
        dotenv=None,
    )


async def build_pipeline(settings: Settings, redis_url: str, fake: FakeX, fake_url: str, **env: str) -> Pipeline:
    runtime = Runtime(pipeline_settings(settings, redis_url, **env))
    runtime.base_url_overrides["x"] = fake_url
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        staff = await create_staff(
            session,
            email="cm@test.fr",
            display_name="CM",
            password="long enough pw",
            actor=Actor.system("test"),
            employer=Employer.INSTITUTION,
        )
        persona = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
        assert persona is not None
    account = await connect(runtime, fake, "region-occitanie")
    editor = StaffActor(id=staff.id, label=staff.email, role=Role.EDITOR)
    return Pipeline(runtime=runtime, fake=fake, persona=persona, account=account, editor=editor, redis_url=redis_url)


@pytest.fixture
async def pipeline(settings: Settings, redis_url: str, fake_x: tuple[FakeX, str]) -> AsyncIterator[Pipeline]:
    """Seed personas, the Région's X account connected to the fake X, and a worker running."""
    fake, url = fake_x
    fake.reset()
    built = await build_pipeline(settings, redis_url, fake, url)
    built.worker = EmbeddedWorker(built.runtime)
    await built.worker.start()
    yield built
    await built.worker.stop()
    await built.runtime.aclose()


# ------------------------------------------------------------------ worker processes
@pytest.fixture
def crash_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The Redis server when it answers (as in CI), else an embedded one the worker processes share."""
    if REDIS_UP:
        import redis

        url: str = request.getfixturevalue("server_redis")
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    server = EmbeddedRedis(tmp_path / "redis")
    yield server.url
    server.close()


@pytest.fixture
async def crash_pipeline(settings: Settings, crash_redis: str) -> AsyncIterator[Pipeline]:
    if not settings.is_sqlite:
        pytest.skip("the crash test runs once, on SQLite; the pipeline tests cover PostgreSQL")
    fake = FakeX()
    with serve_in_thread(fake) as url:
        built = await build_pipeline(settings, crash_redis, fake, url)
        built.extra["fake_url"] = url
        yield built
        await built.runtime.aclose()


class WorkerProcess:
    """``portevoix worker`` in its own process, as in production."""

    def __init__(self, pipeline: Pipeline, argv: tuple[str, ...] = ("-m", "web.cli", "worker")) -> None:
        settings = pipeline.runtime.settings
        self.argv = argv
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": pipeline.redis_url,
            "SECRET_KEY": settings.secret_key,
            "PORTEVOIX_DATA_DIR": settings.data_dir,
            "PORTEVOIX_PUBLISH_LEASE_SECONDS": "2",
            "PORTEVOIX_CHANNEL_X_BASE_URL": str(pipeline.extra["fake_url"]),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(settings.data_dir) / "worker.log"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.argv], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
