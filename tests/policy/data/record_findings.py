"""Write ``findings_corpus.json``: inputs of the policy engine and the findings it gives them.

    .venv/bin/python -m tests.policy.data.record_findings

The corpus is every evaluation the policy tests make (recorded by running them in this process
with ``evaluate`` wrapped) plus generated drafts mixing their texts with the hard cases of the
rules (emoji clusters, inclusive forms, glued hashtags, titles, counts, quotations, URLs) over
both seed personas, every rule switched on, and moments outside, inside the windows and on the
eve of a vote. ``test_findings_corpus.py`` evaluates every input again and wants exactly the
stored findings: it pins the engine's behaviour while its text analysis is made faster.

Recorded with the engine before issue 15's speed-up. Run it again only when findings are meant
to change (a rule's behaviour changes on purpose), and say so in the commit.
"""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

import personas.policy
import personas.policy.engine
from personas.policy import (
    REGISTRY,
    AssetOrigin,
    DayCount,
    Election,
    Employer,
    Finding,
    MediaInput,
    NetworkViolation,
    Novelty,
    PolicyAccount,
    PolicyContext,
    PolicyDraft,
    Regularity,
    RepostOf,
    Stage,
    default_elections,
)
from personas.schema import PersonaFile, RuleSetting

HERE = Path(__file__).parent
CORPUS = HERE / "findings_corpus.json"
PARIS = ZoneInfo("Europe/Paris")


class Case(msgspec.Struct, kw_only=True):
    persona: str  # key in Corpus.personas
    draft: PolicyDraft
    context: PolicyContext
    account: PolicyAccount | None = None
    elections: str = ""  # key in Corpus.elections (the context is stored without them)
    findings: list[int] = []  # indices in Corpus.findings, in the engine's order


class Corpus(msgspec.Struct, kw_only=True):
    personas: dict[str, PersonaFile]
    cases: list[Case]
    elections: dict[str, tuple[Election, ...]] = {}
    findings: list[Finding] = []  # every distinct finding once (many cases share the same info)

    def evaluate(self, case: Case) -> list[Finding]:
        context = msgspec.structs.replace(case.context, elections=self.elections.get(case.elections, ()))
        return personas.policy.evaluate(self.personas[case.persona], case.draft, context, account=case.account)

    def expected(self, case: Case) -> list[Finding]:
        return [self.findings[i] for i in case.findings]


def load() -> Corpus:
    return msgspec.json.decode(CORPUS.read_bytes(), type=Corpus)


def _key(value: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(value)).hexdigest()[:16]


class Recorder:
    def __init__(self) -> None:
        self.personas: dict[str, PersonaFile] = {}
        self.elections: dict[str, tuple[Election, ...]] = {}
        self.cases: dict[str, Case] = {}
        self.texts: list[str] = []

    def add(self, persona: PersonaFile, draft: PolicyDraft, context: PolicyContext, account: PolicyAccount | None):  # noqa: ANN201
        pkey = _key(persona)
        self.personas.setdefault(pkey, persona)
        ekey = _key(context.elections) if context.elections else ""
        if ekey:
            self.elections.setdefault(ekey, tuple(context.elections))
        context = msgspec.structs.replace(context, elections=())
        case = Case(persona=pkey, draft=draft, context=context, account=account, elections=ekey)
        self.cases.setdefault(_key(case), case)
        if draft.text:
            self.texts.append(draft.text)


def record_tests(recorder: Recorder) -> None:
    original = personas.policy.engine.evaluate

    def recording(persona, draft, context, *, account=None, rules=None):  # noqa: ANN001, ANN202
        if rules is None:
            recorder.add(persona, draft, context, account)
        return original(persona, draft, context, account=account, rules=rules)

    personas.policy.evaluate = recording
    personas.policy.engine.evaluate = recording
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-x", str(HERE.parent)])
    finally:
        personas.policy.evaluate = original
        personas.policy.engine.evaluate = original
    if code != 0:
        sys.exit(f"the policy tests fail ({code}): fix them before recording")


# --------------------------------------------------------------------------- generated drafts

SNIPPETS = (
    "Grâce à la Région, 120 lycées rénovés et 3 500 ordinateurs distribués depuis le début du mandat 🎉 !",
    "Le président Camille Delorme était hier à Rodez avec les habitant·e·s et les élu.e.s du territoire 👏🏽.",
    "« Je suis fière de ce bilan historique », a déclaré la présidente de la Région.",
    "Rendez-vous sur https://www.laregion.fr/lycees et suivez @CamilleDelorme #fetedelamusique",
    "Les agent·e·s ont accompagné 12 000 voyageurs 🚆 sur la ligne liO.",
    "Votez pour votre projet au budget participatif : les bureaux de vote ouvrent dimanche.",
    "NOUS SOMMES TRÈS FIERS DE NOS LYCÉENS, une réussite sans précédent 🇫🇷 😀.",
    "#OccitanieEnsemble #lycees #transportregional #culture",
    "Mes Aides Région : 300 km de pistes cyclables financés, c'est un record !",
    "Le programme du festival est en ligne ; la campagne de vaccination continue 💉.",
    "👨‍👩‍👧‍👦 Une famille, 🏳️‍🌈 un drapeau, ✌🏿 une main, ❤️ un cœur, 🙂 un sourire, 💀 🤯 🥰 🫠 ☺️",
    "𝐓𝐞𝐱𝐭𝐞 𝐞𝐧 𝐠𝐫𝐚𝐬 et 𝓮𝓷 𝓲𝓽𝓪𝓵𝓲𝓺𝓾𝓮 sur region.fr etc. avec les lycéen.ne.s et étudiant•e•s",
    "la vice-présidente et la présidente du CESER ; du président de la République ; au président",
    "La présidente de la Région Nouvelle-Aquitaine et le président du conseil régional des jeunes.",
    "Allez voter dimanche, quel que soit votre choix ! Procuration et bureau de vote sur le site.",
    "Ma candidature, mon programme, notre liste : en meeting à Toulouse avec nos militants.",
    "Vigilance rouge : évacuation des campings, consignes de la préfecture. Crue historique de l'Aude.",
    "La Région a déjà financé 2 millions d'euros ; 1 200 ordinateurs seront distribués.",
    "Je, moi, m'a dit « j'y vais » ; M. Dupont et mes mesures ; Mon Compte Formation.",
    "https://www.tiktok.com/@camille.delorme/video/1 et https://x.com/CamilleDelorme?s=1",
    "#FeteDeLaMusique #aude #ales #aveyronterre #fetedelamusique2027 #JO2024",
    "Vote du budget : le conseil a voté ; ont voté ; pain de campagne et maison de campagne.",
    "Prix des lycéens : votez pour votre coup de cœur ! Concours et jury, lauréates.",
    '« Votez pour nous » disait l\'affiche ; “ensemble, continuons” ; "cap sur 2028".',
    "Nous l'avons fait : mission accomplie, pari réussi, ce n'est qu'un début !",
    "ÉTÉ EN OCCITANIE : PLAGES, MONTAGNES ET VILLAGES. SNCF, TER et liO.",
    "Le Tarn, l'Ariège, le Gers : 45 hectares plantés, 300 km aménagés, 12 gares rouvertes.",
    "Merci aux habitantes et habitants ; aux agents et agentes ; tous·tes ensemble.",
    "",
)
EXTRA_EMOJI = ("🎉", "👏", "👍🏻", "🇫🇷", "😀", "🚆", "❤️", "🔥", "☀️", "🙏🏽", "🤝", "📣")


def _text(rng: random.Random, pool: list[str]) -> str:
    parts = [rng.choice(pool) for _ in range(rng.randint(1, 8))]
    if rng.random() < 0.3:
        parts.insert(rng.randint(0, len(parts)), " ".join(rng.sample(EXTRA_EMOJI, rng.randint(1, 6))))
    text = rng.choice(("\n", " ", "\n\n")).join(parts)
    if rng.random() < 0.2:
        text = text.upper()
    if rng.random() < 0.2:
        text = text[: rng.randint(0, len(text))]
    if rng.random() < 0.2:
        text = text.replace("'", "’")
    return text


def _media(rng: random.Random) -> tuple[MediaInput, ...]:
    choices = (
        MediaInput(kind="image", alt_text="Des lycéens montent dans un car régional devant la gare de Rodez"),
        MediaInput(kind="image", alt_text="IMG_2041.jpg", filename="IMG_2041.jpg", origin=AssetOrigin.REGION_DAM),
        MediaInput(kind="image", alt_text="photo"),
        MediaInput(kind="image", alt_text="", origin=AssetOrigin.CAMPAIGN),
        MediaInput(kind="gif", alt_text="court"),
        MediaInput(kind="video", has_captions=False, origin=AssetOrigin.REGION_DAM),
        MediaInput(kind="video", has_captions=True, depicts=("presidente-region",)),
        MediaInput(kind="video", live=True, origin=AssetOrigin.PERSONAL),
    )
    return tuple(rng.choice(choices) for _ in range(rng.choice((0, 0, 1, 3, 3, 4))))


def _moment(rng: random.Random) -> datetime:
    base = rng.choice(
        (
            datetime(2026, 6, 1, 10, 0),  # outside
            datetime(2027, 1, 15, 10, 0),  # présidentielle window
            datetime(2027, 11, 10, 10, 0),  # régionales window
            datetime(2028, 3, 18, 15, 0),  # eve of the régionales' first round
            datetime(2028, 3, 19, 20, 30),  # polls closed
            datetime(2027, 4, 10, 0, 0),  # eve of the présidentielle's first round, midnight
            datetime(2029, 6, 1, 10, 0),  # after every window
        )
    )
    return (base + timedelta(minutes=rng.choice((0, 0, 1, -1, 90)))).replace(tzinfo=PARIS)


def _context(rng: random.Random, channel: str) -> PolicyContext:
    return PolicyContext(
        moment=_moment(rng),
        stage=rng.choice(tuple(Stage)),
        day_counts={channel: DayCount(posts=rng.randint(0, 3), reposts=rng.randint(0, 6))}
        if rng.random() < 0.5
        else {},
        elections=tuple(default_elections()),
        network_violations=(NetworkViolation(code="text_too_long", message="trop long", params={"limit": 280}),)
        if rng.random() < 0.1
        else (),
        repost_of=rng.choice(
            (
                None,
                None,
                None,
                RepostOf(persona="presidente-region"),
                RepostOf(campaign=True),
                RepostOf(handle="CamilleDelorme"),
            )
        ),
        composer_employer=rng.choice((None, None, *Employer)),
        paid_boost=rng.random() < 0.3,
        electoral_character=rng.choice((None, None, None, True, False)),
        regularity=rng.choice(
            (None, Regularity(last_28_days=40, baseline_28_days=30), Regularity(last_28_days=10, baseline_28_days=30))
        ),
        novelty=rng.choice(
            (Novelty(), Novelty(), Novelty(new_series=True), Novelty(new_account=True, new_branding=True))
        ),
    )


def generate(recorder: Recorder, count: int, seed: int = 15) -> None:
    from tests.policy.conftest import persona  # the seed personas, as the tests load them

    rng = random.Random(seed)
    pool = list(dict.fromkeys([*SNIPPETS, *recorder.texts]))
    seeds = [persona("region-occitanie"), persona("presidente-region")]
    everything = [
        msgspec.structs.replace(p, rules={rule_id: RuleSetting() for rule_id in REGISTRY} | dict(p.rules))
        for p in seeds
    ]
    extra = msgspec.structs.replace(
        seeds[0],
        rules=dict(seeds[0].rules)
        | {
            "hashtag_case": RuleSetting(params={"extra_words": ["aveyron"]}),
            "A6": RuleSetting(params={"max_emoji": 1}),
        },
    )
    who_pool = [*seeds, *everything, extra]
    for _ in range(count):
        who = rng.choice(who_pool)
        channel = rng.choice(("facebook", "instagram", "linkedin", "x", "tiktok", "mastodon"))
        draft = PolicyDraft(
            channel=channel,
            text=_text(rng, pool),
            format=rng.choice(("post", "photo", "video", "reel", "story", "carousel")),
            media=_media(rng),
            link=rng.choice((None, None, "https://www.laregion.fr", "https://www.tiktok.com/@camille.delorme")),
            title=rng.choice((None, None, None, "Le bilan du mandat", "Fête de la musique")),
            reply=rng.random() < 0.1,
        )
        account = rng.choice((None, PolicyAccount(channel=channel, handle="x", created_at=datetime(2027, 10, 1, 9, 0))))
        recorder.add(who, draft, _context(rng, channel), account)


def main() -> None:
    recorder = Recorder()
    record_tests(recorder)
    recorded = len(recorder.cases)
    generate(recorder, count=700)
    # inputs as the file gives them back (an int written for a float comes back a float)
    inputs = Corpus(personas=recorder.personas, cases=list(recorder.cases.values()), elections=recorder.elections)
    corpus = msgspec.json.decode(msgspec.json.encode(inputs), type=Corpus)
    index: dict[bytes, int] = {}
    for case in corpus.cases:
        found = corpus.evaluate(case)
        for item in found:
            if (encoded := msgspec.json.encode(item)) not in index:
                index[encoded] = len(corpus.findings)
                corpus.findings.append(item)
            case.findings.append(index[encoded])
    CORPUS.write_bytes(msgspec.json.format(msgspec.json.encode(corpus), indent=0))
    back = load()
    for case in back.cases:
        again = back.evaluate(case)
        assert msgspec.json.encode(again) == msgspec.json.encode(back.expected(case)), case.draft.text
    print(f"{len(corpus.cases)} cases ({recorded} from the tests), {len(corpus.personas)} personas -> {CORPUS}")


if __name__ == "__main__":
    main()
