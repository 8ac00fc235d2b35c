"""Service refusals (ValueError subclasses from core) as 400 answers that say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar.exceptions import ClientException

from core.people.staff import StaffError
from core.people.tokens import TokenError
from core.security import WeakPassword


@contextmanager
def refused_as_400(field: str | None = None) -> Iterator[None]:
    try:
        yield
    except (StaffError, TokenError, WeakPassword) as exc:
        extra = [{"key": field, "message": str(exc), "source": "body"}] if field else None
        raise ClientException(str(exc), extra=extra) from None
