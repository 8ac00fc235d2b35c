"""The OpenAPI document's operation ids and links: how one answer's ids feed the next call.

Every operation is named after its handler (``compose``, ``getPost``, ``listDeliveries``…). A
route whose answer carries ids that other routes take declares it with :func:`linked` — compose →
the post, its first delivery, approving, canceling…; a persona list → that persona's routes — so
that a client (and schemathesis's stateful phase, ``tests/web/test_openapi.py``) can walk the API
with real ids instead of guessing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import Link, Operation

from web.structs import camel

#: the persona of the request's own path, handed on
SAME_PERSONA = {"persona_id": "$request.path.persona_id"}


def operation_id(route_handler: Any, http_method: Any, path_components: Any) -> str:
    """The operation id: the handler's name, camelCased (unique: Litestar checks)."""
    return camel(route_handler.handler_name)


@dataclass
class _WholeBodyLink(Link):
    """A link whose request body is the whole body to send, not fields to lay over a generated one
    (schemathesis's ``x-schemathesis.merge_body``; other clients ignore the extension)."""

    def to_schema(self) -> dict[str, Any]:
        return {**super().to_schema(), "x-schemathesis": {"merge_body": False}}


def linked(status: int, bodies: dict[str, Any] | None = None, **targets: dict[str, str]) -> type[Operation]:
    """An operation whose ``status`` answer links to ``targets``: operation id → its parameters
    as runtime expressions (``$response.body#/post/id``, ``$request.path.persona_id``); ``bodies``:
    operation id → the request body to send it (expressions inside are resolved too)."""
    links = {
        name: (_WholeBodyLink if name in (bodies or {}) else Link)(
            operation_id=name,
            parameters=parameters,
            request_body=(bodies or {}).get(name),
            description=f"{name} with the ids of this answer",
        )
        for name, parameters in targets.items()
    }

    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            response = (self.responses or {}).get(str(status))
            if response is not None and not isinstance(response, dict):
                response.links = {**(response.links or {}), **links}  # type: ignore[union-attr]

    return LinkedOperation
