"""Run the policy engine on the labelled corpus and measure precision and recall per rule.

    .venv/bin/python -m tests.policy.corpus.measure              # the table, in Markdown
    .venv/bin/python -m tests.policy.corpus.measure --posts      # every post that differs from its label
    .venv/bin/python -m tests.policy.corpus.measure --write-docs # refresh the table in docs/policy.md

A post's *findings* are, for each rule that reports something above ``info``, the rule and its
most serious severity (what decides the outcome). For each rule, over every post:
true positives are found and expected, false alarms are found and not expected, misses are
expected and not found. Precision = TP / (TP + false alarms), recall = TP / (TP + misses); a
finding at the wrong severity is both a false alarm and a miss.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from personas.loader import SEED_DIR, load_dir
from personas.policy import REGISTRY, DraftFile, Election, Finding, default_elections, draft_file_inputs, evaluate
from personas.policy.model import SEVERITY_ORDER
from personas.schema import PersonaFile, Severity

CORPUS_DIR = Path(__file__).resolve().parent
DOCS = CORPUS_DIR.parents[2] / "docs" / "policy.md"
BEGIN, END = "<!-- corpus-table:begin -->", "<!-- corpus-table:end -->"
CHANNELS = ("facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon")
FORMATS = ("post", "photo", "video", "reel", "story", "carousel")
SEVERITIES = tuple(s.value for s in Severity if s != Severity.INFO)

Label = tuple[str, str]  # (rule id, severity)


class CorpusPost(DraftFile, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A draft file (what `portevoix policy explain` reads) plus its label."""

    id: str
    persona: str
    case: str  # "obvious" or "borderline"
    expected: tuple[str, ...] = ()  # "rule:severity", above info
    harmless: bool = False
    known_misses: tuple[str, ...] = ()  # expected, not found by the engine yet
    known_false_alarms: tuple[str, ...] = ()  # found by the engine, not expected
    note: str | None = None


class CorpusFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    posts: tuple[CorpusPost, ...]


def parse_label(label: str) -> Label:
    rule, _, severity = label.partition(":")
    if rule not in REGISTRY or severity not in SEVERITIES:
        raise ValueError(f"bad label {label!r}: want rule:severity with a known rule and {'/'.join(SEVERITIES)}")
    return rule, severity


def labels(items: tuple[str, ...]) -> frozenset[Label]:
    parsed = [parse_label(item) for item in items]
    rules = [rule for rule, _ in parsed]
    if len(set(rules)) != len(rules):
        raise ValueError(f"one label per rule (its most serious severity): {items}")
    return frozenset(parsed)


def worst_per_rule(findings: list[Finding]) -> frozenset[Label]:
    """Each rule reporting above info, with its most serious severity."""
    worst: dict[str, Severity] = {}
    for found in findings:
        if found.severity == Severity.INFO:
            continue
        if found.rule not in worst or SEVERITY_ORDER[found.severity] < SEVERITY_ORDER[worst[found.rule]]:
            worst[found.rule] = found.severity
    return frozenset((rule, severity.value) for rule, severity in worst.items())


def load_corpus(directory: Path = CORPUS_DIR) -> list[CorpusPost]:
    posts: list[CorpusPost] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            posts += msgspec.toml.decode(path.read_bytes(), type=CorpusFile).posts
        except msgspec.ValidationError as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
    return posts


def seed_personas() -> dict[str, PersonaFile]:
    return {p.slug: p for p in load_dir(SEED_DIR, known_channels=CHANNELS, known_formats=FORMATS)}


@dataclass(frozen=True)
class Result:
    post: CorpusPost
    found: frozenset[Label]
    expected: frozenset[Label]
    period: str

    @property
    def false_alarms(self) -> frozenset[Label]:
        return self.found - self.expected

    @property
    def misses(self) -> frozenset[Label]:
        return self.expected - self.found


def period_of(moment: datetime, elections: tuple[Election, ...], zone: ZoneInfo) -> str:
    """ "eve" (from 00:00 the day before a round to 20:00 on the day), an election id whose window is
    open, or "outside"."""
    local = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    for election in elections:
        for day in election.rounds:
            start = datetime.combine(day - timedelta(days=1), time(0, 0), zone)
            if start <= local < datetime.combine(day, time(20, 0), zone):
                return "eve"
    for election in elections:
        if election.start <= local.date() <= election.decisive:
            return election.id
    return "outside"


def run_corpus(posts: list[CorpusPost] | None = None) -> list[Result]:
    posts = load_corpus() if posts is None else posts
    personas = seed_personas()
    elections = default_elections()
    results = []
    for post in posts:
        persona = personas[post.persona]
        if post.scheduled_at is None:
            raise ValueError(f"{post.id}: scheduled_at is required in the corpus")
        draft, context = draft_file_inputs(post, now=post.scheduled_at, elections=elections)
        findings = evaluate(persona, draft, context)
        found = worst_per_rule(findings)
        period = period_of(post.scheduled_at, elections, ZoneInfo(persona.timezone))
        results.append(Result(post=post, found=found, expected=labels(post.expected), period=period))
    return results


@dataclass
class Score:
    tp: int = 0
    false_alarms: int = 0
    misses: int = 0
    harmless_alarms: int = 0  # false alarms on harmless posts
    severities: Counter[str] = field(default_factory=Counter)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.false_alarms) if self.tp + self.false_alarms else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.misses) if self.tp + self.misses else None


def scores(results: list[Result]) -> dict[str, Score]:
    table = {rule: Score() for rule in REGISTRY}
    for result in results:
        for rule, severity in result.found & result.expected:
            table[rule].tp += 1
            table[rule].severities[severity] += 1
        for rule, _ in result.false_alarms:
            table[rule].false_alarms += 1
            table[rule].harmless_alarms += result.post.harmless
        for rule, _ in result.misses:
            table[rule].misses += 1
    return table


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def markdown(results: list[Result]) -> str:
    table = scores(results)
    posts = [r.post for r in results]
    harmless = [r for r in results if r.post.harmless]
    coverage = Counter((r.post.persona, r.period) for r in results)
    periods = ["outside", *(e.id for e in default_elections() if any(r.period == e.id for r in results)), "eve"]
    lines = [
        f"{len(posts)} posts: {sum(p.persona == 'region-occitanie' for p in posts)} of the institution, "
        f"{sum(p.persona == 'presidente-region' for p in posts)} of the president; "
        f"{sum(p.case == 'obvious' for p in posts)} obvious, {sum(p.case == 'borderline' for p in posts)} "
        f"borderline; {len(harmless)} harmless, of which "
        f"{sum(1 for r in harmless if r.found)} get a finding above info.",
        "",
        "| persona | " + " | ".join(periods) + " |",
        "|---|" + "---:|" * len(periods),
    ]
    for slug in ("region-occitanie", "presidente-region"):
        lines.append(f"| {slug} | " + " | ".join(str(coverage[(slug, p)]) for p in periods) + " |")
    lines += [
        "",
        "| rule | expected | found | true positives | false alarms | misses | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rule, score in table.items():
        expected, found = score.tp + score.misses, score.tp + score.false_alarms
        if not expected and not found:
            continue
        lines.append(
            f"| `{rule}` | {expected} | {found} | {score.tp} | {score.false_alarms} | {score.misses} "
            f"| {_ratio(score.precision)} | {_ratio(score.recall)} |"
        )
    total = Score(
        tp=sum(s.tp for s in table.values()),
        false_alarms=sum(s.false_alarms for s in table.values()),
        misses=sum(s.misses for s in table.values()),
    )
    lines.append(
        f"| **all rules** | {total.tp + total.misses} | {total.tp + total.false_alarms} | {total.tp} "
        f"| {total.false_alarms} | {total.misses} | {_ratio(total.precision)} | {_ratio(total.recall)} |"
    )
    return "\n".join(lines) + "\n"


def differences(results: list[Result]) -> str:
    lines = []
    for r in results:
        if r.found == r.expected:
            continue
        lines.append(f"{r.post.id} [{r.period}] {r.post.text[:90]!r}")
        for rule, severity in sorted(r.false_alarms):
            lines.append(f"    false alarm  {rule}:{severity}")
        for rule, severity in sorted(r.misses):
            lines.append(f"    miss         {rule}:{severity}")
    return "\n".join(lines) + ("\n" if lines else "")


def docs_section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def write_docs(table: str, path: Path = DOCS) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", action="store_true", help="list the posts whose findings differ from the label")
    parser.add_argument("--write-docs", action="store_true", help="refresh the table in docs/policy.md")
    args = parser.parse_args(argv)
    results = run_corpus()
    table = markdown(results)
    if args.posts:
        sys.stdout.write(differences(results))
    else:
        sys.stdout.write(table)
    if args.write_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
