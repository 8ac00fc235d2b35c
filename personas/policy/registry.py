"""The rule registry: a rule is one function and one registration.

A rule is a pure function ``check(facts, params) -> list[Finding]``. ``facts`` bundles the
persona, its policy for the draft's channel, the account, the draft and the context, plus a
few things computed once per evaluation (local time, open election windows). ``params`` is the
rule's own msgspec Struct, decoded from the persona file's ``[rules.<id>] params``.

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        limit: int = 3

    @rule("my_rule", severity=Severity.WARN, params=Params, summary="…")
    def my_rule(facts: Facts, params: Params) -> list[Finding]:
        return [finding(Severity.WARN, "…", "…")] if … else []
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from personas.policy.elections import OpenWindow, open_windows
from personas.policy.model import Finding, Fix, PolicyAccount, PolicyContext, PolicyDraft
from personas.schema import ChannelPolicy, PersonaFile, PersonaKind, RuleSetting, Severity


class NoParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """For rules that take no parameters: any key in ``params`` is an error."""


P = TypeVar("P", bound=msgspec.Struct)
Check = Callable[["Facts", Any], list[Finding]]


@dataclass(frozen=True)
class Rule(Generic[P]):
    id: str
    check: Callable[[Facts, P], list[Finding]]
    severity: Severity  # the usual severity, for docs and listings (a rule may emit several)
    summary: str
    params: type[P]
    catalogue: str | None = None  # the research note's id(s): "A1", "E1/E2"
    reference: str | None = None
    #: persona kinds the rule runs for unless the persona file has an explicit [rules.<id>]
    kinds: frozenset[PersonaKind] = frozenset(PersonaKind)
    #: False for rules whose levels come from the law: a persona may switch them off, not soften them
    severity_overridable: bool = True


REGISTRY: dict[str, Rule[Any]] = {}


def rule(
    rule_id: str,
    *,
    severity: Severity,
    summary: str,
    params: type[Any] = NoParams,
    catalogue: str | None = None,
    reference: str | None = None,
    kinds: frozenset[PersonaKind] | None = None,
    severity_overridable: bool = True,
) -> Callable[[Check], Check]:
    """Register ``check`` under ``rule_id`` (its position in the registry orders the report)."""

    def register(check: Check) -> Check:
        if rule_id in REGISTRY or rule_id in ALIASES:
            raise ValueError(f"rule {rule_id!r} registered twice")
        REGISTRY[rule_id] = Rule(
            id=rule_id,
            check=check,
            severity=severity,
            summary=summary,
            params=params,
            catalogue=catalogue,
            reference=reference,
            kinds=kinds if kinds is not None else frozenset(PersonaKind),
            severity_overridable=severity_overridable,
        )
        for alias in (catalogue or "").split("/"):
            if alias:
                ALIASES.setdefault(alias, rule_id)
        return check

    return register


#: catalogue id ("A1") -> rule id ("alt_text"); a persona file may use either
ALIASES: dict[str, str] = {}


def finding(
    severity: Severity,
    message_fr: str,
    message_en: str,
    *,
    overridable: bool = True,
    fix: Fix | None = None,
    evidence: str | None = None,
    reference: str | None = None,
    data: dict[str, Any] | None = None,
) -> Finding:
    return Finding(
        severity=severity,
        message_fr=message_fr,
        message_en=message_en,
        overridable=overridable,
        fix=fix,
        evidence=evidence,
        reference=reference,
        data=data or {},
    )


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Facts:
    """What every rule reads. Built once per evaluation by :func:`personas.policy.evaluate`."""

    persona: PersonaFile
    channel_policy: ChannelPolicy | None
    account: PolicyAccount | None
    draft: PolicyDraft
    context: PolicyContext

    @cached_property
    def local_moment(self) -> datetime:
        moment = self.context.moment
        zone = ZoneInfo(self.persona.timezone)
        # a naive moment is read as the persona's local time (what a person types in a file)
        return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)

    @property
    def local_day(self) -> date:
        return self.local_moment.date()

    @property
    def is_institution(self) -> bool:
        return self.persona.kind == PersonaKind.INSTITUTION

    @cached_property
    def windows(self) -> list[OpenWindow]:
        """Election windows open on the local day, with E2 scope for this persona."""
        return open_windows(self.context.elections, self.persona, self.local_day)

    @property
    def scoped_windows(self) -> list[OpenWindow]:
        return [w for w in self.windows if w.in_scope]

    @property
    def candidate_windows(self) -> list[OpenWindow]:
        return [w for w in self.windows if w.candidate]

    @cached_property
    def full_text(self) -> str:
        """Title, text and link: everything the public reads."""
        return "\n".join(part for part in (self.draft.title, self.draft.text, self.draft.link) if part)


# --------------------------------------------------------------------------- settings


def resolve_settings(settings: Mapping[str, RuleSetting]) -> dict[str, RuleSetting]:
    """Persona-file keys (rule ids or catalogue aliases) -> rule ids. Unknown keys are dropped
    here; :func:`setting_problems` reports them when the file is loaded."""
    resolved: dict[str, RuleSetting] = {}
    for key, setting in settings.items():
        rule_id = key if key in REGISTRY else ALIASES.get(key)
        if rule_id is not None:
            resolved[rule_id] = setting
    return resolved


def setting_problems(settings: Mapping[str, RuleSetting]) -> list[tuple[str, str]]:
    """Problems of a persona file's ``[rules.*]`` sections, as (field, reason) pairs."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for key, setting in settings.items():
        where = f"$.rules.{key}"
        rule_id = key if key in REGISTRY else ALIASES.get(key)
        if rule_id is None:
            known = ", ".join(sorted(REGISTRY))
            problems.append((where, f"unknown rule id {key!r}; known: {known} (or a catalogue id such as A1)"))
            continue
        if rule_id in seen:
            problems.append((where, f"{key!r} and {seen[rule_id]!r} are the same rule; keep one section"))
        seen[rule_id] = key
        spec = REGISTRY[rule_id]
        if setting.severity is not None and not spec.severity_overridable:
            problems.append(
                (f"{where}.severity", f"rule {rule_id!r} takes its severity from the law; switch it off instead")
            )
        try:
            msgspec.convert(setting.params, type=spec.params)
        except msgspec.ValidationError as exc:
            # the field stays "...params" (the loader can point at that line); the key inside goes in the reason
            reason, _, path = str(exc).partition(" - at `")
            inner = path.rstrip("`").removeprefix("$").lstrip(".")
            problems.append((f"{where}.params", f"{inner}: {reason}" if inner else reason))
    return problems


def rule_params(rule_spec: Rule[P], setting: RuleSetting | None) -> P:
    if setting is None or not setting.params:
        return _default_params(rule_spec.params)  # most rules, at every evaluation
    return msgspec.convert(setting.params, type=rule_spec.params)


@functools.lru_cache(maxsize=256)
def _default_params(params: type[P]) -> P:
    # frozen structs: one default instance can be shared
    return msgspec.convert({}, type=params)
