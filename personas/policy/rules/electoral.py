"""Election-period rules: Code électoral L52-1, L52-8, L49 (catalogue E, I, P, S).

Every rule here reads the open windows of ``facts.windows`` (E1 dates, E2 scope), computed on
the local day the public sees the post, so a post scheduled before a window opens and
published after is judged by the window (what counts is when the public receives it).
These rules' severities come from the law: a persona may switch one off, not soften it.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

import msgspec
import regex

from personas.policy.elections import Election, OpenWindow, in_scope
from personas.policy.model import AssetOrigin, Employer, Finding
from personas.policy.registry import Facts, NoParams, finding, rule
from personas.policy.text import (
    analysis,
    find_handles,
    find_terms,
    fold,
    folded,
    line_analysis,
    normalise_apostrophes,
    office_title_uses,
    strip_quotes,
)
from personas.schema import PersonaKind, Severity

L52_1_AL2 = "Code électoral, art. L52-1 al. 2"
L52_1_AL1 = "Code électoral, art. L52-1 al. 1 ; CE 28 mai 2021 n° 445567"
L52_8 = "Code électoral, art. L52-8 ; CE 2 avril 2010 n° 332015 ; CE avis 26 mars 2025 n° 499924"
L49 = "Code électoral, art. L49 ; CE 8 juillet 2002 (Rodez)"
HERMES = "Code électoral, art. L52-1 ; CE 6 mai 2015 n° 382518"
INSTITUTION = frozenset({PersonaKind.INSTITUTION})
OFFICIAL = frozenset({PersonaKind.ELECTED_OFFICIAL})

ACHIEVEMENT_TERMS = (
    "bilan",
    "promesse tenue",
    "promesses tenues",
    "engagement tenu",
    "engagements tenus",
    "engagements sont tenus",
    "tenu parole",
    "tenu nos promesses",
    "tenu ses promesses",
    "tient ses promesses",
    "tenons nos promesses",
    "grâce à la présidente",
    "grâce au président",
    "grâce à notre présidente",
    "grâce à notre président",
    "grâce à la Région",
    "grâce à l'action de la Région",
    "grâce à notre action",
    "record",
    "historique",
    "sans précédent",
    "jamais autant",
    "depuis 2021",
    "depuis le début du mandat",
    "nous avons réalisé",
    "nous avons tenu",
    "nous l'avons fait",
    "mission accomplie",
    "pari réussi",
    "succès",
    "réussite",
    "fiers de",
    "fières de",
    "première région de France",
    "1re région de France",
    "meilleure région",
    "ce n'est qu'un début",
)
#: phrases where an achievement word says nothing of the institution's action
NOT_ACHIEVEMENT_TERMS = (
    "monument historique",
    "monuments historiques",
    "centre historique",
    "centres historiques",
    "cœur historique",
    "quartier historique",
    "quartiers historiques",
    "site historique",
    "sites historiques",
    "patrimoine historique",
    "crue historique",
    "crues historiques",
    "inondation historique",
    "inondations historiques",
    "tempête historique",
    "sécheresse historique",
    "record de chaleur",
    "records de chaleur",
    "record de température",
    "records de température",
    "record de pluie",
    "records de pluie",
    "record de froid",
    "bonne réussite",
    "réussite éducative",
    "réussite scolaire",
    "réussite aux examens",
    "plein succès",
)
ELECTION_TERMS = (
    "élection",
    "élections",
    "électoral",
    "électorale",
    "électorales",
    "électoraux",
    "scrutin",
    "voter",
    "votez",
    "vote",
    "mandat",
    "réélection",
    "réélu",
    "réélue",
    "réélire",
    "urnes",
    "au premier tour",
    "au second tour",
    "présidentielle",
    "les régionales",
    "aux régionales",
    "des régionales",
    "ma candidature",
    # « campagne » and « programme » alone are a vaccination campaign, the countryside, a festival's
    # programme: only their electoral uses count
    "campagne électorale",
    "campagne présidentielle",
    "campagne des régionales",
    "ma campagne",
    "notre campagne",
    "cette campagne",
    "en campagne",
    "de campagne",
    "programme électoral",
    "mon programme",
    "en meeting",
    "grand meeting",
    "mon meeting",
    "notre meeting",
    "dernier meeting",
    "militants",
    "militantes",
    "tractage",
    "colistiers",
    "colistières",
    "tête de liste",
    "notre liste",
    "ma liste",
    # campaign slogans
    "ensemble, continuons",
    "continuons ensemble",
    "cap sur 2028",
    "le meilleur reste à venir",
    "la Région continue",
)
#: phrases where an election word is not about an election
NOT_ELECTION_TERMS = (
    "vote du budget",
    "vote des budgets",
    "voter le budget",
    "vote le budget",
    "votera le budget",
    "vote du public",
    # accents are folded: « voté » reads « vote »; the assembly's decisions are not the election
    "a voté",
    "ont voté",
    "avons voté",
    "été voté",
    "votez pour votre projet",
    "votez pour vos projets",
    "votez pour votre coup de cœur",
    "votez pour votre photo",
    "votez pour votre favori",
    "notre campagne de",
    "notre campagne d'",
    "cette campagne de",
    "cette campagne d'",
    "pain de campagne",
    "pains de campagne",
    "maison de campagne",
    "maisons de campagne",
    "médecin de campagne",
    "médecins de campagne",
    "chemin de campagne",
    "chemins de campagne",
    "partie de campagne",
)
#: a prize, a contest, a participatory budget: « vote », « voter », « votez » there are not the election's
CONTEST_TERMS = (
    "prix des lycéens",
    "prix du public",
    "prix littéraire",
    "concours",
    "trophée",
    "trophées",
    "finalistes",
    "lauréat",
    "lauréats",
    "lauréate",
    "lauréates",
    "jury",
    "budget participatif",
)
CONTEST_VOTE_TERMS = ("vote", "voter", "votez")
#: a call to vote that says it takes no side is civic, not propaganda (L49 bans propaganda)
NEUTRAL_CALL_TERMS = (
    "quel que soit votre choix",
    "quel que soit votre vote",
    "quelle que soit votre opinion",
    "quelle que soit votre sensibilité",
)
#: the only words such a call may use; a slogan, a list, a candidate's name keep it electoral
NEUTRAL_CALL_WORDS = ("vote", "voter", "votez", "urnes", "scrutin", "élection", "élections", "bureau de vote")
VOTER_INFORMATION_TERMS = (
    "bureau de vote",
    "bureaux de vote",
    "procuration",
    "procurations",
    "listes électorales",
    "liste électorale",
    "carte électorale",
    "inscription sur les listes",
)
#: an emergency on the eve of a vote: the institution still warns the public (P2)
EMERGENCY_TERMS = (
    "vigilance rouge",
    "vigilance orange",
    "alerte",
    "évacuation",
    "inondation",
    "inondations",
    "crue",
    "crues",
    "incendie",
    "incendies",
    "feu de forêt",
    "tempête",
    "mise à l'abri",
    "consignes de la préfecture",
)

# A count of what was done: « 120 entreprises accompagnées », « 300 km de pistes financés »,
# « a créé 10 000 emplois ». Matched on the case-folded text, accents kept (« aides » is a noun,
# « aidés » a participle). A future or a modal between the count and the participle is service
# information (« 1 200 ordinateurs seront distribués »).
PARTICIPLES = (
    "accompagné|rénové|financé|soutenu|aidé|créé|construit|investi|formé|équipé|recruté|livré|modernisé"
    "|aménagé|installé|subventionné|distribué|planté|raccordé|inauguré|réalisé|déployé|embauché|restauré"
    "|électrifié|rouvert|sauvé"
).split("|")
_PARTICIPLE = rf"(?:{'|'.join(PARTICIPLES)})(?:e|s|es)?(?![\p{{L}}])"
#: every count names one of the participles: a text whose folded form holds none has no count
_FOLDED_PARTICIPLES = tuple(fold(p) for p in PARTICIPLES)


def _has_participle(line: str) -> bool:
    haystack = folded(line)
    return any(p in haystack for p in _FOLDED_PARTICIPLES)


_COUNT = (
    r"(?<![\p{L}\p{N}])(?:(?:plus|près)\s+de\s+|déjà\s+)?\d(?:[\d.,]|[\s\u00a0\u202f](?=\d))*"
    r"(?:\s+(?:millions?|milliards?)(?:\s+d'euros)?|\s*(?:€|euros|km|hectares))?"
)
_NOT_BETWEEN = r"(?!(?:seront|sera|vont|va|pourront|pourra|peuvent|peut|doivent|doit|devront|devra)(?![\p{L}]))"
ACHIEVEMENT_COUNT = regex.compile(
    rf"{_COUNT}\s+(?:{_NOT_BETWEEN}[\p{{L}}'-]+\s+){{0,3}}?{_PARTICIPLE}"
    rf"|(?<![\p{{L}}])(?:a|ont|avons|aura|auront|aurons)\s+(?:déjà\s+)?{_PARTICIPLE}\s+{_COUNT}"
)


class Lexicons(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    achievement: tuple[str, ...] = ACHIEVEMENT_TERMS
    election: tuple[str, ...] = ELECTION_TERMS
    voter_information: tuple[str, ...] = VOTER_INFORMATION_TERMS
    not_achievement: tuple[str, ...] = NOT_ACHIEVEMENT_TERMS
    not_election: tuple[str, ...] = NOT_ELECTION_TERMS
    contest: tuple[str, ...] = CONTEST_TERMS  # with one of these, vote/voter/votez alone are the contest's
    neutral_call: tuple[str, ...] = NEUTRAL_CALL_TERMS  # « allez voter, quel que soit votre choix »
    extra_achievement: tuple[str, ...] = ()  # added to the defaults instead of replacing them
    extra_election: tuple[str, ...] = ()
    #: counts of what was done (« 120 entreprises accompagnées ») are achievement lexicon
    achievement_counts: bool = True


def _period(window: OpenWindow) -> str:
    return _period_fr(window.election)


def _period_en(window: OpenWindow) -> str:
    return _period_in_english(window.election)


# the same few elections at every evaluation: their dates are formatted once
@functools.lru_cache(maxsize=64)
def _period_fr(election: Election) -> str:
    provisional = " (dates provisoires)" if election.provisional else ""
    return f"{election.label}, du {election.start:%d/%m/%Y} au {election.decisive:%d/%m/%Y}{provisional}"


@functools.lru_cache(maxsize=64)
def _period_in_english(election: Election) -> str:
    provisional = " (provisional dates)" if election.provisional else ""
    return f"{election.label}, {election.start.isoformat()} to {election.decisive.isoformat()}{provisional}"


def _window_data(window: OpenWindow) -> dict[str, object]:
    e = window.election
    return {
        "election": e.id,
        "window_start": e.start.isoformat(),
        "window_end": e.decisive.isoformat(),
        "provisional": e.provisional,
    }


def office_holder_mentions(facts: Facts) -> list[str]:
    """Names, handles, titles or face tags of the persona's office-holders in the draft
    (I1: "names, tags or shows"). « la présidente » names her; « la présidente du CESER » and
    « la vice-présidente » do not."""
    text = facts.full_text
    found: list[str] = []
    for holder in facts.persona.office_holders:
        titles = _titles(holder.title, holder.gender)
        # a name built on the title (« présidente de la Région ») is checked as a title, which
        # knows « la présidente de la Région Nouvelle-Aquitaine » is someone else
        title_words = {fold(t) for t in titles}
        names = tuple(n for n in holder.names if not title_words & set(fold(n).split()))
        found += find_terms(text, names)
        found += find_handles(text, holder.handles)
        found += [use.text for use in office_title_uses(text, titles)]
        if any(holder.persona in item.depicts for item in facts.draft.media):
            found.append(f"[photo: {holder.persona}]")
    return found


def _titles(title: str, gender: str | None) -> tuple[str, ...]:
    # « le président » still designates a présidente (rule L2 asks to fix the title)
    if gender == "f" and title.endswith("e"):
        return (title, title[:-1])
    return (title,)


def _electoral_lexicon(facts: Facts, params: Lexicons) -> list[str]:
    # quoted speech is still published by the persona, but a quoted slogan of an opponent is
    # not its own electoral message: look at the persona's words only
    text = strip_quotes(facts.full_text)
    found = find_terms(text, params.election + params.extra_election, ignore=params.not_election)
    if found and find_terms(text, params.contest):
        found = [term for term in found if term not in CONTEST_VOTE_TERMS]
    return found


def _achievement_lexicon(facts: Facts, params: Lexicons) -> list[str]:
    text = facts.full_text
    found = find_terms(text, params.achievement + params.extra_achievement, ignore=params.not_achievement)
    if params.achievement_counts:
        found += analysis(text).memo(("achievement_counts",), _achievement_counts)
    return found


def _achievement_counts(text: str) -> tuple[str, ...]:
    if not any(line_analysis(line).memo(("participle",), _has_participle) for line in text.split("\n")):
        return ()
    lowered = normalise_apostrophes(text).casefold()
    return tuple(" ".join(m.group(0).split()) for m in ACHIEVEMENT_COUNT.finditer(lowered))


def electoral_character(facts: Facts, params: Lexicons) -> tuple[bool, bool]:
    """(electoral?, declared?): the author's or campaign's declaration wins over detection."""
    declared = facts.context.electoral_character
    if declared is not None:
        return declared, True
    repost = facts.context.repost_of
    campaign_media = any(item.origin == AssetOrigin.CAMPAIGN for item in facts.draft.media)
    words = _electoral_lexicon(facts, params)
    if words and set(words) <= set(NEUTRAL_CALL_WORDS) and find_terms(facts.full_text, params.neutral_call):
        words = []  # « allez voter, quel que soit votre choix »: civic, not propaganda
    detected = bool(words) or campaign_media or bool(repost and repost.campaign)
    return detected, False


# --------------------------------------------------------------------------- E1 / E2


@rule(
    "election_window",
    severity=Severity.INFO,
    summary="Says which L52-1 windows are open on the publication day and whether they bind this persona.",
    catalogue="E1/E2",
    reference=L52_1_AL2,
    severity_overridable=False,
)
def election_window(facts: Facts, _: NoParams) -> list[Finding]:
    found = []
    for window in facts.windows:
        if not window.in_scope:
            continue
        if facts.persona.kind == PersonaKind.INSTITUTION:
            fr = (
                "pas de promotion des réalisations, pas de mise en avant des élus, rythme et formats "
                "habituels, pas de nouveau compte ni de nouvelle série"
            )
            en = (
                "no promotion of achievements, no spotlight on officials, usual rhythm and formats, "
                "no new account or series"
            )
        else:
            fr = (
                "compte personnel : pas de ressources de la collectivité (agents, photos), pas de publicité "
                "payante à caractère électoral"
            )
            en = "personal account: no resources of the collectivity (staff, photos), no paid electoral advertising"
        found.append(
            finding(
                Severity.INFO,
                f"Période préélectorale : {_period(window)}. Règles : {fr}.",
                f"Pre-election period: {_period_en(window)}. Rules: {en}.",
                data=_window_data(window),
            )
        )
    return found


# --------------------------------------------------------------------------- I rules (institution)


@rule(
    "official_named",
    severity=Severity.REVIEW,
    summary=(
        "Institution post naming, tagging or showing an office-holder during a window: review with a justification."
    ),
    catalogue="I1",
    reference=f"{L52_1_AL2} ; FAQ CNCCFP",
    kinds=INSTITUTION,
    severity_overridable=False,
)
def official_named(facts: Facts, _: NoParams) -> list[Finding]:
    windows = facts.scoped_windows
    mentions = office_holder_mentions(facts)
    if not windows or not mentions:
        return []
    shown = ", ".join(dict.fromkeys(mentions))
    return [
        finding(
            Severity.REVIEW,
            f"En période préélectorale ({_period(windows[0])}), ce message de l'institution nomme, mentionne "
            f"ou montre un élu ({shown}). Un responsable doit valider en notant pourquoi il est informatif, "
            "nécessaire et habituel ; sinon retirez le nom, la mention ou la photo.",
            f"Inside a pre-election window ({_period_en(windows[0])}), this institutional post names, tags or "
            f"shows an official ({shown}). A manager must approve and record why it is informative, necessary "
            "and usual; otherwise remove the name, tag or photo.",
            evidence=shown,
            data={**_window_data(windows[0]), "justification_required": True},
        )
    ]


@rule(
    "promotion_lexicon",
    severity=Severity.BLOCK,
    summary=(
        "Institution post praising achievements (block with a person, review "
        "alone) or speaking of the election (review) during a window."
    ),
    catalogue="I2",
    reference=f"{L52_1_AL2} ; CE 28 juillet 1993 Fourcade ; CE 3 déc. 2014 n° 382217",
    params=Lexicons,
    kinds=INSTITUTION,
    severity_overridable=False,
)
def promotion_lexicon(facts: Facts, params: Lexicons) -> list[Finding]:
    windows = facts.scoped_windows
    if not windows:
        return []
    period, period_en, data = _period(windows[0]), _period_en(windows[0]), _window_data(windows[0])
    found = []
    achievement, persons = _achievement_lexicon(facts, params), office_holder_mentions(facts)
    if achievement:
        words = ", ".join(achievement)
        with_person = bool(persons)
        found.append(
            finding(
                Severity.BLOCK if with_person else Severity.REVIEW,
                f"Vocabulaire de valorisation ({words})"
                + (f" associé à un élu ({', '.join(persons)})" if with_person else "")
                + f" en période préélectorale ({period}) : c'est la promotion des réalisations que la loi "
                "interdit. Décrivez les faits de façon neutre et informative, sans éloge"
                + (" et sans l'élu." if with_person else "."),
                f"Praise of achievements ({words})"
                + (f" with an official ({', '.join(persons)})" if with_person else "")
                + f" inside a pre-election window ({period_en}): the law forbids promoting achievements. "
                "State the facts neutrally, without praise" + (" and without the official." if with_person else "."),
                evidence=words,
                data=data,
            )
        )
    election_words = _electoral_lexicon(facts, params)
    if election_words and not achievement and find_terms(facts.full_text, params.voter_information):
        found.append(
            finding(
                Severity.INFO,
                f"Information pratique des électeurs ({', '.join(election_words)}) : admise si elle reste neutre.",
                f"Practical voter information ({', '.join(election_words)}): allowed if it stays neutral.",
                data=data,
            )
        )
    elif election_words:
        found.append(
            finding(
                Severity.REVIEW,
                f"Le message parle de l'élection ({', '.join(election_words)}) en période préélectorale "
                f"({period}) : l'institution doit rester neutre. Un responsable vérifie qu'il ne s'agit que "
                "d'information (dates, bureaux de vote) ; sinon retirez ces mots.",
                f"The post mentions the election ({', '.join(election_words)}) inside a pre-election window "
                f"({period_en}): the institution must stay neutral. A manager checks that it is only "
                "information (dates, polling stations); otherwise remove these words.",
                evidence=", ".join(election_words),
                data=data,
            )
        )
    return found


class RegularityParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tolerance: float = 0.2  # warn above baseline x (1 + tolerance)
    review_above: float = 0.5  # review above baseline x (1 + review_above)


@rule(
    "regularity",
    severity=Severity.WARN,
    summary="Institution posting more than its usual 28-day rhythm during a window (warn > +20 %, review > +50 %).",
    catalogue="I3",
    reference=f"{L52_1_AL2} (critère de régularité)",
    params=RegularityParams,
    kinds=INSTITUTION,
    severity_overridable=False,
)
def regularity(facts: Facts, params: RegularityParams) -> list[Finding]:
    windows, rhythm = facts.scoped_windows, facts.context.regularity
    if not windows or rhythm is None or rhythm.baseline_28_days <= 0:
        return []
    count = rhythm.last_28_days + 1
    ratio = count / rhythm.baseline_28_days
    if ratio <= 1 + params.tolerance:
        return []
    severity = Severity.REVIEW if ratio > 1 + params.review_above else Severity.WARN
    percent = round((ratio - 1) * 100)
    return [
        finding(
            severity,
            f"Avec ce message, {count} publications en 28 jours contre {rhythm.baseline_28_days:g} "
            f"habituellement (+{percent} %) en période préélectorale ({_period(windows[0])}) : le juge "
            "vérifie que le rythme reste régulier. Étalez ou reportez les messages non essentiels.",
            f"With this post, {count} posts in 28 days against a usual {rhythm.baseline_28_days:g} (+{percent}%) "
            f"inside a pre-election window ({_period_en(windows[0])}): the judge checks the rhythm stays "
            "regular. Spread out or postpone non-essential posts.",
            data={**_window_data(windows[0]), "count": count, "baseline": rhythm.baseline_28_days},
        )
    ]


@rule(
    "novelty",
    severity=Severity.BLOCK,
    summary="New account, series or branding on the institution during a window.",
    catalogue="I4",
    reference=f"{L52_1_AL2} (critères d'antériorité et d'identité)",
    kinds=INSTITUTION,
    severity_overridable=False,
)
def novelty(facts: Facts, _: NoParams) -> list[Finding]:
    windows = facts.scoped_windows
    if not windows:
        return []
    flags = facts.context.novelty
    account = facts.account
    new_account = flags.new_account or bool(
        account and account.created_at and _local_date(facts, account.created_at) >= windows[0].election.start
    )
    what = [
        (new_account, "un nouveau compte", "a new account"),
        (flags.new_series, "une nouvelle série ou rubrique", "a new series or rubric"),
        (flags.new_branding, "une nouvelle identité visuelle", "a new visual identity"),
    ]
    return [
        finding(
            Severity.BLOCK,
            f"En période préélectorale ({_period(windows[0])}), l'institution ne lance pas {fr} : la loi "
            "exige les mêmes supports et la même forme qu'avant la période. Attendez la fin du scrutin.",
            f"Inside a pre-election window ({_period_en(windows[0])}), the institution does not launch {en}: "
            "the law requires the same channels and form as before the window. Wait until after the vote.",
            overridable=False,
            data=_window_data(windows[0]),
        )
        for present, fr, en in what
        if present
    ]


def _local_date(facts: Facts, moment: datetime) -> date:
    zone = facts.local_moment.tzinfo
    return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)).date()


@rule(
    "paid_promotion",
    severity=Severity.BLOCK,
    summary="Institution boosts a post during a window: block if promotional, review otherwise.",
    catalogue="I6",
    reference=f"{L52_1_AL1} ; {L52_1_AL2}",
    params=Lexicons,
    kinds=INSTITUTION,
    severity_overridable=False,
)
def paid_promotion(facts: Facts, params: Lexicons) -> list[Finding]:
    windows = facts.scoped_windows
    if not windows or not facts.context.paid_boost:
        return []
    promotional = _achievement_lexicon(facts, params) + office_holder_mentions(facts)
    if promotional:
        return [
            finding(
                Severity.BLOCK,
                f"Publicité payante d'un message qui valorise l'action ou un élu ({', '.join(promotional)}) en "
                f"période préélectorale ({_period(windows[0])}) : interdit. Retirez la sponsorisation.",
                f"Paid promotion of a post that praises the institution's action or an official "
                f"({', '.join(promotional)}) inside a pre-election window ({_period_en(windows[0])}): forbidden. "
                "Remove the boost.",
                overridable=False,
                data=_window_data(windows[0]),
            )
        ]
    return [
        finding(
            Severity.REVIEW,
            f"Message sponsorisé en période préélectorale ({_period(windows[0])}) : admis seulement pour une "
            "information de service ou civique. Un responsable le confirme.",
            f"Boosted post inside a pre-election window ({_period_en(windows[0])}): allowed only for service or "
            "civic information. A manager confirms it.",
            data=_window_data(windows[0]),
        )
    ]


# --------------------------------------------------------------------------- P rules (official)


@rule(
    "paid_boost_electoral",
    severity=Severity.BLOCK,
    summary="Official boosts a post with electoral character during a window.",
    catalogue="P1",
    reference=L52_1_AL1,
    params=Lexicons,
    kinds=OFFICIAL,
    severity_overridable=False,
)
def paid_boost_electoral(facts: Facts, params: Lexicons) -> list[Finding]:
    if not facts.context.paid_boost or not facts.windows:
        return []
    electoral, declared = electoral_character(facts, params)
    if not electoral:
        return []
    window = (facts.candidate_windows or facts.windows)[0]
    return [
        finding(
            Severity.BLOCK,
            f"Publicité payante (sponsorisation) d'un message à caractère électoral pendant la période "
            f"{_period(window)} : interdite par la loi, même sur un compte personnel. Publiez sans sponsoriser.",
            f"Paid promotion of a post with electoral character during {_period_en(window)}: forbidden by law, "
            "even on a personal account. Publish without the boost.",
            overridable=not declared,  # detected from words, a manager may judge it is not electoral
            data=_window_data(window),
        )
    ]


class EveParams(Lexicons, frozen=True, forbid_unknown_fields=True):
    polls_close: str = "20:00"  # local time the last polling stations close
    emergency: tuple[str, ...] = EMERGENCY_TERMS  # an institution's urgent warning stays info

    def __post_init__(self) -> None:
        if not regex.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d", self.polls_close):
            raise ValueError("polls_close must be HH:MM")


@rule(
    "election_eve",
    severity=Severity.BLOCK,
    summary=(
        "From 00:00 the day before a round to the close of polls: official's "
        "electoral posts blocked, institution's posts reviewed."
    ),
    catalogue="P2",
    reference=L49,
    params=EveParams,
    severity_overridable=False,
)
def election_eve(facts: Facts, params: EveParams) -> list[Finding]:
    hour, minute = (int(part) for part in params.polls_close.split(":"))
    for election in facts.context.elections:
        for round_day in election.rounds:
            start = datetime.combine(round_day - timedelta(days=1), time(0, 0), facts.local_moment.tzinfo)
            end = datetime.combine(round_day, time(hour, minute), facts.local_moment.tzinfo)
            if start <= facts.local_moment < end:
                return _eve_findings(facts, params, election, round_day)
    return []


def _eve_findings(facts: Facts, params: EveParams, election: Election, round_day: date) -> list[Finding]:
    label = f"{election.label}, scrutin du {round_day:%d/%m/%Y}"
    label_en = f"{election.label}, vote on {round_day.isoformat()}"
    data = {"election": election.id, "round": round_day.isoformat()}
    if facts.persona.kind == PersonaKind.INSTITUTION:
        if not in_scope(election, facts.persona):
            return []
        urgent = find_terms(facts.full_text, params.emergency)
        if urgent and not (
            _electoral_lexicon(facts, params) or _achievement_lexicon(facts, params) or office_holder_mentions(facts)
        ):
            return [
                finding(
                    Severity.INFO,
                    f"Veille ou jour de scrutin ({label}) : une information urgente ({', '.join(urgent)}) reste "
                    "permise ; gardez-la strictement pratique.",
                    f"Eve or day of the vote ({label_en}): urgent information ({', '.join(urgent)}) is still "
                    "allowed; keep it strictly practical.",
                    data=data,
                )
            ]
        return [
            finding(
                Severity.REVIEW,
                f"Veille et jour de scrutin ({label}) : l'institution ne publie que des informations pratiques "
                f"ou urgentes jusqu'à la fermeture des bureaux ({params.polls_close}). Un responsable valide.",
                f"Eve and day of the vote ({label_en}): the institution posts only practical or emergency "
                f"information until polls close ({params.polls_close}). A manager approves.",
                data=data,
            )
        ]
    electoral, declared = electoral_character(facts, params)
    if electoral:
        return [
            finding(
                Severity.BLOCK,
                f"Aucun message de propagande électorale en ligne à partir de minuit la veille du scrutin "
                f"({label}) jusqu'à la fermeture des bureaux. Programmez-le "
                f"après {params.polls_close} le jour du vote.",
                f"No electoral propaganda online from midnight the day before the vote ({label_en}) until the "
                f"polls close. Schedule it after {params.polls_close} on voting day.",
                overridable=not declared,
                data=data,
            )
        ]
    if any(w.election.id == election.id for w in facts.candidate_windows):
        return [
            finding(
                Severity.WARN,
                f"Veille ou jour de scrutin ({label}) : vérifiez que ce message n'a aucun caractère électoral.",
                f"Eve or day of the vote ({label_en}): make sure this post has no electoral character.",
                data=data,
            )
        ]
    return []


# --------------------------------------------------------------------------- S rules (segregation)


@rule(
    "staff_segregation",
    severity=Severity.BLOCK,
    summary="Institution staff composing on the official's accounts: block while she is a candidate, warn otherwise.",
    catalogue="S1",
    reference=L52_8,
    kinds=OFFICIAL,
    severity_overridable=False,
)
def staff_segregation(facts: Facts, _: NoParams) -> list[Finding]:
    employer = facts.context.composer_employer
    windows = facts.candidate_windows
    if employer == Employer.INSTITUTION:
        if windows:
            return [
                finding(
                    Severity.BLOCK,
                    f"{facts.persona.name} est candidate ({_period(windows[0])}) : un agent de la collectivité ne "
                    "rédige ni ne programme sur son compte personnel, ce serait un don de la collectivité à sa "
                    "campagne. Confiez ce message à son équipe de campagne ou à elle-même.",
                    f"{facts.persona.name} is a candidate ({_period_en(windows[0])}): an agent of the collectivity "
                    "may not draft or schedule on her personal account; it would be a donation from the "
                    "collectivity to her campaign. Hand this post to her campaign team or to her.",
                    overridable=False,
                    data=_window_data(windows[0]),
                )
            ]
        return [
            finding(
                Severity.WARN,
                "Un agent de la collectivité rédige sur le compte personnel de l'élue : le compte risque d'être "
                "considéré comme institutionnel. Gardez les équipes séparées.",
                "An agent of the collectivity is composing on the official's personal account: the account may "
                "be treated as institutional. Keep the teams apart.",
            )
        ]
    if employer == Employer.CABINET and windows:
        return [
            finding(
                Severity.REVIEW,
                f"Le cabinet est payé par la collectivité et l'élue est candidate ({_period(windows[0])}) : "
                "un responsable confirme que ce message est fait hors temps de service.",
                f"The cabinet is paid by the collectivity and the official is a candidate "
                f"({_period_en(windows[0])}): a manager confirms this post is done outside service hours.",
                data=_window_data(windows[0]),
            )
        ]
    return []


@rule(
    "asset_segregation",
    severity=Severity.BLOCK,
    summary=(
        "Institution-owned media (region_dam) on the official's accounts: "
        "block while she is a candidate, warn otherwise."
    ),
    catalogue="S2",
    reference=f"{L52_8} ; CE 6 mai 2015 n° 382518",
    kinds=OFFICIAL,
    severity_overridable=False,
)
def asset_segregation(facts: Facts, _: NoParams) -> list[Finding]:
    count = sum(1 for item in facts.draft.media if item.origin == AssetOrigin.REGION_DAM)
    if not count:
        return []
    windows = facts.candidate_windows
    if windows:
        return [
            finding(
                Severity.BLOCK,
                f"{count} média(s) de la photothèque de la collectivité sur le compte personnel d'une candidate "
                f"({_period(windows[0])}) : c'est un avantage fourni par la collectivité. Utilisez des images "
                "personnelles ou de campagne.",
                f"{count} media from the collectivity's library on a candidate's personal account "
                f"({_period_en(windows[0])}): a benefit given by the collectivity. Use personal or campaign images.",
                overridable=False,
                data={**_window_data(windows[0]), "count": count},
            )
        ]
    return [
        finding(
            Severity.WARN,
            f"{count} média(s) de la photothèque de la collectivité sur un compte personnel : le compte risque "
            "d'être confondu avec celui de l'institution. Préférez des images personnelles.",
            f"{count} media from the collectivity's library on a personal account: it may be confused with "
            "the institution's. Prefer personal images.",
            data={"count": count},
        )
    ]


_URL = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)


@rule(
    "cross_promotion",
    severity=Severity.BLOCK,
    summary=(
        "Institution reposting or linking the official's personal or campaign content: block in a window, warn outside."
    ),
    catalogue="S3",
    reference=HERMES,
    kinds=INSTITUTION,
    severity_overridable=False,
)
def cross_promotion(facts: Facts, _: NoParams) -> list[Finding]:
    sources = _official_sources(facts)
    if not sources:
        return []
    what = ", ".join(sources)
    windows = facts.scoped_windows
    if windows:
        return [
            finding(
                Severity.BLOCK,
                f"L'institution relaie le contenu personnel ou de campagne d'un élu ({what}) en période "
                f"préélectorale ({_period(windows[0])}) : cela mêle communication publique et propagande. "
                "Ne partagez pas ce contenu.",
                f"The institution relays an official's personal or campaign content ({what}) inside a "
                f"pre-election window ({_period_en(windows[0])}): it mixes public communication and "
                "propaganda. Do not share it.",
                overridable=False,
                evidence=what,
                data=_window_data(windows[0]),
            )
        ]
    return [
        finding(
            Severity.WARN,
            f"L'institution relaie le contenu personnel d'un élu ({what}) : gardez les deux voix distinctes.",
            f"The institution relays an official's personal content ({what}): keep the two voices apart.",
            evidence=what,
        )
    ]


def _official_sources(facts: Facts) -> list[str]:
    holders = facts.persona.office_holders
    sources: list[str] = []
    repost = facts.context.repost_of
    if repost is not None:
        if repost.campaign:
            sources.append("contenu de campagne")
        if repost.persona and any(h.persona == repost.persona for h in holders):
            sources.append(f"partage de {repost.persona}")
        if repost.handle and any(find_handles("@" + repost.handle.lstrip("@"), h.handles) for h in holders):
            sources.append(f"partage de @{repost.handle.lstrip('@')}")
    watched = facts.context.watch_origin
    if watched is not None and watched.campaign:
        sources.append(f"veille de campagne de {watched.persona}")
    for url in _URL.findall(facts.full_text):
        for holder in holders:
            for handle in holder.handles:
                if _url_handle(handle).search(url):
                    sources.append(f"lien {url}")
    return list(dict.fromkeys(sources))


@functools.lru_cache(maxsize=256)
def _url_handle(handle: str) -> regex.Pattern[str]:
    return regex.compile(rf"/@?{regex.escape(handle.lstrip('@'))}(?:[/?#]|$)", regex.IGNORECASE)
