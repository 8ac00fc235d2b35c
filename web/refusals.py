"""Every "no" the app answers, in one place: service refusals, HTTP errors, crashes.

A service refuses with a :class:`core.errors.Refusal` (its status says which kind of no) and
the handler itself stays silent about it. One exception handler (:func:`refused`) answers:

- under /api: JSON ``{status_code, code, detail, extra}`` (``code``: the refusal's stable word,
  for callers that branch on it; ``detail`` in the caller's language); ``extra`` names the field at fault
  (``key``, camelCase as in JSON bodies, as-is in forms and queries) or, for a policy block,
  carries the findings per account;
- in the admin: the route's declared answer (``refused=back("/admin/…")``: the message flashed
  on the page the action came from; or its own fragment), else the error page.

A form that shows its refusal on itself, with the values typed (the composer, the staff and
password forms), wraps the service call in :func:`on_the_form`.

A crash that says a server we depend on is unreachable (the database restarting, Redis where the
sessions live) is no bug: :func:`server_error` answers 503 with ``Retry-After`` and a translated
message (:func:`unavailable`), as ``/health`` does, never a 500.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import asyncpg.exceptions as pg
import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Response, Template
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Refusal
from core.publishing.compose import PolicyBlocked
from web import i18n
from web.auth import PasswordChangeRequired
from web.forms import flash
from web.i18n import gettext as _
from web.messages import http_exception_text, refusal_text
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


def _json(status: int, detail: str, extra: Any = None, headers: Any = None, code: str | None = None) -> Response[Any]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if code:
        body["code"] = code
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, headers=headers)


def refused(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    """The one answer to a service's refusal, in the caller's language."""
    if not wants_html(request):
        return _json(exc.status, refusal_text(exc), _extra(request, exc), code=exc.code)
    answer: Answer | None = request.route_handler.opt.get("refused")
    if answer is not None and exc.status in (400, 422):
        return answer(request, exc)
    return error_page(exc.status, refusal_text(exc))


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
    return [{"key": key, "message": refusal_text(exc), "source": "query" if exc.field in _QUERY_FIELDS else "body"}]


def back(path: str) -> Answer:
    """Flash the refusal and go back to ``path`` (``{persona_id}`` and the like: the path's own values)."""

    def answer(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
        flash(request, _("Refused: %(detail)s", detail=refusal_text(exc)))
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


def _reader_locale(request: Request[Any, Any, Any]) -> None:
    """The reader's language, for an answer given before ``before_request`` chose it (a guard's 403,
    an outage): the cookie, the staff member's saved choice, the browser's."""
    user = request.scope.get("user")
    saved = getattr(user, "locale", None)
    i18n.set_locale(i18n.choose(request.cookies.get(i18n.LOCALE_COOKIE), saved, request.headers.get("accept-language")))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    _reader_locale(request)
    if isinstance(exc, NotAuthorizedException) and wants_html(request):
        return Redirect(f"/login?next={request.url.path}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and wants_html(request):
        return Redirect("/admin/me/password", status_code=303)
    detail = http_exception_text(exc)
    if wants_html(request):
        return error_page(exc.status_code, detail)
    return _json(exc.status_code, detail, exc.extra, getattr(exc, "headers", None))


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if (down := outage(exc)) is not None:
        request.logger.warning("%s unreachable: %s: %s", down, type(exc).__name__, exc)
        return unavailable(request, down)
    # Logged with its stack trace; the user sees none of it.
    request.logger.exception("unhandled error", exc_info=exc)
    if wants_html(request):
        return error_page(500, None)
    return _json(500, "Internal Server Error")


# ------------------------------------------------------------------ outages: 503, try again soon
#: how long a client should wait before trying again while the database or Redis is unreachable
RETRY_AFTER_S = 5
Down = Literal["database", "sessions"]
#: the database is unreachable, restarting or shutting down ("the database system is shutting
#: down" is asyncpg's CannotConnectNowError, an OperatorInterventionError)
_DATABASE_DOWN: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no connection free in the pool in time
    pg.PostgresConnectionError,
    pg.OperatorInterventionError,
    pg.InterfaceError,
)
#: what a driver's connect raises as is when nothing listens (refused, reset, timed out, no such host)
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror)
_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite")


def outage(exc: BaseException) -> Down | None:
    """What ``exc`` says is unreachable — the database, or Redis (where sessions live) — or None
    (then it is a bug, and a 500)."""
    for cause in _causes(exc):
        if isinstance(cause, RedisError):
            return "sessions"
        if isinstance(cause, _DATABASE_DOWN) or (isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated):
            return "database"
        if isinstance(cause, _UNREACHABLE) and _raised_in(cause, _DRIVERS):
            return "database"
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (SQLAlchemy's ``orig``) and what caused it, each once."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        cause = pending.pop()
        if cause is None or any(cause is s for s in seen):
            continue
        seen.append(cause)
        orig = getattr(cause, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None, cause.__cause__, cause.__context__]
    return seen


def _raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in packages:
            return True
        tb = tb.tb_next
    return False


def unavailable(request: Request[Any, Any, Any], down: Down) -> Response[Any]:
    """503 with ``Retry-After``, in the browser's language (it may fail before the locale was chosen)."""
    _reader_locale(request)
    if down == "database":
        detail = _("The database cannot be reached. Try again in a few seconds.")
    else:
        detail = _("Sessions can be neither read nor saved: Redis cannot be reached. Try again in a few seconds.")
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if wants_html(request):
        return Template("error.html", context={"status": 503, "detail": detail}, status_code=503, headers=headers)
    return _json(503, detail, headers=headers)
