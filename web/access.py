"""Access rules, declared by every route in its ``opt``, and the errors each rule can answer.

Write ``@get(..., **access.persona(Role.EDITOR))``: the guard (:func:`web.auth.access_guard`)
reads the rule, and OpenAPI documents the 401/403/404 the rule implies. A route under /api or
/admin that declares no rule is refused (and the authorization matrix test fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.status_codes import HTTP_409_CONFLICT

from core.db.enums import Role


class ConflictException(HTTPException):
    """The request contradicts the current state (an e-mail already taken, …)."""

    status_code = HTTP_409_CONFLICT


Errors = Sequence[type[HTTPException]]


def _rule(opt: dict[str, Any], raises: Errors, extra: Errors) -> dict[str, Any]:
    return {"opt": opt, "raises": [*raises, *(e for e in extra if e not in raises)]}


def public(*, errors: Errors = ()) -> dict[str, Any]:
    """Anyone, logged in or not (login page, health, static files)."""
    return _rule({"public": True}, (), errors)


def staff(*, errors: Errors = (), while_password_expired: bool = False) -> dict[str, Any]:
    """Any logged-in staff member, about themselves or what they are assigned to."""
    opt: dict[str, Any] = {"staff": True}
    if while_password_expired:
        opt["while_password_expired"] = True
    return _rule(opt, (NotAuthorizedException, PermissionDeniedException), errors)


def admin(*, errors: Errors = ()) -> dict[str, Any]:
    """Site administrators: staff and assignments."""
    return _rule({"admin": True}, (NotAuthorizedException, PermissionDeniedException), errors)


def persona(
    minimum: Role, *, admin_sees: bool = False, except_roles: Sequence[Role] = (), errors: Errors = ()
) -> dict[str, Any]:
    """At least ``minimum`` on the persona in the path; without an assignment the persona is a 404.

    ``admin_sees``: site admins may read it without an assignment (definitions and teams, to assign).
    ``except_roles``: roles refused although they rank high enough (moderators work in the inbox
    only: a moderator sees no posts, although the role ranks above viewer).
    """
    opt: dict[str, Any] = {"persona_role": minimum.value, "admin_sees": admin_sees}
    if except_roles:
        opt["except_roles"] = [r.value for r in except_roles]
    return _rule(opt, (NotAuthorizedException, PermissionDeniedException, NotFoundException), errors)


def declared(opt: dict[str, Any]) -> str | None:
    """The rule a handler declares, as a word (for tests and docs): public, staff, admin or a role."""
    if opt.get("public"):
        return "public"
    if opt.get("admin"):
        return "admin"
    if opt.get("persona_role"):
        return str(opt["persona_role"]) + "".join(f"-{r}" for r in opt.get("except_roles", ()))
    if opt.get("staff"):
        return "staff"
    return None
