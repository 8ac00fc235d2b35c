"""Public-sector writing (catalogue L1, L2): inclusive forms and feminised titles."""

from __future__ import annotations

from personas.policy.model import Finding, Fix
from personas.policy.registry import Facts, NoParams, finding, rule
from personas.policy.text import double_flexion, inclusive_forms, normalise_apostrophes, office_title_uses
from personas.schema import PersonaKind, Severity

CIRCULAIRE_2017 = "Circulaire du Premier ministre du 21 novembre 2017"


@rule(
    "inclusive_writing",
    severity=Severity.WARN,
    summary="Point médian or dotted inclusive forms (habitant·e·s): suggest double flexion. Institution by default.",
    catalogue="L1",
    reference=f"{CIRCULAIRE_2017} (État) ; CAA Paris 11 avril 2025 n° 23PA02015",
    kinds=frozenset({PersonaKind.INSTITUTION}),
)
def inclusive_writing(facts: Facts, _: NoParams) -> list[Finding]:
    found = []
    for form in dict.fromkeys(inclusive_forms(facts.full_text)):
        flexion = double_flexion(form)
        found.append(
            finding(
                Severity.WARN,
                f"« {form} » : le point médian est mal lu par les lecteurs d'écran et gêne les lecteurs "
                "dyslexiques. Préférez la double flexion"
                + (f" (« {flexion} »)" if flexion else " (« les habitantes et les habitants »)")
                + " ou un mot épicène.",
                f"“{form}”: screen readers read the median dot badly and it troubles dyslexic readers. Prefer "
                "the double form" + (f" (“{flexion}”)" if flexion else "") + " or an epicene word.",
                fix=Fix(original=form, replacement=flexion) if flexion else None,
                evidence=form,
            )
        )
    return found


_MASCULINE = {"le": "la", "du": "de la", "au": "à la"}


@rule(
    "feminine_title",
    severity=Severity.WARN,
    summary="The institution calls a female office-holder by a masculine title: fix “la présidente”.",
    catalogue="L2",
    reference=CIRCULAIRE_2017,
    kinds=frozenset({PersonaKind.INSTITUTION}),
)
def feminine_title(facts: Facts, _: NoParams) -> list[Finding]:
    text = normalise_apostrophes(facts.full_text)
    found = []
    for holder in facts.persona.office_holders:
        if holder.gender != "f" or not holder.title.endswith("e"):
            continue
        feminine = holder.title
        masculine = feminine[:-1]  # présidente -> président, conseillère is left out (see docs)
        # « le président de la République / du CESER / du club… » is someone else's title
        for use in office_title_uses(text, (masculine,)):
            article = use.article
            if article.lower() not in _MASCULINE:
                continue
            new_article = _MASCULINE[article.lower()]
            if article[0].isupper():
                new_article = new_article[0].upper() + new_article[1:]
            title = feminine if use.title[0].islower() else feminine[0].upper() + feminine[1:]
            replacement = f"{new_article} {title}"
            found.append(
                finding(
                    Severity.WARN,
                    f"« {use.text} » : la fonction est occupée par une femme ; écrivez « {replacement} ».",
                    f"“{use.text}”: the office is held by a woman; write “{replacement}”.",
                    fix=Fix(original=use.text, replacement=replacement),
                    evidence=use.text,
                )
            )
    return found
