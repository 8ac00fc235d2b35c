"""Shared helpers: the seed personas, and a one-call way to evaluate a draft."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personas.loader import SEED_DIR, load_dir
from personas.policy import (
    Finding,
    MediaInput,
    PolicyAccount,
    PolicyContext,
    PolicyDraft,
    default_elections,
    evaluate,
)
from personas.schema import PersonaFile

PARIS = ZoneInfo("Europe/Paris")
CHANNELS = ("facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon")
FORMATS = ("post", "photo", "video", "reel", "story", "carousel")

IN_PRESIDENTIAL = datetime(2027, 1, 15, 10, 0, tzinfo=PARIS)  # 2027 presidential window, not régionales
IN_REGIONAL = datetime(2027, 11, 10, 10, 0, tzinfo=PARIS)  # régionales 2028 window (president candidate)
OUTSIDE = datetime(2029, 6, 1, 10, 0, tzinfo=PARIS)  # no window in the shipped file

_SEED = {p.slug: p for p in load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS)}


def persona(slug: str) -> PersonaFile:
    return _SEED[slug]


INSTITUTION = "region-occitanie"
OFFICIAL = "presidente-region"

GOOD_ALT = "Des lycéens montent dans un car régional devant la gare de Rodez"


def image(alt: str = GOOD_ALT, **kw: Any) -> MediaInput:
    return MediaInput(kind="image", alt_text=alt, **kw)


def run(
    slug: str = INSTITUTION,
    text: str = "",
    *,
    channel: str = "x",
    fmt: str = "post",
    media: tuple[MediaInput, ...] = (),
    link: str | None = None,
    moment: datetime = OUTSIDE,
    account: PolicyAccount | None = None,
    who: PersonaFile | None = None,
    **context: Any,
) -> list[Finding]:
    draft = PolicyDraft(channel=channel, text=text, format=fmt, media=media, link=link)
    context.setdefault("elections", default_elections())
    return evaluate(who or persona(slug), draft, PolicyContext(moment=moment, **context), account=account)


def of(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def severities(findings: list[Finding], rule: str) -> list[str]:
    return [str(f.severity) for f in of(findings, rule)]


@pytest.fixture
def institution() -> PersonaFile:
    return persona(INSTITUTION)


@pytest.fixture
def official() -> PersonaFile:
    return persona(OFFICIAL)
