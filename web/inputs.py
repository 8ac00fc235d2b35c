"""What comes in is checked before any handler sees it: a clear 400 naming the field, never a 500.

- JSON bodies nested deeper than :data:`MAX_DEPTH` (nobody writes that; a deep enough one makes
  the decoder give up with a ``RecursionError``);
- NUL characters in JSON bodies, forms and query strings: PostgreSQL cannot store them in text,
  and on SQLite they would cut strings short in other tools. They are refused rather than stripped:
  a text silently changed is not the text its author approved.

The request class (:class:`CheckedRequest`) checks bodies as they are decoded; forms and the query
string are checked before the handler runs (:func:`check_form`, :func:`check_query`, from the
app's ``before_request``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException

from core.errors import Refusal
from web.i18n import gettext as _

#: deeper than any body of this API (a compose body is 3 levels deep)
MAX_DEPTH = 32
NUL = "\x00"
_FORMS = (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED)


def refused(key: str, message: str, source: str) -> ClientException:
    """A 400 shaped like Litestar's validation errors: the field (``key``) and where it was."""
    return ClientException(message, extra=[{"key": key, "message": message, "source": source}])


def _nul_message() -> str:
    return _("This field contains a NUL character (\\u0000), which cannot be stored.")


def body_problem(value: Any) -> tuple[str, str] | None:
    """The first (field, message) a decoded JSON body cannot be accepted for, or None.

    Iterative on purpose: a recursive walk would itself overflow on the bodies it must refuse.
    """
    pending: list[tuple[str, Any, int]] = [("", value, 0)]
    while pending:
        path, item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return path or "body", _("The JSON body is nested too deeply (at most %(depth)d levels).", depth=MAX_DEPTH)
        if isinstance(item, str):
            if NUL in item:
                return path or "body", _nul_message()
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if NUL in str(key):
                    return path or "body", _nul_message()
                pending.append((child_path, child, depth + 1))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child, depth + 1) for index, child in enumerate(item))
    return None


class CheckedRequest(Request[Any, Any, Any]):
    """Litestar's request, whose JSON and form bodies are checked once decoded."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise refused(
                "body", _("The JSON body is nested too deeply (at most %(depth)d levels).", depth=MAX_DEPTH), "body"
            ) from None
        if (problem := body_problem(value)) is not None:
            raise refused(*problem, "body")
        return value

    async def form(self) -> Any:
        form = await super().form()
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile) and NUL in str(value) + name:
                # a Refusal: the admin's forms answer it on their page (web.refusals), with the field
                raise Refusal(_nul_message(), field=name)
        return form


async def check_form(request: Request[Any, Any, Any]) -> None:
    """Decode a form body now, through :meth:`CheckedRequest.form`: Litestar's own form extractors
    do not call it, but they reuse what it decoded."""
    if request.content_type[0] in _FORMS:
        await request.form()


def check_query(request: Request[Any, Any, Any]) -> None:
    """Refuse a query string with a NUL character, naming the parameter."""
    raw = request.scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if NUL in name + value:
            raise refused(name.replace(NUL, ""), _nul_message(), "query")
