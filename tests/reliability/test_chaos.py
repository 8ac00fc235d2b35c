"""The fault suite's own instruments: the chaos proxy does what it says, the verdict counts right.

Quick (no cluster): a tiny upstream that stores what reaches it, the proxy in front of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from core.db.enums import DeliveryState
from plugins.testing import serve_in_thread
from tests.reliability.chaos import ChaosProxy, ChaosRates
from tests.reliability.harness import Plan, RunResult, _judge, answer_kind


class Upstream:
    """An ASGI app that keeps every body it receives and answers 201."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"id": "1"}'})


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    app = Upstream()
    with serve_in_thread(app) as url:
        yield app, url


def _proxy(url: str, rates: ChaosRates, *, network: str = "x", seed: int = 1) -> ChaosProxy:
    proxy = ChaosProxy(url, network=network, seed=seed, rates=rates, client_timeout=0.5, grace=0.2)
    proxy.start()
    proxy.chaos.set()
    return proxy


def test_a_late_answer_comes_after_the_timeout_but_the_post_was_made(upstream: tuple[Upstream, str]) -> None:
    app, url = upstream
    proxy = _proxy(url, ChaosRates(late=1.0))
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{proxy.url}/2/tweets", json={"text": "bonjour"}, timeout=0.5)
        assert app.bodies == [b'{"text":"bonjour"}']
    finally:
        proxy.stop()


def test_a_500_or_a_timeout_never_reaches_the_network(upstream: tuple[Upstream, str]) -> None:
    app, url = upstream
    proxy = _proxy(url, ChaosRates(server_error=0.5, timeout=0.5))
    answers: list[int | str] = []
    try:
        for n in range(6):
            try:
                answers.append(httpx.post(f"{proxy.url}/2/tweets", json={"text": f"n°{n}"}, timeout=0.5).status_code)
            except httpx.ReadTimeout:
                answers.append("timeout")
        assert set(answers) == {500, "timeout"} and app.bodies == []
    finally:
        proxy.stop()


def test_a_429_is_enforced_until_its_reset_and_calls_inside_it_are_counted(upstream: tuple[Upstream, str]) -> None:
    app, url = upstream
    proxy = _proxy(url, ChaosRates(rate_limited=1.0, reset=(2.0, 2.0)))
    try:
        first = httpx.post(f"{proxy.url}/2/tweets", json={"text": "un"})
        reset = int(first.headers["x-rate-limit-reset"])
        assert first.status_code == 429 and reset >= time.time() + 1
        proxy.chaos.clear()  # no new fault: only the enforcement answers now
        time.sleep(0.3)  # past the grace: this call ignores the reset
        assert httpx.post(f"{proxy.url}/2/tweets", json={"text": "deux"}).status_code == 429
        assert app.bodies == [] and len(proxy.violations()) == 1
        time.sleep(max(0.0, reset - time.time()) + 0.05)
        assert httpx.post(f"{proxy.url}/2/tweets", json={"text": "trois"}).status_code == 201
        assert len(proxy.violations()) == 1
    finally:
        proxy.stop()


def test_a_dropped_connection_is_a_transport_error(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    proxy = _proxy(url, ChaosRates(drop=1.0))
    try:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{proxy.url}/2/tweets", json={"text": "coupé"})
    finally:
        proxy.stop()


def test_the_faults_of_a_seed_follow_the_requests_not_their_order(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    rates = ChaosRates(server_error=0.5)

    def outcomes(order: list[int]) -> dict[int, int]:
        proxy = _proxy(url, rates, seed=7)
        try:
            return {n: httpx.post(f"{proxy.url}/2/tweets", json={"text": f"n°{n}"}).status_code for n in order}
        finally:
            proxy.stop()

    forward = outcomes(list(range(12)))
    assert outcomes(list(reversed(range(12)))) == forward
    assert set(forward.values()) == {201, 500}


# ------------------------------------------------------------------ the verdict
def _row(state: DeliveryState, remote_id: str | None = "1") -> SimpleNamespace:
    return SimpleNamespace(id=uuid.uuid4(), state=state, remote_id=remote_id, last_error=None, channel="x", text="t")


@pytest.mark.parametrize(
    ("state", "remote_id", "found", "figures"),
    [
        (DeliveryState.PUBLISHED, "1", ["1"], {}),
        (DeliveryState.PUBLISHED, "1", ["1", "2"], {"duplicates": 1}),
        (DeliveryState.PUBLISHED, "1", [], {"lost": 1}),
        (DeliveryState.FAILED, None, [], {"lost": 1}),
        (DeliveryState.PUBLISHED, "2", ["1"], {"wrong": 1}),
        (DeliveryState.FAILED, None, ["1"], {"wrong": 1}),
        (DeliveryState.UNCERTAIN, None, ["1"], {"stuck": 1}),
        (DeliveryState.QUEUED, None, ["1", "2"], {"duplicates": 1, "stuck": 1}),
    ],
)
def test_each_delivery_is_judged_against_its_network(
    state: DeliveryState, remote_id: str | None, found: list[str], figures: dict[str, int]
) -> None:
    result = RunResult(Plan.fast("R2", 1))
    _judge(_row(state, remote_id), found, result)
    assert {k: v for k, v in result.failures.items()} == figures


def test_a_run_with_a_500_or_a_worker_exit_fails() -> None:
    result = RunResult(Plan.fast("R2", 1))
    assert result.ok
    result.http["503"] += 3  # /health may say the queue or the database is down: not a failure
    assert result.ok
    result.http["5xx"] += 1
    result.exits = 1
    assert result.failures == {"5xx": 1, "exits": 1}
    assert "5xx=1" in result.line() and result.line().endswith("FAILED")


@pytest.mark.parametrize(
    ("scenario", "path", "status", "headers", "kind"),
    [
        ("R2", "/health", 503, {}, "503"),  # /health names what is down
        ("R2", "/api/v1/personas", 503, {"retry-after": "5"}, "5xx"),  # a token needs no Redis
        ("R4", "/api/v1/personas", 503, {"retry-after": "5"}, "503"),  # the database is down: say so
        ("R4", "/api/v1/personas", 503, {}, "5xx"),  # … and when to come back
        ("R4", "/health", 500, {}, "5xx"),
        ("R1", "/api/v1/personas", 200, {}, "ok"),
    ],
)
def test_the_api_answers_are_counted_as_the_issue_asks(
    scenario: str, path: str, status: int, headers: dict[str, str], kind: str
) -> None:
    assert answer_kind(scenario, path, httpx.Response(status, headers=headers)) == kind
