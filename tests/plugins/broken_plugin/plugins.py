"""Plugin classes that load but must be refused or reported."""

from __future__ import annotations

from core.channels import (
    Capabilities,
    ChannelPlugin,
    Feature,
    Format,
    FormatRules,
    TextRules,
)

_CAPS = Capabilities(
    text=TextRules(limit=500), formats=(FormatRules(format=Format.POST),), features=frozenset({Feature.PUBLISH})
)


class NotAPlugin:
    """Has the look of a plugin but does not subclass ChannelPlugin."""

    key = "imposter"
    name = "Imposter"
    capabilities = _CAPS
    default_base_url = "https://imposter.invalid"


class FromTheFuture(ChannelPlugin):
    """Speaks only a contract version this Porte-voix does not."""

    key = "future"
    name = "From the future"
    contract_versions = frozenset({"99"})
    capabilities = _CAPS
    default_base_url = "https://future.invalid"


class NoCapabilities(ChannelPlugin):
    key = "vague"
    name = "Vague"
    default_base_url = "https://vague.invalid"


class AnotherWebhook(ChannelPlugin):
    """A second plugin claiming the key of the example webhook channel."""

    key = "webhook"
    name = "Another webhook"
    capabilities = _CAPS
    default_base_url = "https://other-webhook.invalid"
