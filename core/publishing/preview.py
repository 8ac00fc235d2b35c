"""A post as each network will show it, for the people who approve it before it goes.

An approver judges what the public will see: the text of the channel (its variant, if any) cut
where the network cuts it — past its limit, counted its way (X weighs links and emoji) — the
first image or video, its alt text, and the link the card will point to. The network's own
card (title, image) is built by the network when it fetches the page; Porte-voix fetches
nothing here, so the card shows the address and its site, which is what the approver checks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from core.channels.contract import Capabilities, TextCounting
from core.channels.text import count_text
from core.db.models import Delivery, Media
from core.policy import delivery_text

#: about where a network's feed folds a long text behind "… see more" (characters, on a phone;
#: the networks move it with the screen and do not document it: an approver's hint, not a rule)
FEED_FOLD = {"instagram": 125, "linkedin": 210, "facebook": 480, "tiktok": 150}


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery of a post, as its network will show it."""

    channel: str
    handle: str
    #: what the feed shows first
    shown: str
    #: what it shows behind "… see more" (empty when the text is short)
    folded: str
    #: what the network would cut off, past its limit (empty when the text fits)
    cut: str
    length: int
    limit: int | None
    counting: str
    #: the first medium (the card's picture, or the video), and how many there are
    first_media: Media | None
    media_count: int
    link: str | None
    link_site: str | None


def preview(delivery: Delivery, capabilities: Capabilities | None) -> Preview:
    """``delivery``'s post as ``capabilities``' network shows it (None: a network not installed,
    shown uncut)."""
    post = delivery.post
    channel = delivery.account.channel
    text = delivery_text(post, channel)
    counting = capabilities.text.counting if capabilities else TextCounting.CHARACTERS
    limit = capabilities.text.limit if capabilities else None
    length = count_text(text, counting)
    kept = text if limit is None or length <= limit else _fitting(text, limit, counting)
    fold = FEED_FOLD.get(channel)
    shown = kept if fold is None or len(kept) <= fold else _at_a_word(kept, fold)
    media = sorted(post.media, key=lambda m: m.position)
    return Preview(
        channel=channel,
        handle=delivery.account.handle,
        shown=shown,
        folded=kept[len(shown) :],
        cut=text[len(kept) :],
        length=length,
        limit=limit,
        counting=counting.value,
        first_media=media[0] if media else None,
        media_count=len(media),
        link=post.link,
        link_site=urlsplit(post.link).hostname if post.link else None,
    )


def _fitting(text: str, limit: int, counting: TextCounting) -> str:
    """The longest beginning of ``text`` within ``limit`` as the network counts (the count grows
    with the text, so a binary search over the characters finds it in a few counts)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_text(text[:middle], counting) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def _at_a_word(text: str, fold: int) -> str:
    """``text`` up to ``fold`` characters, ended at the last space before (feeds fold between words)."""
    head = text[:fold]
    space = head.rfind(" ")
    return head[:space] if space > fold // 2 else head
