"""Redis and PostgreSQL go away under a running app (issue 10, items 6 and 7): ``/health`` answers
503 naming what is down, API calls with a token keep working without Redis, and whatever cannot
work answers 503 with ``Retry-After`` and a translated message — never a 500.

The outages are the tests' own: a redis-server on a port of their own that they stop and start
again, and a TCP proxy in front of PostgreSQL that they close; the machine's servers stay up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg.exceptions as pg
import pytest
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from core.audit import Actor
from core.db.engine import make_engine
from core.db.enums import Role
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import Settings, load_settings
from personas import SEED_DIR, load_dir
from tests.conftest import POSTGRES_UP, REDIS_SERVER_URL, REDIS_UP, _truncate_all_sql
from tests.web.conftest import bearer, login, staff_with_token
from tests.web.outages import RedisServer, TcpProxy, redis_server, tcp_proxy
from web.app import create_app
from web.refusals import outage

pytestmark = pytest.mark.anyio
PASSWORD = "a-long-password"  # staff_with_token's


def _settings(database_url: str, redis_url: str, folder: Path) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORTEVOIX_DATA_DIR": str(folder / "var"),
        "SECRET_KEY": "outage-secret-key-" + "z" * 32,
    }
    return load_settings(env, dotenv=None)


async def _seed(settings: Settings) -> str:
    """The seed personas and an editor of the institution with a token; returns the token."""
    runtime = Runtime(settings)
    try:
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            await upsert_personas(session, files, Actor.system("test"))
        _, token = await staff_with_token(runtime, "outage", roles={"region-occitanie": Role.EDITOR}, is_admin=True)
        return token
    finally:
        await runtime.aclose()


def _retry_after(response: object) -> int:
    value = response.headers.get("retry-after")  # type: ignore[attr-defined]
    assert value is not None and value.isdigit(), f"no Retry-After: {response.headers}"  # type: ignore[attr-defined]
    return int(value)


# ------------------------------------------------------------------ Redis
@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
async def redis_app(
    database_url: str, own_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[tuple[AsyncTestClient, str]]:
    settings = _settings(database_url, own_redis.url, tmp_path)
    token = await _seed(settings)
    async with AsyncTestClient(app=create_app(runtime=Runtime(settings)), base_url="http://127.0.0.1") as client:
        yield client, token


async def test_without_redis_health_says_the_queue_is_down_and_token_calls_keep_working(
    redis_app: tuple[AsyncTestClient, str], own_redis: RedisServer
) -> None:
    client, token = redis_app
    assert (await client.get("/health")).status_code == 200
    own_redis.stop()

    health = await client.get("/health")
    assert health.status_code == 503
    assert health.json()["queue"] is False and health.json()["database"] is True
    assert _retry_after(health) > 0

    # a token needs no session: reads and writes of the API go on
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    personas = await client.get("/api/v1/personas", headers=bearer(token))
    assert personas.status_code == 200 and personas.json()["items"]
    region = next(p["id"] for p in personas.json()["items"] if p["slug"] == "region-occitanie")
    check = await client.post(
        f"/api/v1/personas/{region}/posts/check", json={"accountIds": [], "text": "Bonjour"}, headers=bearer(token)
    )
    assert check.status_code in (200, 400), check.text  # the service's own answer, not an outage
    accounts = await client.get(f"/api/v1/personas/{region}/accounts", headers=bearer(token))
    x = next(a["id"] for a in accounts.json()["items"] if a["channel"] == "x")
    draft = {"accountIds": [x], "text": "Sans Redis, le brouillon s'enregistre", "saveAsDraft": True}
    composed = await client.post(f"/api/v1/personas/{region}/posts", json=draft, headers=bearer(token))
    assert composed.status_code == 201, composed.text  # the database is the truth: no queue needed

    own_redis.start()
    assert (await client.get("/health")).status_code == 200


async def test_without_redis_a_session_gets_a_503_page_in_its_language_and_comes_back_logged_out(
    redis_app: tuple[AsyncTestClient, str], own_redis: RedisServer
) -> None:
    client, _ = redis_app
    await login(client, "outage@test.portevoix.fr", PASSWORD)
    assert (await client.get("/admin")).status_code == 200
    own_redis.stop()

    page = await client.get("/admin", headers={"accept-language": "fr"})
    assert page.status_code == 503, page.text[:500]
    assert _retry_after(page) > 0
    assert "text/html" in page.headers["content-type"]
    assert "Service momentanément indisponible" in page.text and "sessions" in page.text

    client.cookies.set("pv_locale", "en")
    english = await client.get("/admin/me")
    assert english.status_code == 503 and "Service temporarily unavailable" in english.text

    # the same browser on the JSON API: JSON, not the page
    api = await client.get("/api/v1/me")
    assert api.status_code == 503 and api.json()["status_code"] == 503 and _retry_after(api) > 0

    # the login throttle cannot count without Redis: logging in fails closed, with a message
    await client.get("/login")
    attempt = await client.post(
        "/login",
        data={"email": "outage@test.portevoix.fr", "password": PASSWORD, "_csrf_token": client.cookies["pv_csrf"]},
        follow_redirects=False,
    )
    assert attempt.status_code == 503 and _retry_after(attempt) > 0

    own_redis.start()  # nothing was persisted: the session is gone, the browser logs in again
    again = await client.get("/admin", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


async def test_anonymous_pages_and_health_read_no_session(tmp_path: Path) -> None:
    """Nothing to keep, nothing written: /health, /login and static files set no session cookie."""
    settings = _settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "redis://127.0.0.1:1/0", tmp_path)
    async with AsyncTestClient(app=create_app(settings), base_url="http://127.0.0.1") as client:
        for path in ("/login", "/static/app.css", "/health"):
            response = await client.get(path)
            assert response.status_code in (200, 503), (path, response.status_code)
            assert "pv_session" not in response.headers.get("set-cookie", ""), path


# ------------------------------------------------------------------ PostgreSQL
@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    if not POSTGRES_UP:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with tcp_proxy(5432) as proxy:
        yield proxy


@pytest.fixture
async def pg_app(
    postgres_database: str, pg_proxy: TcpProxy, tmp_path: Path
) -> AsyncIterator[tuple[AsyncTestClient, str]]:
    engine = make_engine(postgres_database)
    async with engine.begin() as connection:
        await connection.execute(text(_truncate_all_sql()))
    await engine.dispose()
    through_proxy = postgres_database.replace("127.0.0.1:5432", f"127.0.0.1:{pg_proxy.port}")
    settings = _settings(through_proxy, REDIS_SERVER_URL if REDIS_UP else "redis://127.0.0.1:1/0", tmp_path)
    token = await _seed(settings)
    async with AsyncTestClient(app=create_app(runtime=Runtime(settings)), base_url="http://127.0.0.1") as client:
        yield client, token


async def test_without_postgresql_the_api_and_the_admin_answer_503_with_retry_after(
    pg_app: tuple[AsyncTestClient, str], pg_proxy: TcpProxy
) -> None:
    client, token = pg_app
    await login(client, "outage@test.portevoix.fr", PASSWORD)
    assert (await client.get("/api/v1/personas", headers=bearer(token))).status_code == 200
    pg_proxy.close()

    for _ in range(3):  # the pooled connections die first, then new ones are refused
        api = await client.get("/api/v1/personas", headers=bearer(token))
        assert api.status_code == 503, api.text
        assert _retry_after(api) > 0 and api.json()["status_code"] == 503
    health = await client.get("/health")
    assert health.status_code == 503 and health.json()["database"] is False and health.json()["queue"] is True

    page = await client.get("/admin", headers={"accept-language": "fr"})
    assert page.status_code == 503 and _retry_after(page) > 0
    assert "Service momentanément indisponible" in page.text and "base de données" in page.text

    pg_proxy.open()
    assert (await client.get("/api/v1/personas", headers=bearer(token))).status_code == 200
    assert (await client.get("/admin")).status_code == 200


# ------------------------------------------------------------------ what counts as an outage
def _raised_by_the_driver() -> ConnectionRefusedError:
    """A ConnectionRefusedError as asyncpg's connect raises it (from inside the driver)."""
    namespace = {"__name__": "asyncpg.connect_utils"}
    exec("def connect():\n    raise ConnectionRefusedError(111, 'Connect call failed')", namespace)
    try:
        namespace["connect"]()
    except ConnectionRefusedError as exc:
        return exc
    raise AssertionError("unreachable")


def _wrapped(cause: BaseException) -> BaseException:
    try:
        raise sa_exc.DBAPIError("SELECT 1", {}, cause) from cause  # type: ignore[arg-type]
    except sa_exc.DBAPIError as exc:
        return exc


@pytest.mark.parametrize(
    ("make", "down"),
    [
        (lambda: pg.CannotConnectNowError("the database system is shutting down"), "database"),
        (lambda: pg.AdminShutdownError("terminating connection due to administrator command"), "database"),
        (lambda: pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), "database"),
        (lambda: _wrapped(pg.CannotConnectNowError("the database system is starting up")), "database"),
        (lambda: sa_exc.OperationalError("SELECT 1", {}, Exception("database is locked")), "database"),
        (lambda: sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")), "database"),
        (lambda: sa_exc.TimeoutError("QueuePool limit reached"), "database"),
        (_raised_by_the_driver, "database"),
        (lambda: RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"), "sessions"),
        (lambda: RedisTimeoutError("Timeout reading from socket"), "sessions"),
        # bugs stay 500s: not every error that looks like a connection is an outage
        (lambda: ConnectionRefusedError(111, "raised by our own code"), None),
        (lambda: OSError("no such file"), None),
        (lambda: sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), None),
        (lambda: ValueError("a bug"), None),
    ],
)
def test_what_counts_as_an_outage(make: Callable[[], BaseException], down: str | None) -> None:
    assert outage(make()) == down
