"""The engine gives exactly the findings the original engine gave, on a large and varied corpus.

``data/findings_corpus.json`` holds every input the policy tests evaluate plus 700 generated
drafts (both seed personas, every rule on, windows and eves), with the findings the engine gave
them before its text analysis was made faster (issue 15, B5): same rules, same order, same
messages, fixes, evidence and data. ``data/record_findings.py`` wrote it.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from personas.policy import REGISTRY
from personas.policy.text import clear_caches

from .data.record_findings import Case, load

CORPUS = load()


def test_the_corpus_is_varied() -> None:
    assert len(CORPUS.cases) >= 1000
    fired = Counter(CORPUS.findings[i].rule for case in CORPUS.cases for i in case.findings)
    # every text rule, and most of the others, says something somewhere in the corpus
    text_rules = {"emoji", "inclusive_writing", "promotion_lexicon", "first_person", "hashtag_case", "typography"}
    assert text_rules <= set(fired)
    assert len(fired) >= len(REGISTRY) - 2, sorted(set(REGISTRY) - set(fired))


def _id(case: Case) -> str:
    return f"{case.draft.channel}:{case.draft.text[:30]!r}"


@pytest.mark.parametrize("case", CORPUS.cases, ids=[f"{n}-{_id(c)}" for n, c in enumerate(CORPUS.cases)])
def test_the_engine_gives_the_recorded_findings(case: Case) -> None:
    found = msgspec.to_builtins(CORPUS.evaluate(case))
    assert found == msgspec.to_builtins(CORPUS.expected(case))
    # exact types too (an int where a float was): the JSON the API sends is the same
    assert msgspec.json.encode(CORPUS.evaluate(case)) == msgspec.json.encode(CORPUS.expected(case))


def test_the_findings_do_not_depend_on_what_was_evaluated_before() -> None:
    """The per-text analysis is cached: evaluating in another order, cache cold, gives the same."""
    clear_caches()
    for case in reversed(CORPUS.cases):
        assert msgspec.json.encode(CORPUS.evaluate(case)) == msgspec.json.encode(CORPUS.expected(case)), _id(case)
