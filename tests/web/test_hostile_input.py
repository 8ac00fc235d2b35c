"""Hostile input (issue 10, R6): whatever a client sends, a clear 4xx naming the field — never a 500.

Deeply nested JSON, dates at the calendar's edges, forged cursors, NUL characters (which
PostgreSQL cannot store), a non-ASCII media signature; and a property-based fuzz (hypothesis) of
every JSON body route of the OpenAPI document with odd bodies, on both databases.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient, TestClient

from core.audit import Actor
from core.db.enums import InboxKind, Role
from core.db.models import (
    Account,
    CrisisPosture,
    InboxItem,
    Media,
    ModerationAction,
    SavedReply,
    VeilleItem,
    VeilleSource,
)
from core.db.types import utcnow
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.settings import Settings
from personas import SEED_DIR, load_dir
from tests.web.conftest import bearer, login, staff_with_token
from web.app import create_app
from web.inputs import MAX_DEPTH

ZERO = "00000000-0000-0000-0000-000000000000"


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


class World(msgspec.Struct, kw_only=True):
    """What the routes' paths need: real ids, so that odd bodies reach the handlers."""

    token: str
    ids: dict[str, str]


async def _seed(settings: Settings) -> World:
    runtime = Runtime(settings)
    try:
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        async with runtime.session() as session:
            personas = await upsert_personas(session, files, Actor.system("test"))
            region = next(p for p in personas if p.slug == "region-occitanie")
            account_id = str(region.accounts[0].id)
        roles = {"region-occitanie": Role.MANAGER, "presidente-region": Role.MANAGER}
        _, token = await staff_with_token(runtime, "hostile", roles=roles, is_admin=True)
        other, _ = await staff_with_token(runtime, "other", roles={"region-occitanie": Role.VIEWER})
        inbox = await _inbox_ids(runtime, region.accounts[0])
        return World(
            token=token,
            ids={"persona_id": str(region.id), "account_id": account_id, "staff_id": str(other), **inbox},
        )
    finally:
        await runtime.aclose()


async def _inbox_ids(runtime: Runtime, account: Account) -> dict[str, str]:
    """An inbox item, a saved reply, a ban waiting for review and a media: the path ids of their routes."""
    async with runtime.session() as session:
        item = InboxItem(
            account_id=account.id,
            persona_id=account.persona_id,
            remote_id="hostile-1",
            kind=InboxKind.COMMENT,
            author_remote_id="citizen",
            text="Bonjour",
            received_at=utcnow(),
        )
        saved = SavedReply(persona_id=account.persona_id, short_code="merci", title="Merci", text="Merci !")
        media = Media(
            persona_id=account.persona_id,
            kind="image",
            content_type="image/png",
            filename="m.png",
            storage_path="/nonexistent/m.png",
            sha256="0" * 64,
            size_bytes=1,
        )
        session.add_all([item, saved, media])
        await session.flush()
        ban = ModerationAction(
            item_id=item.id, persona_id=account.persona_id, action="ban", state="pending_review", reason_code="spam"
        )
        session.add(ban)
        source = VeilleSource(
            persona_id=account.persona_id, kind="feed", plugin="rss", target="https://presse.example/rss", label="P"
        )
        session.add(source)
        await session.flush()
        watched = VeilleItem(
            source_id=source.id, persona_id=account.persona_id, dedup_key="0" * 64, title="T", content_hash="0" * 64
        )
        session.add(watched)
        await session.flush()
        posture = CrisisPosture(persona_id=account.persona_id, trigger="manual", item_id=watched.id)
        session.add(posture)
        await session.flush()
        return {
            "item_id": str(item.id),
            "saved_reply_id": str(saved.id),
            "action_id": str(ban.id),
            "media_id": str(media.id),
            "source_id": str(source.id),
            "watch_item_id": str(watched.id),
            "posture_id": str(posture.id),
        }


def _with_a_post(client: TestClient[Any] | Any, world: World) -> None:
    """A draft on the institution's first account: its post and delivery ids fill the paths."""
    persona = world.ids["persona_id"]
    body = {"accountIds": [world.ids["account_id"]], "text": "Bonjour l'Occitanie", "saveAsDraft": True}
    created = client.post(f"/api/v1/personas/{persona}/posts", json=body, headers=bearer(world.token))
    assert created.status_code == 201, created.text
    world.ids["post_id"] = created.json()["post"]["id"]
    world.ids["delivery_id"] = created.json()["deliveries"][0]["id"]


def _json_body_routes(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body schema) of every operation of the OpenAPI document taking JSON."""
    routes = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                routes.append((method.upper(), path, content["application/json"]["schema"]))
    return routes


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _plain_value(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value a field of this schema accepts, roughly: the body a fuzzed field is changed in."""
    schema = _schema(document, schema)
    if "oneOf" in schema:
        schema = _schema(document, schema["oneOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "2030-06-01T10:00:00+02:00" if schema.get("format") == "date-time" else "texte"
    return {"integer": 1, "number": 1.0, "boolean": False, "array": [], "object": {}}.get(str(kind))


def _plain_body(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    properties = _schema(document, schema).get("properties", {})
    return {name: _plain_value(document, field) for name, field in properties.items()}


# ------------------------------------------------------------------ the app and its world
@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[TestClient[Any], World, dict[str, Any]]]:
    world = asyncio.run(_seed(settings))
    with TestClient(app=create_app(runtime=Runtime(settings)), base_url="http://127.0.0.1") as client:
        _with_a_post(client, world)
        document = client.get("/schema/openapi.json").json()
        yield client, world, document


def _path(path: str, world: World) -> str:
    for name, value in world.ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_deeply_nested_json_is_a_400_on_every_body_route(served: tuple[TestClient[Any], World, dict[str, Any]]) -> None:
    client, world, document = served
    routes = _json_body_routes(document)
    assert len(routes) >= 15
    too_deep_field = json.dumps({"text": json.loads(_nested(MAX_DEPTH + 5))}).encode()
    for method, path, _ in routes:
        for body in (_nested(100_000), _nested(5_000), too_deep_field):
            response = client.request(
                method,
                _path(path, world),
                content=body,
                headers={**bearer(world.token), "content-type": "application/json"},
            )
            assert response.status_code == 400, (method, path, len(body), response.text[:300])
            assert "nested too deeply" in response.json()["detail"] or response.json().get("extra"), response.text


def test_dates_at_the_edges_are_a_400_naming_the_field(served: tuple[TestClient[Any], World, dict[str, Any]]) -> None:
    client, world, _ = served
    deliveries = f"/api/v1/personas/{world.ids['persona_id']}/deliveries"
    for query, field in (("to=9999-12-31", "to"), ("from=0001-01-01", "from"), ("from=9999-12-31", "from")):
        response = client.get(f"{deliveries}?{query}", headers=bearer(world.token))
        assert response.status_code == 400, (query, response.text)
        assert response.json()["extra"][0]["key"] == field
    assert client.get(f"{deliveries}?to=2100-12-31", headers=bearer(world.token)).status_code == 200
    reschedule = _path("/api/v1/personas/{persona_id}/deliveries/{delivery_id}/reschedule", world)
    for moment, field in (("0001-01-01T00:00:00+14:00", "scheduledAt"), ("9999-12-31T23:59:59", "localTime")):
        name = "scheduledAt" if field == "scheduledAt" else "localTime"
        response = client.post(reschedule, json={name: moment}, headers=bearer(world.token))
        assert response.status_code == 400, (moment, response.text)
        assert response.json()["extra"][0]["key"] == field


def test_forged_cursors_are_a_400_on_every_list(served: tuple[TestClient[Any], World, dict[str, Any]]) -> None:
    client, world, document = served
    lists = [
        path
        for path, item in document["paths"].items()
        if any(p["name"] == "cursor" for p in item.get("get", {}).get("parameters", []))
    ]
    assert len(lists) >= 6
    forged = [
        ["2024-01-01T00:00:00", ZERO],  # naive
        ["0001-01-01T00:00:00+14:00", ZERO],  # before year 1 once in UTC
        ["9999-12-31T23:59:59-14:00", ZERO],  # after 9999 once in UTC
        ["a\x00b", ZERO],
        [2**80, ZERO],
        [{"x": [1]}, ZERO],
        [None, None],
        ["x"],
    ]
    for path in lists:
        for values in forged:
            response = client.get(f"{_path(path, world)}?cursor={_cursor(values)}", headers=bearer(world.token))
            assert response.status_code in (200, 400), (path, values, response.text[:300])
            if response.status_code == 400:
                assert response.json()["extra"][0]["key"] == "cursor", response.text
        for garbage in ("%00", "!!!", "é", "A" * 400):
            response = client.get(f"{_path(path, world)}?cursor={garbage}", headers=bearer(world.token))
            assert response.status_code == 400, (path, garbage, response.text[:300])
    deliveries = _path("/api/v1/personas/{persona_id}/deliveries", world)
    for values in forged[:3]:  # a time where the deliveries sort by time: refused, not compared
        response = client.get(f"{deliveries}?cursor={_cursor(values)}", headers=bearer(world.token))
        assert response.status_code == 400, (values, response.text)


def test_nul_characters_are_a_400_naming_the_field(served: tuple[TestClient[Any], World, dict[str, Any]]) -> None:
    client, world, _ = served
    persona, account = world.ids["persona_id"], world.ids["account_id"]
    cases = [
        ("POST", f"/api/v1/personas/{persona}/posts", {"accountIds": [account], "text": "a\x00b"}, "text"),
        (
            "POST",
            f"/api/v1/personas/{persona}/posts",
            {"accountIds": [account], "variants": {"x": "\x00"}},
            "variants.x",
        ),
        ("POST", f"/api/v1/personas/{persona}/posts/check", {"accountIds": [account], "link": "http://a\x00"}, "link"),
        ("POST", "/api/v1/staff", {"email": "nul@test.fr", "displayName": "Nul\x00"}, "displayName"),
        ("PATCH", "/api/v1/me", {"displayName": "\x00"}, "displayName"),
        ("POST", "/api/v1/me/tokens", {"name": "script\x00"}, "name"),
    ]
    for method, path, body, field in cases:
        response = client.request(method, path, json=body, headers=bearer(world.token))
        assert response.status_code == 400, (path, response.text)
        assert response.json()["extra"][0]["key"] == field, response.text
        assert "NUL" in response.json()["detail"]
    query = client.get("/api/v1/personas?cursor=a%00", headers=bearer(world.token))
    assert query.status_code == 400 and query.json()["extra"][0] == {
        "key": "cursor",
        "message": query.json()["detail"],
        "source": "query",
    }
    upload = client.post(
        f"/api/v1/personas/{persona}/media",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")},
        data={"alt_text": "la mer\x00"},
        headers=bearer(world.token),
    )
    assert upload.status_code == 400 and upload.json()["extra"][0]["key"] == "alt_text", upload.text


@pytest.mark.anyio
async def test_nul_in_an_admin_form_is_refused_on_the_page(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, Any]
) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    page = await client.post("/admin/me/tokens", data={"name": "script\x00", "_csrf_token": client.cookies["pv_csrf"]})
    assert page.status_code == 400 and "NUL" in page.text and "text/html" in page.headers["content-type"]


@pytest.mark.anyio
async def test_a_non_ascii_media_signature_is_a_404(client: AsyncTestClient) -> None:
    expires = int(time.time()) + 600
    for signature in ("é", "é" * 64, "\u0663" * 64, "0" * 63 + "é", "g" * 64):
        response = await client.get(f"/media/{uuid.uuid4()}?expires={expires}&signature={signature}")
        assert response.status_code == 404, (signature, response.status_code)


# ------------------------------------------------------------------ property-based: every body route
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "a\x00b",
            "",
            " ",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-14:00",
            "2024-02-30T10:00:00",
            "2030-06-01T10:00:00",
            ZERO,
            "x" * 25_000,
            "\U0001f600" * 300,
            "<script>alert(1)</script>",
            "'; DROP TABLE posts; --",
        ]
    ),
)
_json_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
)


@st.composite
def _odd_body(draw: st.DrawFn, document: dict[str, Any], schema: dict[str, Any]) -> bytes:
    """A plain body with one field changed to something odd, or an odd body altogether."""
    kind = draw(st.sampled_from(["field", "field", "field", "whole", "raw"]))
    if kind == "raw":
        return draw(st.one_of(st.binary(max_size=64), st.sampled_from([_nested(10_000), b"{" * 3000, b'{"a":'])))
    if kind == "whole":
        return json.dumps(draw(_json_values)).encode()
    body = _plain_body(document, schema)
    if body:
        field = draw(st.sampled_from(sorted(body)))
        body[field] = draw(_json_values | st.builds(lambda d: json.loads(_nested(d)), st.integers(30, 60)))
    return json.dumps(body).encode()


def test_fuzzing_every_body_route_finds_no_server_error(served: tuple[TestClient[Any], World, dict[str, Any]]) -> None:
    client, world, document = served
    routes = _json_body_routes(document)
    seen: set[str] = set()

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
        method, path, schema = draw(st.sampled_from(routes))
        return method, path, draw(_odd_body(document, schema))

    @given(requests())
    @hypothesis_settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def no_server_error(request: tuple[str, str, bytes]) -> None:
        method, path, body = request
        seen.add(path)
        response = client.request(
            method,
            _path(path, world),
            content=body,
            headers={**bearer(world.token), "content-type": "application/json"},
        )
        assert response.status_code < 500, (method, path, body[:300], response.text[:500])

    no_server_error()
    assert len(seen) >= len(routes) - 2  # (almost) every route was tried
