"""Liveness and readiness: is the database reachable, is the queue reachable.

``GET /health`` is for probes: it needs no login, reads no session and answers 200, or 503 with
``Retry-After`` naming what is unreachable. ``GET /health?detail=1`` by a site administrator (API
token or session) adds the channel plugins this process loaded — package, version, contract,
features, formats — and the disabled ones with why (``core.channels.registry.describe``, what
``portevoix channels`` prints). Anyone else asking for detail gets the plain answer: probes never
break on who asks, and the plugin inventory is not for the public.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Response

from core.channels.registry import describe
from core.queue import redis_reachable
from core.runtime import Runtime
from web import access
from web.auth import optional_user
from web.refusals import RETRY_AFTER_S
from web.structs import ApiStruct


class PluginOut(ApiStruct):
    key: str
    name: str
    source: str
    distribution: str | None
    version: str | None
    contract_versions: list[str]
    features: list[str]
    formats: list[str]


class DisabledPluginOut(ApiStruct):
    """A plugin offered by an entry point and left out; ``error`` says why."""

    name: str
    source: str
    error: str
    distribution: str | None
    version: str | None


class PluginsOut(ApiStruct):
    contract_version: str
    loaded: list[PluginOut]
    disabled: list[DisabledPluginOut]


class HealthOut(ApiStruct, omit_defaults=True):
    status: str
    database: bool
    queue: bool
    version: str
    #: only with ``?detail=1``, for site administrators
    plugins: PluginsOut | None = None


@get("/health", exclude_from_auth=True, exclude_from_csrf=True, tags=["health"], **access.public())
async def health(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], detail: FromQuery[bool] = False
) -> Response[HealthOut]:
    """200 when the database and the queue answer, else 503 with Retry-After; ``detail=1``: the
    channel plugins too, for site administrators."""
    database = await runtime.database_reachable()
    queue = await redis_reachable(runtime.redis_url)
    healthy = database and queue
    body = HealthOut(
        status="healthy" if healthy else "unhealthy", database=database, queue=queue, version=version("porte-voix")
    )
    if detail and database and await _asked_by_an_admin(request):
        body = msgspec.structs.replace(body, plugins=plugins_out(runtime))
    if healthy:
        return Response(body)
    return Response(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _asked_by_an_admin(request: Request[Any, Any, Any]) -> bool:
    user = await optional_user(request)
    return user is not None and user.is_admin


def plugins_out(runtime: Runtime) -> PluginsOut:
    """The registry's report (loaded and disabled plugins) as the API shows it."""
    return msgspec.convert(describe(runtime.channels), PluginsOut, from_attributes=True)
