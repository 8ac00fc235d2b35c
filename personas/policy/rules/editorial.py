"""The persona's own editorial line (the seed's rules) and the networks' hard limits."""

from __future__ import annotations

import msgspec

from personas.policy.model import Finding
from personas.policy.registry import Facts, NoParams, finding, rule
from personas.policy.text import first_person_words
from personas.schema import Severity


@rule(
    "channel_refused",
    severity=Severity.BLOCK,
    summary="The persona refuses this network, or has no line for it.",
    severity_overridable=False,
)
def channel_refused(facts: Facts, _: NoParams) -> list[Finding]:
    policy, channel = facts.channel_policy, facts.draft.channel
    if policy is None:
        return [
            finding(
                Severity.BLOCK,
                f"{facts.persona.name} n'a pas de ligne éditoriale pour « {channel} » : "
                "demandez à un administrateur d'ajouter ce réseau au fichier de la persona.",
                f"{facts.persona.name} has no editorial line for {channel!r}: ask an admin to add "
                "this network to the persona file.",
                overridable=False,
                data={"channel": channel},
            )
        ]
    if policy.allowed:
        return []
    reason = " ".join((policy.refusal_reason or "").split())
    return [
        finding(
            Severity.BLOCK,
            f"{facts.persona.name} ne publie pas sur « {channel} ». Raison : {reason}",
            f"{facts.persona.name} does not publish on {channel!r}. Reason (in French): {reason}",
            overridable=False,
            data={"channel": channel, "refusal_reason": reason},
        )
    ]


@rule(
    "format",
    severity=Severity.BLOCK,
    summary="The format is not in the channel's allowed formats (Instagram: photo, carousel, story).",
)
def format_allowed(facts: Facts, _: NoParams) -> list[Finding]:
    policy = facts.channel_policy
    if policy is None or not policy.allowed or not policy.formats or facts.draft.format in policy.formats:
        return []
    if facts.draft.reply:  # an answer has no format of the line: it goes under the post it answers
        return []
    allowed = ", ".join(policy.formats)
    return [
        finding(
            Severity.BLOCK,
            f"Le format « {facts.draft.format} » ne fait pas partie de la ligne de {facts.persona.name} "
            f"sur {facts.draft.channel} (formats prévus : {allowed}). Choisissez l'un de ces formats, "
            "ou demandez à un responsable de lever ce blocage en le justifiant.",
            f"The {facts.draft.format!r} format is not part of {facts.persona.name}'s line on "
            f"{facts.draft.channel} (planned formats: {allowed}). Pick one of them, or ask a manager "
            "to override with a reason.",
            data={"format": facts.draft.format, "allowed": list(policy.formats)},
        )
    ]


@rule(
    "cadence",
    severity=Severity.WARN,
    summary="Posts per local day against the channel's target, reposts counted apart.",
)
def cadence(facts: Facts, _: NoParams) -> list[Finding]:
    policy = facts.channel_policy
    if policy is None or not policy.allowed:
        return []
    counts = facts.context.day_counts.get(facts.draft.channel)
    repost = facts.context.is_repost
    target = policy.reposts_per_day if repost else policy.posts_per_day
    if target is None:
        return []
    already = (counts.reposts if repost else counts.posts) if counts else 0
    after = already + 1
    what_fr, what_en = ("partage", "repost") if repost else ("publication", "post")
    day = facts.local_day.isoformat()
    data = {"channel": facts.draft.channel, "day": day, "count": after, "target": target, "repost": repost}
    if after > target:
        return [
            finding(
                Severity.WARN,
                f"Ce serait la {_ordinal(after)} {what_fr} du {day} sur {facts.draft.channel}, pour un rythme prévu "
                f"de {target} par jour : un rythme régulier évite de saturer les abonnés. Décalez-la à un "
                "autre jour si elle n'est pas urgente.",
                f"This would be {what_en} number {after} on {day} on {facts.draft.channel}, against a target "
                f"of {target} a day: a steady rhythm keeps followers. Move it to another day unless it is urgent.",
                data=data,
            )
        ]
    if after < target:
        return [
            finding(
                Severity.INFO,
                f"{after} {what_fr}(s) sur {target} prévue(s) le {day} sur {facts.draft.channel}.",
                f"{after} of {target} planned {what_en}s on {day} on {facts.draft.channel}.",
                data=data,
            )
        ]
    return []


@rule("guidance", severity=Severity.INFO, summary="Reminds the author of the channel's tone and purpose.")
def guidance(facts: Facts, _: NoParams) -> list[Finding]:
    policy = facts.channel_policy
    if policy is None or not policy.allowed or not (policy.tone or policy.purpose):
        return []
    return [
        finding(
            Severity.INFO,
            f"Sur {facts.draft.channel}, {facts.persona.name} : ton « {policy.tone or '—'} », "
            f"objectif « {policy.purpose or '—'} ».",
            f"On {facts.draft.channel}, {facts.persona.name}: tone “{policy.tone or '—'}”, "
            f"purpose “{policy.purpose or '—'}” (in French).",
            data={"tone": policy.tone, "purpose": policy.purpose},
        )
    ]


@rule(
    "first_person",
    severity=Severity.REVIEW,
    summary="A persona that does not embody writes in the first person singular (je, moi, mon…).",
)
def first_person(facts: Facts, _: NoParams) -> list[Finding]:
    if facts.persona.embodies:
        return []
    words = first_person_words(facts.full_text)
    if not words:
        return []
    shown = ", ".join(dict.fromkeys(w.lower() for w in words))
    return [
        finding(
            Severity.REVIEW,
            f"Le texte parle à la première personne du singulier ({shown}), mais {facts.persona.name} ne "
            "s'incarne pas : « je » laisse croire qu'une personne parle au nom de tous. Écrivez « nous » ou à la "
            "troisième personne, ou mettez la citation entre guillemets « … » avec son auteur.",
            f"The text speaks in the first person singular ({shown}) but {facts.persona.name} does not "
            "embody itself: “I” suggests one person speaks for the body. Use “we” or the third person, "
            "or put a quotation in « … » with its author.",
            evidence=shown,
        )
    ]


@rule(
    "network_limits",
    severity=Severity.BLOCK,
    summary="A hard limit of the network (length, media count, size, duration…), as core computed it.",
    severity_overridable=False,
)
def network_limits(facts: Facts, _: NoParams) -> list[Finding]:
    found = []
    for violation in facts.context.network_violations:
        numbers = ", ".join(f"{k} = {v}" for k, v in violation.params.items())
        detail = f" ({numbers})" if numbers else ""
        found.append(
            finding(
                Severity.BLOCK,
                f"{facts.draft.channel} refusera ce contenu : {violation.message}{detail}. "
                "Corrigez-le avant de programmer.",
                f"{facts.draft.channel} will refuse this: {violation.message}{detail}. Fix it before scheduling.",
                overridable=False,
                evidence=violation.code,
                data={"code": violation.code, **msgspec.to_builtins(violation.params)},
            )
        )
    return found


def _ordinal(number: int) -> str:
    return "1re" if number == 1 else f"{number}e"
