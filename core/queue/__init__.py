"""The job queue (arq on Redis): the courier, never the truth. See ``docs/publishing.md``."""

from __future__ import annotations

import contextlib

from redis.asyncio import Redis


async def redis_reachable(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:  # health checks report, they do not raise
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
