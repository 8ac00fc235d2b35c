"""The OpenAPI document is valid and says what the API answers; schemathesis finds no server error."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from core.runtime import Runtime
from tests.conftest import REDIS_SERVER_URL, REDIS_UP
from tests.web.conftest import staff_with_token
from tests.web.live import LiveApp, serve

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: the stateful phase follows the document's own links only (not schemathesis's guesses), in scenarios of
#: at most 8 calls; its time is bounded on the command line
STATEFUL_CONFIG = """
[phases.stateful]
max-steps = 8

[phases.stateful.inference]
algorithms = []
"""
STATEFUL_SECONDS = 30


@pytest.mark.anyio
async def test_openapi_document_is_valid_and_declares_every_error(client: AsyncTestClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    validate(document)
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]
    assert len(operations) >= 18
    for path, method, operation in operations:
        codes = set(operation["responses"])
        assert {"401", "403"} <= codes, f"{method} {path}: {codes}"
        if "{persona_id}" in path or "{staff_id}" in path or "{token_id}" in path:
            assert "404" in codes, f"{method} {path}: {codes}"
        if "requestBody" in operation or operation.get("parameters"):
            assert "400" in codes, f"{method} {path}: {codes}"
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert {"status_code", "detail"} <= set(error.get("properties", {})), f"{method} {path}"
        assert operation.get("summary"), f"{method} {path} has no summary"
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("live-api"), REDIS_SERVER_URL if REDIS_UP else None) as app:
        yield app


@pytest.mark.timeout(400)  # two runs over every operation; the CI machine is slower than ours
def test_schemathesis_finds_no_server_error(live: LiveApp, tmp_path: Path) -> None:
    from core.db.enums import Role

    async def tokens() -> tuple[str, str]:
        runtime = Runtime(live.settings)
        try:
            _, admin = await staff_with_token(
                runtime, "fuzz-admin", is_admin=True, roles={"presidente-region": Role.MANAGER}
            )
            _, editor = await staff_with_token(runtime, "fuzz-editor", roles={"region-occitanie": Role.EDITOR})
            return admin, editor
        finally:
            await runtime.aclose()

    admin, editor = asyncio.run(tokens())
    assert httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    for token in (admin, editor):
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{live.url}/schema/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "8",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261126",
                "--request-timeout",
                "10",
                "--header",
                f"Authorization: Bearer {token}",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        tested = re.search(r"Tested: (\d+)", result.stdout)
        assert tested and int(tested.group(1)) >= 19, result.stdout[-2000:]  # every operation ran


@pytest.mark.anyio
async def test_answers_link_the_operations_their_ids_feed(client: AsyncTestClient) -> None:
    """OpenAPI links (web.openapi): compose → its post and delivery, a list → its first item; each
    link names an operation of the document and only path parameters that operation has."""
    document = (await client.get("/schema/openapi.json")).json()
    operations = {
        operation["operationId"]: (path, operation)
        for path, item in document["paths"].items()
        for operation in item.values()
    }
    links = {
        (source["operationId"], name): link
        for _, source in operations.values()
        for answer in source["responses"].values()
        for name, link in answer.get("links", {}).items()
    }
    assert {("compose", "getPost"), ("compose", "getDelivery"), ("compose", "approve"), ("compose", "cancel")} <= set(
        links
    )
    assert {("listPersonas", "getPersona"), ("listDeliveries", "getDelivery"), ("uploadMedia", "mediaFile")} <= set(
        links
    )
    assert ("listAccounts", "compose") in links and links["listAccounts", "compose"]["requestBody"]["accountIds"]
    for (source, name), link in links.items():
        assert link["operationId"] in operations, (source, name)
        path, _ = operations[link["operationId"]]
        assert set(link["parameters"]) <= set(re.findall(r"{(\w+)}", path)), (source, name, path)
        assert set(re.findall(r"{(\w+)}", path)) <= set(link["parameters"]), (
            source,
            name,
            "a path parameter is missing",
        )


def _compose_some(live: LiveApp, token: str) -> None:
    """Deliveries in each persona's lists, so that the links from the lists have ids to hand on."""
    headers = {"Authorization": f"Bearer {token}"}
    personas = httpx.get(f"{live.url}/api/v1/personas", headers=headers).json()["items"]
    for persona in personas:
        accounts = httpx.get(f"{live.url}/api/v1/personas/{persona['id']}/accounts", headers=headers).json()["items"]
        x = next(a["id"] for a in accounts if a["channel"] == "x")  # text alone is a post there
        for when in ("2031-03-03T10:00:00+01:00", None):
            body = {"accountIds": [x], "text": "Bonjour", "scheduledAt": when, "saveAsDraft": when is None}
            composed = httpx.post(f"{live.url}/api/v1/personas/{persona['id']}/posts", json=body, headers=headers)
            assert composed.status_code == 201, composed.text


def test_schemathesis_stateful_phase_follows_the_links_and_finds_no_server_error(live: LiveApp, tmp_path: Path) -> None:
    """R5: schemathesis chains calls through the document's links (compose → approve, cancel,
    reschedule…; a list → its first item), with a manager of both personas who is a site admin."""
    from core.db.enums import Role

    async def token() -> str:
        runtime = Runtime(live.settings)
        try:
            roles = {"presidente-region": Role.MANAGER, "region-occitanie": Role.MANAGER}
            _, secret = await staff_with_token(runtime, "stateful-admin", is_admin=True, roles=roles)
            return secret
        finally:
            await runtime.aclose()

    secret = asyncio.run(token())
    _compose_some(live, secret)
    config = tmp_path / "schemathesis.toml"
    config.write_text(STATEFUL_CONFIG)
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{live.url}/schema/openapi.json",
            "--phases",
            "stateful",
            "--checks",
            "not_a_server_error,ensure_resource_availability,use_after_free",
            "--max-time",
            str(STATEFUL_SECONDS),
            "--seed",
            "20261126",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {secret}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=STATEFUL_SECONDS + 60,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"✅\s+Stateful", result.stdout), result.stdout[-3000:]
    covered = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", result.stdout)
    assert covered and int(covered.group(2)) >= 25 and int(covered.group(1)) >= 12, result.stdout[-3000:]
