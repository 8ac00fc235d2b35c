"""Who is asking, and what they may touch.

- Authentication: server-side sessions for people (a new session id at login, the session bound
  to the password it was opened with) and personal API tokens for scripts
  (``Authorization: Bearer pv_…``, on /api only). Cookie-authenticated unsafe requests always
  need the CSRF token; token-authenticated ones need none (a browser never sends the header on
  its own, so there is nothing to forge).
- Authorization: every route declares who may call it in its ``opt`` (see :mod:`web.access`):
  the public, any staff member, site admins, or an :class:`~core.people.permissions.Action` on
  the persona in the path. One guard (:func:`access_guard`) enforces it with one function
  (:func:`check`, which asks the permission table), for the API and the admin alike.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

import msgspec
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.security.session_auth import SessionAuthMiddleware
from litestar.types import Message, Receive, Scope, Send
from redis.exceptions import RedisError

from core.audit import Actor
from core.db.enums import Role
from core.db.models import Staff
from core.errors import N_
from core.people.permissions import PERMISSIONS, Action, allows
from core.people.staff import active_staff, roles_of
from core.people.tokens import staff_for_token
from core.runtime import Runtime

AuthKind = Literal["session", "token"]
TOKEN_AUTH = "api-token"
_ROTATE = "pv.rotate_session"
_ROTATED_ID = "pv.rotated_session_id"
SESSION_COOKIE = "pv_session"
#: the app's store that keeps the sessions (a Redis store)
SESSION_STORE = "sessions"
log = structlog.get_logger(__name__)


class StaffUser(msgspec.Struct, frozen=True, kw_only=True):
    """The logged-in staff member, as the request sees it."""

    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    locale: str
    roles: dict[uuid.UUID, Role]
    must_change_password: bool = False
    auth: AuthKind = "session"

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, label=self.email)

    def role_on(self, persona_id: uuid.UUID) -> Role | None:
        """The role on a persona; site admins manage staff, not content, so they need an assignment too."""
        return self.roles.get(persona_id)

    def can(self, persona_id: uuid.UUID, action: Action) -> bool:
        """What the permission table says of this user doing ``action`` on the persona (a site admin
        without an assignment: what the table lets admins do anywhere, such as pausing)."""
        role = self.role_on(persona_id)
        if role is None:
            return self.is_admin and PERMISSIONS[action].admin_without_assignment
        return allows(role, action)

    @property
    def persona_ids(self) -> set[uuid.UUID]:
        return set(self.roles)

    @property
    def visible_persona_ids(self) -> set[uuid.UUID] | None:
        """The personas this user sees: those assigned; site admins see every definition (None: all)."""
        return None if self.is_admin else self.persona_ids


class PasswordChangeRequired(PermissionDeniedException):
    """The staff member logged in with a one-time password and must replace it first."""


class RoleRefused(PermissionDeniedException):
    """403: the caller's role on the persona does not allow the action. ``template`` (an English
    msgid) and ``params`` say which role, in the reader's language (:func:`web.messages.http_exception_text`)."""

    def __init__(self, template: str, **params: str) -> None:
        super().__init__(detail=template % params)
        self.template = template
        self.params = params


# ------------------------------------------------------------------ the one authorization function
def check(user: StaffUser, persona_id: uuid.UUID, action: Action) -> Role | None:
    """The user's role on the persona if the permission table lets it do ``action``.

    No assignment at all answers 404 (the persona does not exist for this user); a role the
    table does not allow answers 403. A site admin without an assignment may do the actions the
    table opens to them (read definitions and teams, to assign staff); then the answer is None.
    """
    role = user.role_on(persona_id)
    if role is None:
        if user.is_admin and PERMISSIONS[action].admin_without_assignment:
            return None
        raise NotFoundException("no such persona")
    if not allows(role, action):
        if role in PERMISSIONS[action].refused:
            raise RoleRefused(N_("the “%(role)s” role does not give access to this page"), role=role.value)
        raise RoleRefused(N_("this needs the “%(role)s” role on this persona"), role=PERMISSIONS[action].minimum.value)
    return role


def access_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Enforce the access a route declares in its ``opt`` (:mod:`web.access`); fail closed on our own rooms."""
    opt = handler.opt
    if opt.get("public"):
        return
    declared = any(key in opt for key in ("staff", "admin", "action"))
    if not declared:
        if connection.url.path.startswith(("/api", "/admin")):
            raise PermissionDeniedException("this route declares no access rule")
        return  # routes mounted by others (OpenAPI, simulated networks) keep their own rules
    user = connection.scope.get("user")
    if not isinstance(user, StaffUser):
        raise NotAuthorizedException("log in first")
    if user.must_change_password and not opt.get("while_password_expired"):
        raise PasswordChangeRequired("change your one-time password first")
    if opt.get("admin") and not user.is_admin:
        raise PermissionDeniedException("site administrators only")
    if action := opt.get("action"):
        persona_id = connection.path_params.get("persona_id")
        if not isinstance(persona_id, uuid.UUID):
            raise PermissionDeniedException("a persona route needs a persona_id path parameter")
        check(user, persona_id, Action(action))


# ------------------------------------------------------------------ sessions
def password_fingerprint(password_hash: str) -> str:
    """Binds a session to the password it was opened with: a new password ends every other session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def start_session(connection: ASGIConnection[Any, Any, Any, Any], staff: Staff) -> None:
    """Log ``staff`` in under a NEW session id: a session id fixed before login is worth nothing after."""
    connection.set_session({"staff_id": str(staff.id), "pwd": password_fingerprint(staff.password_hash)})
    connection.scope[_ROTATE] = True  # type: ignore[literal-required]


def _sessionless(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A call with an ``Authorization`` header is a token's: its session is neither read nor written,
    so the API works while Redis (the session store) is down."""
    return "authorization" in connection.headers


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions in Redis, touched only when there is one (or one to start).

    - Litestar reuses the session id from the cookie; at login we want a fresh one.
    - Litestar writes a session, empty or not, on every answer: here an anonymous request without
      a session cookie (health probes, the login page, static files) and a token call cost Redis
      nothing, and keep working without it.
    - A session that cannot be read (Redis down) raises: the request answers 503 (web.refusals).
      One that cannot be saved once the answer is ready is logged, and the answer goes out as is.
    """

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = connection.scope.get(_ROTATED_ID)
        return rotated if isinstance(rotated, str) else super().get_session_id(connection)

    def _has_cookie(self, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        return connection.cookies.get(self.config.key) not in (None, "", "null")

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        if _sessionless(connection) or not self._has_cookie(connection):
            return {}
        return await super().load_from_connection(connection)

    async def store_in_message(
        self, scope_session: Any, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if _sessionless(connection) or not (scope_session or self._has_cookie(connection)):
            return  # nothing to keep, nothing to forget
        try:
            await self._store(scope_session, message, connection)
        except RedisError as exc:
            log.warning("session not saved: the session store is unreachable", error=str(exc))

    async def _store(
        self, scope_session: Any, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if connection.scope.get(_ROTATE) and _ROTATED_ID not in connection.scope:
            if self._has_cookie(connection):
                old = connection.cookies[self.config.key]
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.scope[_ROTATED_ID] = self.generate_session_id()  # type: ignore[literal-required]
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


async def _load_user(staff: Staff, auth: AuthKind, runtime_session: Any) -> StaffUser:
    return StaffUser(
        id=staff.id,
        email=staff.email,
        display_name=staff.display_name,
        is_admin=staff.is_admin,
        locale=staff.locale,
        roles=await roles_of(runtime_session, staff.id),
        must_change_password=staff.must_change_password,
        auth=auth,
    )


async def retrieve_staff(session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> StaffUser | None:
    raw_id = session.get("staff_id")
    if not raw_id:
        return None
    runtime: Runtime = connection.app.state.runtime
    async with runtime.session() as db:
        staff = await active_staff(db, uuid.UUID(raw_id))
        if staff is None:
            return None
        if session.get("pwd") != password_fingerprint(staff.password_hash):
            return None  # the password changed since this session was opened
        return await _load_user(staff, "session", db)


# ------------------------------------------------------------------ API tokens
class StaffAuthMiddleware(SessionAuthMiddleware):
    """Sessions for people, ``Authorization: Bearer pv_…`` for scripts (on /api only)."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if header is None:
            return await super().authenticate_request(connection)
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _bearer_refused("use Authorization: Bearer <token>")
        if not connection.url.path.startswith("/api/"):
            raise _bearer_refused("API tokens are accepted under /api only")
        runtime: Runtime = connection.app.state.runtime
        async with runtime.session() as db:
            staff = await staff_for_token(db, secret.strip())
            if staff is None:
                raise _bearer_refused("unknown, revoked or inactive API token")
            user = await _load_user(staff, "token", db)
        return AuthenticationResult(user=user, auth=TOKEN_AUTH)


async def optional_user(connection: ASGIConnection[Any, Any, Any, Any]) -> StaffUser | None:
    """Who calls a route open to anyone and without session middleware (``/health``): the staff
    member of the API token or of the session cookie, or None — never an error, since a probe
    must answer whoever asks (unknown token, Redis or the database down: nobody)."""
    runtime: Runtime = connection.app.state.runtime
    try:
        header = connection.headers.get("authorization")
        if header is not None:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return None
            async with runtime.session() as db:
                staff = await staff_for_token(db, secret.strip())
                return None if staff is None else await _load_user(staff, "token", db)
        session_id = connection.cookies.get(SESSION_COOKIE)
        if not session_id or session_id == "null":
            return None
        raw = await connection.app.stores.get(SESSION_STORE).get(session_id)
        return None if raw is None else await retrieve_staff(msgspec.json.decode(raw), connection)
    except Exception as exc:  # who asks is a detail: the probe's answer must not depend on it
        log.info("caller not identified", error=f"{type(exc).__name__}: {exc}")
        return None


def _bearer_refused(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": 'Bearer realm="portevoix"'})


class CookieCSRFMiddleware(CSRFMiddleware):
    """CSRF on every unsafe request, except those authenticated by an API token (runs after auth)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("auth") == TOKEN_AUTH:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
