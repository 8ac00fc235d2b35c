"""The contract's HTTP kit on its own: waits, usage reports, error mapping, OAuth parameters.

Each plugin's tests exercise the kit end to end against its fake; these pin the rules the
plugins share, on real ``httpx.Response`` objects (no network needed to read headers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.channels import (
    Capabilities,
    ChannelPlugin,
    ChannelSettings,
    CredentialsExpired,
    ErrorReading,
    Feature,
    Format,
    FormatRules,
    OAuthClient,
    PluginHttp,
    RateLimited,
    Rejected,
    TextRules,
    Transient,
    rate_limit_wait,
    read_error,
    token_set,
    usage_reports,
)
from plugins.testing.conformance import RecordingUsageRecorder


class InstantPlugin(ChannelPlugin):
    """Enough of a plugin to hold settings, an HTTP client and a recorder."""

    key = "instant"
    name = "Instant"
    default_base_url = "http://127.0.0.1:9"
    capabilities = Capabilities(
        text=TextRules(limit=500),
        formats=(FormatRules(format=Format.POST),),
        features=frozenset({Feature.PUBLISH}),
    )


def response(status: int, headers: dict[str, str] | None = None, body: object = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, json=body, request=httpx.Request("GET", "http://n/x"))


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# header builders, called when the test runs: the times are relative to now
WAITS: list[tuple[Callable[[], dict[str, str]], float]] = [
    (lambda: {"retry-after": "42"}, 42),
    (lambda: {"retry-after": format_datetime(_in(90), usegmt=True)}, 90),
    (lambda: {"x-rate-limit-reset": str(int(time.time()) + 30)}, 30),  # X: unix time
    (lambda: {"ratelimit-reset": "20"}, 20),  # IETF draft: seconds from now
    (lambda: {"x-ratelimit-reset": _in(120).isoformat()}, 120),  # Mastodon: ISO 8601
    (
        lambda: {"x-business-use-case-usage": json.dumps({"1": [{"estimated_time_to_regain_access": 2}]})},
        120,
    ),
    (lambda: {"retry-after": "0"}, 1),  # never "right now"
    (lambda: {}, 300),  # the network's default
]


@pytest.mark.parametrize(("headers", "wait"), WAITS)
def test_rate_limit_wait_reads_every_network_s_header(headers: Callable[[], dict[str, str]], wait: float) -> None:
    assert rate_limit_wait(httpx.Headers(headers()), 300) == pytest.approx(wait, abs=2)


def test_usage_reports_read_counts_percentages_or_count_one_call() -> None:
    (x,) = usage_reports(
        "x",
        "GET /2/tweets",
        httpx.Headers({"x-rate-limit-remaining": "12", "x-rate-limit-limit": "15"}),
        "7",
    )
    assert (x.limit, x.remaining, x.account_external_id) == (15, 12, "7")
    meta = usage_reports(
        "facebook",
        "GET /feed",
        httpx.Headers({"x-app-usage": json.dumps({"call_count": 40, "total_time": 7, "total_cputime": 3})}),
        "p",
    )
    assert [(r.endpoint, r.used_percent) for r in meta] == [("app", 40.0)]
    (bare,) = usage_reports("linkedin", "POST /rest/posts", httpx.Headers({}), "org")
    assert (bare.endpoint, bare.limit, bare.remaining) == ("POST /rest/posts", None, None)


def test_errors_map_by_status_unless_the_network_s_code_says_more() -> None:
    api = PluginHttp(InstantPlugin(ChannelSettings(base_url="http://n")), default_wait=9)
    cases = [(429, RateLimited), (401, CredentialsExpired), (503, Transient), (422, Rejected)]
    for status, kind in cases:
        error = api.error(
            response(status, body={"message": "non"}),
            read_error(response(status, body={"message": "non"})),
        )
        assert isinstance(error, kind) and error.network_message == "non" and error.status == status
    waited = api.error(response(429), ErrorReading(message="x"))
    assert isinstance(waited, RateLimited) and waited.retry_after == 9
    overridden = api.error(response(400), ErrorReading(message="quota", error=RateLimited, log="code 4"))
    assert isinstance(overridden, RateLimited) and str(overridden) == "instant: code 4"
    assert read_error(response(200, body={"message": "fine"})) is None


def test_check_reports_usage_for_errors_too() -> None:
    usage = RecordingUsageRecorder()
    api = PluginHttp(InstantPlugin(ChannelSettings(base_url="http://n"), usage=usage))
    with pytest.raises(Rejected):
        api.check(
            response(400, {"x-ratelimit-remaining": "3"}, {"error": "bad"}),
            endpoint="POST /p",
            account="a",
        )
    assert [(r.endpoint, r.remaining, r.account_external_id) for r in usage.reports] == [("POST /p", 3, "a")]


def test_oauth_deviations_are_parameters() -> None:
    settings = ChannelSettings(base_url="http://n", client_id="cid", redirect_uri="https://pv.example/cb")
    api = PluginHttp(InstantPlugin(settings))
    tiktok = OAuthClient(
        api,
        authorize_url="https://www.tiktok.com/v2/auth/authorize/",
        client_id_name="client_key",
        scope_separator=",",
        challenge=lambda verifier: "hex-of-" + verifier[:4],
    )
    request = tiktok.authorization(state="s", scopes=["a", "b"])
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert "client_id" not in query and query["client_key"] == "cid" and query["scope"] == "a,b"
    assert request.code_verifier and query["code_challenge"] == "hex-of-" + request.code_verifier[:4]
    meta = OAuthClient(api, authorize_url="https://www.facebook.com/v23.0/dialog/oauth", pkce=False)
    assert meta.authorization(state="s", scopes=["x"]).code_verifier is None


def test_token_set_keeps_both_refresh_lifetime_spellings() -> None:
    linkedin = token_set({"access_token": "a", "expires_in": 60, "refresh_token_expires_in": 3600})
    tiktok = token_set({"access_token": "a", "refresh_expires_in": 3600}, open_id="o")
    assert linkedin.expires_at and "refresh_expires_at" in linkedin.extra
    assert tiktok.expires_at is None and set(tiktok.extra) == {"refresh_expires_at", "open_id"}
