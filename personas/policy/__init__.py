"""The editorial policy engine: pure rules over (persona, channel policy, account, draft, context).

Public API (what ``core`` calls):

- :func:`evaluate` (persona, draft, context, account=None) -> list[Finding]
- :func:`decide` (findings, overrides) -> Verdict (outcome ``blocked`` / ``needs_review`` / ``ok``)
- :func:`explain` (findings, lang="fr", overrides=()) -> str
- :func:`load_elections`, :func:`default_elections`, :func:`l52_1_start`, :func:`open_windows`
- :func:`load_draft_file`, :func:`draft_file_inputs` for ``portevoix policy explain``
- :func:`setting_problems` (persona.rules) -> [(field, reason)], called by the persona loader
- :data:`REGISTRY` (rule id -> Rule) and :data:`ALIASES` (catalogue id -> rule id)

This package imports nothing from ``core``, ``web`` or the database.
"""

from personas.policy import rules as _rules  # noqa: F401 - registers the built-in rules
from personas.policy.draftfile import DraftFile, DraftFileError, draft_file_inputs, load_draft_file
from personas.policy.elections import (
    Election,
    ElectionKind,
    ElectionsFileError,
    OpenWindow,
    default_elections,
    in_scope,
    l52_1_start,
    load_elections,
    open_windows,
    parse_elections,
)
from personas.policy.engine import Outcome, Override, Verdict, decide, evaluate, explain
from personas.policy.model import (
    AssetOrigin,
    DayCount,
    Employer,
    Finding,
    Fix,
    MediaInput,
    NetworkViolation,
    Novelty,
    PolicyAccount,
    PolicyContext,
    PolicyDraft,
    Regularity,
    RepostOf,
    Severity,
    Stage,
    WatchOrigin,
)
from personas.policy.registry import ALIASES, REGISTRY, Facts, NoParams, Rule, finding, rule, setting_problems

__all__ = [
    "ALIASES",
    "REGISTRY",
    "AssetOrigin",
    "DayCount",
    "DraftFile",
    "DraftFileError",
    "Election",
    "ElectionKind",
    "ElectionsFileError",
    "Employer",
    "Facts",
    "Finding",
    "Fix",
    "MediaInput",
    "NetworkViolation",
    "NoParams",
    "Novelty",
    "OpenWindow",
    "Outcome",
    "Override",
    "PolicyAccount",
    "PolicyContext",
    "PolicyDraft",
    "Regularity",
    "RepostOf",
    "WatchOrigin",
    "Rule",
    "Severity",
    "Stage",
    "Verdict",
    "decide",
    "default_elections",
    "draft_file_inputs",
    "evaluate",
    "explain",
    "finding",
    "in_scope",
    "l52_1_start",
    "load_draft_file",
    "load_elections",
    "open_windows",
    "parse_elections",
    "rule",
    "setting_problems",
]
