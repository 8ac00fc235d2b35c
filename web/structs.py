"""The base of every JSON API structure (msgspec, camelCase on the wire) and the one page shape.

Lists come in pages (``items`` + ``nextCursor``, keyset pagination: pass ``cursor`` back to
get the next page; ``nextCursor`` is null on the last one). Rows become structures with
``msgspec.convert(row, SomeOut, from_attributes=True)``: a structure's field names are the
row's attribute names, and :class:`With` adds the few a row does not have.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class ApiStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    pass


class Page(ApiStruct, Generic[T]):
    items: list[T]
    next_cursor: str | None


class Items(ApiStruct, Generic[T]):
    """A whole list, in one answer."""

    items: list[T]


class With:
    """An object's attributes, some added or replaced: what ``msgspec.convert(from_attributes=True)`` reads."""

    def __init__(self, row: Any, **extra: Any) -> None:
        self.__dict__.update(extra, _row=row)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_row"], name)


def out(row: Any, kind: type[T], **extra: Any) -> T:
    """A row (or a core page of rows) as an API structure."""
    return msgspec.convert(With(row, **extra) if extra else row, kind, from_attributes=True)


def camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)
