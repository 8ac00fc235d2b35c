"""A long fault run: many deliveries, a worker process killed with SIGKILL again and again,
a network that sometimes answers late. Checks that every delivery is published exactly once.

    .venv/bin/python scripts/fault_run.py [--deliveries 200] [--kills 10] [--seed 1]

Uses the Redis server on 127.0.0.1:6379 when it answers (else an embedded one), a SQLite file,
and a fake X on 127.0.0.1. Bounded: it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from core.db import migrate  # noqa: E402
from core.db.enums import DeliveryState  # noqa: E402
from core.db.models import Delivery  # noqa: E402
from core.runtime import EmbeddedRedis  # noqa: E402
from core.settings import load_settings  # noqa: E402
from plugins.testing import serve_in_thread  # noqa: E402
from plugins.testing.fakes.x import FakeX  # noqa: E402
from tests.queue.conftest import build_pipeline  # noqa: E402
from tests.queue.test_crash import WorkerProcess  # noqa: E402


def _redis(folder: Path) -> tuple[str, EmbeddedRedis | None]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/11").flushdb()
        return "redis://127.0.0.1:6379/11", None
    except OSError:
        server = EmbeddedRedis(folder / "redis")
        return server.url, server


async def main(deliveries: int, kills: int, seed: int) -> int:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="portevoix-fault-"))
    redis_url, embedded = _redis(folder)
    database_url = f"sqlite+aiosqlite:///{folder / 'fault.db'}"
    await asyncio.to_thread(migrate.upgrade, database_url)
    settings = load_settings({"DATABASE_URL": database_url, "PORTEVOIX_DATA_DIR": str(folder)}, dotenv=None)
    fake = FakeX()
    # X's own rate limit (100 posts / 15 min per user in the fake) is not what this run is about.
    fake.rate_headers = lambda request: {}  # type: ignore[method-assign]
    with serve_in_thread(fake) as fake_url:
        pipeline = await build_pipeline(settings, redis_url, fake, fake_url)
        pipeline.extra["fake_url"] = fake_url
        for _ in range(deliveries // 5):
            fake.fail_next("slow", delay=rng.uniform(0.5, 4.0), path=r"^/2/tweets$")
        start = datetime.now(UTC) + timedelta(seconds=2)
        ids = []
        for i in range(deliveries):
            result = await pipeline.compose(
                f"Information n°{i} du conseil régional.", when=start + timedelta(milliseconds=rng.randint(0, 20_000))
            )
            ids.append(result.deliveries[0].id)
        worker = WorkerProcess(pipeline)
        worker.start()
        began = time.monotonic()
        try:
            for n in range(kills):
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                worker.kill()
                print(f"kill {n + 1}/{kills} at {time.monotonic() - began:5.1f} s", flush=True)
                worker.start()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                async with pipeline.runtime.sessions() as session:
                    states = Counter((await session.scalars(select(Delivery.state).where(Delivery.id.in_(ids)))).all())
                if states[DeliveryState.PUBLISHED] == deliveries:
                    break
                await asyncio.sleep(1)
        finally:
            worker.stop()
        await pipeline.runtime.aclose()
    if embedded is not None:
        embedded.close()
    counts = Counter(t.text for t in fake.tweets.values())
    expected = {f"Information n°{i} du conseil régional." for i in range(deliveries)}
    lost = sorted(expected - set(counts))
    doubled = sorted(text for text, n in counts.items() if n > 1)
    print(f"\n{deliveries} deliveries, {kills} kills, {time.monotonic() - began:.0f} s")
    print(f"states: { {s.value: n for s, n in states.items()} }")
    print(f"published on the network: {len(counts)}   lost: {len(lost)}   duplicated: {len(doubled)}")
    return 0 if not lost and not doubled and states[DeliveryState.PUBLISHED] == deliveries else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.deliveries, args.kills, args.seed)))
