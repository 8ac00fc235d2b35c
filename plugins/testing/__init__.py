"""Testing kit for channel plugins: fake network servers on 127.0.0.1 and a conformance suite.

A third-party plugin author imports this module in their own tests.
"""

from plugins.testing.fake import (
    Failure,
    FakeNetwork,
    FakeResponse,
    ReceivedRequest,
    discover_fakes,
    route,
    serve_in_thread,
)
from plugins.testing.oauth import Grant, OAuthServer

__all__ = [
    "FakeNetwork",
    "FakeResponse",
    "Failure",
    "Grant",
    "OAuthServer",
    "ReceivedRequest",
    "discover_fakes",
    "route",
    "serve_in_thread",
]
