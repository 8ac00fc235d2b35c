"""A small ASGI base for faithful fake network servers.

A fake declares its routes with :func:`route`, checks that every request is shaped as the
network documents (else answers with the network's own error shape), keeps everything it
received in ``received`` so tests can assert on the exact request, emits the network's
rate-limit headers, and can be told to fail the next requests (:meth:`FakeNetwork.fail_next`).

It is a plain ASGI application: served by uvicorn in a thread for tests
(:func:`serve_in_thread`), or mounted inside the Porte-voix app as a *simulated network*
for the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from importlib.metadata import entry_points
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs

import structlog

#: where the demo finds the fake networks (``[project.entry-points."portevoix.fakes"]``)
FAKES_ENTRY_POINT_GROUP = "portevoix.fakes"
log = structlog.get_logger(__name__)

FailureKind = Literal["rate_limited", "expired", "rejected", "server_error", "timeout", "drop", "slow"]

Handler = Callable[..., Awaitable["FakeResponse"]]


@dataclass(frozen=True)
class Part:
    """One field of a multipart/form-data body."""

    content_type: str
    payload: bytes
    filename: str | None = None


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str  # decoded, without the mount prefix
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    at: float  # time.time() when received
    #: scheme, host and mount prefix: where URLs the fake hands out (upload, next page) point
    base_url: str = ""
    raw_path: str = ""  # as sent, percent-encoding kept (LinkedIn checks its URNs are encoded)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def parts(self) -> dict[str, Part] | None:
        """The fields of a multipart/form-data body by name; None when the body is not one."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return None
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=default_policy).parsebytes(head + self.body)
        if not message.is_multipart():
            return None
        fields: dict[str, Part] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str):
                data = payload if isinstance(payload, bytes) else b""
                fields[name] = Part(part.get_content_type(), data, part.get_filename())
        return fields


@dataclass
class FakeResponse:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is not None:
            return self.body
        if self.json is None:
            return b""
        return json.dumps(self.json).encode()


@dataclass
class Failure:
    kind: FailureKind
    retry_after: float = 2.0  # rate_limited: seconds until the reset
    message: str = ""  # rejected: the network's own message
    delay: float = 0.0  # timeout / slow: seconds to hold the response
    path: str | None = None  # only requests whose path matches this regex


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Declare a fake's route: ``@route("POST", "/2/tweets/{id}")`` passes ``id=`` to the handler."""

    def mark(fn: Handler) -> Handler:
        fn.__fake_route__ = (method.upper(), pattern)  # type: ignore[attr-defined]
        return fn

    return mark


def _compile(pattern: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    regex = regex.replace("{path}", "(?P<path>.+)")
    return re.compile(f"^{regex}$")


class FakeNetwork:
    """Base class of a fake network. Subclasses add ``@route`` methods and override the error shape."""

    key: ClassVar[str]
    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.received: list[ReceivedRequest] = []
        self._failures: deque[Failure] = deque()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._ids = 0
        for attr in dir(type(self)):
            fn = getattr(self, attr)
            spec = getattr(fn, "__fake_route__", None)
            if spec:
                self._routes.append((spec[0], _compile(spec[1]), fn))

    # ------------------------------------------------------------------ test controls
    def fail_next(self, kind: FailureKind, *, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` matching requests fail as ``kind``."""
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(kind=kind, **options))

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._failures.clear()

    def requests_to(self, method: str, path_regex: str) -> list[ReceivedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.received if r.method == method.upper() and pattern.search(r.path)]

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """A route decided at run time (a mixin's, whose path is a class attribute)."""
        self._routes.append((method.upper(), _compile(pattern), handler))

    def plugin_settings(self, url: str) -> dict[str, str]:
        """Settings that point the network's plugin at this fake served at ``url``, with the
        names of ``PORTEVOIX_CHANNEL_<KEY>_<FIELD>`` (``extra_…`` for the plugin's own keys):
        the demo's simulated networks use them. The base URL itself is always set."""
        return {}

    # ------------------------------------------------------------------ the network's errors
    #: the network's words for the failures :meth:`fail_next` provokes; override those that differ
    failure_messages: ClassVar[Mapping[str, str]] = {
        "rate_limited": "Too Many Requests",
        "expired": "The access token expired",
        "rejected": "The request was rejected",
        "server_error": "Internal Server Error",
        "timeout": "Gateway Timeout",
    }

    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        """The network's error answer, the one way a fake answers an error: subclasses return their
        network's shape. ``kind`` is the failure (``rate_limited``, ``expired``, ``rejected``,
        ``server_error``, ``timeout``) or the routing error (``method``, ``not_found``)."""
        return FakeResponse(status=status, json={"error": kind or "error", "message": message})

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        """The headers of the network's 429 (default ``Retry-After``); override with its own."""
        return {"retry-after": str(max(1, round(retry_after)))}

    def rate_limit_error(self, retry_after: float) -> FakeResponse:
        response = self.error(429, self.failure_messages["rate_limited"], kind="rate_limited")
        response.headers.update(self.limit_headers(retry_after))
        return response

    def expired_error(self) -> FakeResponse:
        return self.error(401, self.failure_messages["expired"], kind="expired")

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        """Rate-limit headers added to every successful response."""
        return {}

    def authorized(self, request: ReceivedRequest) -> bool:
        """Whether the request carries acceptable credentials. Default: any Bearer token."""
        return request.headers.get("authorization", "").startswith("Bearer ")

    # ------------------------------------------------------------------ ASGI
    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        request = await self._read(scope, receive)
        with self._lock:
            self.received.append(request)
        failure = self._take_failure(request)
        if failure is not None and failure.kind == "drop":
            await self._drop(send)
            return
        if failure is not None and failure.kind not in ("slow",):
            response = await self._failure_response(failure)
        else:
            response = await self._dispatch(request)
            if failure is not None:  # "slow": the work is done, the answer comes late
                await asyncio.sleep(failure.delay)
        await self._send(send, response)

    async def _read(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]]) -> ReceivedRequest:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        return ReceivedRequest(
            method=scope["method"],
            path=path,
            query=parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True),
            headers=headers,
            body=b"".join(chunks),
            at=time.time(),
            base_url=f"{scope.get('scheme', 'http')}://{headers.get('host', '127.0.0.1')}{root}",
            raw_path=raw_path.decode("latin-1"),
        )

    def _take_failure(self, request: ReceivedRequest) -> Failure | None:
        with self._lock:
            for failure in list(self._failures):
                if failure.path is None or re.search(failure.path, request.path):
                    self._failures.remove(failure)
                    return failure
        return None

    async def _failure_response(self, failure: Failure) -> FakeResponse:
        if failure.kind == "rate_limited":
            return self.rate_limit_error(failure.retry_after)
        if failure.kind == "expired":
            return self.expired_error()
        words = self.failure_messages
        if failure.kind == "rejected":
            return self.error(400, failure.message or words["rejected"], kind="rejected")
        if failure.kind == "timeout":
            await asyncio.sleep(failure.delay or 60)
            return self.error(504, words["timeout"], kind="timeout")
        return self.error(500, words["server_error"], kind="server_error")

    async def _dispatch(self, request: ReceivedRequest) -> FakeResponse:
        allowed: list[str] = []
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            response = await handler(request, **match.groupdict())
            if response.status < 400:
                for name, value in self.rate_headers(request).items():
                    response.headers.setdefault(name, value)
            return response
        if allowed:
            return self.error(405, f"method {request.method} not allowed on {request.path}", kind="method")
        return self.error(404, f"no route {request.method} {request.path}", kind="not_found")

    @staticmethod
    async def _send(send: Any, response: FakeResponse) -> None:
        body = response.encoded()
        headers = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
        if body and not any(k == b"content-type" for k, _ in headers):
            headers.append((b"content-type", response.content_type.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drop(send: Any) -> None:
        # Promise a body, send part of it, then fail: the server closes the connection and
        # the client sees a dropped connection (httpx.RemoteProtocolError).
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionAbortedError("fake network: connection dropped on purpose")


def discover_fakes() -> dict[str, type[FakeNetwork]]:
    """The fake networks installed through the ``portevoix.fakes`` entry points (name: the
    channel key, value: a :class:`FakeNetwork` subclass), by key. One that fails to load is
    logged and left out: the demo's simulated networks go on without it."""
    found: dict[str, type[FakeNetwork]] = {}
    for ep in sorted(entry_points(group=FAKES_ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            fake = ep.load()
            if not (isinstance(fake, type) and issubclass(fake, FakeNetwork)):
                raise TypeError(f"{ep.value} is not a FakeNetwork subclass")
        except Exception as exc:  # a third party's broken fake must not stop the demo
            log.error(
                "fake network disabled",
                fake=ep.name,
                source=ep.value,
                error=f"{type(exc).__name__}: {exc}",
            )
            continue
        found[ep.name] = fake
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app (a fake network) with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    import uvicorn

    port = port or _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"fake-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"fake server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
