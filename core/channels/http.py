"""The HTTP kit of the plugin contract: the plumbing every channel plugin would otherwise repeat.

A plugin builds one :class:`PluginHttp` and sends every request through it. The kit then

* turns a timeout or a dropped connection into :class:`Transient`;
* reports every response to the plugin's :class:`UsageRecorder`: the rate-limit headers it
  carries (``x-rate-limit-*``, ``x-ratelimit-*``, ``ratelimit-*``, Meta's ``X-App-Usage`` …)
  or, when it carries none, one call;
* maps a failed answer to the contract's errors: 429 → :class:`RateLimited` (the wait read from
  ``Retry-After`` or the reset headers), 401 → :class:`CredentialsExpired`, 5xx →
  :class:`Transient`, any other 4xx → :class:`Rejected` with the network's own words.

What differs between networks is how they word an error: each plugin passes an
:data:`ErrorReader` that returns an :class:`ErrorReading` (message, code, and the error the
network's code means when it says more than the status, such as Meta's code 4 at HTTP 400).

:class:`OAuthClient` runs OAuth 2.0 with PKCE through Authlib's httpx client, with the same
error mapping; a network's deviations from RFC 6749 are its parameters, so each one shows.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_qs
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

with warnings.catch_warnings():
    # Authlib >= 1.9 warns when it runs on httpx rather than its httpx2 fork; httpx is the
    # client of the whole project, and this integration is the one Authlib still ships.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from core.channels.contract import (
    AccountRef,
    AuthorizationRequest,
    ChannelError,
    ChannelPlugin,
    CredentialsExpired,
    RateLimited,
    Rejected,
    TokenSet,
    Transient,
    UsageReport,
)

#: response headers carrying a request count, tried in this order (X; Mastodon and most APIs;
#: the IETF draft, used by Bluesky)
COUNT_HEADERS = ("x-rate-limit-", "x-ratelimit-", "ratelimit-")
#: Meta's percentage headers and the quota each one is about
META_USAGE_HEADERS = {"x-app-usage": "app", "x-page-usage": "page"}
META_BUC_HEADER = "x-business-use-case-usage"
#: a reset value above this is a unix time; below, a number of seconds from now
_EPOCH_FLOOR = 1_000_000_000


# --------------------------------------------------------------------------- reading errors


@dataclass(frozen=True, slots=True)
class ErrorReading:
    """What a network says in a failed answer.

    ``message`` is shown to the author; ``code`` is the network's error code; ``error``
    overrides the class the status implies (``None``: decide by status); ``log`` is the
    developer's text of the exception (default: the status and the message).
    """

    message: str
    code: str | None = None
    error: type[ChannelError] | None = None
    log: str = ""


#: reads a response: ``None`` when it is a success, else what the network says went wrong
ErrorReader = Callable[[httpx.Response], ErrorReading | None]


def json_body(response: httpx.Response) -> dict[str, Any]:
    """A response's JSON object; ``{}`` when the body is empty, not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def read_error(response: httpx.Response) -> ErrorReading | None:
    """The default reader: a failure is a 4xx or 5xx; the words are the body's ``message``,
    ``error_description``, ``detail`` or ``error`` (else the start of the text)."""
    if response.status_code < 400:
        return None
    body = json_body(response)
    words = [body.get(name) for name in ("message", "error_description", "detail", "error")]
    message = next((str(w) for w in words if w), "") or response.text[:200] or response.reason_phrase
    code = body.get("code") or body.get("error")
    return ErrorReading(message=message, code=str(code) if isinstance(code, str | int) else None)


def _by_status(status: int) -> type[ChannelError]:
    if status == 429:
        return RateLimited
    if status == 401:
        return CredentialsExpired
    if status >= 500:
        return Transient
    return Rejected


# --------------------------------------------------------------------------- waits and usage


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _moment(value: str | None) -> datetime | None:
    """A reset value as a time: unix seconds, seconds from now, or ISO 8601 (Mastodon)."""
    number = _number(value)
    if number is not None:
        if number > _EPOCH_FLOOR:
            return datetime.fromtimestamp(number, UTC)
        return datetime.now(UTC) + timedelta(seconds=number)
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds_until(moment: datetime | None) -> float | None:
    return (moment - datetime.now(UTC)).total_seconds() if moment is not None else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        return _seconds_until(parsedate_to_datetime(raw))
    except (TypeError, ValueError):
        return None


def _reset_in(headers: Mapping[str, str]) -> float | None:
    reset = next((headers[p + "reset"] for p in COUNT_HEADERS if headers.get(p + "reset")), None)
    return _seconds_until(_moment(reset))


def _json_header(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _buc_entries(headers: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(business object id, entry) of Meta's ``X-Business-Use-Case-Usage``."""
    for object_id, entries in _json_header(headers.get(META_BUC_HEADER)).items():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                yield str(object_id), entry


def _meta_regain(headers: Mapping[str, str]) -> float | None:
    """Meta's ``estimated_time_to_regain_access`` (minutes), the longest of the quotas."""
    minutes = max(
        (float(e.get("estimated_time_to_regain_access") or 0) for _, e in _buc_entries(headers)),
        default=0.0,
    )
    return minutes * 60 if minutes > 0 else None


def rate_limit_wait(headers: Mapping[str, str], default: float) -> float:
    """Seconds before the network takes a request again (at least 1): ``Retry-After``, else a
    reset header, else Meta's regain estimate, else ``default`` (the network's usual window)."""
    for seconds in (_retry_after(headers), _reset_in(headers), _meta_regain(headers)):
        if seconds is not None:
            return max(1.0, seconds)
    return default


def _count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _used(data: Mapping[str, Any]) -> float:
    # Meta throttles as soon as any of its three counters reaches 100 %.
    return max(float(data.get(k) or 0) for k in ("call_count", "total_time", "total_cputime"))


def _meta_reports(channel: str, headers: Mapping[str, str], account_id: str | None) -> list[UsageReport]:
    # Meta's quotas are per app and per business object, not per endpoint: the quota names it.
    reports = [
        UsageReport(
            channel=channel,
            endpoint=quota,
            used_percent=_used(data),
            account_external_id=account_id,
        )
        for header, quota in META_USAGE_HEADERS.items()
        if (data := _json_header(headers.get(header)))
    ]
    for object_id, entry in _buc_entries(headers):
        regain = float(entry.get("estimated_time_to_regain_access") or 0)
        reports.append(
            UsageReport(
                channel=channel,
                endpoint=f"buc:{entry.get('type', 'unknown')}",
                used_percent=_used(entry),
                reset_at=datetime.now(UTC) + timedelta(minutes=regain) if regain > 0 else None,
                account_external_id=object_id,
            )
        )
    return reports


def usage_reports(channel: str, endpoint: str, headers: Mapping[str, str], account_id: str | None) -> list[UsageReport]:
    """What one response says about the quotas; a bare report (one call) when it says nothing."""
    reports = _meta_reports(channel, headers, account_id)
    for prefix in COUNT_HEADERS:
        limit, remaining, reset = (headers.get(prefix + n) for n in ("limit", "remaining", "reset"))
        if limit is not None or remaining is not None or reset is not None:
            reports.append(
                UsageReport(
                    channel=channel,
                    endpoint=endpoint,
                    limit=_count(limit),
                    remaining=_count(remaining),
                    reset_at=_moment(reset) if reset else None,
                    account_external_id=account_id,
                )
            )
            break
    return reports or [UsageReport(channel=channel, endpoint=endpoint, account_external_id=account_id)]


# --------------------------------------------------------------------------- sending


@contextlib.contextmanager
def transport_errors(label: str, endpoint: str) -> Iterator[None]:
    """Timeouts and dropped connections become :class:`Transient`: nobody knows whether the
    network acted, so the host reconciles before anything is sent again."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Transient(f"{label}: {endpoint} timed out") from exc
    except httpx.TransportError as exc:  # refused, reset, dropped mid-body
        raise Transient(f"{label}: {endpoint} failed: {type(exc).__name__}: {exc}") from exc


class PluginHttp:
    """One plugin's HTTP plumbing: send with ``plugin.http``, report usage, raise typed errors.

    ``read_error`` is how the network words a failure; ``default_wait`` the seconds a 429
    waits when no header says; ``label`` names the network in exception texts (default: key).
    """

    def __init__(
        self,
        plugin: ChannelPlugin,
        *,
        read_error: ErrorReader = read_error,
        default_wait: float = 60.0,
        label: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.read_error = read_error
        self.default_wait = default_wait
        self.label = label or plugin.key

    @property
    def http(self) -> httpx.AsyncClient:
        return self.plugin.http

    async def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str | None = None,
        account: AccountRef | str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Build and :meth:`send` a request (``kwargs`` are httpx's: params, json, data, files…)."""
        request = self.http.build_request(method, url, **kwargs)
        return await self.send(request, endpoint=endpoint, account=account)

    async def send(
        self,
        request: httpx.Request,
        *,
        endpoint: str | None = None,
        account: AccountRef | str | None = None,
    ) -> httpx.Response:
        """Send a built request; its response when the network took it, else the typed error.

        ``endpoint`` names the call in usage reports (default ``"METHOD /path"``); ``account``
        is the account it acts for (its reports name it).
        """
        endpoint = endpoint or f"{request.method} {request.url.path}"
        with transport_errors(self.label, endpoint):
            response = await self.http.send(request)
        self.check(response, endpoint=endpoint, account=account)
        return response

    async def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, then the answer's JSON object (``{}`` for an empty body)."""
        return json_body(await self.request(method, url, **kwargs))

    def check(self, response: httpx.Response, *, endpoint: str, account: AccountRef | str | None = None) -> None:
        """Report the response's usage, then raise its typed error if it is a failure."""
        account_id = account.external_id if isinstance(account, AccountRef) else account
        for report in usage_reports(self.plugin.key, endpoint, response.headers, account_id):
            self.plugin.usage.record(report)
        reading = self.read_error(response)
        if reading is not None:
            raise self.error(response, reading)

    def error(self, response: httpx.Response, reading: ErrorReading) -> ChannelError:
        """The contract's error for a failed answer: the network's code first, else the status."""
        status = response.status_code
        kind = reading.error or _by_status(status)
        text = f"{self.label}: {reading.log or f'HTTP {status}: {reading.message}'}"
        if kind is RateLimited:
            wait = rate_limit_wait(response.headers, self.default_wait)
            return RateLimited(text, retry_after=wait, network_message=reading.message, status=status)
        if kind is Transient:
            hint = _retry_after(response.headers)
            return Transient(text, retry_after=hint, network_message=reading.message, status=status)
        if kind is Rejected:
            return Rejected(text, code=reading.code, network_message=reading.message, status=status)
        return kind(text, network_message=reading.message, status=status)


# --------------------------------------------------------------------------- OAuth 2.0


def token_set(body: Mapping[str, Any], **extra: str) -> TokenSet:
    """A token endpoint's answer as a :class:`TokenSet`; a refresh token's lifetime
    (``refresh_token_expires_in``, TikTok's ``refresh_expires_in``) goes to ``extra``."""
    now = datetime.now(UTC)
    expires_in = body.get("expires_in")
    refresh_in = body.get("refresh_token_expires_in") or body.get("refresh_expires_in")
    if refresh_in:
        extra = {
            "refresh_expires_at": (now + timedelta(seconds=int(refresh_in))).isoformat(),
            **extra,
        }
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token") or None,
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        scope=body.get("scope"),
        token_type=str(body.get("token_type") or "bearer"),
        extra=extra,
    )


def _renamed(url: str, old: str, new: str) -> str:
    parts = urlsplit(url)
    query = [(new if name == old else name, value) for name, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class OAuthClient:
    """The authorization code flow, PKCE included, through Authlib's httpx client.

    Token requests go out with the plugin's timeout and event hooks, and their answers
    through the plugin's :class:`PluginHttp` (usage reports, typed errors). Where a network
    deviates from RFC 6749, a parameter says so:

    * ``auth_method``: Authlib's ``client_secret_post`` (default), ``client_secret_basic`` or
      ``none`` — how the client authenticates at the token endpoint;
    * ``pkce``, and ``challenge`` (default S256 base64url; TikTok's desktop flow takes hex);
    * ``client_id_name``: the client id's name in URL and body (TikTok: ``client_key``);
    * ``scope_separator`` (Meta and TikTok: a comma);
    * ``token_params``: sent with every token request (X wants ``client_id`` beside Basic);
    * ``headers`` of the token requests.
    """

    def __init__(
        self,
        api: PluginHttp,
        *,
        authorize_url: str,
        token_url: str = "",
        auth_method: str = "client_secret_post",
        pkce: bool = True,
        challenge: Callable[[str], str] = create_s256_code_challenge,
        client_id_name: str = "client_id",
        scope_separator: str = " ",
        token_params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.api = api
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.auth_method = auth_method
        self.pkce = pkce
        self.challenge = challenge
        self.client_id_name = client_id_name
        self.scope_separator = scope_separator
        self.token_params = dict(token_params or {})
        self.headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}

    def authorization(self, *, state: str, scopes: Sequence[str]) -> AuthorizationRequest:
        """The consent page's URL; keep ``code_verifier`` server-side for :meth:`exchange`."""
        settings = self.api.plugin.settings
        verifier = generate_token(64) if self.pkce else None  # 64 of PKCE's 43–128 characters
        pkce = {"code_challenge": self.challenge(verifier), "code_challenge_method": "S256"} if verifier else {}
        url, state = OAuth2Client(None, client_id=settings.client_id).create_authorization_url(
            self.authorize_url,
            state=state or None,
            redirect_uri=settings.redirect_uri,
            scope=self.scope_separator.join(scopes),
            **pkce,
        )
        if self.client_id_name != "client_id":
            url = _renamed(url, "client_id", self.client_id_name)
        return AuthorizationRequest(url=url, state=state, code_verifier=verifier)

    async def exchange(self, code: str, code_verifier: str | None = None) -> dict[str, Any]:
        """Code (and PKCE verifier) → the token endpoint's answer."""
        params = {"code": code, "redirect_uri": self.api.plugin.settings.redirect_uri}
        if code_verifier:
            params["code_verifier"] = code_verifier
        async with self._session() as client:
            token = await client.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                headers=self.headers,
                **params,
                **self.token_params,
            )
        return dict(token)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Refresh token → a new answer; a refused refresh token means only a new consent helps."""
        try:
            async with self._session() as client:
                token = await client.refresh_token(
                    self.token_url,
                    refresh_token=refresh_token,
                    headers=self.headers,
                    **self.token_params,
                )
        except Rejected as exc:
            raise CredentialsExpired(str(exc), network_message=exc.network_message, status=exc.status) from exc
        return dict(token)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncOAuth2Client]:
        """An Authlib client for one token request, with the plugin's timeout and event hooks."""
        settings = self.api.plugin.settings
        endpoint = f"POST {urlsplit(self.token_url).path}"
        client = AsyncOAuth2Client(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_endpoint_auth_method=self.auth_method,
            timeout=self.api.http.timeout,
            event_hooks=self.api.http.event_hooks,
        )
        if self.client_id_name != "client_id" and self.auth_method == "client_secret_post":
            client.register_client_auth_method(("client_secret_post", self._post_credentials))
        for hook in ("access_token_response", "refresh_token_response"):
            client.register_compliance_hook(hook, lambda response: self._checked(response, endpoint))
        async with client:
            with transport_errors(self.api.label, endpoint):
                yield client

    def _post_credentials(
        self, client: OAuth2Client, method: str, uri: str, headers: dict[str, str], body: str
    ) -> tuple[str, dict[str, str], str]:
        # client_secret_post, under the network's own name for the client id
        credentials = [
            (self.client_id_name, client.client_id),
            ("client_secret", client.client_secret),
        ]
        body = add_params_to_qs(body or "", credentials)
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(body))
        return uri, headers, body

    def _checked(self, response: httpx.Response, endpoint: str) -> httpx.Response:
        """Authlib's hook on every token answer: usage and typed errors before Authlib parses it."""
        self.api.check(response, endpoint=endpoint)
        body = json_body(response)
        if not body.get("access_token"):  # a 2xx that is no token: an HTML page, a bare error
            words = str(body.get("error_description") or body.get("error") or "no access token")
            raise Rejected(f"{self.api.label}: token answer without an access token", network_message=words)
        return response
