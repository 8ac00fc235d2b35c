"""The volume-spike detector: is the last day's count of a persona's watch items far above normal?

Pure functions over timestamps, no database (``core.veille.crisis`` feeds them). The rule and its
defaults come from the tools the reference compared (``inbox-usage-veille.md`` §3.1):

- Socialmetrix: the last 24 hours against the last 7 days' mean + k·σ, k = 1.5 / 2 / 3, checked
  hourly. Huginn's PeakDetectorAgent: newest value > mean + 3σ, and at least ``min_events`` (4).
  So: ``last24 > mean + k·σ`` of the seven previous 24-hour windows, k = 3, at least 4 events.
- Vista Social: a cool-down of 60 minutes between two alerts (:func:`cooled_down`).

One guard of our own (a design choice, said in docs/veille.md): counts of independent events
are Poisson-like, whose spread is √mean, so σ is never taken below √mean. Without it a week of
exactly ten items a day (σ = 0) would call eleven a spike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec

DAY = timedelta(hours=24)
#: Socialmetrix's baseline: the seven days before the last 24 hours
BASELINE_DAYS = 7
#: Socialmetrix's "high" sensitivity and PeakDetector's default
K = 3.0
#: PeakDetector's ``min_events``: below this a last day is never a spike
MIN_EVENTS = 4
#: Vista Social's default cool-down
COOLDOWN = timedelta(minutes=60)


class SpikeParams(msgspec.Struct, frozen=True, kw_only=True):
    k: float = K
    baseline_days: int = BASELINE_DAYS
    min_events: int = MIN_EVENTS
    cooldown: timedelta = COOLDOWN


class Spike(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict and the figures behind it (what the alert and the posture page show)."""

    spike: bool
    last24: int
    #: the previous days' counts, the most recent first
    baseline: tuple[int, ...]
    mean: float
    sigma: float
    threshold: float
    k: float


def windows(times: Iterable[datetime], now: datetime, days: int = BASELINE_DAYS) -> tuple[int, tuple[int, ...]]:
    """Count ``times`` in 24-hour windows ending at ``now``: the last one, and the ``days`` before it
    (most recent first). A window holds (start, end]; the future and older times are left out."""
    counts = [0] * (days + 1)
    for moment in times:
        age = now - moment
        if age < timedelta(0):
            continue
        index = math.ceil(age / DAY) - 1 if age > timedelta(0) else 0
        if index <= days:
            counts[index] += 1
    return counts[0], tuple(counts[1:])


def detect(last24: int, baseline: Sequence[int], params: SpikeParams | None = None) -> Spike:
    """Whether ``last24`` is a spike against ``baseline`` (the previous days' counts)."""
    params = params or SpikeParams()
    mean = sum(baseline) / len(baseline) if baseline else 0.0
    sigma = math.sqrt(sum((c - mean) ** 2 for c in baseline) / len(baseline)) if baseline else 0.0
    spread = max(sigma, math.sqrt(mean))
    threshold = mean + params.k * spread
    return Spike(
        spike=last24 >= params.min_events and last24 > threshold,
        last24=last24,
        baseline=tuple(baseline),
        mean=round(mean, 2),
        sigma=round(sigma, 2),
        threshold=round(threshold, 2),
        k=params.k,
    )


def spike_at(times: Iterable[datetime], now: datetime, params: SpikeParams | None = None) -> Spike:
    """:func:`detect` over the events at ``times``, the window ending at ``now``."""
    params = params or SpikeParams()
    last24, baseline = windows(times, now, params.baseline_days)
    return detect(last24, baseline, params)


def cooled_down(last_raised: datetime | None, now: datetime, params: SpikeParams | None = None) -> bool:
    """May a spike alert be raised again? Not within the cool-down of the previous one."""
    params = params or SpikeParams()
    return last_raised is None or now - last_raised >= params.cooldown
