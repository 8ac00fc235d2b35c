"""X's weighted text length, as ``count_text(..., TextCounting.TWITTER)`` computes it, against
the official twitter-text conformance data.

Source: twitter/twitter-text, ``conformance/tests/validate.yml`` (commit 3b8031c8), section
``WeightedTweetsWithDiscountedEmojiCounterTest`` — the v3 configuration X uses today (emoji
sequences weigh 2) — unless the row says otherwise (``WeightedTweetsCounterTest`` rows are
ones whose weight does not depend on emoji parsing; ``UnicodeDirectionalMarkerCounterTest``
is run with the v3 config). Texts are transcribed by hand: invisible characters (ZWJ, tag
characters, directional marks, combining marks) are written as escapes, long repetitions as
expressions. Every row agreed with twitter-text-parser 3.0.0 when written; a row that starts
to fail means the library (or our use of it) drifted from the reference, not the table.
"""

from __future__ import annotations

import pytest

from core.channels import Draft, TextCounting, count_text, validate_draft
from plugins.channels.x import XPlugin

POEM = (  # 160 CJK characters, full-width punctuation included
    "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，乌衣巷口夕阳斜。"
    "旧时王谢堂前燕，飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"
    "泪湿罗巾梦不成，夜深前殿按歌声。红颜未老恩先断，斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。"
    "遥知兄弟登高处，遍插茱萸少一人。"
)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy joined by ZWJ
KANA = "あいうえおかきくけこ"
PUNCTUATION = (
    "This is a tweet with general punctuation characters: "
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b "
    "\u2010 \u2011 \u2012 \u2013 \u2014 \u2015 \u2016  \u2017 \u2018 \u2019 \u201a \u201b "
    "\u201c \u201d \u201e \u201f \u2032 \u2033 \u2034 \u2035 \u2036 \u2037"
)
ENGLAND_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # black flag + tag sequence

# (description from the YAML, text, expected weightedLength, expected valid)
CASES: list[tuple[str, str, int, bool]] = [
    ("Regular Tweet with url", "Hi http://test.co", 26, True),
    ("Just url", "http://test.co", 23, True),
    (
        "Long tweet, overflow at char index 280",
        "285 chars-" + "xxxxxxxxxx-" * 25,
        285,
        False,
    ),
    (
        "Long tweet with url in the middle, overflow at char index 284",
        "285 chars- http://www.twitter.com/jack " + "xxxxxxxxxx-" * 24,
        299,
        False,
    ),
    (
        "Long tweet with url at the end, overflow at char index 265",
        "xxxxxxxxxx-" * 24 + " http://www.twitter.com/jack ",
        289,
        False,
    ),
    ("10 url string, no overflow", "https://www.twitter.com/aloha " * 10, 240, True),
    ("160 CJK char, overflow at char index 140", POEM, 320, False),
    ("160 emoji char, overflow at char index 140", "\U0001f637" * 160, 320, False),
    (
        "3 latin char + 160 CJK char, overflow at char index 141",
        "the" + POEM,
        323,
        False,
    ),
    # the 280 edge: one char over once the decomposed Á is NFC-normalized into one
    (
        "282 chars with a normalized character within valid range but outside 280",
        "282 chars-" + "xxxxxxxxxx-" * 24 + "xxxxxA\u0301x",
        281,
        False,
    ),
    (
        "Count a mix of single byte single word, and double word unicode characters",
        "H\U0001f431\u263a" + FAMILY,
        7,
        True,
    ),
    (
        "Count unicode emoji chars inside the basic multilingual plane",
        "\U0001f637\U0001f47e\U0001f621\U0001f525\U0001f4a9",
        10,
        True,
    ),
    (
        "Count unicode emoji chars outside the basic multilingual plane with skin tone modifiers",
        "\U0001f64b\U0001f3fd\U0001f468\u200d\U0001f3a4",
        4,
        True,
    ),
    (
        "Handle General Punctuation Characters with visible spaces(u2000-200A), no ZWJ/ZWNJ",
        PUNCTUATION,
        110,
        True,
    ),
    (
        "Handle a 64 character domain without protocol",
        "randomurl" * 7 + "s.com",
        68,
        True,
    ),
    (
        "Do not allow > 140 CJK characters by virtue of CJK chars greater than 63 punycode encoded chars in the host",
        KANA * 12 + " http://" + KANA * 5 + "あいう.com",
        358,
        False,
    ),
    (
        "Allow > 140 CJK characters by virtue of CJK chars less than 63 punycode encoded chars in the host",
        KANA * 12 + " http://" + KANA * 5 + "あい.com",
        264,
        True,
    ),
    ("140 family emoji", FAMILY * 140, 280, True),  # the 280 edge, exactly at the limit
    (
        "Unicode 10.0 emoji",
        f"Unicode 10.0 emoji: \U0001f92a; \U0001f9d5; \U0001f9d5\U0001f3fe; {ENGLAND_FLAG}",
        34,
        True,
    ),
    (
        "Unicode 9.0 emoji",
        "Unicode 9.0 emoji: \U0001f920; \U0001f483; \U0001f483\U0001f3fe",
        29,
        True,
    ),
    # UnicodeDirectionalMarkerCounterTest: directional marks count, the URL still weighs 23
    (
        "Tweet text containing directional characters should be considered valid",
        "\u2066\u202ahttp://foobar.\u067e\u0627\u06a9\u0633\u062a\u0627\u0646/\u202c\u2069",
        31,
        True,
    ),
    # WeightedTweetsCounterTest (v2 section; same weights in v3, no emoji involved)
    ("'Á' is normalized into 1 char", "A\u0301B", 2, True),
    ("שּׁ is normalized into 3 chars", "A\ufb2c", 4, True),
]


@pytest.mark.parametrize(("description", "text", "expected", "valid"), CASES, ids=[c[0][:60] for c in CASES])
def test_weighted_length_matches_twitter_text_conformance(
    description: str, text: str, expected: int, valid: bool
) -> None:
    assert count_text(text, TextCounting.TWITTER) == expected, description
    assert (expected <= 280) is valid, f"table error in {description!r}"


@pytest.mark.parametrize(("description", "text", "expected", "valid"), CASES, ids=[c[0][:60] for c in CASES])
def test_x_validation_agrees_with_conformance_validity(description: str, text: str, expected: int, valid: bool) -> None:
    codes = [v.code for v in validate_draft(XPlugin.capabilities, Draft(text=text))]
    assert codes == ([] if valid else ["text_too_long"]), description


def test_table_is_representative() -> None:
    assert len(CASES) >= 15
    assert any(c[2] == 280 and c[3] for c in CASES) and any(c[2] == 281 and not c[3] for c in CASES)
