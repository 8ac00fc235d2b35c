"""Liveness and readiness: is the database reachable, is the queue reachable."""

from __future__ import annotations

from importlib.metadata import version

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Response

from core.queue import redis_reachable
from core.runtime import Runtime
from web import access
from web.structs import ApiStruct


class HealthOut(ApiStruct):
    status: str
    database: bool
    queue: bool
    version: str


@get("/health", exclude_from_auth=True, exclude_from_csrf=True, tags=["health"], **access.public())
async def health(runtime: NamedDependency[Runtime]) -> Response[HealthOut]:
    database = await runtime.database_reachable()
    queue = await redis_reachable(runtime.redis_url)
    healthy = database and queue
    body = HealthOut(
        status="healthy" if healthy else "unhealthy", database=database, queue=queue, version=version("porte-voix")
    )
    return Response(body, status_code=200 if healthy else 503)
