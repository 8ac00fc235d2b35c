"""The contract's reconcile helpers: exact text comparison, and no guess between two matches."""

from __future__ import annotations

import pytest

from core.channels import Ambiguous, ChannelError, PublishResult, same_text, single_match


@pytest.mark.parametrize(
    ("published", "sent"),
    [
        ("Fête de la musique 🎶", "Fête de la musique 🎶"),
        ("  Bonjour\n", "Bonjour"),  # networks trim the ends
        ("Cafe\u0301 ouvert", "Café ouvert"),  # NFD and NFC are the same text
    ],
)
def test_same_text_accepts_what_networks_do_to_a_text(published: str, sent: str) -> None:
    assert same_text(published, sent)


@pytest.mark.parametrize(
    ("published", "sent"),
    [
        ("Budget voté https://laregion.fr/a", "Budget voté https://laregion.fr/b"),
        ("deux  espaces", "deux espaces"),
        ("une\nligne", "une ligne"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Bravo 🎉", "Bravo 🎊"),
        (None, ""),
    ],
)
def test_same_text_refuses_look_alikes(published: str | None, sent: str) -> None:
    assert not same_text(published, sent)


def test_single_match_none_one_or_ambiguous() -> None:
    first, second = PublishResult(remote_id="1"), PublishResult(remote_id="2")
    assert single_match([], channel="x") is None
    assert single_match([first, PublishResult(remote_id="1")], channel="x") == first  # one post seen twice
    with pytest.raises(Ambiguous) as caught:
        single_match([second, first], channel="x")
    assert caught.value.candidates == ("1", "2")
    assert isinstance(caught.value, ChannelError) and "identical posts" in caught.value.network_message
