"""The OAuth 2.0 authorization server of a fake network, written once (RFC 6749, RFC 7636).

Mix :class:`OAuthServer` into a :class:`~plugins.testing.FakeNetwork` before it, set the paths
and the network's spelling as class attributes, and answer :meth:`OAuthServer.token_answer`
with the network's token body. The consent page approves at once and sends the browser back
with a code, as a person clicking "Authorize" would; the token endpoint takes each code once,
checks its redirect URI and PKCE verifier, and refreshes tokens.
"""

from __future__ import annotations

import dataclasses
import hashlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from plugins.testing.fake import FakeNetwork, FakeResponse, ReceivedRequest


@dataclass(frozen=True)
class Grant:
    """What the consent page granted, kept with a code or a refresh token."""

    redirect_uri: str = ""
    scope: str = ""
    challenge: str = ""  # PKCE
    method: str = "S256"
    subject: str = ""  # who consented, where the network tells its users apart (X)


def s256(verifier: str) -> str:
    """RFC 7636's S256 challenge: base64url of the SHA-256, unpadded."""
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class OAuthServer(FakeNetwork):
    """A fake network's consent page and token endpoint. Class attributes say how it deviates."""

    #: the consent page ("" when the network has none here)
    authorize_path: ClassVar[str] = ""
    #: the RFC 6749 token endpoint ("" when the network's own route does it: Meta's Graph GET)
    token_path: ClassVar[str] = ""
    #: the name of the client id (TikTok: ``client_key``)
    client_id_param: ClassVar[str] = "client_id"
    #: what the consent page requires
    authorize_params: ClassVar[tuple[str, ...]] = ("response_type", "client_id", "redirect_uri")
    challenge_methods: ClassVar[tuple[str, ...]] = ("S256",)
    #: whether the network has the refresh_token grant (Mastodon has none)
    refresh_grant: ClassVar[bool] = True
    #: whether a refresh token works once (LinkedIn's do not rotate)
    rotate_refresh: ClassVar[bool] = True
    #: whether the token endpoint also takes a JSON body (Mastodon)
    json_token_requests: ClassVar[bool] = False
    #: added to the codes, so a client that does not encode them fails (TikTok's end in "*!")
    code_suffix: ClassVar[str] = ""
    default_scope: ClassVar[str] = ""
    #: the client id the consent page accepts (None: any)
    oauth_client_id: str | None = None
    #: a code always accepted, without PKCE (conformance suite, demo)
    standing_code: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        if self.authorize_path:
            self.add_route("GET", self.authorize_path, self.consent)
        if self.token_path:
            self.add_route("POST", self.token_path, self.token_endpoint)

    def reset(self) -> None:
        super().reset()
        self.codes.clear()
        self.refresh_tokens.clear()

    # ------------------------------------------------------------------ helpers for tests
    def issue_code(
        self,
        redirect_uri: str = "",
        *,
        scope: str | None = None,
        challenge: str = "",
        method: str = "S256",
    ) -> str:
        """A fresh authorization code, as the consent page would redirect with (PKCE only with
        ``challenge``)."""
        code = f"code-{self.next_id()}{self.code_suffix}"
        self.codes[code] = Grant(redirect_uri, self.default_scope if scope is None else scope, challenge, method)
        return code

    def redeem(self, code: str, redirect_uri: str) -> Grant | None:
        """The grant of ``code``, once; None for an unknown code or another redirect URI."""
        if self.standing_code and code == self.standing_code:
            return Grant(redirect_uri, self.default_scope)
        grant = self.codes.pop(code, None)
        if grant is None or (grant.redirect_uri and grant.redirect_uri != redirect_uri):
            return None
        return grant

    def keep_refresh(self, token: str, grant: Grant) -> str:
        """Remember a refresh token issued under ``grant``; returns it."""
        self.refresh_tokens[token] = grant
        return token

    # ------------------------------------------------------------------ to override
    def token_answer(self, grant: Grant) -> dict[str, Any]:
        """The network's token body for ``grant`` (refresh tokens through :meth:`keep_refresh`)."""
        raise NotImplementedError

    def oauth_error(self, status: int, error: str, description: str) -> FakeResponse:
        """RFC 6749's error body (section 5.2)."""
        return FakeResponse(status=status, json={"error": error, "error_description": description})

    def client_authenticated(self, request: ReceivedRequest, form: dict[str, Any]) -> bool:
        """Default: the client id and secret in the body (``client_secret_post``)."""
        return bool(form.get(self.client_id_param)) and bool(form.get("client_secret"))

    def challenge_matches(self, verifier: str, grant: Grant) -> bool:
        return (s256(verifier) if grant.method == "S256" else verifier) == grant.challenge

    def redirect_extras(self, query: dict[str, str]) -> dict[str, str]:
        """Parameters the network adds to the redirect beside ``code`` and ``state``."""
        return {}

    # ------------------------------------------------------------------ routes
    async def consent(self, request: ReceivedRequest, **path: str) -> FakeResponse:
        """The consent page, approved at once: redirect back with a code."""
        query = {name: values[-1] for name, values in request.query.items()}
        missing = [name for name in self.authorize_params if not query.get(name)]
        if missing:
            return self.oauth_error(400, "invalid_request", f"missing: {', '.join(missing)}")
        if query.get("response_type", "code") != "code":
            return self.oauth_error(400, "unsupported_response_type", "response_type must be code")
        if self.oauth_client_id is not None and query.get(self.client_id_param) != self.oauth_client_id:
            return self.oauth_error(400, "invalid_client", f"unknown {self.client_id_param}")
        challenge = query.get("code_challenge", "")
        method = query.get("code_challenge_method", "S256")
        if challenge and method not in self.challenge_methods:
            return self.oauth_error(400, "invalid_request", f"code_challenge_method {method} is not supported")
        code = self.issue_code(query["redirect_uri"], scope=query.get("scope"), challenge=challenge, method=method)
        state = {"state": query["state"]} if query.get("state") else {}
        params = {"code": code, **state, **self.redirect_extras(query)}
        location = f"{query['redirect_uri']}?{urlencode(params)}"
        return FakeResponse(status=302, headers={"location": location}, body=b"")

    async def token_endpoint(self, request: ReceivedRequest, **path: str) -> FakeResponse:
        form = self._token_form(request)
        if form is None:
            return self.oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        if not self.client_authenticated(request, form):
            return self.oauth_error(401, "invalid_client", "Client authentication failed")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._code_grant(form)
        elif grant_type == "refresh_token" and self.refresh_grant:
            taken = self.refresh_tokens.pop if self.rotate_refresh else self.refresh_tokens.get
            grant = taken(str(form.get("refresh_token", "")), None) or self.oauth_error(
                400, "invalid_grant", "The refresh token is invalid, expired or revoked."
            )
        else:
            return self.oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type} is not supported")
        return grant if isinstance(grant, FakeResponse) else FakeResponse(json=self.token_answer(grant))

    def _code_grant(self, form: dict[str, Any]) -> Grant | FakeResponse:
        grant = self.redeem(str(form.get("code", "")), str(form.get("redirect_uri", "")))
        if grant is None:
            return self.oauth_error(400, "invalid_grant", "The authorization code is invalid or expired.")
        if grant.challenge and not self.challenge_matches(str(form.get("code_verifier", "")), grant):
            return self.oauth_error(400, "invalid_grant", "The code verifier does not match the code challenge.")
        return dataclasses.replace(grant, challenge="")

    def _token_form(self, request: ReceivedRequest) -> dict[str, Any] | None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return dict(request.form)
        if self.json_token_requests and content_type.startswith("application/json"):
            body = request.json
            return dict(body) if isinstance(body, dict) else {}
        return None
