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

from personas.policy import REGISTRY, PolicyDraft, engine
from personas.policy.engine import forget

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
    forget(texts=False)  # the rules run (texts and lines analysed before stay, as in use)
    found = msgspec.to_builtins(CORPUS.evaluate(case))
    assert found == msgspec.to_builtins(CORPUS.expected(case))
    # exact types too (an int where a float was): the JSON the API sends is the same
    assert msgspec.json.encode(CORPUS.evaluate(case)) == msgspec.json.encode(CORPUS.expected(case))


def test_the_findings_do_not_depend_on_what_was_evaluated_before() -> None:
    """The per-text analysis is cached: evaluating in another order, cache cold, gives the same."""
    forget()
    for case in reversed(CORPUS.cases):
        forget(texts=False)
        assert msgspec.json.encode(CORPUS.evaluate(case)) == msgspec.json.encode(CORPUS.expected(case)), _id(case)


def test_an_evaluation_is_kept_and_any_change_makes_a_new_one() -> None:
    case = next(c for c in CORPUS.cases if c.draft.text and len(c.findings) > 2)
    forget()
    first = CORPUS.evaluate(case)
    assert CORPUS.evaluate(case) == first  # kept: the same findings, the rules not run again
    assert len(engine._RECENT) == 1
    changed = msgspec.structs.replace(case, draft=msgspec.structs.replace(case.draft, text=case.draft.text + " 😀"))
    CORPUS.evaluate(changed)
    assert len(engine._RECENT) == 2  # a new evaluation, kept beside the first
    unchanged = msgspec.structs.replace(case, draft=PolicyDraft(**msgspec.structs.asdict(case.draft)))
    assert CORPUS.evaluate(unchanged) == first
    assert len(engine._RECENT) == 2  # equal inputs, built anew: the kept evaluation
