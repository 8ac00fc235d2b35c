"""The host's conformance suite against the built-in plugins that have no run of it elsewhere.

X and Bluesky run :class:`ChannelConformance` at the end of their own test files; this file
runs it for Facebook, Instagram, LinkedIn, TikTok and Mastodon, each against its fake network
over real HTTP on 127.0.0.1. One class per network: realistic French sample drafts for every
declared format, media with alt text, an authorization code the fake's token endpoint
accepts, and inbox items seeded through the fake's own helpers.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from core.channels import (
    AccountRef,
    ChannelPlugin,
    ChannelSettings,
    Draft,
    Format,
    MediaItem,
    MediaKind,
)
from plugins.channels.facebook import FacebookPlugin
from plugins.channels.instagram import InstagramPlugin
from plugins.channels.linkedin import LinkedInPlugin
from plugins.channels.mastodon import MastodonPlugin
from plugins.channels.tiktok import TikTokPlugin
from plugins.testing.conformance import ChannelConformance
from plugins.testing.fake import FakeNetwork
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.linkedin import FakeLinkedIn
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.tiktok import FakeTikTok

CDN = "https://medias.laregion.example"
REDIRECT = "http://127.0.0.1/oauth/callback"
CLIENT_SECRET = "conformance-client-secret-7f3a9c"
WEBHOOK_SECRET = "conformance-webhook-secret-91d0e4"


def jpeg(tmp_path: Path, name: str, size: int = 2_000) -> str:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * (size // 256) + b"\xff\xd9")
    return str(path)


def png(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 256)
    return str(path)


def mp4(tmp_path: Path, name: str, size: int = 4_000) -> str:
    path = tmp_path / name
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * (size // 256))
    return str(path)


# ---------------------------------------------------------------------- Facebook


class TestFacebookConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return FacebookPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeFacebook:
        return FakeFacebook()

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        # Meta checks the app id and secret on the token endpoint: the fake knows its own.
        return ChannelSettings(
            base_url=fake_url,
            client_id=FakeFacebook.app_id,
            client_secret=FakeFacebook.app_secret,
            redirect_uri=REDIRECT,
            webhook_secret=WEBHOOK_SECRET,
            extra={
                "graph_version": "v23.0",
                "oauth_dialog_base": fake_url,
                "inbox_page_size": "10",
            },
        )

    @pytest.fixture
    def oauth_code(self, fake: FakeFacebook, _fresh_fake: None) -> str:
        return fake.issue_code()

    @pytest.fixture
    def sample_drafts(self, tmp_path: Path) -> dict[Format, Draft]:
        pont = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            url=f"{CDN}/pont-du-gard.jpg",
            alt_text="Le pont du Gard au coucher du soleil, vu depuis la rive droite",
        )
        carcassonne = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            path=jpeg(tmp_path, "carcassonne.jpg"),
            alt_text="Les remparts de la Cité de Carcassonne sous un ciel bleu",
        )
        session = MediaItem(
            kind=MediaKind.VIDEO,
            content_type="video/mp4",
            url=f"{CDN}/session-pleniere.mp4",
            alt_text="La présidente ouvre la session plénière à l'hôtel de Région",
            duration_s=95,
        )
        return {
            Format.POST: Draft(
                text="L'assemblée régionale vote aujourd'hui le budget 2027 : suivez les débats en direct.",
                link="https://www.laregion.fr/budget-2027",
            ),
            Format.PHOTO: Draft(
                text="Deux joyaux du patrimoine occitan, à (re)découvrir cet été.",
                format=Format.PHOTO,
                media=(pont, carcassonne),
            ),
            Format.VIDEO: Draft(
                text="Revivez l'ouverture de la session plénière.",
                title="Session plénière de juin",
                format=Format.VIDEO,
                media=(session,),
            ),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeFacebook)
        comments = [
            fake.seed_comment(
                remote_id,
                f"Merci pour l'info ! Question n°{n}",
                author=(f"62000000000{n:05d}", f"Habitant {n}"),
            )
            for n in range(35)
        ]
        replies = [
            fake.seed_comment(
                remote_id,
                f"Je suis d'accord ({n})",
                parent_id=comments[n],
                author=("6200000000099999", "Lucie Roux"),
            )
            for n in range(5)
        ]
        fake.seed_conversation(
            "7100000000000001",
            "Jean Dupont",
            [f"Bonjour, message {n}" for n in range(25)],
        )
        conversation = fake.conversations[next(reversed(fake.conversations))]
        messages = [m["id"] for m in conversation["messages"]]
        return comments + replies + messages


# ---------------------------------------------------------------------- Instagram


def instagram_settings(fake_url: str, **extra: str) -> ChannelSettings:
    return ChannelSettings(
        base_url=fake_url,
        client_id=FakeInstagram.app_id,
        client_secret=FakeInstagram.app_secret,
        redirect_uri=REDIRECT,
        webhook_secret=WEBHOOK_SECRET,
        extra={
            "graph_version": "v23.0",
            "oauth_dialog_base": fake_url,
            "poll_interval": "0.01",
            "poll_attempts": "5",
            "inbox_page_size": "10",
            **extra,
        },
    )


class TestInstagramConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return InstagramPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeInstagram:
        return FakeInstagram(processing_polls=1)

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        return instagram_settings(fake_url)

    @pytest.fixture
    def oauth_code(self, fake: FakeInstagram, _fresh_fake: None) -> str:
        return fake.issue_code()

    @pytest.fixture
    def sample_drafts(self) -> dict[Format, Draft]:
        def image(name: str, alt: str, width: int = 1080, height: int = 1080) -> MediaItem:
            return MediaItem(
                kind=MediaKind.IMAGE,
                content_type="image/jpeg",
                url=f"{CDN}/{name}",
                alt_text=alt,
                width=width,
                height=height,
                size_bytes=850_000,
            )

        def video(name: str, seconds: float, width: int = 1080, height: int = 1920) -> MediaItem:
            return MediaItem(
                kind=MediaKind.VIDEO,
                content_type="video/mp4",
                url=f"{CDN}/{name}",
                width=width,
                height=height,
                duration_s=seconds,
                size_bytes=24_000_000,
            )

        marche = image("marche-sete.jpg", "Étals de poissons au marché couvert de Sète")
        return {
            Format.POST: Draft(text="Le marché de Sète ce matin. #Occitanie #Sète", media=(marche,)),
            Format.PHOTO: Draft(
                text="Lever de soleil sur le pic du Canigou. #Pyrénées",
                format=Format.PHOTO,
                media=(
                    image(
                        "canigou.jpg",
                        "Le pic du Canigou enneigé au lever du soleil",
                        1080,
                        1350,
                    ),
                ),
            ),
            Format.CAROUSEL: Draft(
                text="Trois étapes du canal du Midi à vélo. #CanalDuMidi",
                format=Format.CAROUSEL,
                media=(
                    image("ecluse.jpg", "Une écluse du canal du Midi bordée de platanes"),
                    image("beziers.jpg", "Les neuf écluses de Fonseranes à Béziers"),
                    video("peniche.mp4", 25, 1080, 1080),
                ),
            ),
            Format.REEL: Draft(
                text="Les coulisses du Festival de Carcassonne. #Festival",
                format=Format.REEL,
                media=(video("festival.mp4", 45),),
            ),
            Format.STORY: Draft(
                text="",
                format=Format.STORY,
                media=(
                    image(
                        "story-toulouse.jpg",
                        "La place du Capitole illuminée",
                        1080,
                        1920,
                    ),
                ),
            ),
        }

    def late_answer_path(self, fake: FakeNetwork) -> str | None:
        # The post exists once media_publish answers; the permalink read after it is best effort.
        return r"/media_publish$"

    async def seed_posts(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, drafts: list[Draft]
    ) -> None:
        # Instagram publishes 50 posts a day through the API (the fake's quota): make them directly.
        assert isinstance(fake, FakeInstagram)
        for draft in drafts:
            fake.seed_media(draft.text)

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeInstagram)
        comments = [
            fake.seed_comment(remote_id, f"Magnifique ! 😍 ({n})", username=f"voyageur_{n % 7}") for n in range(30)
        ]
        replies = [
            fake.seed_comment(
                remote_id,
                f"Tout à fait ({n})",
                username="lea.occitanie",
                parent_id=comments[n],
            )
            for n in range(4)
        ]
        return comments + replies


class TestInstagramWithDeleteConformance(TestInstagramConformance):
    """Deleting media is opt-in (``enable_delete``): an instance so configured declares and offers it."""

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        return instagram_settings(fake_url, enable_delete="true")


# ---------------------------------------------------------------------- LinkedIn


class TestLinkedInConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return LinkedInPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeLinkedIn:
        return FakeLinkedIn()

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        return ChannelSettings(
            base_url=fake_url,
            client_id="conformance-client",
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            webhook_secret=WEBHOOK_SECRET,
            extra={
                "linkedin_version": "202609",
                "oauth_base_url": fake_url,
                "poll_interval_s": "0.01",
                "page_size": "10",
            },
        )

    @pytest.fixture
    def oauth_code(self, fake: FakeLinkedIn, _fresh_fake: None) -> str:
        return fake.issue_code(REDIRECT)

    @pytest.fixture
    def sample_drafts(self, tmp_path: Path) -> dict[Format, Draft]:
        photo = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/png",
            path=png(tmp_path, "forum-emploi.png"),
            alt_text="Des jeunes échangent avec des recruteurs au forum de l'emploi de Montpellier",
        )
        return {
            Format.POST: Draft(
                text="Forum régional de l'emploi : 120 entreprises recrutent à Montpellier le 14 octobre. #Emploi",
                media=(photo,),
            ),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeLinkedIn)
        comments = [
            fake.add_comment(
                remote_id,
                f"Excellente initiative ! ({n})",
                actor=f"urn:li:person:membre{n % 6}",
            )
            for n in range(25)
        ]
        replies = [
            fake.add_comment(
                remote_id,
                f"Je m'inscris ! ({n})",
                actor="urn:li:person:claire77",
                parent=comments[n],
            )
            for n in range(3)
        ]
        return comments + replies


# ---------------------------------------------------------------------- TikTok

#: suite tests that call ``_sample(sample_drafts, Format.POST)`` without a fallback


class TestTikTokConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return TikTokPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeTikTok:
        return FakeTikTok(polls_to_complete=1)

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        return ChannelSettings(
            base_url=fake_url,
            client_id="conformance-client",
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            webhook_secret=WEBHOOK_SECRET,
            extra={
                "auth_base_url": fake_url,
                "poll_interval_s": "0.01",
                "poll_timeout_s": "2",
            },
        )

    @pytest.fixture
    def oauth_code(self, fake: FakeTikTok, _fresh_fake: None) -> str:
        return fake.issue_code(REDIRECT)

    #: create_time is in whole seconds and the plugin allows one more of rounding
    reconcile_time_precision = timedelta(seconds=2)
    #: the video list shows public posts after moderation only: "not found" is Ambiguous
    reconcile_proves_absence = False

    def late_answer_path(self, fake: FakeNetwork) -> str | None:
        # The init call creates the post; the status polls after it only read its progress.
        return r"^/v2/post/publish/(video|content)/init/$"

    async def seed_posts(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, drafts: list[Draft]
    ) -> None:
        # TikTok takes 6 publish inits a minute per token: make the posts on the fake, a second
        # apart and newer than the attempt (create_time is in whole seconds).
        assert isinstance(fake, FakeTikTok)
        now = int(time.time())
        for n, draft in enumerate(drafts, start=1):
            fake.add_video(draft.text, create_time=now + n)

    @pytest.fixture
    def sample_drafts(self) -> dict[Format, Draft]:
        clip = MediaItem(
            kind=MediaKind.VIDEO,
            content_type="video/mp4",
            url=f"{CDN}/feria-nimes.mp4",
            alt_text="Bandas et foule dans les rues de Nîmes pendant la feria",
            duration_s=42,
            width=1080,
            height=1920,
        )
        photos = tuple(
            MediaItem(
                kind=MediaKind.IMAGE,
                content_type="image/jpeg",
                url=f"{CDN}/{name}.jpg",
                alt_text=alt,
                width=1080,
                height=1080,
            )
            for name, alt in (
                ("collioure", "Le clocher de Collioure au bord de la mer"),
                ("rocamadour", "Rocamadour accroché à sa falaise"),
            )
        )
        options = {"privacy_level": "PUBLIC_TO_EVERYONE"}
        return {
            Format.VIDEO: Draft(
                text="L'ambiance de la feria de Nîmes en 40 secondes ! #Occitanie #Feria",
                format=Format.VIDEO,
                media=(clip,),
                options=options,
            ),
            Format.PHOTO: Draft(
                text="Deux villages à voir absolument cet été. #PlusBeauxVillages",
                title="Nos plus beaux villages",
                format=Format.PHOTO,
                media=photos,
                options=options,
            ),
        }


# ---------------------------------------------------------------------- Mastodon


class TestMastodonConformance(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return MastodonPlugin

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeMastodon:
        return FakeMastodon()

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        return ChannelSettings(
            base_url=fake_url,
            client_id="conformance-client",
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            webhook_secret=WEBHOOK_SECRET,
            extra={"poll_interval_s": "0.01", "page_size": "10"},
        )

    @pytest.fixture
    def oauth_code(self, fake: FakeMastodon, _fresh_fake: None) -> str:
        return fake.issue_code(REDIRECT)

    @pytest.fixture
    def sample_drafts(self, tmp_path: Path) -> dict[Format, Draft]:
        photo = MediaItem(
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            path=jpeg(tmp_path, "viaduc-millau.jpg"),
            alt_text="Le viaduc de Millau au-dessus d'une mer de nuages",
        )
        return {
            Format.POST: Draft(
                text="Le viaduc de Millau fête ses 20 ans : programme des festivités sur laregion.fr #Aveyron",
                media=(photo,),
                options={"language": "fr"},
            ),
        }

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        assert isinstance(fake, FakeMastodon)
        mentions = [
            fake.add_mention(
                f"Quelle belle photo ! ({n})",
                from_acct=f"citoyen{n % 5}@piaille.fr",
                in_reply_to_id=remote_id,
            )["id"]
            for n in range(30)
        ]
        messages = [
            fake.add_direct_message(f"Bonjour, une question ({n})", from_acct="marie@mastodon.social")["id"]
            for n in range(3)
        ]
        return mentions + messages
