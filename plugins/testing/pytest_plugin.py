"""Porte-voix's pytest plugin for channel-plugin authors (``pytest11`` entry point ``portevoix``).

Loaded automatically wherever Porte-voix is installed. It only adds fixtures; it changes
nothing else about a test run:

* ``fake_server`` — serve a :class:`~plugins.testing.FakeNetwork` on 127.0.0.1 for this test
  and get its base URL (``url = fake_server(MyFake())``);
* ``usage_recorder`` — a :class:`UsageRecorder` that keeps every report, to assert on.

The conformance suite itself is a base class: ``from plugins.testing.conformance import ChannelConformance``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

# The suite's plain asserts should explain themselves in the plugin author's test report.
pytest.register_assert_rewrite("plugins.testing.conformance")

from plugins.testing.conformance import RecordingUsageRecorder  # noqa: E402 - after the rewrite hook
from plugins.testing.fake import FakeNetwork, serve_in_thread  # noqa: E402

__all__ = ["RecordingUsageRecorder", "fake_server", "usage_recorder"]


@pytest.fixture
def fake_server() -> Iterator[Callable[[FakeNetwork], str]]:
    """A factory: ``fake_server(fake)`` serves ``fake`` until the test ends and returns its base URL."""
    with contextlib.ExitStack() as stack:

        def serve(fake: FakeNetwork) -> str:
            return stack.enter_context(serve_in_thread(fake))

        yield serve


@pytest.fixture
def usage_recorder() -> RecordingUsageRecorder:
    """Collects the UsageReports a plugin records (``usage_recorder.reports``)."""
    return RecordingUsageRecorder()
