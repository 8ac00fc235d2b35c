"""Who is asking, and what they may touch.

- Authentication: server-side sessions for people (a new session id at login, the session bound
  to the password it was opened with) and personal API tokens for scripts
  (``Authorization: Bearer pv_…``, on /api only). Cookie-authenticated unsafe requests always
  need the CSRF token; token-authenticated ones need none (a browser never sends the header on
  its own, so there is nothing to forge).
- Authorization: every route declares who may call it in its ``opt`` (see :mod:`web.access`),
  and one guard (:func:`access_guard`) enforces it with one function (:func:`role_on` /
  :func:`require_role`), for the API and the admin alike.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.security.session_auth import SessionAuthMiddleware
from litestar.types import Message, Receive, Scope, Send
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import Role
from core.db.models import Staff
from core.people.staff import roles_of
from core.people.tokens import staff_for_token
from core.runtime import Runtime

AuthKind = Literal["session", "token"]
TOKEN_AUTH = "api-token"
_ROTATE = "pv.rotate_session"
_ROTATED_ID = "pv.rotated_session_id"


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
        return role_on(self, persona_id)

    @property
    def persona_ids(self) -> set[uuid.UUID]:
        return set(self.roles)


class PasswordChangeRequired(PermissionDeniedException):
    """The staff member logged in with a one-time password and must replace it first."""


# ------------------------------------------------------------------ the one authorization function
def role_on(user: StaffUser, persona_id: uuid.UUID) -> Role | None:
    """The user's role on a persona; site admins manage staff, not content, so they need an assignment too."""
    return user.roles.get(persona_id)


def require_role(user: StaffUser, persona_id: uuid.UUID, minimum: Role, *, admin_sees: bool = False) -> Role | None:
    """The user's role on the persona if it is at least ``minimum``.

    No assignment at all answers 404 (the persona does not exist for this user); an
    assignment with too small a role answers 403. ``admin_sees``: a site admin without an
    assignment may read this (persona definitions, teams: what they need to assign staff);
    then the answer is None.
    """
    role = role_on(user, persona_id)
    if role is None:
        if admin_sees and user.is_admin:
            return None
        raise NotFoundException("no such persona")
    if not role.at_least(minimum):
        raise PermissionDeniedException(f"this needs the {minimum.value} role on this persona")
    return role


def access_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Enforce the access a route declares in its ``opt`` (:mod:`web.access`); fail closed on our own rooms."""
    opt = handler.opt
    if opt.get("public"):
        return
    declared = any(key in opt for key in ("staff", "admin", "persona_role"))
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
    if minimum := opt.get("persona_role"):
        persona_id = connection.path_params.get("persona_id")
        if not isinstance(persona_id, uuid.UUID):
            raise PermissionDeniedException("a persona route needs a persona_id path parameter")
        role = require_role(user, persona_id, Role(minimum), admin_sees=bool(opt.get("admin_sees")))
        if role is not None and role.value in opt.get("except_roles", ()):
            raise PermissionDeniedException(f"the {role.value} role does not work here")


# ------------------------------------------------------------------ sessions
def password_fingerprint(password_hash: str) -> str:
    """Binds a session to the password it was opened with: a new password ends every other session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def start_session(connection: ASGIConnection[Any, Any, Any, Any], staff: Staff) -> None:
    """Log ``staff`` in under a NEW session id: a session id fixed before login is worth nothing after."""
    connection.set_session({"staff_id": str(staff.id), "pwd": password_fingerprint(staff.password_hash)})
    connection.scope[_ROTATE] = True  # type: ignore[literal-required]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar reuses the session id from the cookie; at login we want a fresh one."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = connection.scope.get(_ROTATED_ID)
        return rotated if isinstance(rotated, str) else super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: Any, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if connection.scope.get(_ROTATE) and _ROTATED_ID not in connection.scope:
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
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
        staff = await db.scalar(select(Staff).where(Staff.id == uuid.UUID(raw_id)))
        if staff is None or not staff.is_active:
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


def _bearer_refused(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": 'Bearer realm="portevoix"'})


class CookieCSRFMiddleware(CSRFMiddleware):
    """CSRF on every unsafe request, except those authenticated by an API token (runs after auth)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("auth") == TOKEN_AUTH:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
