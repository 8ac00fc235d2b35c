"""Text analysis shared by the rules: pure functions over a French post.

Heuristics, deliberately modest: they find the common cases and stay quiet on the near-misses
the tests list (quotations, words that merely contain "mes", acronyms, URLs). A human reviews
what they flag; they never rewrite text on their own.

The engine runs on every keystroke of the composer and again at each stage, with every rule
reading the same text: :func:`analysis` holds what is computed from one text (its folded form,
its words, its emoji, the lexicons' matches…) once, and the module's functions read it. Every
function gives what it gave before that cache existed (tests/policy/test_findings_corpus.py).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import regex

T = TypeVar("T")

_URL = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)
_MENTION = regex.compile(r"(?<![\p{L}\p{N}_])@[\p{L}\p{N}_.]+")
HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)")
# Quotations: « … », “ … ”, " … ". Reported speech is not the persona's voice.
_QUOTED = regex.compile(r"«[^»]*»|“[^”]*”|\"[^\"\n]*\"|„[^“”]*[“”]")
_APOS = "'’ʼ"


def normalise_apostrophes(text: str) -> str:
    # every apostrophe of _APOS becomes "'" (str.replace: a tenth of a regex substitution's time)
    return text.replace("’", "'").replace("ʼ", "'")


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text)


def strip_quotes(text: str) -> str:
    return _QUOTED.sub(" ", text)


def prose(text: str) -> str:
    """The persona's own words: no URLs, mentions, hashtags or quotations."""
    text = strip_quotes(strip_urls(normalise_apostrophes(text)))
    return HASHTAG.sub(" ", _MENTION.sub(" ", text))


class _Uncombined(dict[int, int | None]):
    """A ``str.translate`` table that drops combining characters, filled as characters are met
    (a table of all of Unicode would take a tenth of a second to build at import)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNCOMBINED = _Uncombined()


def fold(text: str) -> str:
    """Case- and accent-insensitive form, for matching names and lexicons."""
    if text.isascii():
        return text.lower()  # casefold of ASCII, without the decomposition
    return unicodedata.normalize("NFD", text.casefold()).translate(_UNCOMBINED)


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
    return list(analysis(text).memo(("first_person",), _first_person_words))


def _first_person_words(text: str) -> tuple[str, ...]:
    return tuple(m.group(0) for m in _FIRST_PERSON.finditer(_NAMED_POSSESSIVE.sub(" ", prose(text))))


# --------------------------------------------------------------------------- lexicons


def folded(text: str) -> str:
    """The form lexicons are matched on: apostrophes normalised, case and accents folded."""
    return fold(normalise_apostrophes(text))


def folded_text(text: str) -> str:
    """``folded(text)``, line by line from the line cache (folding never crosses a newline)."""
    if "\n" not in text:
        return _line(text).memo(("folded",), folded)
    return "\n".join(_line(line).memo(("folded",), folded) for line in text.split("\n"))


def find_terms(text: str, terms: Iterable[str], *, ignore: Iterable[str] = ()) -> list[str]:
    """The ``terms`` found in ``text`` as whole words, case- and accent-insensitively.

    A word glued by a hyphen is part of another word ("vice-présidente" does not contain
    "présidente"). ``ignore`` lists harmless phrases blanked out before the search (« vote du
    budget » hides « vote »).
    """
    terms, ignore = tuple(terms), tuple(ignore)
    return list(analysis(text).memo(("terms", terms, ignore), lambda t: _find_terms(t, terms, ignore)))


def _find_terms(text: str, terms: tuple[str, ...], ignore: tuple[str, ...]) -> tuple[str, ...]:
    words = analysis(text).memo(("words", ignore), lambda t: _TextWords(t, ignore))
    return tuple(term for term in terms if (spec := _term_spec(term)) is not None and words.has(spec))


_WORD_BEFORE = r"(?<![\p{L}\p{N}-])"
_WORD_AFTER = r"(?![\p{L}\p{N}])"
_WORD = regex.compile(r"[\p{L}\p{N}]+")
_STARTING_WORD = regex.compile(_WORD_BEFORE + r"[\p{L}\p{N}]+")


def _needle(needle: str) -> str:
    # a phrase ending in an apostrophe (« campagne d' ») is glued to the next word
    return regex.escape(needle) + ("" if needle.endswith("'") else _WORD_AFTER)


@dataclass(frozen=True)
class _TermSpec:
    """How to look for one term. A term starting with a word can only match where that word
    starts in the text (terms are matched as whole words): the text's words are listed once, and
    a term whose first word is not among them costs a set look-up instead of a scan of the text."""

    needle: str
    pattern: regex.Pattern[str]  # the whole search
    first: str | None  # the term's first word (letters and digits); None: it starts otherwise
    whole: bool  # the term is that one word


@functools.lru_cache(maxsize=4096)
def _term_spec(term: str) -> _TermSpec | None:
    # Compiled once per term: the lexicons are checked on every draft, at every stage.
    needle = folded(term).strip()
    if not needle:
        return None
    first = _WORD.match(needle)
    return _TermSpec(
        needle=needle,
        pattern=regex.compile(_WORD_BEFORE + _needle(needle)),
        first=first.group(0) if first else None,
        whole=bool(first) and first.end() == len(needle),
    )


class _Words:
    """One line of a folded text, and its words that a term may start at: not glued to a letter,
    a digit or a hyphen before them, exactly where ``_WORD_BEFORE`` lets a term begin."""

    __slots__ = ("_found", "haystack", "starting")

    def __init__(self, haystack: str) -> None:
        self.haystack = haystack
        self.starting = frozenset(_STARTING_WORD.findall(haystack))
        self._found: dict[str, bool] = {}

    def has(self, spec: _TermSpec) -> bool:
        """Whether the term is in this line (kept: the line comes back at the next keystroke)."""
        if (found := self._found.get(spec.needle)) is None:
            found = self._found[spec.needle] = spec.pattern.search(self.haystack) is not None
        return found


class _TextWords:
    """The words of a text, line by line. No term crosses a line (a newline is neither a letter
    nor part of a term) and a line's start or end bounds a word as the text's do, so a term is in
    the text when it is in one of its lines: a keystroke re-reads one line, not the whole text."""

    def __init__(self, text: str, ignore: tuple[str, ...]) -> None:
        needles = _ignore_needles(ignore)
        # a phrase of several lines (only a persona file could write one) is looked for in the whole text
        lines = [text] if any("\n" in n for n, _ in needles) else text.split("\n")
        self.ignore = ignore
        self.lines = tuple(_line(line).memo(("words", ignore), lambda t: _line_words(t, needles)) for line in lines)
        self.starting = frozenset().union(*(w.starting for w in self.lines))
        self._with: dict[str, tuple[_Words, ...]] = {}

    def has(self, spec: _TermSpec) -> bool:
        if spec.first is not None:
            if spec.first not in self.starting:
                return False
            if spec.whole:
                # a whole word of the text at such a start is followed by no letter or digit: the term itself
                return True
        if "\n" in spec.needle:
            return spec.pattern.search("\n".join(w.haystack for w in self.lines)) is not None
        return any(w.has(spec) for w in self._lines_with(spec.first))

    def _lines_with(self, first: str | None) -> tuple[_Words, ...]:
        if first is None:
            return self.lines
        if (found := self._with.get(first)) is None:
            found = self._with[first] = tuple(w for w in self.lines if first in w.starting)
        return found


def _line_words(line: str, needles: tuple[tuple[str, str | None], ...]) -> _Words:
    words = _line(line).memo(("words", ()), lambda t: _Words(_line(t).memo(("folded",), folded)))
    # only the ignored phrases whose first word is in the line can blank anything out of it
    present = tuple(n for n, first in needles if first is None or first in words.starting)
    if not present:
        return words
    return _Words(_alternation_of(present).sub(" ", words.haystack))


@functools.lru_cache(maxsize=256)
def _ignore_needles(terms: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """The ignored phrases, folded, longest first (the order the alternation tries them), each
    with its first word."""
    needles = sorted({n for t in terms if (n := folded(t).strip())}, key=len, reverse=True)
    return tuple((n, first.group(0) if (first := _WORD.match(n)) else None) for n in needles)


@functools.lru_cache(maxsize=1024)
def _alternation_of(needles: tuple[str, ...]) -> regex.Pattern[str]:
    return regex.compile(rf"{_WORD_BEFORE}(?:{'|'.join(_needle(n) for n in needles)})")


def find_handles(text: str, handles: Iterable[str]) -> list[str]:
    """Handles (``@name``) mentioned in the text, or found in its URLs (tiktok.com/@name)."""
    if "@" not in text:
        return []  # every handle pattern starts with "@"
    lowered = analysis(text).memo(("casefold",), str.casefold)
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
    titles = tuple(titles)
    return list(analysis(text).memo(("titles", titles), lambda t: _office_title_uses(t, titles)))


def _office_title_uses(text: str, titles: tuple[str, ...]) -> tuple[TitleUse, ...]:
    # What the case-insensitive pattern matches folds to the folded title: a text whose folded
    # form holds none of the titles has no use of them, and is not scanned.
    folds = [fold(t) for t in titles]
    if folds and all(folds) and not any(f in folded_text(text) for f in folds):
        return ()
    text = normalise_apostrophes(text)
    uses = []
    for match in _title_pattern(titles).finditer(text):
        if _OF.match(text, match.end()):
            own = _OWN_BODY.match(text, match.end())
            if own is None or _OTHER_NAME.match(text, own.end()):
                continue
        uses.append(TitleUse(match.group(0), match.group(1), match.group(2), match.start(), match.end()))
    return tuple(uses)


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


_TWO_LETTERS = regex.compile(r"\p{L}{2,}")


def hashtag_uses(text: str) -> list[HashtagUse]:
    if "#" not in text:
        return []
    return list(analysis(text).memo(("hashtags",), _hashtag_uses))


def _hashtag_uses(text: str) -> tuple[HashtagUse, ...]:
    # a hashtag and the rest of its line are within one line: each line's, from the line cache,
    # moved to where the line starts in the text
    uses: list[HashtagUse] = []
    offset = 0
    for line in text.split("\n"):
        if "#" in line:
            found = _line(line).memo(("hashtags",), _line_hashtags)
            uses += (
                (HashtagUse(u.tag, u.start + offset, u.end + offset, u.mid_sentence) for u in found)
                if offset
                else found
            )
        offset += len(line) + 1
    return tuple(uses)


def _line_hashtags(line: str) -> tuple[HashtagUse, ...]:
    uses = []
    for match in HASHTAG.finditer(line):
        rest = _MENTION.sub(" ", HASHTAG.sub(" ", strip_urls(line[match.end() :])))
        uses.append(HashtagUse(match.group(1), match.start(), match.end(), bool(_TWO_LETTERS.search(rest))))
    return tuple(uses)


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
    if text.isascii():
        return []  # no pictograph is ASCII
    return list(analysis(text).memo(("emoji",), _emoji_clusters))


def _emoji_clusters(text: str) -> tuple[str, ...]:
    # A newline always ends a grapheme cluster (UAX #29, GB4 and GB5; "\r\n" holds no emoji):
    # the clusters of the text are its lines' clusters, and the line cache keeps them.
    return tuple(g for line in text.split("\n") for g in _line(line).memo(("emoji",), _line_emoji))


def _line_emoji(line: str) -> tuple[str, ...]:
    if line.isascii() or not _PICTO.search(line):
        return ()
    return tuple(g for g in _EMOJI_CLUSTER.findall(line) if _PICTO.search(g))


@functools.lru_cache(maxsize=1024)
def is_face(cluster: str) -> bool:
    return any(low <= ord(ch) <= high for ch in cluster for low, high in _FACE_RANGES)


@functools.lru_cache(maxsize=1024)
def has_skin_tone(cluster: str) -> bool:
    return bool(_SKIN_TONE.search(cluster))


# --------------------------------------------------------------------------- typography

_FANCY = regex.compile(r"[\U0001D400-\U0001D7FF]+")
_CAPS_WORD = regex.compile(r"[\p{L}][\p{L}'-]*")


def fancy_runs(text: str) -> list[str]:
    """Runs of Unicode mathematical alphanumerics ("fancy fonts"), unreadable by screen readers."""
    return [] if text.isascii() else list(analysis(text).memo(("fancy",), lambda t: tuple(_FANCY.findall(t))))


def caps_runs(text: str, minimum: int) -> list[str]:
    """Runs of ``minimum``+ consecutive words written in capitals (acronyms alone stay under it)."""
    return list(analysis(text).memo(("caps", minimum), lambda t: _caps_runs(t, minimum)))


def _caps_runs(text: str, minimum: int) -> tuple[str, ...]:
    # A run goes on across lines; words and URLs do not (a URL ends at a space), so each line's
    # words and its runs of capitals come from the line cache, and only runs are joined here:
    # what the loop over every word of the text, closing a run at each word not in capitals, gave.
    runs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        words, groups = _line(line).memo(("caps_words",), _caps_words)
        if not words:
            continue  # a line without words does not end a run
        if groups and groups[0] == (0, len(words)):
            current.extend(words)  # every word in capitals: the run goes on
            continue
        if groups and groups[0][0] == 0:
            current.extend(words[: groups[0][1]])
            groups = groups[1:]
        # the line has a word not in capitals after these: the run ends there
        if len(current) >= minimum:
            runs.append(" ".join(current))
        current = []
        for start, end in groups:
            if end == len(words):
                current = list(words[start:end])  # may go on at the next line
            elif end - start >= minimum:
                runs.append(" ".join(words[start:end]))
    if len(current) >= minimum:
        runs.append(" ".join(current))
    return tuple(runs)


def _caps_words(line: str) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """A line's words, and where its runs of words in capitals start and end."""
    words = tuple(_CAPS_WORD.findall(strip_urls(line)))
    groups: list[tuple[int, int]] = []
    start = None
    for index, word in enumerate(words):
        if word.isupper():
            start = index if start is None else start
        elif start is not None:
            groups.append((start, index))
            start = None
    if start is not None:
        groups.append((start, len(words)))
    return words, tuple(groups)


# Point médian and its look-alikes between letters (habitant·e·s), and the dotted form
# (habitant.e.s) with the usual feminine endings, so that "region.fr" or "etc." stay quiet.
_MEDIAN = regex.compile(r"\p{L}+(?:[·•⋅‧]\p{L}+)+")
_MEDIAN_MARKS = regex.compile(r"[·•⋅‧]")
_DOTTED = regex.compile(
    r"(?<![\p{L}\p{N}./])\p{Ll}{2,}\.(?:e|es|ne|nes|le|les|te|tes|rice|rices|euse|euses|ère|ères|se|ses)(?:\.s)?(?![\p{L}\p{N}.])"
)


def inclusive_forms(text: str) -> list[str]:
    return list(analysis(text).memo(("inclusive",), _inclusive_forms))


def _inclusive_forms(text: str) -> tuple[str, ...]:
    # neither form nor a URL crosses a newline: every line's forms, from the line cache, the
    # point médian ones of every line first, as one scan of the whole text gave them
    forms = [_line(line).memo(("inclusive",), _line_inclusive) for line in text.split("\n")]
    return tuple(m for median, _ in forms for m in median) + tuple(d for _, dotted in forms for d in dotted)


def _line_inclusive(line: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    clean = strip_urls(line)
    median = tuple(m.group(0) for m in _MEDIAN.finditer(clean)) if _MEDIAN_MARKS.search(clean) else ()
    return median, tuple(m.group(0) for m in _DOTTED.finditer(clean)) if "." in clean else ()


_FLEXION_MARK = regex.compile(r"[·•⋅‧.]")


def double_flexion(form: str) -> str | None:
    """``élu·e·s`` -> ``élues et élus``; ``agent·e`` -> ``agente ou agent``; None when unsure."""
    parts = _FLEXION_MARK.split(form)
    if len(parts) == 3 and parts[1] == "e" and parts[2] == "s":
        return f"{parts[0]}es et {parts[0]}s"
    if len(parts) == 2 and parts[1] == "es":
        return f"{parts[0]}es et {parts[0]}s"
    if len(parts) == 2 and parts[1] == "e":
        return f"{parts[0]}e ou {parts[0]}"
    return None


# --------------------------------------------------------------------------- hashtag words


def split_hashtag(tag: str, words: frozenset[str], glue: frozenset[str] = frozenset()) -> list[str] | None:
    pieces = _split_hashtag(tag, words, glue)
    return None if pieces is None else list(pieces)


# The word lists are the same frozensets from one draft to the next (see hashtag_case), and a
# hashtag is cut the same way in every text it appears in: cut once. A frozenset hashes once
# per object, then Python keeps its hash.
@functools.lru_cache(maxsize=4096)
def _split_hashtag(tag: str, words: frozenset[str], glue: frozenset[str]) -> tuple[str, ...] | None:
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
    return tuple(pieces)


def camel_case(pieces: list[str]) -> str:
    return "".join(piece[:1].upper() + piece[1:] for piece in pieces)


# --------------------------------------------------------------------------- per-text analysis


def clear_caches() -> None:
    """Forget every text and line analysed (tests that want a cold start)."""
    analysis.cache_clear()
    _line.cache_clear()


class TextAnalysis:
    """What the rules compute from one text, each computed once: ``memo(key, compute)`` runs
    ``compute(text)`` the first time ``key`` is asked for. Values are immutable (tuples), so
    callers get copies they may change."""

    __slots__ = ("_memo", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._memo: dict[tuple[Any, ...], Any] = {}

    def memo(self, key: tuple[Any, ...], compute: Callable[[str], T]) -> T:
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[key] = compute(self.text)
            return value


@functools.lru_cache(maxsize=4096)
def _line(line: str) -> TextAnalysis:
    """The analysis of one line: what does not cross a newline is computed per line, so that the
    next keystroke, which changes one line, finds the others done."""
    return TextAnalysis(line)


line_analysis = _line


@functools.lru_cache(maxsize=128)
def analysis(text: str) -> TextAnalysis:
    """The analysis of ``text``, shared by every rule of an evaluation and by the evaluations
    that follow on the same text (the composer's next check, the publish-time re-check)."""
    return TextAnalysis(text)
