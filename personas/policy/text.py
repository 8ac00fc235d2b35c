"""Text analysis shared by the rules: pure functions over a French post.

Heuristics, deliberately modest: they find the common cases and stay quiet on the near-misses
the tests list (quotations, words that merely contain "mes", acronyms, URLs). A human reviews
what they flag; they never rewrite text on their own.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import regex

_URL = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)
_MENTION = regex.compile(r"(?<![\p{L}\p{N}_])@[\p{L}\p{N}_.]+")
HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)")
# Quotations: « … », “ … ”, " … ". Reported speech is not the persona's voice.
_QUOTED = regex.compile(r"«[^»]*»|“[^”]*”|\"[^\"\n]*\"|„[^“”]*[“”]")
_APOS = "'’ʼ"


def normalise_apostrophes(text: str) -> str:
    return regex.sub(f"[{_APOS}]", "'", text)


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text)


def strip_quotes(text: str) -> str:
    return _QUOTED.sub(" ", text)


def prose(text: str) -> str:
    """The persona's own words: no URLs, mentions, hashtags or quotations."""
    text = strip_quotes(strip_urls(normalise_apostrophes(text)))
    return HASHTAG.sub(" ", _MENTION.sub(" ", text))


def fold(text: str) -> str:
    """Case- and accent-insensitive form, for matching names and lexicons."""
    if text.isascii():
        return text.lower()  # casefold of ASCII, without the decomposition
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --------------------------------------------------------------------------- first person

# je/j', me/m', moi, mon/ma/mes as whole words. "mes" inside "mesures" is not a word match; "m'"
# needs the apostrophe, so "M. Dupont" is not matched.
_FIRST_PERSON = regex.compile(
    r"(?<![\p{L}\p{N}_-])(?:j'|m'|(?:je|moi|mon|ma|mes|me)(?![\p{L}\p{N}_']))", regex.IGNORECASE
)


# "Mon Compte Formation", "Mes Aides", "Ma Région" mid-text: a possessive written with a capital and
# followed by a capitalised word is the name of a service, not the persona speaking.
_NAMED_POSSESSIVE = regex.compile(r"(?<![\p{L}\p{N}_-])(?:Mon|Ma|Mes)(?=\s+\p{Lu}\p{Ll})")


def first_person_words(text: str) -> list[str]:
    """Words of the first person singular in the persona's own words (not inside quotations,
    not in the name of a service such as « Mon Compte Formation »)."""
    return [m.group(0) for m in _FIRST_PERSON.finditer(_NAMED_POSSESSIVE.sub(" ", prose(text)))]


# --------------------------------------------------------------------------- lexicons


def folded(text: str) -> str:
    """The form lexicons are matched on: apostrophes normalised, case and accents folded."""
    return fold(normalise_apostrophes(text))


def find_terms(text: str, terms: Iterable[str], *, ignore: Iterable[str] = ()) -> list[str]:
    """The ``terms`` found in ``text`` as whole words, case- and accent-insensitively.

    A word glued by a hyphen is part of another word ("vice-présidente" does not contain
    "présidente"). ``ignore`` lists harmless phrases blanked out before the search (« vote du
    budget » hides « vote »).
    """
    haystack = folded(text)
    ignore = tuple(ignore)
    if ignore and (blank := _alternation(ignore)) is not None:
        haystack = blank.sub(" ", haystack)
    return [term for term in terms if (pattern := _term_pattern(term)) is not None and pattern.search(haystack)]


_WORD_BEFORE = r"(?<![\p{L}\p{N}-])"
_WORD_AFTER = r"(?![\p{L}\p{N}])"


def _needle(needle: str) -> str:
    # a phrase ending in an apostrophe (« campagne d' ») is glued to the next word
    return regex.escape(needle) + ("" if needle.endswith("'") else _WORD_AFTER)


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> regex.Pattern[str] | None:
    # Compiled once per term: the lexicons are checked on every draft, at every stage.
    needle = folded(term).strip()
    if not needle:
        return None
    return regex.compile(_WORD_BEFORE + _needle(needle))


@functools.lru_cache(maxsize=256)
def _alternation(terms: tuple[str, ...]) -> regex.Pattern[str] | None:
    needles = sorted({n for t in terms if (n := folded(t).strip())}, key=len, reverse=True)
    if not needles:
        return None
    return regex.compile(rf"{_WORD_BEFORE}(?:{'|'.join(_needle(n) for n in needles)})")


def find_handles(text: str, handles: Iterable[str]) -> list[str]:
    """Handles (``@name``) mentioned in the text, or found in its URLs (tiktok.com/@name)."""
    lowered = text.casefold()
    return [handle for handle in handles if (pattern := _handle_pattern(handle)) and pattern.search(lowered)]


@functools.lru_cache(maxsize=256)
def _handle_pattern(handle: str) -> regex.Pattern[str] | None:
    bare = handle.lstrip("@").casefold()
    return regex.compile(rf"@{regex.escape(bare)}(?![\p{{L}}\p{{N}}_])") if bare else None


# --------------------------------------------------------------------------- office titles

#: after "la présidente de(s)/du/d'…": the office-holder's own body, not someone else's office
_OWN_BODY = regex.compile(r"\s+(?:de\s+(?:la\s+)?r[ée]gion|du\s+conseil\s+r[ée]gional)(?![\p{L}])", regex.IGNORECASE)
# …unless another body's name follows: « de la Région Nouvelle-Aquitaine », « du conseil régional des jeunes »
_OTHER_NAME = regex.compile(r"\s+(?!Occitanie)\p{Lu}|\s+des\s+jeunes")
_OF = regex.compile(r"\s+(?:de|du|des|d')(?![\p{L}])", regex.IGNORECASE)


@dataclass(frozen=True)
class TitleUse:
    text: str  # "la présidente", "Le président"
    article: str  # "la", "Le", "du"…
    title: str  # the title as written
    start: int
    end: int


def office_title_uses(text: str, titles: tuple[str, ...]) -> list[TitleUse]:
    """Where ``text`` designates the holder of an office by one of its ``titles`` ("présidente",
    "président"), with a determiner: « la présidente », « du président », « notre présidente ».

    « la présidente du CESER », « le président de la République », « la présidente de la Région
    Nouvelle-Aquitaine » are someone else's office: a title followed by "de/du/des" counts only
    when what follows is the Région itself. « vice-présidente » is another title.
    """
    text = normalise_apostrophes(text)
    uses = []
    for match in _title_pattern(titles).finditer(text):
        if _OF.match(text, match.end()):
            own = _OWN_BODY.match(text, match.end())
            if own is None or _OTHER_NAME.match(text, own.end()):
                continue
        uses.append(TitleUse(match.group(0), match.group(1), match.group(2), match.start(), match.end()))
    return uses


@functools.lru_cache(maxsize=64)
def _title_pattern(titles: tuple[str, ...]) -> regex.Pattern[str]:
    names = "|".join(regex.escape(t) for t in sorted(titles, key=len, reverse=True))
    return regex.compile(
        rf"(?<![\p{{L}}\p{{N}}-])(le|la|du|au|à\s+la|de\s+la|notre|votre|sa|son)\s+({names})(?![\p{{L}}\p{{N}}-])",
        regex.IGNORECASE,
    )


# --------------------------------------------------------------------------- hashtags


@dataclass(frozen=True)
class HashtagUse:
    tag: str  # without '#'
    start: int
    end: int
    mid_sentence: bool  # words of prose follow it on the same line


def hashtag_uses(text: str) -> list[HashtagUse]:
    uses = []
    for match in HASHTAG.finditer(text):
        rest_of_line = text[match.end() :].split("\n", 1)[0]
        rest = _MENTION.sub(" ", HASHTAG.sub(" ", strip_urls(rest_of_line)))
        uses.append(HashtagUse(match.group(1), match.start(), match.end(), bool(regex.search(r"\p{L}{2,}", rest))))
    return uses


# --------------------------------------------------------------------------- emoji

_EMOJI_CLUSTER = regex.compile(r"\X")
_PICTO = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
_SKIN_TONE = regex.compile(r"[\U0001F3FB-\U0001F3FF]")
# Faces and reaction emoji (SIG charter: none on State accounts). Unicode "Smileys & Emotion":
# face-* subgroups, plus hearts and the monkey, cat and skull faces.
_FACE_RANGES = (
    (0x1F600, 0x1F64F),  # emoticons (faces, cat faces, see/hear/speak-no-evil monkeys)
    (0x1F910, 0x1F92F),  # supplemental faces (🤐 … 🤯)
    (0x1F970, 0x1F97A),  # 🥰 … 🥺
    (0x1F9D0, 0x1F9D0),  # 🧐
    (0x1FAE0, 0x1FAE8),  # 🫠 … 🫨
    (0x2639, 0x263A),  # ☹ ☺
    (0x1F480, 0x1F480),  # 💀
    (0x1F47F, 0x1F47F),  # 👿
)


def emoji_clusters(text: str) -> list[str]:
    """Every emoji as the reader sees it (a flag, a tone-modified hand and a ZWJ family count once)."""
    return [g for g in _EMOJI_CLUSTER.findall(text) if _PICTO.search(g)]


def is_face(cluster: str) -> bool:
    return any(low <= ord(ch) <= high for ch in cluster for low, high in _FACE_RANGES)


def has_skin_tone(cluster: str) -> bool:
    return bool(_SKIN_TONE.search(cluster))


# --------------------------------------------------------------------------- typography

_FANCY = regex.compile(r"[\U0001D400-\U0001D7FF]+")
_CAPS_WORD = regex.compile(r"[\p{L}][\p{L}'-]*")


def fancy_runs(text: str) -> list[str]:
    """Runs of Unicode mathematical alphanumerics ("fancy fonts"), unreadable by screen readers."""
    return _FANCY.findall(text)


def caps_runs(text: str, minimum: int) -> list[str]:
    """Runs of ``minimum``+ consecutive words written in capitals (acronyms alone stay under it)."""
    runs: list[str] = []
    current: list[str] = []
    for word in _CAPS_WORD.findall(strip_urls(text)):
        if word.isupper():
            current.append(word)
            continue
        if len(current) >= minimum:
            runs.append(" ".join(current))
        current = []
    if len(current) >= minimum:
        runs.append(" ".join(current))
    return runs


# Point médian and its look-alikes between letters (habitant·e·s), and the dotted form
# (habitant.e.s) with the usual feminine endings, so that "region.fr" or "etc." stay quiet.
_MEDIAN = regex.compile(r"\p{L}+(?:[·•⋅‧]\p{L}+)+")
_DOTTED = regex.compile(
    r"(?<![\p{L}\p{N}./])\p{Ll}{2,}\.(?:e|es|ne|nes|le|les|te|tes|rice|rices|euse|euses|ère|ères|se|ses)(?:\.s)?(?![\p{L}\p{N}.])"
)


def inclusive_forms(text: str) -> list[str]:
    clean = strip_urls(text)
    return [m.group(0) for m in _MEDIAN.finditer(clean)] + [m.group(0) for m in _DOTTED.finditer(clean)]


def double_flexion(form: str) -> str | None:
    """``élu·e·s`` -> ``élues et élus``; ``agent·e`` -> ``agente ou agent``; None when unsure."""
    parts = regex.split(r"[·•⋅‧.]", form)
    if len(parts) == 3 and parts[1] == "e" and parts[2] == "s":
        return f"{parts[0]}es et {parts[0]}s"
    if len(parts) == 2 and parts[1] == "es":
        return f"{parts[0]}es et {parts[0]}s"
    if len(parts) == 2 and parts[1] == "e":
        return f"{parts[0]}e ou {parts[0]}"
    return None


# --------------------------------------------------------------------------- hashtag words


def split_hashtag(tag: str, words: frozenset[str], glue: frozenset[str] = frozenset()) -> list[str] | None:
    """Cut an all-lower-case hashtag into known words (fewest pieces wins), keeping its letters.

    ``fetedelamusique`` -> ``["fete", "de", "la", "musique"]``. None when the tag is one word,
    is not all lower case, cannot be cut entirely into known words, or is cut into ``glue``
    (function) words only, like ``aude`` = au + de (then we stay quiet rather than guess).
    """
    tag = unicodedata.normalize("NFC", tag)
    if not tag.islower():
        return None
    # fold letter by letter so that positions in the folded form match the original
    folded = "".join((fold(ch) or ch)[0] for ch in tag)
    if folded in words:
        return None
    best: list[list[str] | None] = [[]] + [None] * len(folded)
    for end in range(1, len(folded) + 1):
        for start in range(end):
            piece, before = folded[start:end], best[start]
            if before is None or not (piece in words or piece.isdigit()):
                continue
            if best[end] is None or len(before) + 1 < len(best[end]):  # type: ignore[arg-type]
                best[end] = [*before, tag[start:end]]
    pieces = best[-1]
    if not pieces or len(pieces) < 2:
        return None
    # made of glue words only (« aude » = au + de): an unknown word, not a phrase
    if all("".join((fold(ch) or ch)[0] for ch in piece) in glue for piece in pieces):
        return None
    return pieces


def camel_case(pieces: list[str]) -> str:
    return "".join(piece[:1].upper() + piece[1:] for piece in pieces)
