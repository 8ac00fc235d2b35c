"""What the admin's pages share: form bodies, the one-time message, safe redirects."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Multipart = Body(media_type=RequestEncodingType.MULTI_PART)


def flash(request: Request[Any, Any, Any], message: str) -> None:
    """A message shown once on the next page (kept in the server-side session)."""
    request.session["flash"] = message


def safe_next(target: str) -> str:
    # Only local paths: never an open redirect to another site.
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/admin"
