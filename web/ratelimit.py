"""Login throttling: failed attempts counted in Redis per e-mail and per client address.

A fixed window per key (INCR + EXPIRE): simple, shared by every web process, and enough to
turn password guessing from thousands of tries a minute into a handful per quarter-hour.

Without Redis it cannot count, and it fails closed: the login answers 503 with ``Retry-After``
(``web.refusals``) rather than let guesses through uncounted — the session it would open could
not be kept anyway.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20


def _keys(email: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
    # hashed: the e-mail addresses people typed do not sit in Redis in clear
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return (f"portevoix:login:email:{digest}", MAX_FAILURES_PER_EMAIL), (
        f"portevoix:login:addr:{address}",
        MAX_FAILURES_PER_ADDRESS,
    )


class LoginThrottle:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def retry_after(self, email: str, address: str) -> int:
        """Seconds to wait before trying again (0: go ahead)."""
        wait = 0
        for key, limit in _keys(email, address):
            count = await self.redis.get(key)
            if count is not None and int(count) >= limit:
                wait = max(wait, int(await self.redis.ttl(key)), 1)
        return wait

    async def failed(self, email: str, address: str) -> None:
        for key, _ in _keys(email, address):
            if await self.redis.incr(key) == 1:  # the first failure opens the window (EXPIRE NX needs Redis 7)
                await self.redis.expire(key, WINDOW_SECONDS)

    async def succeeded(self, email: str) -> None:
        # the address counter stays: one good password must not reset a spray over many e-mails
        await self.redis.delete(_keys(email, "")[0][0])
