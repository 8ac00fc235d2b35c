"""The webhook channel against Porte-voix's conformance suite, over real HTTP to its fake."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from portevoix_webhook_channel import WebhookChannel
from portevoix_webhook_channel.fake import WebhookFake

from core.channels import AccountRef, ChannelPlugin, Draft, Format, MediaItem, MediaKind
from plugins.testing import FakeNetwork
from plugins.testing.conformance import ChannelConformance

PHOTO = MediaItem(
    kind=MediaKind.IMAGE,
    content_type="image/jpeg",
    url="https://cdn.example.org/marche-de-noel.jpg",
    alt_text="Les chalets du marché de Noël sur la place de la mairie",
    size_bytes=420_000,
)


class TestWebhookConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return WebhookChannel

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> WebhookFake:
        return WebhookFake()

    @pytest.fixture
    def sample_drafts(self) -> Mapping[Format, Draft]:
        return {
            Format.POST: Draft(
                text="Le marché de Noël ouvre samedi place de la mairie.",
                link="https://example.org/noel",
            ),
            Format.PHOTO: Draft(text="Le marché de Noël, en images.", format=Format.PHOTO, media=(PHOTO,)),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, WebhookFake)
        # more than one page (the plugin asks for 50 at a time) so the cursor is exercised
        return [fake.add_reply(account, remote_id, f"Réponse n°{n}") for n in range(120)]
