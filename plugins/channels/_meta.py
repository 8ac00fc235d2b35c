"""Meta Graph API plumbing shared by the Facebook Pages and Instagram plugins.

Both networks speak the same Graph API on ``graph.facebook.com/vNN.N``: the same error
envelope, the same usage headers (read by the contract's HTTP kit), the same cursor pagination
and the same Facebook Login. Only this module knows those shapes; the two plugins describe
*which* calls they make.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from core.channels import (
    AuthorizationRequest,
    ChannelError,
    ChannelPlugin,
    ChannelSettings,
    CredentialsExpired,
    ErrorReading,
    InboxPage,
    OAuthClient,
    PluginHttp,
    PreparedRequest,
    RateLimited,
    Rejected,
    RemoteItem,
    Transient,
    WebhookChallenge,
    WebhookRequest,
    json_body,
)

DEFAULT_GRAPH_VERSION = "v23.0"
DEFAULT_DIALOG_BASE = "https://www.facebook.com"
REDACTED = "[redacted]"

# Codes from the Graph error-handling table (reference §1.6). BUC throttling is 80000-80009
# and 80014; the task names 80001-80006, the wider set is a superset and costs nothing.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80010), 80014})
EXPIRED_CODES = frozenset({102, 190})
EXPIRED_SUBCODES = frozenset({458, 459, 460, 463, 464, 467})
TRANSIENT_CODES = frozenset({1, 2})
#: the ``Rejected.code`` of "Object with ID … does not exist" (code 100, subcode 33)
OBJECT_GONE = "100/33"
# Instagram answers code 9 / subcode 2207042 when the 24 h publishing quota is spent: that is
# a rate, not a refusal of the content, so the host must wait rather than fail the delivery.
IG_PUBLISH_LIMIT_SUBCODE = 2207042
# Meta does not say when an app/page quota frees up unless a BUC header carries
# estimated_time_to_regain_access (the kit reads it); its windows are rolling hours, so wait a
# few minutes.
DEFAULT_RATE_LIMIT_WAIT = 300.0
_GRAPH_TIME = "%Y-%m-%dT%H:%M:%S%z"


# --------------------------------------------------------------------------- settings


def graph_version(settings: ChannelSettings) -> str:
    """The pinned Graph API version, e.g. ``v23.0`` (``extra["graph_version"]``)."""
    return settings.extra.get("graph_version", DEFAULT_GRAPH_VERSION)


def int_setting(settings: ChannelSettings, name: str, default: int) -> int:
    raw = settings.extra.get(name)
    return int(raw) if raw else default


def float_setting(settings: ChannelSettings, name: str, default: float) -> float:
    raw = settings.extra.get(name)
    return float(raw) if raw else default


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Upload:
    """A local file sent as a multipart field (``source`` on /photos and /videos)."""

    field: str
    path: str
    content_type: str


@dataclass(frozen=True)
class GraphCall:
    """One Graph request, described once and either sent or shown (dry run)."""

    method: str
    path: str  # without the version: "/{page-id}/feed"
    params: dict[str, str] = field(default_factory=dict)  # query string
    form: dict[str, str] | None = None  # urlencoded (or multipart with ``upload``) body
    upload: Upload | None = None
    note: str = ""
    authenticated: bool = True


class Graph:
    """A thin Graph API client: versioned URLs and token handling. The contract's HTTP kit sends
    (usage headers, typed errors through :func:`read_graph_error`)."""

    def __init__(self, api: PluginHttp, *, base_url: str, version: str) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.version = version

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def prepare(self, call: GraphCall) -> PreparedRequest:
        """The exact request, token redacted: the Authorization header is the only secret."""
        url = self.url(call.path)
        if call.params:
            url = f"{url}?{urlencode(call.params)}"
        headers = {"Authorization": f"Bearer {REDACTED}"} if call.authenticated else {}
        note = call.note
        if call.upload is not None:
            headers["Content-Type"] = "multipart/form-data"
            note = f"{note}; multipart field {call.upload.field!r} = {call.upload.path}".lstrip("; ")
        elif call.form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return PreparedRequest(method=call.method, url=url, headers=headers, form=call.form, note=note)

    async def send(self, call: GraphCall, *, token: str | None, account_id: str | None = None) -> dict[str, Any]:
        # The token goes in a header, never in the URL, so it does not end up in access logs.
        headers = {"Authorization": f"Bearer {token}"} if token and call.authenticated else {}
        kwargs: dict[str, Any] = {
            "params": call.params or None,
            "data": call.form,
            "headers": headers,
        }
        endpoint = f"{call.method} {call.path}"
        if call.upload is None:
            response = await self.api.request(
                call.method, self.url(call.path), endpoint=endpoint, account=account_id, **kwargs
            )
        else:
            upload = call.upload
            with Path(upload.path).open("rb") as handle:
                files = {upload.field: (Path(upload.path).name, handle, upload.content_type)}
                response = await self.api.request(
                    call.method,
                    self.url(call.path),
                    endpoint=endpoint,
                    account=account_id,
                    files=files,
                    **kwargs,
                )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Transient(f"{self.api.label}: unreadable answer to {endpoint}", status=response.status_code)
        return body


def graph_for(plugin: ChannelPlugin) -> Graph:
    """The Graph client of a Meta plugin, on the pinned version of its settings."""
    api = PluginHttp(plugin, read_error=read_graph_error, default_wait=DEFAULT_RATE_LIMIT_WAIT)
    return Graph(api, base_url=plugin.base_url, version=graph_version(plugin.settings))


# --------------------------------------------------------------------------- errors


def read_graph_error(response: httpx.Response) -> ErrorReading | None:
    """Graph's envelope ``{"error": {code, error_subcode, message, error_user_msg, is_transient}}``.

    The code decides, not the status: a rate limit or an expired token comes as HTTP 400, and
    an error can come with HTTP 200.
    """
    status = response.status_code
    error = json_body(response).get("error")
    if not isinstance(error, dict):
        if status < 400:
            return None
        bare = f"HTTP {status} without a Graph error body"
        return ErrorReading(message=bare, log=bare)
    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    message = str(error.get("message") or "Graph API error")
    numbers = f"{code}/{subcode}" if subcode else str(code)
    return ErrorReading(
        message=str(error.get("error_user_msg") or message),
        code=numbers,
        error=_graph_error_class(code, subcode, error, status),
        log=f"Graph error {numbers}: {message}",
    )


def _graph_error_class(code: int | None, subcode: int | None, error: dict[str, Any], status: int) -> type[ChannelError]:
    if code in RATE_LIMIT_CODES or subcode == IG_PUBLISH_LIMIT_SUBCODE:
        return RateLimited
    if code in EXPIRED_CODES or subcode in EXPIRED_SUBCODES:
        return CredentialsExpired
    if error.get("is_transient") is True or code in TRANSIENT_CODES or status >= 500:
        return Transient
    return Rejected


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- data helpers


def parse_time(value: Any) -> datetime:
    """Graph times look like ``2021-08-10T18:45:03+0000``; webhooks use unix seconds or ms."""
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.strptime(value, _GRAPH_TIME)
        except ValueError:
            return datetime.fromisoformat(value)
    return datetime.now(UTC)


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def whole_second(moment: datetime) -> datetime:
    """Graph's times are whole seconds: a bound compared with them is too, or a post made in the
    same second as the attempt's start would read as made before it."""
    return moment.replace(microsecond=0)


def next_after(body: Mapping[str, Any]) -> str | None:
    """The ``after`` cursor of a Graph edge page, or None on the last page.

    Graph keeps ``cursors.after`` on the last page too; only ``paging.next`` says more exists.
    """
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    if isinstance(cursors, dict) and cursors.get("after"):
        return str(cursors["after"])
    values = parse_qs(urlsplit(str(paging["next"])).query).get("after")
    return values[-1] if values else None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when Graph gave an object there, else an empty one (absent or null field)."""
    return value if isinstance(value, dict) else {}


def data_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


async def edge_items(
    graph: Graph, path: str, params: Mapping[str, str], *, token: str, account_id: str
) -> AsyncIterator[dict[str, Any]]:
    """Every object of a Graph edge, page after page (``after`` cursors) until ``paging.next`` ends;
    the caller stops early by leaving the loop."""
    after: str | None = None
    seen: set[str] = set()
    while True:
        query = {**params, **({"after": after} if after else {})}
        body = await graph.send(GraphCall("GET", path, params=query), token=token, account_id=account_id)
        for item in data_of(body):
            yield item
        after = next_after(body)
        if after is None or after in seen:
            return
        seen.add(after)


# --------------------------------------------------------------------------- inbox walking


@dataclass(frozen=True)
class Fetch:
    """One pending Graph edge read of an inbox walk; the opaque cursor is a list of these."""

    op: str
    path: str
    params: dict[str, str]
    after: str | None = None
    ctx: dict[str, str] = field(default_factory=dict)


#: reads one Graph page and returns the items found plus the follow-up reads it implies
FetchHandler = Callable[[Fetch, dict[str, Any]], tuple[list[RemoteItem], list[Fetch]]]


def encode_cursor(queue: Sequence[Fetch]) -> str:
    raw = json.dumps([[f.op, f.path, f.params, f.after, f.ctx] for f in queue], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Fetch]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return [Fetch(op=o, path=p, params=q, after=a, ctx=c) for o, p, q, a, c in json.loads(raw)]
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Rejected(f"invalid inbox cursor: {exc}") from exc


async def walk_inbox(
    graph: Graph,
    *,
    token: str,
    account_id: str,
    cursor: str | None,
    start: list[Fetch],
    handlers: Mapping[str, FetchHandler],
    max_calls: int = 10,
) -> InboxPage:
    """Advance a depth-first walk over Graph edges until one read yields items.

    The walk's state (edges still to read, with their ``after`` cursors) *is* the opaque
    cursor, so a sync can stop after any page and resume exactly there. Each edge fails on its
    own: one Graph refuses for good (a permission the token lacks, an object deleted since) is
    left out and named in ``unavailable`` while the walk goes on; a temporary failure raises
    before anything is lost, and the host asks again with the same cursor.
    """
    queue = decode_cursor(cursor) if cursor else list(start)
    items: list[RemoteItem] = []
    unavailable: dict[str, str] = {}
    calls = 0
    while queue and not items and calls < max_calls:
        fetch = queue.pop(0)
        params = {**fetch.params, **({"after": fetch.after} if fetch.after else {})}
        calls += 1
        try:
            body = await graph.send(GraphCall("GET", fetch.path, params=params), token=token, account_id=account_id)
        except Rejected as exc:
            unavailable[fetch.op] = exc.network_message
            continue
        found, follow = handlers[fetch.op](fetch, body)
        items.extend(found)
        after = next_after(body)
        # Children first (comments of this post), then the rest of this edge, then the others.
        queue = follow + ([replace(fetch, after=after)] if after else []) + queue
    next_cursor = encode_cursor(queue) if queue else None
    return InboxPage(items=tuple(items), next_cursor=next_cursor, unavailable=unavailable)


# --------------------------------------------------------------------------- Facebook Login


def authorization_request(graph: Graph, *, state: str, scopes: Sequence[str]) -> AuthorizationRequest:
    """Facebook Login's dialog: OAuth 2 without PKCE, comma-separated scopes.
    ``extra["oauth_dialog_base"]`` swaps www.facebook.com for a fake.

    Its token endpoint is not RFC 6749's: a GET on the Graph API, the code exchanged without a
    ``grant_type`` (:func:`code_exchange_call`), then the ``fb_exchange_token`` grant for a
    long-lived token (:func:`long_lived_call`); so the tokens go through the Graph client.
    """
    settings = graph.api.plugin.settings
    base = settings.extra.get("oauth_dialog_base", DEFAULT_DIALOG_BASE).rstrip("/")
    dialog = OAuthClient(
        graph.api,
        authorize_url=f"{base}/{graph.version}/dialog/oauth",
        pkce=False,
        scope_separator=",",
    )
    return dialog.authorization(state=state, scopes=scopes)


def code_exchange_call(settings: ChannelSettings, code: str) -> GraphCall:
    params = {
        "client_id": settings.client_id,
        "redirect_uri": settings.redirect_uri,
        "client_secret": settings.client_secret,
        "code": code,
    }
    return GraphCall("GET", "/oauth/access_token", params=params, authenticated=False, note="code → user token")


def long_lived_call(settings: ChannelSettings, token: str) -> GraphCall:
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "fb_exchange_token": token,
    }
    return GraphCall("GET", "/oauth/access_token", params=params, authenticated=False, note="long-lived token")


def expires_at(body: Mapping[str, Any]) -> datetime | None:
    seconds = _as_int(body.get("expires_in"))
    return datetime.now(UTC) + timedelta(seconds=seconds) if seconds else None


async def user_token(graph: Graph, settings: ChannelSettings, code: str) -> dict[str, Any]:
    """Code → short-lived user token → long-lived (≈60 days) user token."""
    short = await graph.send(code_exchange_call(settings, code), token=None)
    return await graph.send(long_lived_call(settings, str(short["access_token"])), token=None)


# --------------------------------------------------------------------------- webhooks


def webhook_challenge(settings: ChannelSettings, request: WebhookRequest) -> WebhookChallenge | None:
    """Echo ``hub.challenge`` when ``hub.verify_token`` is ours; 403 when it is not."""
    if request.method.upper() != "GET" or request.query.get("hub.mode") != "subscribe":
        return None
    expected = settings.extra.get("webhook_verify_token") or settings.webhook_secret
    given = request.query.get("hub.verify_token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return WebhookChallenge(status=403, body="verify token mismatch")
    return WebhookChallenge(status=200, body=request.query.get("hub.challenge", ""))


def verify_signature(settings: ChannelSettings, request: WebhookRequest) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.

    Meta signs with the *app secret* (``client_secret``); ``extra["webhook_app_secret"]``
    overrides it for hosts that keep a separate one. The raw bytes are hashed as received:
    Meta signs its escaped-unicode form, re-serialising would break the match.
    """
    secret = settings.extra.get("webhook_app_secret") or settings.client_secret
    header = request.headers.get("x-hub-signature-256", "")
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256=").lower(), expected)


def webhook_body(request: WebhookRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise Rejected(f"webhook body is not JSON: {exc}") from exc
    return body if isinstance(body, dict) else {}


# --------------------------------------------------------------------------- moderation


def confirmed(body: Mapping[str, Any], what: str, network: str) -> None:
    """A moderation call answers ``{"success": true}``; anything else is not done."""
    if body.get("success") is not True:
        raise Rejected(f"{network}: {what} not confirmed", network_message=json.dumps(body))


async def delete_comment(send: Callable[[GraphCall], Awaitable[dict[str, Any]]], remote_id: str, network: str) -> None:
    """``DELETE /{comment-id}``; a comment already gone ("does not exist", 100/33) counts as deleted."""
    try:
        body = await send(GraphCall("DELETE", f"/{remote_id}"))
    except Rejected as exc:
        if exc.code == OBJECT_GONE:
            return
        raise
    confirmed(body, f"deletion of {remote_id}", network)
