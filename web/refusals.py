"""Every "no" the app answers, in one place: service refusals, HTTP errors, crashes.

A service refuses with a :class:`core.errors.Refusal` (its status says which kind of no) and
the handler itself stays silent about it. One exception handler (:func:`refused`) answers:

- under /api: JSON ``{status_code, detail, extra}``; ``extra`` names the field at fault
  (``key``, camelCase as in JSON bodies, as-is in forms and queries) or, for a policy block,
  carries the findings per account;
- in the admin: the route's declared answer (``refused=back("/admin/…")``: the message flashed
  on the page the action came from; or its own fragment), else the error page.

A form that shows its refusal on itself, with the values typed (the composer, the staff and
password forms), wraps the service call in :func:`on_the_form`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Refusal
from core.publishing.compose import PolicyBlocked
from web.auth import PasswordChangeRequired
from web.forms import flash
from web.i18n import gettext as _
from web.publishing.schemas import findings_out
from web.structs import camel

#: how an admin route answers a refusal (``refused=…`` in its decorator)
Answer = Callable[[Request[Any, Any, Any], Refusal], Response[Any]]
_QUERY_FIELDS = {"cursor", "from", "to"}
_FORMS = (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED)


def wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(("/api", "/schema", "/health"))


def error_page(status: int, detail: str | None) -> Template:
    return Template("error.html", context={"status": status, "detail": detail}, status_code=status)


def _json(status: int, detail: str, extra: Any = None, headers: Any = None) -> Response[Any]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, headers=headers)


def refused(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    """The one answer to a service's refusal."""
    if not wants_html(request):
        return _json(exc.status, exc.message, _extra(request, exc))
    answer: Answer | None = request.route_handler.opt.get("refused")
    if answer is not None and exc.status in (400, 422):
        return answer(request, exc)
    return error_page(exc.status, exc.message)


def _extra(request: Request[Any, Any, Any], exc: Refusal) -> Any:
    if isinstance(exc, PolicyBlocked):
        # the persona dependency left the names of the persona's accounts on the request
        names = request.state.get("account_names", {})
        return {"findings": [msgspec.to_builtins(f) for f in findings_out(exc.findings, names)]}
    if exc.extra:
        return msgspec.to_builtins(exc.extra)
    if exc.field is None:
        return None
    key = exc.field if request.content_type[0] in _FORMS else camel(exc.field)
    return [{"key": key, "message": exc.message, "source": "query" if exc.field in _QUERY_FIELDS else "body"}]


def back(path: str) -> Answer:
    """Flash the refusal and go back to ``path`` (``{persona_id}`` and the like: the path's own values)."""

    def answer(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
        flash(request, _("Refused: %(detail)s", detail=exc.message))
        return Redirect(path.format(**request.path_params), status_code=303)

    return answer


class Shown:
    """The refusal a form shows on itself (None: the service said yes)."""

    refusal: Refusal | None = None


@asynccontextmanager
async def on_the_form(db: AsyncSession) -> AsyncIterator[Shown]:
    """Keep a refusal for the form to show. Whatever the service wrote before refusing is rolled
    back (a savepoint): the request itself succeeds (the form again), so its transaction commits."""
    shown = Shown()
    try:
        async with db.begin_nested():
            yield shown
    except Refusal as exc:
        shown.refusal = exc


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException) and wants_html(request):
        return Redirect(f"/login?next={request.url.path}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and wants_html(request):
        return Redirect("/admin/me/password", status_code=303)
    if wants_html(request):
        return error_page(exc.status_code, exc.detail)
    return _json(exc.status_code, exc.detail, exc.extra, getattr(exc, "headers", None))


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Logged with its stack trace; the user sees none of it.
    request.logger.exception("unhandled error", exc_info=exc)
    if wants_html(request):
        return error_page(500, None)
    return _json(500, "Internal Server Error")
