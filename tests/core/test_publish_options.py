"""Publish options in the contract (TikTok's creator_info), and the demo's loopback media."""

from __future__ import annotations

import pytest

from core.channels import (
    Draft,
    Format,
    MediaItem,
    MediaKind,
    OptionKind,
    PublishOption,
    PublishOptions,
    Rejected,
    public_media_url_problem,
    validate_draft,
    validate_options,
)
from core.settings import SettingsError, load_settings
from plugins.channels.instagram import _media_with_urls
from plugins.channels.tiktok import TikTokPlugin, creator_options

VIDEO = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", url="https://cdn.example.fr/a.mp4", duration_s=12)


def _video(**options: str) -> Draft:
    return Draft(text="Feria", format=Format.VIDEO, media=(VIDEO,), options=options)


def test_tiktok_refuses_a_video_without_a_privacy_level_before_scheduling() -> None:
    found = validate_draft(TikTokPlugin.capabilities, _video())
    assert [(v.code, v.params["option"]) for v in found] == [("option_required", "privacy_level")]
    assert validate_draft(TikTokPlugin.capabilities, _video(privacy_level="SELF_ONLY")) == []
    bogus = validate_draft(TikTokPlugin.capabilities, _video(privacy_level="EVERYONE"))
    assert [v.code for v in bogus] == ["option_invalid"]


def test_creator_info_becomes_the_accounts_options() -> None:
    offered = creator_options(
        {
            "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
            "comment_disabled": True,
            "duet_disabled": False,
            "stitch_disabled": True,
            "max_video_post_duration_sec": 300,
        }
    )
    privacy = offered.get("privacy_level")
    assert privacy is not None and privacy.required and privacy.choices == ("FOLLOWER_OF_CREATOR", "SELF_ONLY")
    comments, stitch, duet = offered.get("disable_comment"), offered.get("disable_stitch"), offered.get("disable_duet")
    assert comments is not None and comments.disabled and comments.default == "true"
    assert stitch is not None and stitch.disabled and stitch.kind is OptionKind.BOOL
    assert duet is not None and not duet.disabled
    assert offered.max_video_duration_s == 300
    # a level TikTok knows but this creator does not offer
    found = validate_options(offered, _video(privacy_level="PUBLIC_TO_EVERYONE"))
    assert [v.code for v in found] == ["option_not_offered"]
    assert validate_options(offered, _video(privacy_level="SELF_ONLY")) == []


def test_an_option_for_videos_only_is_not_asked_of_a_photo() -> None:
    only_video = PublishOptions(
        options=(PublishOption(name="x", required=True, choices=("a",), formats=frozenset({Format.VIDEO})),)
    )
    assert validate_options(only_video, Draft(text="", format=Format.PHOTO)) == []
    assert [v.code for v in validate_options(only_video, Draft(text="", format=Format.VIDEO))] == ["option_required"]


@pytest.mark.parametrize(
    ("url", "loopback", "fine"),
    [
        ("https://portevoix.region.fr/media/1", False, True),
        ("http://portevoix.region.fr/media/1", False, False),
        ("http://127.0.0.1:8000/media/1", False, False),  # production: never loopback
        ("https://127.0.0.1:8000/media/1", False, False),
        ("https://10.0.0.5/media/1", False, False),
        ("http://127.0.0.1:8000/media/1", True, True),  # the demo's simulated networks
        ("http://localhost:8000/media/1", True, True),
        ("http://portevoix.region.fr/media/1", True, False),  # loopback only, not any http
    ],
)
def test_media_urls_a_network_can_fetch(url: str, loopback: bool, fine: bool) -> None:
    assert (public_media_url_problem(url, allow_loopback=loopback) is None) is fine


def test_instagram_refuses_loopback_media_in_production_and_takes_it_in_the_demo() -> None:
    photo = MediaItem(kind=MediaKind.IMAGE, content_type="image/jpeg", url="http://127.0.0.1:8000/media/1")
    draft = Draft(text="Marché", format=Format.PHOTO, media=(photo,))
    with pytest.raises(Rejected) as caught:
        _media_with_urls(draft)
    assert caught.value.code == "media_url_not_public"
    assert _media_with_urls(draft, allow_loopback=True) == [photo]


def test_the_environment_cannot_claim_a_simulated_network(tmp_path: object) -> None:
    env = {
        "DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "PORTEVOIX_SECRET_KEY": "k" * 40,
        "PORTEVOIX_CHANNEL_INSTAGRAM_EXTRA_SIMULATED": "true",
    }
    with pytest.raises(SettingsError, match="reserved for the demo"):
        load_settings(env)
