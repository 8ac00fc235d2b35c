"""A chaotic network: an HTTP reverse proxy of our own in front of a fake network server.

The fakes of ``plugins.testing`` model each network faithfully; this proxy models what sits
between Porte-voix and any network on a bad day, without touching the fakes:

- ``server_error``: 500 in the network's own error shape, the request never reaches the fake;
- ``timeout``: the request is held past the client's timeout and never reaches the fake;
- ``late``: the request reaches the fake (the post IS made), the answer comes after the client
  has given up — the case only a reconcile can settle;
- ``rate_limited``: 429 with a reset in the network's own headers; the proxy then *enforces* it,
  answering 429 to every request of the account until the reset, and notes each one;
- ``drop``: the connection is reset, before or after the request reached the fake;
- ``latency``: every answer is delayed a little (within the client's timeout).

Decisions come from an RNG seeded by the run's seed and the request itself (method, path, body,
how many times that request was seen), not by the order requests arrive in: the n-th attempt of
a given post meets the same fault in every run of a seed, whatever the timing.

Every request is recorded with its arrival time, so a run can check that nobody called an
account between a 429 and its reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Literal

import httpx

Fault = Literal["", "server_error", "timeout", "late", "rate_limited", "drop", "throttled"]
FAULTS: tuple[Fault, ...] = ("server_error", "timeout", "late", "rate_limited", "drop")
#: request headers not passed on (hop by hop, or recomputed)
_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding", "accept-encoding", "upgrade"}
#: response headers not passed back (httpx has already decoded the body)
_HOP_BACK = {"connection", "keep-alive", "content-length", "transfer-encoding", "content-encoding"}


@dataclass(frozen=True)
class ChaosRates:
    """Probabilities per request while the chaos is on (they add up to the share of faulty answers)."""

    server_error: float = 0.0
    timeout: float = 0.0
    late: float = 0.0
    rate_limited: float = 0.0
    drop: float = 0.0
    #: seconds every answer waits, uniform in this range, chaos on or off (kept under the client's timeout)
    latency: tuple[float, float] = (0.0, 0.0)
    #: how long a 429 holds the account, uniform in this range (seconds)
    reset: tuple[float, float] = (3.0, 8.0)

    def pick(self, draw: float) -> Fault:
        edge = 0.0
        for fault in FAULTS:
            edge += getattr(self, fault)
            if draw < edge:
                return fault
        return ""


@dataclass(frozen=True)
class Record:
    at: float  # time.time() when the request arrived
    method: str
    path: str
    fault: Fault
    forwarded: bool
    status: int | None  # what the client was answered (None: no answer)


@dataclass(frozen=True)
class Throttle:
    start: float  # when the 429 was answered
    reset: float  # the instant the network stated


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")


@dataclass
class _Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# ------------------------------------------------------------------ the networks' own words
def _json(status: int, body: object, headers: list[tuple[str, str]] | None = None) -> _Answer:
    return _Answer(status, [("content-type", "application/json"), *(headers or [])], json.dumps(body).encode())


def _server_error(network: str) -> _Answer:
    if network == "x":
        return _json(500, {"title": "Internal Server Error", "detail": "Internal Server Error", "type": "about:blank",
                           "status": 500})  # fmt: skip
    if network == "linkedin":
        return _json(500, {"message": "Internal Server Error", "serviceErrorCode": 0, "status": 500})
    if network in ("facebook", "instagram"):
        error = {"message": "An unexpected error has occurred. Please retry your request later.",
                 "type": "OAuthException", "code": 2, "is_transient": True, "fbtrace_id": "AchaosAAA"}  # fmt: skip
        return _json(500, {"error": error})
    return _json(500, {"error": "Internal Server Error"})


def _rate_limited(network: str, reset: float) -> _Answer:
    """429 stating when the account may call again: X and Mastodon in their own reset headers;
    the others with the standard ``Retry-After`` (they document no reset of their own)."""
    if network == "x":
        headers = [
            ("x-rate-limit-limit", "100"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", str(int(reset))),
        ]
        body: object = {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        return _json(429, body, headers)
    if network == "mastodon":
        iso = datetime.fromtimestamp(reset, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        headers = [("x-ratelimit-limit", "300"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", iso)]
        return _json(429, {"error": "Too many requests"}, headers)
    retry = [("retry-after", str(max(1, math.ceil(reset - time.time()))))]
    if network in ("facebook", "instagram"):
        error = {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4,
                 "is_transient": True}  # fmt: skip
        return _json(429, {"error": error}, retry)
    return _json(429, {"message": "Too Many Requests", "status": 429}, retry)


def _reset_instant(network: str, now: float, seconds: float) -> float:
    # X states whole epoch seconds: the enforced reset is the one it states.
    return float(math.ceil(now + seconds)) if network == "x" else now + seconds


# ------------------------------------------------------------------ the proxy
class ChaosProxy:
    """One account's network behind a chaotic link, served on 127.0.0.1 in a thread of its own."""

    def __init__(
        self,
        upstream: str,
        *,
        network: str,
        seed: int,
        rates: ChaosRates,
        client_timeout: float,
        grace: float = 1.0,
        hide_quota: tuple[str, ...] = (),
    ) -> None:
        self.upstream = upstream.rstrip("/")
        #: header prefixes taken off the network's own answers (its quota counters, see Networks)
        self.hide_quota = hide_quota
        self.network = network
        self.seed = seed
        self.rates = rates
        self.client_timeout = client_timeout
        #: a request this soon after a 429 was already on its way: not counted against the client
        self.grace = grace
        #: the chaos applies only while this is set (latency always does)
        self.chaos = threading.Event()
        self.records: list[Record] = []
        self.throttles: list[Throttle] = []
        #: requests received and not answered yet
        self.in_flight = 0
        self._seen: dict[str, int] = {}
        self._throttled_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"chaos-{network}", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._client: httpx.AsyncClient | None = None
        self.url = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> str:
        self._thread.start()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        asyncio.run_coroutine_threadsafe(self._open(sock), self._loop).result(timeout=10)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def _open(self, sock: socket.socket) -> None:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30.0)
        self._server = await asyncio.start_server(self._connection, sock=sock)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    # ---------------------------------------------------------------- what happened
    def faults(self) -> int:
        """Faults injected (enforced 429s not counted: they are the network's answer to a violation)."""
        return sum(1 for r in list(self.records) if r.fault not in ("", "throttled"))

    def violations(self) -> list[Record]:
        """Requests that arrived between a 429 (plus the grace) and the reset it stated."""
        windows = list(self.throttles)
        return [r for r in list(self.records) if any(w.start + self.grace < r.at < w.reset for w in windows)]

    # ---------------------------------------------------------------- serving
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                if not await self._serve(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is gone."""
        arrived = time.time()
        rng = self._rng(request)
        fault = self.rates.pick(rng.random()) if self.chaos.is_set() else ""
        if arrived < self._throttled_until:
            fault = "throttled"
        self.in_flight += 1
        try:
            answer, forwarded = await self._outcome(request, fault, rng, arrived)
        finally:
            self.in_flight -= 1
        self.records.append(Record(arrived, request.method, request.path, fault, forwarded, answer and answer.status))
        if answer is None:  # dropped: a reset, as a broken network gives
            writer.transport.abort()
            return False
        writer.write(_encode(answer))
        await writer.drain()
        return request.header("connection").lower() != "close"

    async def _outcome(
        self, request: _Request, fault: Fault, rng: random.Random, arrived: float
    ) -> tuple[_Answer | None, bool]:
        past_timeout = self.client_timeout + 1.0
        if fault == "throttled":
            return _rate_limited(self.network, self._throttled_until), False
        if fault == "rate_limited":
            reset = _reset_instant(self.network, arrived, rng.uniform(*self.rates.reset))
            self._throttled_until = max(self._throttled_until, reset)
            self.throttles.append(Throttle(arrived, reset))
            return _rate_limited(self.network, reset), False
        if fault == "server_error":
            return _server_error(self.network), False
        if fault == "timeout":
            await asyncio.sleep(past_timeout)
            return _Answer(504), False
        if fault == "drop" and rng.random() < 0.5:
            return None, False
        answer = await self._forward(request)
        if fault == "drop":
            return None, True
        if fault == "late":
            await asyncio.sleep(max(0.0, past_timeout - (time.time() - arrived)))
        elif self.rates.latency[1] > 0:
            await asyncio.sleep(rng.uniform(*self.rates.latency))
        return answer, True

    async def _forward(self, request: _Request) -> _Answer:
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP]
        try:
            response = await self._client.request(request.method, request.target, headers=headers, content=request.body)
        except httpx.HTTPError:
            return _Answer(502, [("content-type", "application/json")], b'{"error": "upstream unreachable"}')
        back = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BACK and not k.lower().startswith(self.hide_quota)
        ]
        return _Answer(response.status_code, back, response.content)

    def _rng(self, request: _Request) -> random.Random:
        """An RNG for this request: the seed, what the request is, and how many times it was seen."""
        identity = f"{request.method} {request.path} {hashlib.sha256(request.body).hexdigest()}"
        seen = self._seen.get(identity, 0)
        self._seen[identity] = seen + 1
        digest = hashlib.sha256(f"{self.seed}|{self.network}|{identity}|{seen}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))


# ------------------------------------------------------------------ HTTP/1.1, the little we need
async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    request = _Request(method.upper(), target, headers, b"")
    if request.header("transfer-encoding").lower() == "chunked":
        request.body = await _read_chunked(reader)
    elif length := int(request.header("content-length") or 0):
        request.body = await reader.readexactly(length)
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
        chunks.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()  # the blank line after the last chunk (no trailers here)
    return b"".join(chunks)


def _encode(answer: _Answer) -> bytes:
    head = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}"]
    head += [f"{k}: {v}" for k, v in answer.headers]
    head.append(f"content-length: {len(answer.body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body
