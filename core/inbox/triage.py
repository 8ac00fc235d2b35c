"""Triage of an incoming comment or message: what it holds that a rule acts on.

Four flags, each tied to a rule of ``fr-public-comms-rules.md`` §8:

- ``personal_data`` (M2): an e-mail address, a French phone number, a social-security number
  (NIR, checked with its key) or a postal address, posted where the public reads it: the
  comment is hidden and answered with the persona's standard message.
- ``administrative`` (R1): a citizen's own case sent by private message to the institution:
  auto-answered with the designated form, never handled in the platform.
- ``document_request``: a request for administrative documents (CADA; CRPA R311-13, one
  month of silence is a refusal): a legal clock starts.
- ``hateful`` (M1): slurs, threats, calls to violence: acted on within hours.

Heuristics, deliberately modest, like ``personas/policy/text.py``: they find the common cases
and stay quiet on the near misses the tests list (a date, a price, a wrong NIR key, "rue" inside
a word). A person reads what they flag; nothing here removes anything on its own.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec
import regex

from core.channels.contract import InboxKind
from personas.policy.text import fold, normalise_apostrophes

PERSONAL_DATA = "personal_data"
ADMINISTRATIVE = "administrative"
DOCUMENT_REQUEST = "document_request"
HATEFUL = "hateful"


class Triage(msgspec.Struct, frozen=True):
    flags: tuple[str, ...]  # among "personal_data", "administrative", "document_request", "hateful"
    personal_data: tuple[str, ...]  # which kinds: "email", "phone", "nir", "address"


def triage(text: str, kind: InboxKind, *, institutional: bool) -> Triage:
    """The flags of one item. Administrative and document requests are looked for in private
    messages to an institution only (R1: a DM is where a citizen sends her case; an official's
    personal account is not an administration); personal data and hate anywhere."""
    plain = _unaccent(normalise_apostrophes(text))
    folded = fold(plain)
    kinds = personal_data_kinds(plain)
    flags: list[str] = []
    if kinds:
        flags.append(PERSONAL_DATA)
    if kind == InboxKind.MESSAGE and institutional:
        if is_administrative(folded):
            flags.append(ADMINISTRATIVE)
        if is_document_request(folded):
            flags.append(DOCUMENT_REQUEST)
    if is_hateful(folded):
        flags.append(HATEFUL)
    return Triage(flags=tuple(flags), personal_data=kinds)


def _unaccent(text: str) -> str:
    """Accents off, case kept (a town's capital letter tells it from a common word)."""
    if text.isascii():  # most comments: nothing to take off
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


# --------------------------------------------------------------------------- personal data (M2)

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w-])", re.IGNORECASE)

# +33 6 12 34 56 78, 0033 (0)6…, 06.12.34.56.78, 06-12-34-56-78, 0612345678. Separators are a
# space, a dot or a dash, never a slash or a comma: "06/12/2026" is a date, "0,50 €" a price. A
# national number starts with 0 then 1–9, so "0012…" and a 10-digit order number do not match.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)33[\s.-]?(?:\(0\)[\s.-]?)?|0)[1-9](?:[\s.-]?\d{2}){4}(?![\w])",
)

# Sex (1 or 2), year, month, department (2A/2B in Corsica), commune, order, then the key;
# written in one block or grouped with spaces or dots.
_NIR = re.compile(
    r"(?<![\w])([12])[\s.]?(\d{2})[\s.]?(\d{2})[\s.]?(\d{2}|2[AB])[\s.]?(\d{3})[\s.]?(\d{3})[\s.]?(\d{2})(?![\w])",
    re.IGNORECASE,
)

# Street types. Some are also common words ("il reste 1 place", "2 cours par semaine"): after
# those, the street's name must start with a capital ("12 place du Capitole").
_STREETS = (
    "rue|avenue|av|bd|boulevard|chemin|impasse|allee|quai|faubourg|fbg|lotissement|ruelle|sentier|"
    "traverse|esplanade|rond-point|chaussee|parvis"
)
_AMBIGUOUS_STREETS = "place|pl|route|rte|cours|square|passage|residence|cite|voie|promenade|villa|clos|hameau|montee"
_NUMBER = r"(?<![\w,.])\d{1,4}(?:\s?(?:bis|ter|quater|[a-d])(?![\w]))?,?\s+"
_ARTICLE = r"(?:(?:de\s+la|de\s+l'|du|des|de|d'|la|le|les|l')\s*)?"
_STREET = regex.compile(
    rf"{_NUMBER}(?i:(?:{_STREETS})\.?)(?![\w'-])"
    rf"|{_NUMBER}(?i:(?:{_AMBIGUOUS_STREETS})\.?)\s+(?i:{_ARTICLE})\p{{Lu}}",
)
# A postcode (01000–98999; the Corsican 20xxx are plain digits) followed by a town's name.
_POSTCODE_TOWN = regex.compile(r"(?<![\w,.])(?:0[1-9]|[1-8]\d|9[0-8])\d{3}\s+\p{Lu}[\p{L}'-]+")


def personal_data_kinds(text: str) -> tuple[str, ...]:
    """Which kinds of personal data ``text`` holds, in a fixed order."""
    kinds = []
    if _EMAIL.search(text):
        kinds.append("email")
    if _PHONE.search(text):
        kinds.append("phone")
    if any(nir_key_matches(match) for match in _NIR.finditer(text)):
        kinds.append("nir")
    if _STREET.search(text) or _POSTCODE_TOWN.search(text):
        kinds.append("address")
    return tuple(kinds)


def nir_key_matches(match: re.Match[str]) -> bool:
    """The NIR's key is 97 − (the 13 digits mod 97); Corsica's 2A counts as 19, 2B as 18."""
    *parts, key = match.groups()
    department = {"2A": "19", "2B": "18"}.get(parts[3].upper(), parts[3])
    number = int("".join(parts[:3]) + department + "".join(parts[4:]))
    return 97 - number % 97 == int(key)


# --------------------------------------------------------------------------- requests (R1, CADA)
# Matched on folded text (lower case, no accents): write the patterns that way.

# A citizen's own case: her file, her application, her card, her school bus.
_ADMINISTRATIVE = re.compile(
    r"\b(?:"
    r"mon dossier|ma demande|mon inscription|ma candidature|ma carte|mon attestation|mon remboursement|"
    r"(?:numero|n°|no|num) (?:de )?dossier|attestations?|subventions?|inscriptions?|"
    r"bourses?(?! (?:aux|du travail|de commerce|d'echange))|"  # a grant, not a market
    r"carte (?:jeune|scolaire|de transport|lio)|transports? scolaires?|aides? regionales?|justificatifs?"
    r")\b"
)

_REQUEST_VERB = (
    r"(?:demande[rsz]?|sollicite[rsz]?|obtenir|recevoir|transmettre|communiquer|envoyer|"
    r"souhaite(?:rais)?|voudrais|pourriez|pouvez|merci de|serait-il possible)"
)
_DOCUMENT = (
    r"(?:documents?|deliberations?|rapports?|marches? publics?|contrats?|conventions?|"
    r"comptes? rendus?|proces-verba(?:l|ux)|arretes?|budgets?)"
)
_DOCUMENT_REQUEST = re.compile(
    rf"\b(?:"
    rf"communication (?:de |du |des |d')(?:la |le |l')?{_DOCUMENT}|"
    rf"copies? (?:de |du |des |d')(?:la |le |l')?{_DOCUMENT}|"
    rf"acces aux documents|documents? administratifs?|cada|crpa|l\.? ?311-1"
    rf")\b"
)
_REQUEST_FOR_DOCUMENT = re.compile(rf"\b{_REQUEST_VERB}\b[^.?!\n]{{0,80}}\b{_DOCUMENT}\b")


def is_administrative(folded: str) -> bool:
    return _ADMINISTRATIVE.search(folded) is not None


def is_document_request(folded: str) -> bool:
    """Named outright ("CADA", "copie de la délibération"), or a request verb and a document
    ("rapport", "marché public") in one sentence."""
    return _DOCUMENT_REQUEST.search(folded) is not None or _REQUEST_FOR_DOCUMENT.search(folded) is not None


# --------------------------------------------------------------------------- hate and threats (M1)

# Short on purpose: a demo lexicon of the unambiguous cases (slurs that have no other sense,
# death threats, calls to violence), so that it never flags the ordinary anger of a citizen
# ("c'est une honte", "tuer le temps"). The flag queues the item for a person within the M1
# deadline; it removes nothing. A real instance extends these tuples with its moderation
# charter's list (and may add a classifier beside them); keep each pattern folded (lower case,
# no accents) and add a trigger and a near miss to tests/inbox/test_triage.py with it.
_PRONOUN = r"(?:te |t'|vous |le |la |l'|les )"
#: the groups a call to violence or a slur targets (kept to one list; "mort aux rats" is poison)
_GROUPS = r"(?:juifs|juives|arabes|musulmans|noirs|migrants|etrangers|elus|gitans|roms|flics|homos|pedes|blancs)"
_KILL = r"(?:tuer|bruler|egorger|buter|pendre|massacrer|decapiter|fusiller|cramer|crever|faire la peau)"
HATEFUL_LEXICON: dict[str, tuple[str, ...]] = {
    # threats to the reader or to a group: "je vais te tuer", "on va vous brûler"
    "threat": (
        rf"\b(?:je vais|j'vais|on va|nous allons|on devrait|je veux) {_PRONOUN}{_KILL}\b",
        r"\bon sait ou (?:tu habites|vous habitez)\b",
        r"\bune balle dans (?:la|ta|votre) tete\b",
        r"\b(?:tu vas|vous allez) (?:mourir|crever)\b",
    ),
    # calls to violence against people
    "call_to_violence": (
        rf"\bmort aux? {_GROUPS}\b",
        rf"\bil faut (?:tous )?{_PRONOUN}{_KILL}\b",
        rf"\b{_KILL} (?:tous )?(?:les|ces) {_GROUPS}\b",
        r"\bqu'on (?:les|la|le) (?:pende|brule|tue)\b",
        r"\b(?:tuez|brulez|pendez|egorgez|butez|cramez)-(?:les|la|le)\b",
    ),
    # slurs: words with no other sense, and "sale" + a group
    "slur": (
        r"\b(?:bougnoules?|youpins?|bicots?|negros?|youtres?|chintoks?)\b",
        r"\bsales? (?:juifs?|juives?|arabes?|noirs?|negres?|pedes?|pd|gouines?|musulmans?|gitans?|roms?|bougnoules?)\b",
    ),
}
_HATEFUL = re.compile("|".join(f"(?:{p})" for patterns in HATEFUL_LEXICON.values() for p in patterns))


def is_hateful(folded: str) -> bool:
    return _HATEFUL.search(folded) is not None
