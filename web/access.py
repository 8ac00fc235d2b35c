"""Access rules, declared by every route in its ``opt``, and the errors each rule can answer.

Write ``@get(..., **access.persona(Action.SEE_POSTS))``: the guard (:func:`web.auth.access_guard`)
reads the rule and asks the one permission table (:mod:`core.people.permissions`); OpenAPI
documents the 401/403/404 the rule implies. A route under /api or /admin that declares no rule
is refused (and the authorization matrix test fails).
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
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY

from core.people.permissions import Action


class ConflictException(HTTPException):
    """The request contradicts the current state (an e-mail already taken, …)."""

    status_code = HTTP_409_CONFLICT


class PolicyBlockedException(HTTPException):
    """The policy engine blocks the post: ``extra.findings`` says why, per account."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


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


def persona(action: Action, *, errors: Errors = ()) -> dict[str, Any]:
    """Doing ``action`` on the persona in the path; without an assignment the persona is a 404."""
    return _rule({"action": action}, (NotAuthorizedException, PermissionDeniedException, NotFoundException), errors)


def declared(opt: dict[str, Any]) -> str | None:
    """The rule a handler declares, as a word (for tests and docs): public, staff, admin or an action."""
    if opt.get("public"):
        return "public"
    if opt.get("admin"):
        return "admin"
    if opt.get("action"):
        return str(Action(opt["action"]).value)
    if opt.get("staff"):
        return "staff"
    return None
