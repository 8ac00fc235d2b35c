"""The policy engine's benchmark (issue 15, B5): ``python -m tests.bench --policy``.

The full rule set (every registered rule switched on for the Région, its own settings kept) on a
2,000-character French post with three media, inside the régionales 2028 window
(personas/data/elections.toml), on the Région persona (personas/data/region-occitanie.toml):
evaluations per second, against a target of 2,000 (the composer runs the engine on every
keystroke, the worker again at publish time).

``--policy-cold`` measures with a fresh text at each evaluation (a keystroke changes the text, so
the per-text analysis cannot be reused): the figure that matters for the composer. The default
measures both.
"""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from personas import SEED_DIR, load_dir
from personas.policy import (
    REGISTRY,
    AssetOrigin,
    DayCount,
    Employer,
    MediaInput,
    PolicyAccount,
    PolicyContext,
    PolicyDraft,
    Regularity,
    default_elections,
    evaluate,
)
from personas.schema import PersonaFile, RuleSetting

TARGET = 2_000
BASELINE = 236  # the figure; this machine measured 231/s (cold) before the change
CHANNELS = ("facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon")
FORMATS = ("post", "photo", "video", "reel", "story", "carousel")
MOMENT = datetime(2027, 11, 10, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # régionales 2028 window

# A realistic institutional post that wakes most rules: hashtags (glued, mid-sentence), emoji
# (faces, a skin tone, a flag), inclusive forms, a masculine title for the présidente, praise and
# counts of achievements, election words, a quotation, a mention, URLs, a run of capitals.
_PARAGRAPHS = (
    "Grâce à la Région, 120 lycées rénovés et 3 500 ordinateurs distribués depuis le début du mandat 🎉 !",
    "Le président Camille Delorme était hier à Rodez avec les habitant·e·s et les élu.e.s du territoire 👏🏽.",
    "« Je suis fière de ce bilan historique », a déclaré la présidente de la Région devant les lycéens.",
    "Rendez-vous sur https://www.laregion.fr/lycees et suivez @CamilleDelorme pour #fetedelamusique.",
    "Les agent·e·s des transports régionaux ont accompagné 12 000 voyageurs ce week-end 🚆 sur la ligne liO.",
    "Votez pour votre projet au budget participatif : les bureaux de vote ouvrent dimanche à 8 h.",
    "NOUS SOMMES TRÈS FIERS DE NOS LYCÉENS, une réussite sans précédent pour l'Occitanie 🇫🇷 😀.",
    "#OccitanieEnsemble #lycees #transportregional #culture : retrouvez toute l'actualité sur le site.",
    "Mes Aides Région : 300 km de pistes cyclables financés, c'est un record pour notre territoire !",
    "Le programme du festival est en ligne ; la campagne de vaccination continue dans les lycées 💉.",
)
MEDIA = (
    MediaInput(kind="image", alt_text="IMG_2041.jpg", filename="IMG_2041.jpg", origin=AssetOrigin.REGION_DAM),
    MediaInput(
        kind="image",
        alt_text="Des lycéens montent dans un car régional devant la gare de Rodez",
        origin=AssetOrigin.REGION_DAM,
        depicts=("presidente-region",),
    ),
    MediaInput(kind="video", has_captions=False, origin=AssetOrigin.REGION_DAM),
)


def post_text(length: int = 2_000) -> str:
    """The paragraphs repeated and cut at a word to ``length`` characters."""
    text = ""
    while len(text) < length:
        text += "\n".join(_PARAGRAPHS) + "\n"
    return text[:length].rsplit(" ", 1)[0]


def region_with_every_rule() -> PersonaFile:
    (region,) = [
        p for p in load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS) if p.kind == "institution"
    ]
    rules = {rule_id: RuleSetting() for rule_id in REGISTRY} | dict(region.rules)
    return msgspec.structs.replace(region, rules=rules)


def context() -> PolicyContext:
    return PolicyContext(
        moment=MOMENT,
        day_counts={"facebook": DayCount(posts=2, reposts=1)},
        elections=tuple(default_elections()),
        composer_employer=Employer.INSTITUTION,
        paid_boost=True,
        regularity=Regularity(last_28_days=60, baseline_28_days=40),
    )


def draft(text: str) -> PolicyDraft:
    return PolicyDraft(channel="facebook", text=text, format="photo", media=MEDIA, link="https://www.laregion.fr")


def measure(*, cold: bool, seconds: float = 3.0) -> tuple[float, int]:
    """(evaluations per second, findings per evaluation). Cold: each evaluation has a new text
    (one character changes, as a keystroke does)."""
    persona, ctx, account = region_with_every_rule(), context(), PolicyAccount(channel="facebook", handle="x")
    base = post_text()
    head = base[:-8]
    findings = len(evaluate(persona, draft(base), ctx, account=account))
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            done += 1
            evaluate(persona, draft(f"{head}{done:08d}" if cold else base), ctx, account=account)
    return done / elapsed, findings


def main(*, seconds: float = 3.0) -> None:
    print(f"B5 policy engine: {len(REGISTRY)} rules, {len(post_text())} characters, 3 media, régionales window")
    print(f"{'':<34} {'figure':>10} {'baseline':>10} {'ratio':>7} {'target':>8}")
    for label, cold in (("new text each time (keystroke)", True), ("same text again (re-check)", False)):
        rate, findings = measure(cold=cold, seconds=seconds)
        print(
            f"{label:<34} {rate:>8,.0f}/s {BASELINE:>8,}/s {rate / BASELINE:>7.2f} {TARGET:>6,}/s"
            f"  ({findings} findings)"
        )


if __name__ == "__main__":
    main()
