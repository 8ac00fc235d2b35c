"""Table-driven: for every rule, drafts that must trigger it and near-misses that must not.

Each case: (persona slug, text, evaluation options, rule id, expected severities of that rule).
An empty list means the rule must stay quiet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from personas.policy import (
    AssetOrigin,
    DayCount,
    Employer,
    MediaInput,
    NetworkViolation,
    Novelty,
    PolicyAccount,
    Regularity,
    RepostOf,
)

from .conftest import (
    GOOD_ALT,
    IN_PRESIDENTIAL,
    IN_REGIONAL,
    INSTITUTION,
    OFFICIAL,
    OUTSIDE,
    PARIS,
    image,
    run,
    severities,
)

I, O = INSTITUTION, OFFICIAL
EVE = datetime(2028, 3, 18, 15, 0, tzinfo=PARIS)  # the day before the 1st round of the régionales 2028
VOTE_EVENING = datetime(2028, 3, 19, 20, 30, tzinfo=PARIS)  # polls closed
VIDEO = MediaInput(kind="video", has_captions=False)

Case = tuple[str, str, str, dict[str, Any], str, list[str]]

CASES: list[Case] = [
    # --- channel_refused
    ("tiktok refused", I, "Bonjour", {"channel": "tiktok"}, "channel_refused", ["block"]),
    ("unknown channel", I, "Bonjour", {"channel": "mastodon"}, "channel_refused", ["block"]),
    ("tiktok fine for the official", O, "Bonjour", {"channel": "tiktok", "fmt": "video"}, "channel_refused", []),
    # --- format
    ("reel not in Instagram line", I, "Le Tarn", {"channel": "instagram", "fmt": "reel"}, "format", ["block"]),
    ("story in Instagram line", I, "Le Tarn", {"channel": "instagram", "fmt": "story"}, "format", []),
    ("reel fine for the official", O, "Le Tarn", {"channel": "instagram", "fmt": "reel"}, "format", []),
    # --- cadence (x: 2 posts, 5 reposts a day)
    ("3rd post on x", I, "Info", {"day_counts": {"x": DayCount(posts=2)}}, "cadence", ["warn"]),
    ("2nd post on x is on target", I, "Info", {"day_counts": {"x": DayCount(posts=1)}}, "cadence", []),
    ("1st post: behind target", I, "Info", {}, "cadence", ["info"]),
    (
        "reposts counted apart",
        I,
        "",
        {"day_counts": {"x": DayCount(posts=5, reposts=4)}, "repost_of": RepostOf(handle="SNCF")},
        "cadence",
        [],
    ),
    (
        "6th repost",
        I,
        "",
        {"day_counts": {"x": DayCount(posts=0, reposts=5)}, "repost_of": RepostOf(handle="SNCF")},
        "cadence",
        ["warn"],
    ),
    (
        "other channel's count ignored",
        I,
        "Info",
        {"day_counts": {"facebook": DayCount(posts=9)}, "channel": "x"},
        "cadence",
        ["info"],
    ),
    # --- guidance
    ("tone and purpose shown", I, "Info", {"channel": "linkedin"}, "guidance", ["info"]),
    ("no guidance on a refused channel", I, "Info", {"channel": "tiktok"}, "guidance", []),
    # --- first_person
    ("je", I, "Je suis fière de ce lycée.", {}, "first_person", ["review"]),
    ("j' with curly apostrophe", I, "J’ai inauguré la gare.", {}, "first_person", ["review"]),
    ("mes", I, "Merci à mes équipes.", {}, "first_person", ["review"]),
    ("moi-même", I, "Venez voir par vous-mêmes, comme moi-même.", {}, "first_person", ["review"]),
    ("m' as a speaker", I, "Cette rencontre m’a touchée.", {}, "first_person", ["review"]),
    ("quoted in « »", I, "La présidente : « Je suis fière de nos lycées. »", {}, "first_person", []),
    ('quoted in " "', I, 'Un lycéen : "mon bus arrive enfin à l\'heure".', {}, "first_person", []),
    ("mes inside words", I, "Les mesures et les Thermes de Mesdames.", {}, "first_person", []),
    ("M. abbreviation", I, "M. Dupont, maire de Rodez, accueille le Tour.", {}, "first_person", []),
    ("nous is fine", I, "Nous rénovons 12 lycées cette année.", {}, "first_person", []),
    ("hashtag and url", I, "Rendez-vous #JeLisEnOccitanie https://moi.example.fr/je", {}, "first_person", []),
    ("official embodies", O, "Je suis fière de nos lycées.", {}, "first_person", []),
    # --- network_limits
    (
        "violation -> block with numbers",
        I,
        "x" * 300,
        {
            "network_violations": (
                NetworkViolation(
                    code="text_too_long", message="text is 300 long; limit 280", params={"length": 300, "limit": 280}
                ),
            )
        },
        "network_limits",
        ["block"],
    ),
    ("no violation", I, "Court", {}, "network_limits", []),
    # --- election_window (E1/E2)
    ("institution in presidential window", I, "Info", {"moment": IN_PRESIDENTIAL}, "election_window", ["info"]),
    ("nothing outside windows", I, "Info", {"moment": OUTSIDE}, "election_window", []),
    ("official not candidate in presidential", O, "Info", {"moment": IN_PRESIDENTIAL}, "election_window", []),
    ("official candidate in régionales", O, "Info", {"moment": IN_REGIONAL}, "election_window", ["info"]),
    # --- official_named (I1)
    ("name", I, "Visite de Camille Delorme à Albi.", {"moment": IN_PRESIDENTIAL}, "official_named", ["review"]),
    (
        "name without accents or case",
        I,
        "visite de CAMILLE DELORME à Albi.",
        {"moment": IN_PRESIDENTIAL},
        "official_named",
        ["review"],
    ),
    ("handle", I, "Merci @CamilleDelorme !", {"moment": IN_PRESIDENTIAL}, "official_named", ["review"]),
    (
        "face tag",
        I,
        "Visite du lycée.",
        {"moment": IN_PRESIDENTIAL, "media": (image(depicts=(O,)),)},
        "official_named",
        ["review"],
    ),
    ("outside window", I, "Visite de Camille Delorme à Albi.", {"moment": OUTSIDE}, "official_named", []),
    ("other Delorme handle", I, "Merci @CamilleDelormeFan", {"moment": IN_PRESIDENTIAL}, "official_named", []),
    ("official's own account", O, "Avec Camille Delorme", {"moment": IN_PRESIDENTIAL}, "official_named", []),
    # --- promotion_lexicon (I2)
    (
        "achievement + person -> block",
        I,
        "Promesse tenue : grâce à Camille Delorme, 12 lycées rénovés.",
        {"moment": IN_PRESIDENTIAL},
        "promotion_lexicon",
        ["block"],
    ),
    (
        "achievement alone -> review",
        I,
        "Un bilan historique : 12 lycées rénovés.",
        {"moment": IN_PRESIDENTIAL},
        "promotion_lexicon",
        ["review"],
    ),
    (
        "election lexicon -> review",
        I,
        "La Région appelle à voter nombreux.",
        {"moment": IN_PRESIDENTIAL},
        "promotion_lexicon",
        ["review"],
    ),
    (
        "voter information -> info",
        I,
        "Vote : où trouver votre bureau de vote ? Procurations en ligne.",
        {"moment": IN_PRESIDENTIAL},
        "promotion_lexicon",
        ["info"],
    ),
    (
        "neutral post",
        I,
        "Les travaux du lycée de Muret commencent lundi.",
        {"moment": IN_PRESIDENTIAL},
        "promotion_lexicon",
        [],
    ),
    ("outside window", I, "Un bilan historique.", {"moment": OUTSIDE}, "promotion_lexicon", []),
    ("word inside a word", I, "Des recordmen du Tour de France.", {"moment": IN_PRESIDENTIAL}, "promotion_lexicon", []),
    # --- regularity (I3)
    (
        "+25 % -> warn",
        I,
        "Info",
        {"moment": IN_PRESIDENTIAL, "regularity": Regularity(last_28_days=49, baseline_28_days=40)},
        "regularity",
        ["warn"],
    ),
    (
        "+60 % -> review",
        I,
        "Info",
        {"moment": IN_PRESIDENTIAL, "regularity": Regularity(last_28_days=63, baseline_28_days=40)},
        "regularity",
        ["review"],
    ),
    (
        "+20 % is tolerated",
        I,
        "Info",
        {"moment": IN_PRESIDENTIAL, "regularity": Regularity(last_28_days=47, baseline_28_days=40)},
        "regularity",
        [],
    ),
    (
        "outside window",
        I,
        "Info",
        {"moment": OUTSIDE, "regularity": Regularity(last_28_days=80, baseline_28_days=40)},
        "regularity",
        [],
    ),
    # --- novelty (I4)
    (
        "new series in window",
        I,
        "Épisode 1",
        {"moment": IN_PRESIDENTIAL, "novelty": Novelty(new_series=True)},
        "novelty",
        ["block"],
    ),
    (
        "account opened in window",
        I,
        "Bonjour",
        {
            "moment": IN_PRESIDENTIAL,
            "account": PolicyAccount(channel="x", created_at=datetime(2026, 11, 2, tzinfo=PARIS)),
        },
        "novelty",
        ["block"],
    ),
    (
        "old account",
        I,
        "Bonjour",
        {
            "moment": IN_PRESIDENTIAL,
            "account": PolicyAccount(channel="x", created_at=datetime(2015, 1, 1, tzinfo=PARIS)),
        },
        "novelty",
        [],
    ),
    (
        "new branding outside window",
        I,
        "Bonjour",
        {"moment": OUTSIDE, "novelty": Novelty(new_branding=True)},
        "novelty",
        [],
    ),
    # --- paid_promotion (I6)
    (
        "boosted bilan",
        I,
        "Le bilan des lycées rénovés.",
        {"moment": IN_PRESIDENTIAL, "paid_boost": True},
        "paid_promotion",
        ["block"],
    ),
    (
        "boosted service info",
        I,
        "Inscriptions au transport scolaire ouvertes.",
        {"moment": IN_PRESIDENTIAL, "paid_boost": True},
        "paid_promotion",
        ["review"],
    ),
    ("not boosted", I, "Inscriptions ouvertes.", {"moment": IN_PRESIDENTIAL}, "paid_promotion", []),
    ("boost outside window", I, "Le bilan.", {"moment": OUTSIDE, "paid_boost": True}, "paid_promotion", []),
    # --- paid_boost_electoral (P1)
    (
        "boosted campaign post",
        O,
        "Votez pour notre projet régional !",
        {"moment": IN_REGIONAL, "paid_boost": True},
        "paid_boost_electoral",
        ["block"],
    ),
    (
        "declared electoral",
        O,
        "Rendez-vous à Albi.",
        {"moment": IN_REGIONAL, "paid_boost": True, "electoral_character": True},
        "paid_boost_electoral",
        ["block"],
    ),
    (
        "boosted but not electoral",
        O,
        "Belle journée à Albi.",
        {"moment": IN_REGIONAL, "paid_boost": True},
        "paid_boost_electoral",
        [],
    ),
    ("electoral, not boosted", O, "Votez !", {"moment": IN_REGIONAL}, "paid_boost_electoral", []),
    ("boost outside window", O, "Votez !", {"moment": OUTSIDE, "paid_boost": True}, "paid_boost_electoral", []),
    # --- election_eve (P2)
    (
        "official electoral on the eve",
        O,
        "Demain, votez pour l'avenir de la Région !",
        {"moment": EVE},
        "election_eve",
        ["block"],
    ),
    (
        "official at 00:10 on the eve",
        O,
        "Votez demain !",
        {"moment": datetime(2028, 3, 18, 0, 10, tzinfo=PARIS)},
        "election_eve",
        ["block"],
    ),
    (
        "official after polls close",
        O,
        "Merci aux électeurs, votez dimanche prochain !",
        {"moment": VOTE_EVENING},
        "election_eve",
        [],
    ),
    (
        "official non-electoral on the eve",
        O,
        "Belle balade au Canal du Midi.",
        {"moment": EVE},
        "election_eve",
        ["warn"],
    ),
    ("institution on the eve", I, "Fermeture de la gare de Nîmes.", {"moment": EVE}, "election_eve", ["review"]),
    (
        "two days before",
        O,
        "Votez dimanche !",
        {"moment": datetime(2028, 3, 17, 23, 50, tzinfo=PARIS)},
        "election_eve",
        [],
    ),
    # --- staff_segregation (S1)
    (
        "institution agent, candidate",
        O,
        "Déplacement à Rodez.",
        {"moment": IN_REGIONAL, "composer_employer": Employer.INSTITUTION},
        "staff_segregation",
        ["block"],
    ),
    (
        "institution agent, not candidate",
        O,
        "Déplacement à Rodez.",
        {"moment": OUTSIDE, "composer_employer": Employer.INSTITUTION},
        "staff_segregation",
        ["warn"],
    ),
    (
        "cabinet, candidate",
        O,
        "Déplacement à Rodez.",
        {"moment": IN_REGIONAL, "composer_employer": Employer.CABINET},
        "staff_segregation",
        ["review"],
    ),
    (
        "campaign staff",
        O,
        "Déplacement à Rodez.",
        {"moment": IN_REGIONAL, "composer_employer": Employer.CAMPAIGN},
        "staff_segregation",
        [],
    ),
    (
        "institution agent on the institution",
        I,
        "Info",
        {"moment": IN_REGIONAL, "composer_employer": Employer.INSTITUTION},
        "staff_segregation",
        [],
    ),
    # --- asset_segregation (S2)
    (
        "region photo, candidate",
        O,
        "À Rodez",
        {"moment": IN_REGIONAL, "media": (image(origin=AssetOrigin.REGION_DAM),)},
        "asset_segregation",
        ["block"],
    ),
    (
        "region photo, no candidacy",
        O,
        "À Rodez",
        {"moment": IN_PRESIDENTIAL, "media": (image(origin=AssetOrigin.REGION_DAM),)},
        "asset_segregation",
        ["warn"],
    ),
    (
        "personal photo",
        O,
        "À Rodez",
        {"moment": IN_REGIONAL, "media": (image(origin=AssetOrigin.PERSONAL),)},
        "asset_segregation",
        [],
    ),
    # --- cross_promotion (S3)
    (
        "repost of the official in window",
        I,
        "",
        {"moment": IN_PRESIDENTIAL, "repost_of": RepostOf(persona=O)},
        "cross_promotion",
        ["block"],
    ),
    (
        "campaign content in window",
        I,
        "",
        {"moment": IN_PRESIDENTIAL, "repost_of": RepostOf(campaign=True)},
        "cross_promotion",
        ["block"],
    ),
    (
        "link to her TikTok in window",
        I,
        "Voir https://www.tiktok.com/@camilledelorme/video/1",
        {"moment": IN_PRESIDENTIAL},
        "cross_promotion",
        ["block"],
    ),
    (
        "repost outside windows",
        I,
        "",
        {"moment": OUTSIDE, "repost_of": RepostOf(handle="@CamilleDelorme")},
        "cross_promotion",
        ["warn"],
    ),
    (
        "repost of a partner",
        I,
        "",
        {"moment": IN_PRESIDENTIAL, "repost_of": RepostOf(handle="SNCF")},
        "cross_promotion",
        [],
    ),
    (
        "link elsewhere",
        I,
        "Voir https://www.laregion.fr/camilledelorme-agenda",
        {"moment": IN_PRESIDENTIAL},
        "cross_promotion",
        [],
    ),
    # --- alt_text (A1)
    ("missing on institution", I, "Photo", {"media": (image(""),)}, "alt_text", ["block"]),
    ("'image'", I, "Photo", {"media": (image("Image"),)}, "alt_text", ["block"]),
    ("'photo.'", I, "Photo", {"media": (image("photo."),)}, "alt_text", ["block"]),
    ("file name", I, "Photo", {"media": (image("DSC_0042.JPG"),)}, "alt_text", ["block"]),
    ("too short", I, "Photo", {"media": (image("Gare de Nîmes"),)}, "alt_text", ["block"]),
    ("missing on official", O, "Photo", {"media": (image(""),)}, "alt_text", ["warn"]),
    ("good alt", I, "Photo", {"media": (image(GOOD_ALT),)}, "alt_text", []),
    ("video is not an image", I, "Vidéo", {"media": (MediaInput(kind="video", has_captions=True),)}, "alt_text", []),
    ("two images, one bad", I, "Photos", {"media": (image(GOOD_ALT), image(""))}, "alt_text", ["block"]),
    # --- captions (A3)
    ("video without captions, institution", I, "Vidéo", {"media": (VIDEO,)}, "captions", ["block"]),
    ("video without captions, official", O, "Vidéo", {"media": (VIDEO,)}, "captions", ["warn"]),
    ("captioned video", I, "Vidéo", {"media": (MediaInput(kind="video", has_captions=True),)}, "captions", []),
    ("live stream exempt", I, "Direct", {"media": (MediaInput(kind="video", live=True),)}, "captions", []),
    # --- hashtag_case (A4)
    ("lower-case multi-word", I, "Bonne fête ! #fetedelamusique", {}, "hashtag_case", ["warn"]),
    ("accented multi-word", I, "Agir. #développementdurable", {}, "hashtag_case", ["warn"]),
    ("CamelCase already", I, "Bonne fête ! #FeteDeLaMusique", {}, "hashtag_case", []),
    ("single word", I, "Bienvenue en #occitanie", {}, "hashtag_case", []),
    ("unknown words: stay quiet", I, "Go #zxqwvbn", {}, "hashtag_case", []),
    ("not a hashtag: url fragment", I, "https://laregion.fr/page#fetedelamusique", {}, "hashtag_case", []),
    # --- hashtag_placement (A5)
    ("4 hashtags", I, "Été. #Occitanie #Toulouse #Montpellier #Nimes", {}, "hashtag_placement", ["warn"]),
    ("mid-sentence", I, "Rendez-vous à #Toulouse demain pour la fête.", {}, "hashtag_placement", ["warn"]),
    (
        "3 trailing hashtags",
        I,
        "Rendez-vous à Toulouse demain.\n#Occitanie #Toulouse #Ete",
        {},
        "hashtag_placement",
        [],
    ),
    ("trailing then url", I, "Programme en ligne #FeteDeLaMusique https://laregion.fr", {}, "hashtag_placement", []),
    # --- emoji (A6)
    ("4 emoji", O, "Super 🎉🎶☀️🌊", {}, "emoji", ["warn"]),
    ("3 emoji incl. a flag", I, "Fête nationale 🇫🇷🎆🎉", {}, "emoji", []),
    ("face on institution", I, "Bravo aux lycéens 😀", {}, "emoji", ["block"]),
    ("skin tone on institution", I, "Merci 👍🏽", {}, "emoji", ["block"]),
    ("yellow hand on institution", I, "Merci 👍", {}, "emoji", []),
    ("face on official", O, "Bravo 😀", {}, "emoji", []),
    # --- typography (A7)
    ("fancy bold", I, "𝐁𝐢𝐞𝐧𝐯𝐞𝐧𝐮𝐞 en Occitanie", {}, "typography", ["block"]),
    ("4 words in caps", I, "LA RÉGION VOUS INFORME : les TER circulent.", {}, "typography", ["warn"]),
    ("acronyms", I, "Le TER et la SNCF en Occitanie.", {}, "typography", []),
    ("3 words in caps", I, "GRAND PRIX RÉGIONAL du vélo", {}, "typography", []),
    # --- inclusive_writing (L1)
    ("point médian", I, "Merci aux habitant·e·s !", {}, "inclusive_writing", ["warn"]),
    ("dotted form", I, "Les élu.e.s régionaux", {}, "inclusive_writing", ["warn"]),
    ("domain names", I, "Infos sur laregion.fr et www.region.es ; etc.", {}, "inclusive_writing", []),
    ("double flexion", I, "Les habitantes et les habitants", {}, "inclusive_writing", []),
    ("official not by default", O, "Merci aux habitant·e·s !", {}, "inclusive_writing", []),
    # --- feminine_title (L2)
    ("le président", I, "Le président a inauguré le lycée.", {}, "feminine_title", ["warn"]),
    ("du président de Région", I, "Discours du président de Région.", {}, "feminine_title", ["warn"]),
    ("président de la République", I, "Visite du président de la République à Toulouse.", {}, "feminine_title", []),
    ("la présidente", I, "La présidente a inauguré le lycée.", {}, "feminine_title", []),
    ("le président du club", I, "Le président du club de rugby de Castres.", {}, "feminine_title", []),
    ("presidential word", I, "Le présidentiable et la présidentielle.", {}, "feminine_title", []),
]


@pytest.mark.parametrize(
    ("persona_slug", "text", "options", "rule", "expected"),
    [c[1:] for c in CASES],
    ids=[f"{c[4]}: {c[0]}" for c in CASES],
)
def test_rule(persona_slug: str, text: str, options: dict[str, Any], rule: str, expected: list[str]) -> None:
    assert severities(run(persona_slug, text, **options), rule) == expected


def test_every_registered_rule_has_a_trigger_case() -> None:
    from personas.policy import REGISTRY

    triggered = {c[4] for c in CASES if c[5]}
    assert set(REGISTRY) <= triggered


def test_hashtag_fix_is_camel_case() -> None:
    [found] = [f for f in run(I, "Bonne fête ! #fetedelamusique") if f.rule == "hashtag_case"]
    assert found.fix is not None and (found.fix.original, found.fix.replacement) == (
        "#fetedelamusique",
        "#FeteDeLaMusique",
    )


@pytest.mark.parametrize(
    ("text", "original", "replacement"),
    [
        ("Le président a parlé.", "Le président", "La présidente"),
        ("Discours du président.", "du président", "de la présidente"),
        ("Merci au président !", "au président", "à la présidente"),
    ],
)
def test_feminine_title_fix(text: str, original: str, replacement: str) -> None:
    [found] = [f for f in run(I, text) if f.rule == "feminine_title"]
    assert found.fix is not None and (found.fix.original, found.fix.replacement) == (original, replacement)


def test_point_median_fix_is_double_flexion() -> None:
    [found] = [f for f in run(I, "Merci aux élu·e·s") if f.rule == "inclusive_writing"]
    assert found.fix is not None and found.fix.replacement == "élues et élus"


def test_network_violation_message_carries_the_numbers() -> None:
    violation = NetworkViolation(
        code="text_too_long", message="text is 300 long; limit 280", params={"length": 300, "limit": 280}
    )
    [found] = [f for f in run(I, "x", network_violations=(violation,)) if f.rule == "network_limits"]
    assert "300" in found.message_fr and "280" in found.message_en and not found.overridable
    assert found.data["limit"] == 280


def test_every_finding_is_bilingual_and_stamped() -> None:
    findings = run(
        I, "Je suis fière ! 😀 #fetedelamusique", moment=IN_PRESIDENTIAL, media=(image(""),), channel="tiktok"
    )
    assert findings
    for found in findings:
        assert found.rule and found.message_fr and found.message_en and found.message_fr != found.message_en
