"""The labelled corpus (tests/policy/corpus/*.toml) through the engine, post by post.

Every post must get exactly its label: the expected findings (highest severity per rule, above
info), less the misses the corpus admits (``known_misses``), plus the false alarms it admits
(``known_false_alarms``). A harmless post gets nothing above info, with no exception. The table
in docs/policy.md must be the one the corpus gives today.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .corpus.measure import DOCS, CorpusPost, Result, docs_section, labels, load_corpus, markdown, run_corpus

POSTS = load_corpus()
RESULTS = {r.post.id: r for r in run_corpus(POSTS)}


def test_the_corpus_is_large_and_covers_both_personas_windows_and_kinds_of_case() -> None:
    assert len(POSTS) >= 200
    assert len({p.id for p in POSTS}) == len(POSTS), "ids are unique"
    coverage = Counter((r.post.persona, r.period != "outside") for r in RESULTS.values())
    for persona in ("region-occitanie", "presidente-region"):
        assert coverage[(persona, False)] >= 20 and coverage[(persona, True)] >= 40
    periods = Counter(r.period for r in RESULTS.values())
    assert {"outside", "presidentielle-2027", "regionales-2028", "eve"} <= set(periods)
    cases = Counter(p.case for p in POSTS)
    assert set(cases) == {"obvious", "borderline"} and cases["borderline"] >= 50
    assert sum(p.harmless for p in POSTS) >= 80 and sum(not p.harmless for p in POSTS) >= 80


@pytest.mark.parametrize("post", POSTS, ids=[p.id for p in POSTS])
def test_labels_are_consistent(post: CorpusPost) -> None:
    expected = labels(post.expected)
    assert post.harmless == (not expected), "harmless means nothing expected above info"
    assert labels(post.known_misses) <= expected
    assert not labels(post.known_false_alarms) & expected
    if post.harmless:
        assert not post.known_false_alarms, "no false alarm is tolerated on a harmless post"
    assert post.case in ("obvious", "borderline")
    assert post.scheduled_at is not None


@pytest.mark.parametrize("post", POSTS, ids=[p.id for p in POSTS])
def test_the_engine_gives_each_post_its_label(post: CorpusPost) -> None:
    result: Result = RESULTS[post.id]
    if post.harmless:
        assert result.found == frozenset(), f"harmless post {post.id} got {sorted(result.found)}: {post.text!r}"
    wanted = (result.expected - labels(post.known_misses)) | labels(post.known_false_alarms)
    assert result.found == wanted, (
        f"{post.id}: found {sorted(result.found)}, label {sorted(wanted)}"
        f" (missing {sorted(wanted - result.found)}, unexpected {sorted(result.found - wanted)}): {post.text!r}"
    )


def test_the_table_in_docs_policy_md_is_current() -> None:
    table = markdown(list(RESULTS.values()))
    assert docs_section(DOCS.read_text(encoding="utf-8")) == table, (
        "refresh it: .venv/bin/python -m tests.policy.corpus.measure --write-docs"
    )
