"""The volume-spike detector on synthetic series: one that fires, flat ones that do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.veille import spike

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _series(per_day: list[int]) -> list[datetime]:
    """``per_day[0]`` events in the last 24 hours, ``per_day[i]`` in the i-th day before, spread evenly."""
    times = []
    for day, count in enumerate(per_day):
        for n in range(count):
            times.append(NOW - timedelta(hours=24 * day) - timedelta(minutes=1 + n * (24 * 60 - 2) // max(count, 1)))
    return times


def test_windows_count_the_last_day_and_the_seven_before() -> None:
    last24, baseline = spike.windows(_series([5, 1, 2, 3, 4, 5, 6, 7, 99]), NOW)
    assert last24 == 5
    assert baseline == (1, 2, 3, 4, 5, 6, 7)  # the ninth day is outside the baseline


def test_window_edges_and_the_future() -> None:
    times = [NOW, NOW - timedelta(hours=24), NOW - timedelta(hours=24, seconds=1), NOW + timedelta(minutes=5)]
    last24, baseline = spike.windows(times, NOW)
    assert (last24, baseline[0]) == (2, 1)


def test_a_burst_after_a_quiet_week_fires() -> None:
    verdict = spike.spike_at(_series([40, 9, 11, 10, 12, 8, 10, 10]), NOW)
    assert verdict.spike
    assert verdict.last24 == 40
    assert verdict.mean == 10.0
    assert verdict.threshold < 40


def test_a_flat_series_does_not_fire() -> None:
    verdict = spike.spike_at(_series([10, 10, 10, 10, 10, 10, 10, 10]), NOW)
    assert not verdict.spike
    assert verdict.sigma == 0.0


def test_sigma_is_never_below_the_square_root_of_the_mean() -> None:
    # σ = 0: without the Poisson floor, 11 against ten a day would be a spike
    assert not spike.detect(11, [10] * 7).spike
    assert spike.detect(11, [10] * 7).threshold == round(10 + 3 * 10**0.5, 2)
    assert spike.detect(20, [10] * 7).spike


def test_a_noisy_week_needs_more() -> None:
    noisy = [2, 30, 5, 25, 3, 28, 6]
    assert not spike.detect(40, noisy).spike
    assert spike.detect(40, noisy, spike.SpikeParams(k=1.5)).spike  # Socialmetrix's "low" sensitivity


def test_min_events() -> None:
    # a persona with nothing for a week: three items are not a crisis, four may be
    assert not spike.detect(3, [0] * 7).spike
    assert spike.detect(4, [0] * 7).spike
    assert not spike.detect(0, []).spike


def test_cool_down() -> None:
    assert spike.cooled_down(None, NOW)
    assert not spike.cooled_down(NOW - timedelta(minutes=59), NOW)
    assert spike.cooled_down(NOW - timedelta(minutes=60), NOW)
    assert not spike.cooled_down(NOW - timedelta(minutes=90), NOW, spike.SpikeParams(cooldown=timedelta(hours=2)))
