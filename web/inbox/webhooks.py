"""``/webhooks/{channel}``: the networks' public door (GET for their checks, POST for events).

No session, no CSRF, no login: a network signs its requests instead, and the core checks the
signature over the raw body (``core.inbox.webhooks``). The body is read up to 1 MB and no
further: a bigger one is a 413 before anything is computed over it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, route
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response

from core.channels import WebhookRequest
from core.inbox.webhooks import MAX_BODY_BYTES, receive_webhook
from core.runtime import Runtime
from web import access


class WebhookController(Controller):
    path = "/webhooks"
    include_in_schema = False

    @route("/{channel:str}", http_method=["GET", "POST"], **access.public())
    async def webhook(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], channel: FromPath[str]
    ) -> Response[str]:
        body = await _capped_body(request)
        if body is None:
            return Response("payload too large", status_code=413, media_type="text/plain")
        outcome = await receive_webhook(
            runtime,
            channel,
            WebhookRequest(
                method=request.method,
                headers={name.lower(): value for name, value in request.headers.items()},
                query={name: value for name, value in request.query_params.items()},
                body=body,
            ),
            remote_address=request.client.host if request.client else "",
        )
        return Response(outcome.body, status_code=outcome.status, media_type=outcome.content_type)


async def _capped_body(request: Request[Any, Any, Any]) -> bytes | None:
    """The raw body, or None past :data:`MAX_BODY_BYTES` (by its announced length, else as it streams)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
