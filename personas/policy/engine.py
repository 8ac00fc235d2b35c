"""Run the rules, decide the outcome, explain it.

``evaluate`` is pure: same persona, draft and context, same findings. Run it at every stage
(compose, schedule, approve, publish): the moment moves, windows open, counts change.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from personas.policy.model import SEVERITY_ORDER, Finding, PolicyAccount, PolicyContext, PolicyDraft
from personas.policy.registry import REGISTRY, Facts, Rule, resolve_settings, rule_params
from personas.policy.text import clear_caches
from personas.schema import PersonaFile, RuleSetting, Severity


def evaluate(
    persona: PersonaFile,
    draft: PolicyDraft,
    context: PolicyContext,
    *,
    account: PolicyAccount | None = None,
    rules: Mapping[str, Rule[Any]] | None = None,
) -> list[Finding]:
    """Every finding of every enabled rule on ``draft``, most serious first.

    Pure, so the same inputs give the findings already computed: the composer checks the same
    draft again (a page shown again, a field left unchanged), a list shows each account's
    findings. The inputs' encoding is the key (every field, so any change is a new evaluation).
    """
    if rules is not None:
        return _evaluate(persona, draft, context, account=account, rules=rules)
    key = msgspec.json.encode((len(REGISTRY), persona, draft, context, account))
    if (found := _RECENT.get(key)) is None:
        found = tuple(_evaluate(persona, draft, context, account=account, rules=None))
        if len(_RECENT) >= _RECENT_SIZE:
            del _RECENT[next(iter(_RECENT))]  # the oldest
        _RECENT[key] = found
    return list(found)


#: the last evaluations, by their inputs (findings are frozen structs, shared by the callers)
_RECENT: dict[bytes, tuple[Finding, ...]] = {}
_RECENT_SIZE = 256


def forget(*, texts: bool = True) -> None:
    """Forget the evaluations kept (and the texts analysed): for tests that want the work done."""
    _RECENT.clear()
    if texts:
        clear_caches()


def _evaluate(
    persona: PersonaFile,
    draft: PolicyDraft,
    context: PolicyContext,
    *,
    account: PolicyAccount | None,
    rules: Mapping[str, Rule[Any]] | None,
) -> list[Finding]:
    facts = Facts(
        persona=persona,
        channel_policy=persona.channels.get(draft.channel),
        account=account,
        draft=draft,
        context=context,
    )
    settings = resolve_settings(persona.rules)
    findings: list[Finding] = []
    for spec in (rules if rules is not None else REGISTRY).values():
        setting = settings.get(spec.id)
        if not _applies(spec, setting, persona):
            continue
        for found in spec.check(facts, rule_params(spec, setting)):
            findings.append(_stamp(spec, found, setting))
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def _applies(spec: Rule[Any], setting: RuleSetting | None, persona: PersonaFile) -> bool:
    if setting is not None:
        return setting.enabled  # an explicit section switches a rule on for any kind of persona
    return persona.kind in spec.kinds


def _stamp(spec: Rule[Any], found: Finding, setting: RuleSetting | None) -> Finding:
    severity = found.severity
    # the persona's severity replaces the rule's, except for info guidance (it stays guidance)
    if setting is not None and setting.severity is not None and spec.severity_overridable and severity != Severity.INFO:
        severity = setting.severity
    return msgspec.structs.replace(
        found,
        rule=spec.id,
        catalogue=spec.catalogue,
        reference=found.reference or spec.reference,
        severity=severity,
    )


# --------------------------------------------------------------------------- outcome


class Outcome(enum.StrEnum):
    BLOCKED = "blocked"  # cannot be published as is
    NEEDS_REVIEW = "needs_review"  # a manager approves, with a reason recorded
    OK = "ok"


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """A manager's decision to lift the overridable blocks of one rule, with the reason recorded."""

    rule: str
    reason: str
    by: str | None = None  # staff id or name, for the audit log


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    blocking: tuple[Finding, ...] = ()  # blocks still in force
    to_review: tuple[Finding, ...] = ()  # reviews, and blocks lifted by an override (a manager signs)
    overridden: tuple[Finding, ...] = ()
    #: overrides that lifted nothing: no reason given, rule not overridable, or no such block
    refused_overrides: tuple[Override, ...] = ()


def decide(findings: Iterable[Finding], overrides: Iterable[Override] = ()) -> Verdict:
    """``blocked`` if any block stands; ``needs_review`` if any review, or any overridden block;
    else ``ok``. Warnings and infos never change the outcome."""
    findings = list(findings)
    valid = {o.rule: o for o in overrides if o.reason.strip()}
    blocking, overridden, to_review = [], [], []
    for found in findings:
        if found.severity == Severity.BLOCK:
            if found.overridable and found.rule in valid:
                overridden.append(found)
                to_review.append(found)
            else:
                blocking.append(found)
        elif found.severity == Severity.REVIEW:
            to_review.append(found)
    used = {f.rule for f in overridden}
    refused = tuple(o for o in overrides if o.rule not in used or not o.reason.strip())
    outcome = Outcome.BLOCKED if blocking else Outcome.NEEDS_REVIEW if to_review else Outcome.OK
    return Verdict(
        outcome=outcome,
        blocking=tuple(blocking),
        to_review=tuple(to_review),
        overridden=tuple(overridden),
        refused_overrides=refused,
    )


# --------------------------------------------------------------------------- explain

_LABELS = {
    "fr": {
        Outcome.BLOCKED: "BLOQUÉ : ne peut pas être publié en l'état",
        Outcome.NEEDS_REVIEW: "À VALIDER : un responsable doit approuver en notant la raison",
        Outcome.OK: "OK : peut être publié",
        Severity.BLOCK: "BLOQUANT",
        Severity.REVIEW: "À VALIDER",
        Severity.WARN: "ATTENTION",
        Severity.INFO: "INFO",
        "reference": "Référence",
        "fix": "Correction proposée",
        "overridable": "un responsable peut lever ce blocage en le justifiant",
        "overridden": "levé par dérogation",
        "refused": "Dérogation refusée (règle non dérogeable, sans raison, ou rien à lever)",
        "none": "Aucune remarque.",
    },
    "en": {
        Outcome.BLOCKED: "BLOCKED: cannot be published as is",
        Outcome.NEEDS_REVIEW: "NEEDS REVIEW: a manager must approve and record a reason",
        Outcome.OK: "OK: can be published",
        Severity.BLOCK: "BLOCK",
        Severity.REVIEW: "REVIEW",
        Severity.WARN: "WARNING",
        Severity.INFO: "INFO",
        "reference": "Reference",
        "fix": "Suggested fix",
        "overridable": "a manager may lift this block with a reason",
        "overridden": "lifted by override",
        "refused": "Override refused (rule not overridable, no reason, or nothing to lift)",
        "none": "No findings.",
    },
}


def explain(
    findings: Iterable[Finding],
    *,
    lang: str = "fr",
    overrides: Iterable[Override] = (),
    title: str | None = None,
) -> str:
    """A plain-text report for a person: the outcome, then every finding with its reference and fix."""
    english = lang.startswith("en")
    labels = _LABELS["en" if english else "fr"]
    colon = ":" if english else " :"  # French typography puts a space before the colon
    findings = list(findings)
    overrides = list(overrides)
    verdict = decide(findings, overrides)
    lifted = {id(f) for f in verdict.overridden}
    lines = [title] if title else []
    lines.append(str(labels[verdict.outcome]))
    if not findings:
        lines.append(str(labels["none"]))
    for found in findings:
        tag = f"{found.rule}" + (f" ({found.catalogue})" if found.catalogue else "")
        lines.append("")
        lines.append(f"[{labels[found.severity]}] {tag}")
        lines.append("  " + (found.message_en if english else found.message_fr))
        if found.reference:
            lines.append(f"  {labels['reference']}{colon} {found.reference}")
        if found.fix:
            lines.append(f"  {labels['fix']}{colon} {found.fix.original} → {found.fix.replacement}")
        if found.severity == Severity.BLOCK:
            if id(found) in lifted:
                lines.append(f"  ({labels['overridden']})")
            elif found.overridable:
                lines.append(f"  ({labels['overridable']})")
    for override in verdict.refused_overrides:
        lines.append("")
        lines.append(f"{labels['refused']}{colon} {override.rule}")
    return "\n".join(lines) + "\n"
