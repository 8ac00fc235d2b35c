"""Shared bits of the fake Meta Graph API (Facebook Pages and Instagram fakes).

Graph conventions reproduced here: the ``/vNN.N`` path prefix; the access token as an
``access_token`` query/form parameter or a Bearer header; parameters in the query string, an
urlencoded or multipart body (merged, as Graph does); the error envelope
``{"error": {message, type, code, error_subcode, error_user_msg, is_transient, fbtrace_id}}``;
cursor pagination ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}``;
field expansion (``fields=id,messages.limit(5){id,message}``); and the ``X-App-Usage`` /
``X-Business-Use-Case-Usage`` headers.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

from plugins.testing.fake import FakeResponse, ReceivedRequest, route
from plugins.testing.oauth import OAuthServer

VERSION = re.compile(r"^v\d+\.\d+$")
TokenRole = Literal["user", "page", "any"]
#: Meta's usage headers count the calls of a rolling hour
USAGE_WINDOW_S = 3600.0

EXPIRED_MESSAGE = "Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT."
TRANSIENT_MESSAGE = "An unexpected error has occurred. Please retry your request later."
RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
}


class GraphError(Exception):
    """Raised by a fake handler; turned into Graph's error envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        type_: str = "OAuthException",
        user_msg: str | None = None,
        user_title: str | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.subcode = code, message, status, subcode
        self.type, self.user_msg, self.user_title, self.transient = (
            type_,
            user_msg,
            user_title,
            transient,
        )


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def missing(name: str) -> GraphError:
    return GraphError(100, f"(#100) The parameter {name} is required")


def no_object(object_id: str, method: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
        type_="GraphMethodException",
    )


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """One entry of a ``fields=`` list: ``name.modifier(arg){subfields}``."""

    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    sub: tuple[FieldSpec, ...] = ()


_FIELD = re.compile(r"^(\w+)((?:\.\w+\([^)]*\))*)(?:\{(.*)\})?$", re.S)


def parse_fields(spec: str) -> tuple[FieldSpec, ...]:
    parsed = []
    for part in _split_top(spec):
        match = _FIELD.match(part.strip())
        if not match:
            raise GraphError(2500, f'Syntax error "Expected end of string instead of "{part}"." at character 0')
        modifiers = dict(re.findall(r"\.(\w+)\(([^)]*)\)", match.group(2)))
        sub = parse_fields(match.group(3)) if match.group(3) else ()
        parsed.append(FieldSpec(match.group(1), modifiers, sub))
    return tuple(parsed)


def _split_top(spec: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in spec:
        depth += {"{": 1, "(": 1, "}": -1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


# --------------------------------------------------------------------------- requests


@dataclass
class GraphRequest:
    raw: ReceivedRequest
    version: str
    params: dict[str, str]
    token: str | None
    files: dict[str, tuple[str, bytes]]

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        return parse_fields(self.params["fields"]) if self.params.get("fields") else ()

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def merged_params(request: ReceivedRequest) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Query string and body merged, as Graph reads both; multipart files apart."""
    params = {k: v[-1] for k, v in request.query.items()}
    ctype = request.headers.get("content-type", "")
    files: dict[str, tuple[str, bytes]] = {}
    if ctype.startswith("application/x-www-form-urlencoded"):
        params.update(request.form)
    elif ctype.startswith("application/json") and request.body:
        body = request.json
        if isinstance(body, dict):
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
    for name, part in (request.parts() or {}).items():
        if part.filename:
            files[name] = (part.filename, part.payload)
        else:
            params[name] = part.payload.decode()
    return params, files


def token_of(request: ReceivedRequest, params: dict[str, str]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    if auth.startswith("OAuth "):
        return auth.removeprefix("OAuth ").strip()
    return params.get("access_token")


# --------------------------------------------------------------------------- pagination


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
    except ValueError as exc:
        raise GraphError(100, "(#100) Invalid after cursor") from exc


def page_of(
    items: list[Any],
    *,
    limit: int,
    after: str | None,
    next_base: str,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Graph edge page; ``next`` is the full URL of the following page when there is one."""
    start = _offset(after)
    chunk = items[start : start + limit]
    body: dict[str, Any] = {"data": chunk}
    if items:
        end = start + len(chunk)
        body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end < len(items):
            body["paging"]["next"] = (
                f"{next_base}?{urlencode({**(query or {}), 'limit': limit, 'after': _cursor(end)})}"
            )
    return body


# --------------------------------------------------------------------------- routes

GraphHandler = Callable[..., Awaitable[FakeResponse]]


def graph(
    method: str,
    pattern: str,
    *,
    allowed: Iterable[str] = (),
    required: Iterable[str] = (),
    token: TokenRole | None = "any",
) -> Callable[[GraphHandler], GraphHandler]:
    """A Graph route: checks the version, the token and the parameters, maps GraphError.

    ``allowed`` lists the documented parameters (``name[*]`` for indexed ones); anything else
    is refused, so a typo in a plugin fails its tests instead of being silently ignored.
    """
    allowed_patterns = [re.compile("^" + re.escape(a).replace(r"\[\*\]", r"\[\d+\]") + "$") for a in allowed]
    required_names = tuple(required)

    def mark(fn: GraphHandler) -> GraphHandler:
        @functools.wraps(fn)
        async def handler(self: GraphFake, request: ReceivedRequest, **path: str) -> FakeResponse:
            try:
                graph_request = self.checked(request, path.pop("version"), token)
                unknown = [k for k in graph_request.params if not any(p.match(k) for p in allowed_patterns)]
                if unknown:
                    raise GraphError(100, f"(#100) Param {unknown[0]} is not a valid parameter for this call")
                absent = [name for name in required_names if not graph_request.params.get(name)]
                if absent:
                    raise missing(absent[0])
                return await fn(self, graph_request, **path)
            except GraphError as exc:
                return self.graph_error(exc)

        return route(method, pattern)(handler)

    return mark


class GraphFake(OAuthServer):
    """Base of the Meta fakes: tokens, error envelope, usage headers, Facebook Login.

    Facebook Login's dialog is OAuth 2 (its consent page, approved at once, is the
    :class:`OAuthServer`'s); its token endpoint is a Graph GET (:meth:`oauth_access_token`).
    """

    authorize_path = "/{version}/dialog/oauth"
    authorize_params = ("client_id", "redirect_uri")
    standing_code = "fake-code"

    buc_type: ClassVar[str] = "pages"
    app_id: ClassVar[str] = "1234567890"
    app_secret: ClassVar[str] = "fake-app-secret"
    user_token: ClassVar[str] = "EAAfake-user-token"
    #: the object the BUC header is about (the page / IG user)
    business_id: str = ""
    #: the calls in an hour that make 100 % of the app's usage headers
    calls_per_hour: ClassVar[int] = 1000

    def __init__(self) -> None:
        super().__init__()
        self.rate_limit_code = 4
        self.calls = 0
        # token → role; tokens are fixed strings so accounts stay valid across resets
        self.tokens: dict[str, str] = {self.user_token: "user"}
        self.oauth_client_id = self.app_id
        self.setup()

    def setup(self) -> None:
        """(Re)create the network's state. Subclasses extend it."""
        self.rate_limit_code = 4
        self.calls = 0
        #: when the calls of the last hour came (what the usage headers count)
        self._recent: deque[float] = deque()
        #: the usage percentage every answer reports, instead of the rolling hour's (None: computed)
        self.usage_percent: int | None = None

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.setup()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_id(self) -> str:
        """Graph ids are long digit strings."""
        return str(17_800_000_000_000_000 + self.next_id() * 1_000 + secrets.randbelow(1_000))

    # ------------------------------------------------------------------ checks
    def checked(self, request: ReceivedRequest, version: str, role: TokenRole | None) -> GraphRequest:
        if not VERSION.match(version):
            raise GraphError(2500, f"Unknown path components: /{version}", type_="OAuthException")
        params, files = merged_params(request)
        token = token_of(request, params)
        params.pop("access_token", None)
        if role is not None:
            self.require_token(token, role)
        return GraphRequest(raw=request, version=version, params=params, token=token, files=files)

    def require_token(self, token: str | None, role: TokenRole) -> None:
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        known = self.tokens.get(token)
        if known is None:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if role != "any" and known != role:
            raise GraphError(
                200 if role == "page" else 190,
                f"(#200) This endpoint requires a {role} access token",
                type_="OAuthException",
            )

    def authorized(self, request: ReceivedRequest) -> bool:
        params, _ = merged_params(request)
        token = token_of(request, params)
        return token is not None and token in self.tokens

    def edge_url(self, request: GraphRequest, path: str) -> str:
        host = request.raw.headers.get("host", "graph.facebook.com")
        return f"http://{host}/{request.version}/{path.lstrip('/')}"

    def page(self, request: GraphRequest, items: list[Any], path: str, *, keep: Iterable[str] = ()) -> dict[str, Any]:
        limit = int(request.params.get("limit") or 25)
        query = {k: request.params[k] for k in keep if k in request.params}
        return page_of(
            items,
            limit=limit,
            after=request.params.get("after"),
            next_base=self.edge_url(request, path),
            query=query,
        )

    # ------------------------------------------------------------------ error shapes
    def graph_error(self, exc: GraphError) -> FakeResponse:
        error: dict[str, Any] = {"message": exc.message, "type": exc.type, "code": exc.code}
        if exc.subcode is not None:
            error["error_subcode"] = exc.subcode
        if exc.transient is not None:
            error["is_transient"] = exc.transient
        if exc.user_title:
            error["error_user_title"] = exc.user_title
        if exc.user_msg:
            error["error_user_msg"] = exc.user_msg
        error["fbtrace_id"] = "A" + secrets.token_hex(10)
        return FakeResponse(
            status=exc.status,
            json={"error": error},
            headers={"www-authenticate": f'OAuth "Facebook Platform" "{exc.type}"'},
        )

    def error(self, status: int, message: str, *, kind: str = "") -> FakeResponse:
        return self.graph_error(self._kind_error(status, message, kind))

    def _kind_error(self, status: int, message: str, kind: str) -> GraphError:
        # Graph answers rate limits and expired tokens with HTTP 400 and a code that says which.
        if kind == "rate_limited":
            code = self.rate_limit_code
            return GraphError(code, RATE_LIMIT_MESSAGES.get(code, f"(#{code}) Rate limit"), transient=True)
        if kind == "expired":
            return GraphError(190, EXPIRED_MESSAGE, subcode=463)
        if kind == "rejected":
            return GraphError(
                100,
                "Invalid parameter",
                user_title="Invalid request",
                user_msg=message,
                transient=False,
            )
        if kind in ("server_error", "timeout"):
            return GraphError(2, TRANSIENT_MESSAGE, status=status, transient=True)
        if kind == "method":
            return GraphError(
                100,
                f"Unsupported request - method type: {message}",
                subcode=33,
                type_="GraphMethodException",
            )
        if kind == "not_found":
            return GraphError(2500, f"Unknown path components: {message}")
        return GraphError(100, message, status=status if status >= 400 else 400)

    def limit_headers(self, retry_after: float) -> dict[str, str]:
        # No Retry-After: the BUC header's estimated_time_to_regain_access (minutes) says when.
        minutes = max(1, math.ceil(retry_after / 60))
        full = {"call_count": 100, "total_cputime": 42, "total_time": 57}
        buc = {self.business_id: [{"type": self.buc_type, **full, "estimated_time_to_regain_access": minutes}]}
        return {"x-app-usage": json.dumps(full), "x-business-use-case-usage": json.dumps(buc)}

    def plugin_settings(self, url: str) -> dict[str, str]:
        return {
            "client_id": self.app_id,
            "client_secret": self.app_secret,
            "extra_oauth_dialog_base": url,
        }

    def rate_headers(self, request: ReceivedRequest) -> dict[str, str]:
        """Meta's usage percentages over a rolling hour: the calls of the last hour against
        :attr:`calls_per_hour` (a long-running demo does not creep up to 100 %), or the figure a
        test set in :attr:`usage_percent` (how close to the limit the app is)."""
        now = time.monotonic()
        with self._lock:
            self.calls += 1
            self._recent.append(now)
            while self._recent and self._recent[0] < now - USAGE_WINDOW_S:
                self._recent.popleft()
            recent = len(self._recent)
        used = self.usage_percent
        if used is None:
            used = min(99, math.ceil(100 * recent / self.calls_per_hour))
        usage = {"call_count": used, "total_cputime": used // 2, "total_time": used // 2}
        buc = {self.business_id: [{"type": self.buc_type, **usage, "estimated_time_to_regain_access": 0}]}
        return {"x-app-usage": json.dumps(usage), "x-business-use-case-usage": json.dumps(buc)}

    # ------------------------------------------------------------------ OAuth
    @graph(
        "GET",
        "/{version}/oauth/access_token",
        allowed=(
            "client_id",
            "client_secret",
            "redirect_uri",
            "code",
            "grant_type",
            "fb_exchange_token",
        ),
        required=("client_id", "client_secret"),
        token=None,
    )
    async def oauth_access_token(self, request: GraphRequest) -> FakeResponse:
        params = request.params
        if params["client_id"] != self.app_id or params["client_secret"] != self.app_secret:
            raise GraphError(1, "Error validating client secret.", type_="OAuthException")
        if params.get("grant_type") == "fb_exchange_token":
            return self._long_lived(params.get("fb_exchange_token"))
        code = params.get("code")
        if not code or not params.get("redirect_uri"):
            raise missing("code" if not code else "redirect_uri")
        if self.redeem(code, params["redirect_uri"]) is None:  # a code is single-use
            raise GraphError(100, "Invalid verification code format.", subcode=36007)
        short = f"EAAshort-{secrets.token_hex(6)}"
        self.tokens[short] = "user"
        return FakeResponse(json={"access_token": short, "token_type": "bearer", "expires_in": 5183})

    def _long_lived(self, token: str | None) -> FakeResponse:
        if not token:
            raise missing("fb_exchange_token")
        if self.tokens.get(token) != "user":
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        return FakeResponse(json={"access_token": self.user_token, "token_type": "bearer", "expires_in": 5183944})
