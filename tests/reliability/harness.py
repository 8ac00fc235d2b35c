"""Fault runs against the distributed mode: the harness of ``scripts/fault_run.py`` and of
the fast variants in ``tests/reliability``.

One run starts everything it needs and stops all of it: a PostgreSQL cluster and a Redis
server of its own, ``portevoix serve`` and two ``portevoix worker`` processes, four fake
networks (X, LinkedIn, Mastodon, Facebook: one account of one persona on each) each behind a
chaos proxy. It composes posts due over a window, injects the scenario's faults while they go
out, polls the API with a token all along, waits (bounded) until every delivery is settled,
then compares the database with what the networks hold:

- **R1** workers SIGKILLed at random moments, restarted at once (as a supervisor would);
- **R2** Redis flushed, then Redis stopped and started again;
- **R3** a chaotic network (see :mod:`tests.reliability.chaos`);
- **R4** PostgreSQL restarted (stopped with ``-m fast``, started again after a while).

Settings of every run: a 5 s publish lease (so the plugins' HTTP timeout is 5 s, see
``core.runtime``) and 8 attempts. Eight, because the promise tested is *exactly once*, not the
retry budget: with backoffs of 2, 4, 8… s ± 50 %, a delivery's seventh attempt comes 63 s after
its first at the soonest, and R3's chaos lasts 60 s at most — no delivery can spend its attempts
while the network is chaotic, so none should ever end ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from core.audit import Actor
from core.db import migrate
from core.db.enums import DeliveryState, Employer, Role
from core.db.models import Account, Delivery, Persona, Post
from core.people.staff import create_staff
from core.people.tokens import create_token
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from core.settings import load_settings
from personas import load_file
from tests.reliability.chaos import ChaosRates
from tests.reliability.networks import CHANNELS, Networks, texts
from tests.reliability.services import AppProcess, Postgres, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("R1", "R2", "R3", "R4")
LEASE_S = 5.0
CLIENT_TIMEOUT_S = max(5.0, min(30.0, LEASE_S))  # what core.runtime gives the plugins
MAX_ATTEMPTS = 8
CHAOS_AT_MOST_S = 60.0  # R3: less than the 63 s before anyone's seventh attempt (see above)
POLL_EVERY_S = 0.5
RESTART_DELAY_S = 1.0  # a supervisor's (systemd's RestartSec)
WORKER_READY = "redis_version="  # what arq logs once a worker is connected to Redis
FINAL = {DeliveryState.PUBLISHED, DeliveryState.FAILED, DeliveryState.CANCELED}
SECRET_KEY = "fault-run-secret-key-" + "k" * 32
PERSONA = """
slug = "fault-run"
name = "Fault run"
kind = "institution"
embodies = false

[channels.x]
[channels.linkedin]
[channels.mastodon]
[channels.facebook]
"""
_ACCOUNT = '\n[[accounts]]\nchannel = "{0}"\nhandle = "fault-{0}"\nexternal_id = "pending-{0}"\n'


# ------------------------------------------------------------------ what a run does
@dataclass(frozen=True)
class Plan:
    scenario: str
    seed: int
    deliveries: int
    #: deliveries are due over this many seconds; the faults happen inside it
    window_s: float
    #: how long to wait, at most, for everything to settle once the faults are over
    settle_s: float
    #: share of the posts due in bursts (several posts at the same instant, as after a pause)
    burst_share: float = 0.5
    kills: int = 0  # R1: SIGKILLs, each of one worker picked at random, at random moments
    #: R1: instead, both workers killed together each time this many sends are in flight (0: not)
    kill_when_busy: int = 0
    redis_outage_s: float = 0.0  # R2
    pg_downtimes: tuple[float, ...] = ()  # R4: one restart per entry, down that many seconds
    rates: ChaosRates = ChaosRates()  # R3's chaos; the latency applies to every scenario

    @classmethod
    def full(cls, scenario: str, seed: int, deliveries: int = 1000) -> Plan:
        """The script's run: about 16 deliveries a second, faults over the whole window."""
        plan = cls(scenario, seed, deliveries, window_s=max(8.0, deliveries / 16), settle_s=300.0)
        if scenario == "R1":
            return replace(plan, kills=10, rates=ChaosRates(latency=(0.2, 1.5)))
        return _shape(plan, redis_outage_s=20.0, pg_downtimes=(0.0, 10.0))

    @classmethod
    def fast(cls, scenario: str, seed: int, deliveries: int | None = None) -> Plan:
        """The test suite's run: a few seconds of faults, a bounded wait."""
        if scenario == "R1":
            # The worst moments rather than random ones: both workers killed while they are
            # busiest (a machine losing power), three times — deterministic enough for a test.
            plan = cls(scenario, seed, deliveries or 160, window_s=6.0, settle_s=25.0, burst_share=1.0)
            return replace(plan, kills=3, kill_when_busy=30, rates=ChaosRates(latency=(1.5, 2.5)))
        # R3's last retries may wait a 4th backoff (up to 24 s) after its chaos: a longer bound.
        plan = cls(scenario, seed, deliveries or 80, window_s=8.0, settle_s=40.0 if scenario == "R3" else 30.0)
        return _shape(plan, redis_outage_s=5.0, pg_downtimes=(3.0,))


CHAOS = ChaosRates(server_error=0.30, timeout=0.03, late=0.04, rate_limited=0.03, drop=0.03, latency=(0.0, 0.3))
CALM = ChaosRates(latency=(0.0, 0.3))


def _shape(plan: Plan, *, redis_outage_s: float, pg_downtimes: tuple[float, ...]) -> Plan:
    if plan.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {plan.scenario!r}; known: {', '.join(SCENARIOS)}")
    if plan.scenario == "R2":
        return replace(plan, redis_outage_s=redis_outage_s, rates=CALM)
    if plan.scenario == "R3":
        return replace(plan, rates=CHAOS)
    return replace(plan, pg_downtimes=pg_downtimes, rates=CALM)


@dataclass
class RunResult:
    plan: Plan
    faults: int = 0
    duplicates: int = 0  # posts beyond the first of one delivery on its network
    lost: int = 0  # settled, yet not on the network (published and absent, or failed)
    wrong: int = 0  # on the network once, but the database says another id, or failed
    stuck: int = 0  # not settled when the wait ended
    drain_s: float | None = None  # from the end of the faults to everything settled
    http: Counter[str] = field(default_factory=Counter)  # "ok", "503", "5xx", "no answer" (see answer_kind)
    exits: int = 0  # app processes that stopped on their own (restarted by the supervisor)
    violations: int = 0  # requests between a 429 (plus a second) and the reset it stated
    strays: int = 0  # posts on a network that match no delivery
    fault_kinds: Counter[str] = field(default_factory=Counter)  # what the proxies injected (R3)
    states: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, int]:
        figures = {"duplicates": self.duplicates, "lost": self.lost, "wrong": self.wrong, "stuck": self.stuck,
                   "5xx": self.http["5xx"], "no answer": self.http["no answer"], "exits": self.exits,
                   "429 violations": self.violations, "strays": self.strays}  # fmt: skip
        return {name: value for name, value in figures.items() if value}

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        drain = f"{self.drain_s:.1f}s" if self.drain_s is not None else f">{self.plan.settle_s:.0f}s"
        return (
            f"{self.plan.scenario} seed={self.plan.seed} deliveries={self.plan.deliveries} faults={self.faults} "
            f"duplicates={self.duplicates} lost={self.lost} wrong={self.wrong} stuck={self.stuck} drain={drain} "
            f"5xx={self.http['5xx']} 503={self.http['503']} no-answer={self.http['no answer']} exits={self.exits} "
            f"429-violations={self.violations}{f' strays={self.strays}' if self.strays else ''} "
            f"{'ok' if self.ok else 'FAILED'}"
        )


# ------------------------------------------------------------------ the cluster
class Cluster:
    """Everything one run starts; :meth:`aclose` stops all of it, whatever happened."""

    def __init__(self, plan: Plan, folder: Path) -> None:
        self.plan = plan
        self.folder = folder
        self.networks = Networks(seed=plan.seed, rates=plan.rates, client_timeout=CLIENT_TIMEOUT_S)
        self.postgres = Postgres()
        self.redis = RedisServer(folder / "redis")
        self.database_url = self.postgres.url("portevoix")
        self.web_port = free_port()
        self.urls: dict[str, str] = {}  # channel -> its proxy's URL
        self.web: AppProcess | None = None
        self.workers: list[AppProcess] = []
        self.runtime: Runtime | None = None
        self.token = ""
        self.staff_id: uuid.UUID | None = None

    @property
    def processes(self) -> list[AppProcess]:
        return [*([self.web] if self.web else []), *self.workers]

    def start_servers(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.urls = self.networks.start()
        self.postgres.start()
        self.redis.start()

    def settings_env(self) -> dict[str, str]:
        """The run's settings, as every process reads them from its environment."""
        channels = {f"PORTEVOIX_CHANNEL_{key.upper()}_BASE_URL": url for key, url in self.urls.items()}
        return {
            **channels,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": SECRET_KEY,
            "PORTEVOIX_DATA_DIR": str(self.folder / "var"),
            "PORTEVOIX_PUBLISH_LEASE_SECONDS": str(LEASE_S),
            "PORTEVOIX_PUBLISH_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "PORTEVOIX_LOG_LEVEL": "INFO",
        }

    def env(self) -> dict[str, str]:
        # Nothing inherited that load_settings would read: the run's settings only.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PORTEVOIX_", "DATABASE_", "REDIS_"))}
        python_path = os.pathsep.join(p for p in (str(ROOT), inherited.get("PYTHONPATH", "")) if p)
        return {**inherited, **self.settings_env(), "PYTHONPATH": python_path}

    async def prepare(self) -> None:
        """Migrate, load the persona, connect its four accounts, create a staff member and a token."""
        await _create_database(self.postgres.url(), "portevoix")
        await asyncio.to_thread(migrate.upgrade, self.database_url)
        self.runtime = Runtime(load_settings(self.settings_env(), dotenv=None))
        self.token, self.staff_id = await _setup_data(self.runtime, self.networks, self.folder)

    def start_app(self) -> None:
        env, logs = self.env(), self.folder / "logs"
        self.web = AppProcess("web", ["serve", "--port", str(self.web_port)], env, logs / "web.log")
        self.workers = [AppProcess(f"worker-{i}", ["worker"], env, logs / f"worker-{i}.log") for i in (1, 2)]
        for process in self.processes:
            process.start()

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the web answers healthy and every worker is connected to Redis."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if await _healthy(client, self.web_url) and all(w.logged(WORKER_READY) for w in self.workers):
                    return
                if any(p.exited() for p in self.processes):
                    break
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the processes did not start; see the logs in {self.folder / 'logs'}")

    def stop_app(self) -> None:
        for process in [*self.workers, *([self.web] if self.web else [])]:
            process.stop()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_app()
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                await self.runtime.aclose()
        self.close_servers()

    def close_servers(self) -> None:
        for stop in (self.networks.stop, self.redis.stop, self.postgres.close):
            with contextlib.suppress(Exception):
                stop()


async def _healthy(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def _create_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _setup_data(runtime: Runtime, networks: Networks, folder: Path) -> tuple[str, uuid.UUID]:
    path = folder / "fault-run.toml"
    path.write_text(PERSONA + "".join(_ACCOUNT.format(channel) for channel in CHANNELS), encoding="utf-8")
    persona = load_file(path, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    actor = Actor.system("fault-run")
    async with runtime.session() as session:
        await upsert_personas(session, [persona], actor)
        accounts = (await session.scalars(select(Account).join(Persona).where(Persona.slug == "fault-run"))).all()
        for account in accounts:
            ref = networks.accounts[account.channel]
            account.external_id = ref.external_id
            account.credentials_encrypted = runtime.vault.encrypt(ref.credentials)
        staff = await create_staff(session, email="fault-run@example.org", display_name="Fault run",
                                   password="a long fault-run password", actor=actor, is_admin=True,
                                   employer=Employer.INSTITUTION)  # fmt: skip
        _, secret = await create_token(session, staff, "fault run poller", actor)
    return secret, staff.id


# ------------------------------------------------------------------ composing
async def compose_posts(
    runtime: Runtime, staff_id: uuid.UUID, plan: Plan, rng: random.Random, first_due: datetime
) -> list[uuid.UUID]:
    """Posts fanned out to the four accounts (the last one to fewer), due over the window,
    composed in the order they are due (so each one exists before its time)."""
    async with runtime.sessions() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == "fault-run"))
        assert persona is not None
        rows = await session.scalars(select(Account).where(Account.persona_id == persona.id))
        accounts = {account.channel: account.id for account in rows.all()}
    editor = StaffActor(id=staff_id, label="fault-run@example.org", role=Role.EDITOR)
    count = -(-plan.deliveries // len(CHANNELS))
    posts = list(zip(texts(count, rng), due_offsets(plan, count, rng), strict=True))
    ids: list[uuid.UUID] = []
    for index, (text, offset) in sorted(enumerate(posts), key=lambda item: item[1][1]):
        targets = tuple(accounts[c] for c in CHANNELS[: plan.deliveries - index * len(CHANNELS)])
        request = ComposeRequest(
            persona_id=persona.id, account_ids=targets, text=text, scheduled_at=first_due + timedelta(seconds=offset)
        )
        async with runtime.session() as session:
            result = await compose(session, runtime.channels, editor, request)
        held = [d for d in result.deliveries if d.state != DeliveryState.SCHEDULED]
        if held:  # the run's own texts must go straight through, or it measures the policy instead
            raise RuntimeError(f"{text!r} was not scheduled: {result.findings}")
        ids += [d.id for d in result.deliveries]
    return ids


def due_offsets(plan: Plan, count: int, rng: random.Random) -> list[float]:
    """Seconds after the first due time: uniform over the window, and some posts in bursts."""
    instants = [rng.uniform(0, plan.window_s) for _ in range(max(1, count // 10))]
    return [
        rng.choice(instants) if rng.random() < plan.burst_share else rng.uniform(0, plan.window_s) for _ in range(count)
    ]


# ------------------------------------------------------------------ watching
class Monitor:
    """The API polled with a token, and a supervisor restarting what stops on its own."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.http: Counter[str] = Counter()
        self.exits: list[str] = []
        self.samples: list[tuple[float, str, str]] = []  # (seconds since the start, path, answer)
        self._tasks: list[asyncio.Task[None]] = []
        self._began = time.monotonic()

    async def __aenter__(self) -> Monitor:
        self._tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._supervise())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _poll(self) -> None:
        headers = {"authorization": f"Bearer {self.cluster.token}"}
        async with httpx.AsyncClient(base_url=self.cluster.web_url, timeout=10.0, headers=headers) as client:
            while True:
                for path in ("/health", "/api/v1/personas"):
                    await self._probe(client, path)
                await asyncio.sleep(POLL_EVERY_S)

    async def _probe(self, client: httpx.AsyncClient, path: str) -> None:
        try:
            response = await client.get(path)
        except httpx.HTTPError as exc:
            kind, status = "no answer", type(exc).__name__
        else:
            kind, status = answer_kind(self.cluster.plan.scenario, path, response), str(response.status_code)
        self.http[kind] += 1
        if kind != "ok":
            self.samples.append((time.monotonic() - self._began, path, status))

    def summary(self) -> list[str]:
        """The answers that were not ok, one line per path and answer: how many, from when to when."""
        spans: dict[tuple[str, str], list[float]] = {}
        for at, path, status in self.samples:
            spans.setdefault((path, status), []).append(at)
        return [
            f"API {path} answered {status} x{len(times)} between {times[0]:.1f} s and {times[-1]:.1f} s"
            for (path, status), times in spans.items()
        ]

    async def _supervise(self) -> None:
        stopped: dict[str, float] = {}
        while True:
            for process in self.cluster.processes:
                if process.exited() and process.name not in stopped:
                    code = process.process.returncode if process.process else None
                    self.exits.append(f"{process.name} exited with {code} at {time.monotonic() - self._began:.1f} s")
                    stopped[process.name] = time.monotonic()
                elif process.name in stopped and time.monotonic() - stopped[process.name] >= RESTART_DELAY_S:
                    del stopped[process.name]
                    process.start()
            await asyncio.sleep(0.25)


def answer_kind(scenario: str, path: str, response: httpx.Response) -> str:
    """How an answer of the polled API counts: "ok", "503" (an outage said as documented) or "5xx".

    ``/health`` answers 503 naming what is down. The API may answer 503 with ``Retry-After``
    while the database is down (R4), never without Redis: the API with a token needs no Redis.
    """
    if response.status_code < 500:
        return "ok"
    if response.status_code == 503 and path == "/health":
        return "503"
    if response.status_code == 503 and scenario == "R4" and "retry-after" in response.headers:
        return "503"
    return "5xx"


# ------------------------------------------------------------------ faults
async def _at(start: float, offset: float) -> None:
    await asyncio.sleep(max(0.0, start + offset - time.monotonic()))


async def inject(plan: Plan, cluster: Cluster, rng: random.Random, start: float) -> int:
    """The scenario's faults, at moments relative to ``start`` (monotonic); returns how many."""
    window = plan.window_s
    if plan.scenario == "R1":
        return await (
            _kill_when_busy(plan, cluster) if plan.kill_when_busy else _kill_at_random(plan, cluster, rng, start)
        )
    if plan.scenario == "R2":
        await _at(start, 0.25 * window)
        await _flushall(cluster.redis.url)
        await _at(start, 0.5 * window)
        cluster.redis.stop()
        await asyncio.sleep(plan.redis_outage_s)
        cluster.redis.start()
        return 2
    if plan.scenario == "R3":
        cluster.networks.chaos(True)
        await _at(start, min(window, CHAOS_AT_MOST_S))
        cluster.networks.chaos(False)
        return cluster.networks.faults()
    for n, down in enumerate(plan.pg_downtimes, start=1):
        await _at(start, window * n / (len(plan.pg_downtimes) + 1))
        await asyncio.to_thread(cluster.postgres.stop, "fast")
        await asyncio.sleep(down)
        await asyncio.to_thread(cluster.postgres.start)
    return len(plan.pg_downtimes)


async def _kill_at_random(plan: Plan, cluster: Cluster, rng: random.Random, start: float) -> int:
    for moment in sorted(rng.uniform(0.1 * plan.window_s, 0.9 * plan.window_s) for _ in range(plan.kills)):
        await _at(start, moment)
        worker = rng.choice(cluster.workers)
        worker.kill()
        worker.start()  # at once, as a supervisor would
    return plan.kills


async def _kill_when_busy(plan: Plan, cluster: Cluster) -> int:
    """Both workers killed together each time ``kill_when_busy`` sends are in flight (or after 5 s)."""
    for _ in range(plan.kills):
        deadline = time.monotonic() + 5.0
        while cluster.networks.in_flight() < plan.kill_when_busy and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for worker in cluster.workers:
            worker.kill()
        for worker in cluster.workers:
            worker.start()
        await _wait_logged(cluster.workers, WORKER_READY, 30.0)
    return plan.kills * len(cluster.workers)


async def _wait_logged(processes: list[AppProcess], marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.logged(marker) for p in processes) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _flushall(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


async def settle(runtime: Runtime, ids: list[uuid.UUID], bound_s: float) -> float | None:
    """Seconds until every delivery is in a final state, or None when the bound came first."""
    began = time.monotonic()
    while time.monotonic() - began < bound_s:
        with contextlib.suppress(Exception):  # the database may be the fault of the run
            async with runtime.sessions() as session:
                open_ = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.id.in_(ids), Delivery.state.not_in(FINAL))
                )
            if open_ == 0:
                return time.monotonic() - began
        await asyncio.sleep(1.0)
    return None


# ------------------------------------------------------------------ the verdict
async def compare(runtime: Runtime, networks: Networks, ids: list[uuid.UUID], result: RunResult) -> None:
    """Every delivery against what its network holds: once, with the id the database says."""
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.state, Delivery.remote_id, Delivery.last_error, Account.channel, Post.text)
                .join(Account, Account.id == Delivery.account_id)
                .join(Post, Post.id == Delivery.post_id)
                .where(Delivery.id.in_(ids))
            )
        ).all()
    for channel in CHANNELS:
        posts = networks.posts(channel)
        by_text: dict[str, list[str]] = {}
        for post in posts:
            by_text.setdefault(post.text, []).append(post.remote_id)
        mine = [row for row in rows if row.channel == channel]
        for row in mine:
            _judge(row, by_text.get(row.text, []), result)
        known = {row.text for row in mine}
        for post in posts:
            if post.text not in known:
                result.strays += 1
                result.details.append(f"stray on {channel}: {post.remote_id} {post.text!r}")


def _judge(row: Any, found: list[str], result: RunResult) -> None:
    result.states[row.state.value] += 1
    where = f"{row.channel} {row.id} ({row.state.value}) {row.text!r}"
    if len(found) > 1:
        result.duplicates += len(found) - 1
        result.details.append(f"duplicate x{len(found)}: {where} ids={found}")
    if row.state not in FINAL:
        result.stuck += 1
        result.details.append(f"stuck: {where} last error: {row.last_error}")
    elif not found:
        result.lost += 1
        result.details.append(f"lost: {where} remote_id={row.remote_id} last error: {row.last_error}")
    elif row.state != DeliveryState.PUBLISHED:
        result.wrong += 1
        result.details.append(f"{row.state.value} although on the network: {where} last error: {row.last_error}")
    elif row.remote_id not in found:
        result.wrong += 1
        result.details.append(f"wrong id: {where} recorded {row.remote_id}, network has {found}")


# ------------------------------------------------------------------ one run
async def run(plan: Plan, folder: Path) -> RunResult:
    """One fault run, start to end; everything it started is stopped when it returns or raises."""
    rng = random.Random(plan.seed)
    cluster = Cluster(plan, folder)
    result = RunResult(plan)
    try:
        cluster.start_servers()  # in this thread: children die with the thread that started them
        await cluster.prepare()
        assert cluster.runtime is not None and cluster.staff_id is not None
        cluster.start_app()
        await cluster.wait_ready()
        start = time.monotonic() + 1.0
        first_due = datetime.now(UTC) + timedelta(seconds=1.0)
        async with Monitor(cluster) as monitor:
            # The faults keep their moments while the posts are still being composed.
            faults = asyncio.create_task(inject(plan, cluster, random.Random(plan.seed + 1), start))
            try:
                ids = await compose_posts(cluster.runtime, cluster.staff_id, plan, rng, first_due)
            except BaseException:
                faults.cancel()
                raise
            result.faults = await faults
            await _at(start, plan.window_s)
            result.drain_s = await settle(cluster.runtime, ids, plan.settle_s)
        cluster.stop_app()
        await compare(cluster.runtime, cluster.networks, ids, result)
        result.http, result.exits = monitor.http, len(monitor.exits)
        result.details += monitor.exits + monitor.summary()
        if plan.scenario == "R3":  # a held answer is recorded when it is given, after the chaos
            result.faults = cluster.networks.faults()
        for proxy in cluster.networks.proxies.values():
            result.violations += len(proxy.violations())
            result.fault_kinds.update(r.fault or "none" for r in proxy.records)
        result.details.insert(0, f"requests to the networks: {dict(result.fault_kinds)}; states: {dict(result.states)}")
        _write_report(folder, result)
    finally:
        await cluster.aclose()
    return result


def _write_report(folder: Path, result: RunResult) -> None:
    (folder / "report.txt").write_text(result.line() + "\n" + "\n".join(result.details) + "\n", encoding="utf-8")
