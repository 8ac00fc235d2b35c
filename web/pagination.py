"""Keyset pagination: a page is "the next ``limit`` rows after this key", never an OFFSET.

The cursor is the last row's sort key, opaque to clients (base64 of a JSON array). Stable
under inserts and deletes, and each page costs the same whatever its depth.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

import msgspec
import sqlalchemy as sa
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]
Cursor = Annotated[str | None, QueryParameter(description="nextCursor of the previous page", max_length=500)]


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        return [msgspec.convert(v, col.type.python_type, strict=False) for v, col in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error, msgspec.ValidationError, msgspec.DecodeError):
        raise ValidationException(
            "Invalid cursor", extra=[{"key": "cursor", "message": "not a cursor this API gave", "source": "query"}]
        ) from None


async def page(
    db: AsyncSession,
    query: sa.Select[tuple[T]],
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """Rows of ``query`` ordered by ``columns`` (the last must be unique), after ``cursor``."""
    if cursor:
        query = query.where(
            sa.tuple_(*columns)
            > sa.tuple_(
                *(sa.literal(v, col.type) for v, col in zip(decode_cursor(cursor, columns), columns, strict=True))
            )
        )
    rows = list((await db.scalars(query.order_by(*columns).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([msgspec.to_builtins(getattr(last, col.key)) for col in columns])
