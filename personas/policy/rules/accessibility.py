"""Accessible posts (catalogue A1, A3–A7): RGAA practice, the State's SIG charters, Access42.

Institutional posts are treated as in the RGAA's scope, personal posts as best practice: the
rules block on the institution and warn on an official where the catalogue says so.
"""

from __future__ import annotations

import functools
import re

import msgspec

from personas.policy.model import Finding, Fix
from personas.policy.registry import Facts, NoParams, finding, rule
from personas.policy.text import (
    camel_case,
    caps_runs,
    emoji_clusters,
    fancy_runs,
    has_skin_tone,
    hashtag_uses,
    is_face,
    split_hashtag,
)
from personas.policy.wordlist import FUNCTION_WORDS, WORDS
from personas.schema import Severity

RGAA = "RGAA 4.1 ; loi n° 2005-102 art. 47"
SIG_A11Y = "Charte d'accessibilité de la communication de l'État (SIG)"
SIG_SOCIAL = "Charte des réseaux sociaux de l'État (SIG)"


def _by_kind(facts: Facts) -> Severity:
    """Block on the institution (public service), warn on a personal account (best practice)."""
    return Severity.BLOCK if facts.is_institution else Severity.WARN


class AltTextParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_length: int = 15
    placeholders: tuple[str, ...] = ("image", "photo", "picture", "img", "visuel", "illustration", "alt")


_FILENAME = re.compile(r"^[\w.-]+\.(?:jpe?g|png|gif|webp|heic|tiff?|bmp|svg|avif)$", re.IGNORECASE)
_CAMERA_NAME = re.compile(r"^(?:img|dsc|dscn|pxl|photo|image)[_-]?\d+", re.IGNORECASE)


def alt_text_problem(alt: str, filename: str | None, params: AltTextParams) -> tuple[str, str] | None:
    text = " ".join(alt.split())
    if not text:
        return "pas de texte alternatif", "no alt text"
    if text.casefold().strip(" .") in params.placeholders:
        return f"le texte alternatif « {text} » ne décrit rien", f"the alt text “{text}” describes nothing"
    if _FILENAME.match(text) or _CAMERA_NAME.match(text) or (filename and text == filename):
        return f"le texte alternatif « {text} » est un nom de fichier", f"the alt text “{text}” is a file name"
    if len(text) < params.min_length:
        return (
            f"le texte alternatif « {text} » est trop court ({len(text)} caractères, {params.min_length} au moins)",
            f"the alt text “{text}” is too short ({len(text)} characters, at least {params.min_length})",
        )
    return None


@rule(
    "alt_text",
    severity=Severity.BLOCK,
    summary="Images need a meaningful alt text: block on the institution, warn on an official.",
    catalogue="A1",
    reference=f"{RGAA} (critère 1.x) ; {SIG_A11Y}",
    params=AltTextParams,
)
def alt_text(facts: Facts, params: AltTextParams) -> list[Finding]:
    found = []
    for index, item in enumerate(facts.draft.media, start=1):
        if item.kind not in ("image", "gif"):
            continue
        problem = alt_text_problem(item.alt_text, item.filename, params)
        if problem is None:
            continue
        fr, en = problem
        found.append(
            finding(
                _by_kind(facts),
                f"Image {index} : {fr}. Les personnes aveugles l'entendent via le lecteur d'écran ; décrivez "
                "ce qu'elle montre d'utile (qui, quoi, où, texte visible), en une ou deux phrases.",
                f"Image {index}: {en}. Blind people hear it through their screen reader; describe what it "
                "usefully shows (who, what, where, visible text) in one or two sentences.",
                data={"index": index},
            )
        )
    return found


@rule(
    "captions",
    severity=Severity.BLOCK,
    summary="Prerecorded videos need captions: block on the institution, warn on an official.",
    catalogue="A3",
    reference=f"{SIG_A11Y} ; {RGAA}",
)
def captions(facts: Facts, _: NoParams) -> list[Finding]:
    return [
        finding(
            _by_kind(facts),
            f"Vidéo {index} sans sous-titres : sourds, malentendants et la plupart des gens qui regardent sans "
            "le son la manquent. Ajoutez des sous-titres (incrustés ou fichier SRT).",
            f"Video {index} has no captions: deaf and hard-of-hearing people, and most people watching with "
            "the sound off, miss it. Add captions (burned in or an SRT file).",
            data={"index": index},
        )
        for index, item in enumerate(facts.draft.media, start=1)
        if item.kind == "video" and not item.has_captions and not item.live
    ]


class HashtagCaseParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    extra_words: tuple[str, ...] = ()  # persona vocabulary (place names…), lower case, no accents


@rule(
    "hashtag_case",
    severity=Severity.WARN,
    summary="Multi-word hashtags in lower case: suggest CamelCase (#FeteDeLaMusique).",
    catalogue="A4",
    reference="Access42, « Hashtags accessibles »",
    params=HashtagCaseParams,
)
def hashtag_case(facts: Facts, params: HashtagCaseParams) -> list[Finding]:
    words = _vocabulary(params.extra_words)
    found = []
    for use in hashtag_uses(facts.draft.text):
        pieces = split_hashtag(use.tag, words, FUNCTION_WORDS)
        if pieces is None:
            continue
        better = "#" + camel_case(pieces)
        found.append(
            finding(
                Severity.WARN,
                f"#{use.tag} : un lecteur d'écran lit les mots collés comme un seul mot. Écrivez {better} "
                "(une majuscule à chaque mot ; le référencement ne change pas).",
                f"#{use.tag}: a screen reader reads joined words as one. Write {better} (a capital on each "
                "word; search is not affected).",
                fix=Fix(original="#" + use.tag, replacement=better),
                evidence="#" + use.tag,
            )
        )
    return found


@functools.lru_cache(maxsize=64)
def _vocabulary(extra_words: tuple[str, ...]) -> frozenset[str]:
    # one set per persona vocabulary, so that split_hashtag's cache finds it again
    return WORDS | frozenset(extra_words)


class HashtagPlacementParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_hashtags: int = 3


@rule(
    "hashtag_placement",
    severity=Severity.WARN,
    summary="More than 3 hashtags, or hashtags in the middle of a sentence.",
    catalogue="A5",
    reference="AVH ; Access42",
    params=HashtagPlacementParams,
)
def hashtag_placement(facts: Facts, params: HashtagPlacementParams) -> list[Finding]:
    uses = hashtag_uses(facts.draft.text)
    found = []
    if len(uses) > params.max_hashtags:
        found.append(
            finding(
                Severity.WARN,
                f"{len(uses)} hashtags (au plus {params.max_hashtags} conseillés) : chacun est lu à voix haute "
                "par les lecteurs d'écran. Gardez les plus utiles.",
                f"{len(uses)} hashtags (at most {params.max_hashtags} advised): screen readers read each one "
                "aloud. Keep the most useful.",
                data={"count": len(uses), "limit": params.max_hashtags},
            )
        )
    inside = [f"#{u.tag}" for u in uses if u.mid_sentence]
    if inside:
        found.append(
            finding(
                Severity.WARN,
                f"Hashtag(s) au milieu d'une phrase ({', '.join(inside)}) : la lecture est hachée. Écrivez la "
                "phrase en mots simples et placez les hashtags à la fin du message.",
                f"Hashtag(s) in the middle of a sentence ({', '.join(inside)}): it chops the reading. Write "
                "plain words and put hashtags at the end of the post.",
                evidence=", ".join(inside),
            )
        )
    return found


class EmojiParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_emoji: int = 3


@rule(
    "emoji",
    severity=Severity.WARN,
    summary="More than 3 emoji (warn); face emoji or skin tones on the institution (block).",
    catalogue="A6",
    reference=SIG_SOCIAL,
    params=EmojiParams,
)
def emoji(facts: Facts, params: EmojiParams) -> list[Finding]:
    clusters = emoji_clusters(facts.draft.text)
    found = []
    if len(clusters) > params.max_emoji:
        found.append(
            finding(
                Severity.WARN,
                f"{len(clusters)} emoji (au plus {params.max_emoji}) : chacun est lu par son nom par les lecteurs "
                "d'écran. Gardez-en peu, en fin de phrase, jamais à la place d'un mot.",
                f"{len(clusters)} emoji (at most {params.max_emoji}): screen readers read each by name. Keep few, "
                "at the end of a sentence, never instead of a word.",
                evidence=" ".join(clusters),
                data={"count": len(clusters), "limit": params.max_emoji},
            )
        )
    if facts.is_institution:
        faces = [c for c in clusters if is_face(c) or has_skin_tone(c)]
        if faces:
            found.append(
                finding(
                    Severity.BLOCK,
                    f"Emoji visage, réaction ou couleur de peau ({' '.join(dict.fromkeys(faces))}) : l'institution "
                    "n'en utilise pas (émotion, interprétation). Retirez-les ; les mains restent en jaune par défaut.",
                    f"Face, reaction or skin-tone emoji ({' '.join(dict.fromkeys(faces))}): the institution does "
                    "not use them. Remove them; hands stay in the default yellow.",
                    evidence=" ".join(dict.fromkeys(faces)),
                )
            )
    return found


class TypographyParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_caps_words: int = 3  # a run of more consecutive words in capitals warns


@rule(
    "typography",
    severity=Severity.BLOCK,
    summary="Unicode 'fancy fonts' (block); 4+ consecutive words in capitals (warn).",
    catalogue="A7",
    reference="choblab ; Sightsavers",
    params=TypographyParams,
)
def typography(facts: Facts, params: TypographyParams) -> list[Finding]:
    text = facts.full_text
    found = []
    fancy = fancy_runs(text)
    if fancy:
        found.append(
            finding(
                Severity.BLOCK,
                f"Caractères « police fantaisie » ({' '.join(fancy)}) : ce sont des symboles mathématiques, les "
                "lecteurs d'écran ne les lisent pas et la recherche ne les trouve pas. Écrivez en lettres normales.",
                f"“Fancy font” characters ({' '.join(fancy)}): they are mathematical symbols that screen readers "
                "do not read and search does not find. Use normal letters.",
                overridable=False,
                evidence=" ".join(fancy),
            )
        )
    for run in caps_runs(text, params.max_caps_words + 1):
        found.append(
            finding(
                Severity.WARN,
                f"« {run} » : une suite de mots en capitales est lue lettre par lettre et semble crier. Écrivez "
                "en minuscules.",
                f"“{run}”: a run of words in capitals is read letter by letter and looks like shouting. Use "
                "lower case.",
                evidence=run,
            )
        )
    return found
