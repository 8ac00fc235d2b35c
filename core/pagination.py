"""The one keyset paginator: a page is "the next ``limit`` rows after this key", never an OFFSET.

The cursor is the last row's sort key, opaque to clients (base64 of a JSON array). Stable
under inserts and deletes, and each page costs the same whatever its depth. Every list of the
API and of the admin goes through :func:`keyset`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import N_, Refusal

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """Some rows, and the cursor of the next page (None on the last one)."""

    items: list[T]
    next_cursor: str | None = None


class BadCursor(Refusal):
    """A cursor this paginator did not give."""


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(msgspec.to_builtins(list(values)))).decode().rstrip("=")


def _python_type(column: sa.ColumnElement[Any]) -> type[Any]:
    kind = column.type
    return kind.impl_instance.python_type if isinstance(kind, sa.TypeDecorator) else kind.python_type


def decode_cursor(cursor: str, columns: Sequence[sa.ColumnElement[Any]]) -> list[Any]:
    try:
        raw = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        return [_key_value(v, _python_type(c)) for v, c in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error, msgspec.ValidationError, msgspec.DecodeError):
        raise BadCursor(N_("not a cursor this API gave"), field="cursor", code="bad_cursor") from None


def _key_value(value: Any, kind: type[Any]) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL")  # PostgreSQL cannot even compare it
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError("beyond a BIGINT")
    converted = msgspec.convert(value, kind, strict=False)
    if isinstance(converted, datetime):
        # A cursor we gave holds an aware UTC time; a forged one may hold a naive time or one that
        # leaves the calendar once in UTC (year 1 at +14:00): both would fail in the query instead.
        if converted.tzinfo is None:
            raise ValueError("naive time")
        converted = converted.astimezone(UTC)
    return converted


async def keyset(
    session: AsyncSession,
    query: sa.Select[Any],
    columns: Sequence[sa.ColumnElement[Any]],
    *,
    cursor: str | None,
    limit: int,
    key: Callable[[T], Sequence[Any]] | None = None,
    descending: bool = False,
    rows: Callable[[Sequence[Any]], list[T]] | None = None,
) -> Page[T]:
    """Rows of ``query`` ordered by ``columns`` (the last must be unique), after ``cursor``.

    ``key`` gives a row's values of ``columns`` (by default the attributes of the same names;
    give it when a column is an expression, such as a COALESCE). ``descending`` walks the same
    index backwards (newest first). ``rows`` turns the result's rows into items when the query
    selects several things (by default, the first entity of each row).
    """
    if cursor:
        values = decode_cursor(cursor, columns)
        row_key = sa.tuple_(*columns)
        cursor_key = sa.tuple_(*(sa.literal(v, c.type) for v, c in zip(values, columns, strict=True)))
        query = query.where(row_key < cursor_key if descending else row_key > cursor_key)
        # The same bound on the first column alone, redundant but what SQLite's planner can seek
        # an index with (it scans from the start of the range for a row value, PostgreSQL does not).
        first = sa.literal(values[0], columns[0].type)
        query = query.where(columns[0] <= first if descending else columns[0] >= first)
    order = [c.desc() for c in columns] if descending else list(columns)
    result = await session.execute(query.order_by(*order).limit(limit + 1))
    items: list[T] = rows(result.all()) if rows else list(result.scalars().all())
    if len(items) <= limit:
        return Page(items=items)
    items = items[:limit]
    last = items[-1]
    values = key(last) if key else [getattr(last, str(c.key)) for c in columns]
    return Page(items=items, next_cursor=encode_cursor(values))
