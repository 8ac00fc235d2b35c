"""Fault runs R1–R4 against the distributed mode: PostgreSQL and a Redis server started here on
ports of their own, ``portevoix serve`` and two ``portevoix worker`` processes, four accounts on
fake networks (X, LinkedIn, Mastodon, Facebook) behind a chaos proxy, all on 127.0.0.1.

    .venv/bin/python scripts/fault_run.py [--deliveries 1000] [--seeds 1 2 3] [--scenario R1 R2 R3 R4]

R1  workers SIGKILLed at random moments, restarted at once (as a supervisor would)
R2  Redis flushed (FLUSHALL), then Redis stopped for 20 s and started again
R3  a chaotic network: 30 % of answers 500, timeouts, answers after the client's timeout although
    the post was made, 429 with a reset the network enforces, dropped connections
R4  PostgreSQL restarted twice: at once (pg_ctl stop -m fast; start), then after 10 s down

Each run prints one line — scenario, seed, deliveries, faults, duplicates, lost, wrong ids, stuck,
drain time, 5xx, worker exits, requests inside a 429's window — and the exit status is 1 when any
run found a problem. A failed run keeps its folder (processes' logs, report.txt with every
problem found); --keep keeps them all. Bounded: each run waits at most --settle seconds after its
faults; Ctrl-C stops everything the run started.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.harness import SCENARIOS, Plan, RunResult, run  # noqa: E402
from tests.reliability.services import missing_tools  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=1000, help="deliveries per run (default 1000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="one run per seed and scenario")
    parser.add_argument("--scenario", nargs="+", default=list(SCENARIOS), choices=SCENARIOS, metavar="R")
    parser.add_argument("--settle", type=float, default=None, help="seconds to wait, at most, after the faults")
    parser.add_argument("--fast", action="store_true", help="the test suite's short variants")
    parser.add_argument("--keep", action="store_true", help="keep every run's folder, not only the failed ones")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every problem found, not only the line")
    arguments = parser.parse_args()
    if not 1 <= arguments.deliveries <= 20_000:
        parser.error("--deliveries: between 1 and 20000")
    return arguments


def _plan(arguments: argparse.Namespace, scenario: str, seed: int) -> Plan:
    if arguments.fast:
        plan = Plan.fast(scenario, seed)
    else:
        plan = Plan.full(scenario, seed, arguments.deliveries)
    if arguments.settle is not None:
        from dataclasses import replace

        plan = replace(plan, settle_s=arguments.settle)
    return plan


async def _one(plan: Plan, keep: bool) -> RunResult:
    folder = Path(tempfile.mkdtemp(prefix=f"portevoix-fault-{plan.scenario}-{plan.seed}-"))
    result = await run(plan, folder)
    if result.ok and not keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result.details.insert(0, f"folder: {folder}")
    return result


async def main(arguments: argparse.Namespace) -> int:
    failed = 0
    for scenario in arguments.scenario:
        for seed in arguments.seeds:
            result = await _one(_plan(arguments, scenario, seed), arguments.keep)
            print(result.line(), flush=True)
            if arguments.verbose or not result.ok:
                details = result.details if arguments.verbose else result.details[:1]
                print("\n".join(f"    {line}" for line in details), flush=True)
            failed += not result.ok
    return 1 if failed else 0


def _stop_on_sigterm() -> None:
    # SIGTERM unwinds like Ctrl-C: every run stops what it started in its ``finally``.
    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    args = _arguments()
    missing = missing_tools()
    if missing:
        sys.exit(f"fault_run: missing {', '.join(missing)} (PostgreSQL's initdb and pg_ctl, redis-server)")
    _stop_on_sigterm()
    try:
        sys.exit(asyncio.run(main(args)))
    except KeyboardInterrupt:
        sys.exit(130)
