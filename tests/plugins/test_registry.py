"""Plugin discovery through the ``portevoix.channels`` entry points.

Broken plugins are reached through hand-built EntryPoint objects pointing at
``tests.plugins.broken_plugin``; nothing broken is installed, so other tests never see them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from structlog.testing import capture_logs

from core.channels import ChannelPlugin
from core.channels.registry import (
    ENTRY_POINT_GROUP,
    ChannelRegistry,
    DuplicateChannelKey,
    discover,
)

try:
    from portevoix_webhook_channel import WebhookChannel
except ImportError as exc:  # a clear message beats a bare collection error
    raise ImportError("install the example plugin: pip install -e examples/portevoix-webhook-channel") from exc

BROKEN = "tests.plugins.broken_plugin"
WEBHOOK_SOURCE = "portevoix_webhook_channel:WebhookChannel"


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_the_installed_example_plugin_is_discovered_from_its_entry_point() -> None:
    # The real, installed entry points: `pip install -e examples/portevoix-webhook-channel`.
    registry = discover()
    assert registry.get("webhook") is WebhookChannel
    assert registry.source("webhook") == WEBHOOK_SOURCE
    assert "webhook" not in {broken.name for broken in registry.broken}


def test_a_plugin_failing_on_import_is_reported_and_the_rest_loads() -> None:
    eps = [ep("kaput", f"{BROKEN}.raises_on_import:Plugin"), ep("webhook", WEBHOOK_SOURCE)]
    with capture_logs() as logs:
        registry = discover(eps)
    assert registry.keys() == ["webhook"]
    (broken,) = registry.broken
    assert (broken.name, broken.source) == ("kaput", f"{BROKEN}.raises_on_import:Plugin")
    assert broken.error.startswith("ImportError:") and "frobnicate" in broken.error
    assert [(log["plugin"], log["log_level"]) for log in logs] == [("kaput", "error")]


@pytest.mark.parametrize(
    ("attr", "error"),
    [
        ("NotAPlugin", "is not a ChannelPlugin subclass"),
        ("NoCapabilities", "does not declare 'capabilities'"),
        ("Missing", "AttributeError"),
    ],
)
def test_a_class_that_is_not_a_usable_plugin_is_reported(attr: str, error: str) -> None:
    registry = discover([ep("odd", f"{BROKEN}.plugins:{attr}"), ep("webhook", WEBHOOK_SOURCE)])
    assert registry.keys() == ["webhook"]
    assert [b.name for b in registry.broken] == ["odd"] and error in registry.broken[0].error


def test_an_unsupported_contract_version_is_refused() -> None:
    registry = discover([ep("future", f"{BROKEN}.plugins:FromTheFuture")])
    assert "future" not in registry
    (broken,) = registry.broken
    assert "['99']" in broken.error and "contract" in broken.error
    from tests.plugins.broken_plugin.plugins import FromTheFuture

    with pytest.raises(TypeError, match="contract versions"):
        ChannelRegistry().register(FromTheFuture)


def test_two_plugins_with_the_same_key_name_both() -> None:
    other = f"{BROKEN}.plugins:AnotherWebhook"
    with pytest.raises(DuplicateChannelKey) as caught:
        discover([ep("webhook", WEBHOOK_SOURCE), ep("webhook2", other)])
    assert WEBHOOK_SOURCE in str(caught.value) and other in str(caught.value)


def test_the_same_plugin_registered_twice_is_not_a_duplicate() -> None:
    registry = ChannelRegistry()
    registry.register(WebhookChannel, source=WEBHOOK_SOURCE)
    registry.register(WebhookChannel, source=WEBHOOK_SOURCE)
    assert registry.keys() == ["webhook"] and issubclass(registry.get("webhook"), ChannelPlugin)


def test_a_key_that_cannot_name_a_setting_is_refused() -> None:
    from core.channels.registry import ChannelRegistry
    from tests.bench.instant import InstantPlugin

    class Underscored(InstantPlugin):
        key = "my_net"

    with pytest.raises(TypeError, match="lower-case letters and digits"):
        ChannelRegistry().register(Underscored)
