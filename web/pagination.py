"""The query parameters of every API list; the paginator is :func:`core.pagination.keyset`.

``cursor`` is the ``nextCursor`` of the previous page; a cursor the API did not give is a 400
that names the ``cursor`` parameter.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]
Cursor = Annotated[str | None, QueryParameter(description="nextCursor of the previous page", max_length=500)]
