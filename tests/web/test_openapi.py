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
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        tested = re.search(r"Tested: (\d+)", result.stdout)
        assert tested and int(tested.group(1)) >= 19, result.stdout[-2000:]  # every operation ran
