"""Testing kit for channel plugins: fake network servers on 127.0.0.1 and a conformance suite.

A third-party plugin author imports this module in their own tests.
"""

from plugins.testing.fake import FakeNetwork, FakeResponse, Failure, ReceivedRequest, route, serve_in_thread

__all__ = ["FakeNetwork", "FakeResponse", "Failure", "ReceivedRequest", "route", "serve_in_thread"]
