"""Databases of the Redis server on 127.0.0.1, one per run: two runs on one machine (two
engineers, CI and a laptop, a benchmark beside the suite) never take each other's jobs, throttle
keys or flushes. A run claims a database (SET NX with a token, in db 15, which nobody flushes)
and gives it back at the end; a crashed run's claim expires after four hours."""

from __future__ import annotations

import uuid

SERVER = "redis://127.0.0.1:6379/{db}"
CLAIMS = SERVER.format(db=15)
#: the databases runs may claim (15 holds the claims; 14 was every run's before claims)
DATABASES = range(13, 0, -1)
CLAIM_SECONDS = 4 * 3600


def _key(db: int) -> str:
    return f"portevoix:test-redis-db:{db}"


def claim() -> tuple[str, int, str] | None:
    """(url, db, token) of a database no other run holds, or None when all are taken."""
    import redis

    claims, token = redis.Redis.from_url(CLAIMS), uuid.uuid4().hex
    try:
        for db in DATABASES:
            if claims.set(_key(db), token, nx=True, ex=CLAIM_SECONDS):
                return SERVER.format(db=db), db, token
        return None
    finally:
        claims.close()


def release(db: int, token: str) -> None:
    import redis

    claims = redis.Redis.from_url(CLAIMS)
    try:
        if claims.get(_key(db)) == token.encode():
            claims.delete(_key(db))
    finally:
        claims.close()
