"""Text length as each network counts it."""

from __future__ import annotations

import re

import regex
from twitter_text import parse_tweet

from core.channels.contract import TextCounting

_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(@[\w.]+)@[\w.-]+\w")
_HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)")
_MASTODON_URL_WEIGHT = 23


def count_text(text: str, counting: TextCounting) -> int:
    """Length of ``text`` the way the network counts it."""
    if counting is TextCounting.TWITTER:
        # twitter-text v3: URLs weigh 23, emoji and CJK weigh 2, after NFC normalisation.
        return int(parse_tweet(text).weightedLength)
    if counting is TextCounting.GRAPHEMES:
        return len(regex.findall(r"\X", text))
    if counting is TextCounting.UTF16:
        return len(text.encode("utf-16-le")) // 2
    if counting is TextCounting.MASTODON:
        shortened = _URL.sub("x" * _MASTODON_URL_WEIGHT, text)
        return len(_REMOTE_MENTION.sub(r"\1", shortened))
    return len(text)


def hashtags(text: str) -> list[str]:
    """The hashtags of a text, without their ``#``."""
    return [m.group(1) for m in _HASHTAG.finditer(text)]
