"""The business-time clock: working days and hours in the persona's zone, French holidays skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.inbox.clock import BusinessClock
from personas.schema import BusinessHours

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3600.0


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(scope="module")
def clock() -> BusinessClock:
    """Hootsuite's example hours: Monday to Friday, 09:00–17:00, in Paris."""
    return BusinessClock(BusinessHours(), "Europe/Paris")


def test_hootsuite_example_friday_16_45_plus_30_minutes_is_monday_09_15(clock: BusinessClock) -> None:
    due = clock.add(paris(2026, 6, 12, 16, 45), 30 * 60)  # a Friday, no holiday on the Monday
    assert due == paris(2026, 6, 15, 9, 15)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 6, 15, 7, 15, tzinfo=UTC)


def test_within_the_day_and_up_to_closing_time(clock: BusinessClock) -> None:
    assert clock.add(paris(2026, 6, 10, 10, 0), 2 * HOUR) == paris(2026, 6, 10, 12, 0)
    # a target ending exactly at closing is due at closing, not at the next opening
    assert clock.add(paris(2026, 6, 10, 16, 0), HOUR) == paris(2026, 6, 10, 17, 0)
    assert clock.add(paris(2026, 6, 10, 16, 0), HOUR + 1) == paris(2026, 6, 11, 9, 0, 1)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (paris(2026, 6, 10, 22, 30), paris(2026, 6, 11, 9, 30)),  # at night: the clock starts at 09:00
        (paris(2026, 6, 11, 3, 0), paris(2026, 6, 11, 9, 30)),  # before opening
        (paris(2026, 6, 14, 11, 0), paris(2026, 6, 15, 9, 30)),  # a Sunday
        (paris(2026, 6, 13, 11, 0), paris(2026, 6, 15, 9, 30)),  # a Saturday
        (paris(2026, 6, 12, 17, 0), paris(2026, 6, 15, 9, 30)),  # Friday at closing time
    ],
)
def test_outside_business_hours_the_clock_starts_at_the_next_opening(
    clock: BusinessClock, received: datetime, due: datetime
) -> None:
    assert clock.add(received, 30 * 60) == due
    assert clock.between(received, due) == 30 * 60


def test_zero_target_outside_hours_is_the_next_opening(clock: BusinessClock) -> None:
    assert clock.add(paris(2026, 6, 13, 11, 0), 0) == paris(2026, 6, 15, 9, 0)
    assert clock.add(paris(2026, 6, 10, 11, 0), 0) == paris(2026, 6, 10, 11, 0)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Christmas Day 2026 is a Friday: Thursday 16:30 + 1 h runs to Monday 28th 09:30
        (paris(2026, 12, 24, 16, 30), paris(2026, 12, 28, 9, 30)),
        (paris(2026, 12, 25, 10, 0), paris(2026, 12, 28, 10, 0)),
        # 1 May, 8 May, 14 July: public holidays
        (paris(2026, 4, 30, 16, 30), paris(2026, 5, 4, 9, 30)),
        (paris(2026, 7, 13, 16, 30), paris(2026, 7, 15, 9, 30)),
        # Whit Monday 2026 (25 May) is a public holiday in the library's calendar
        (paris(2026, 5, 22, 16, 30), paris(2026, 5, 26, 9, 30)),
    ],
)
def test_public_holidays_are_skipped(clock: BusinessClock, received: datetime, due: datetime) -> None:
    assert clock.add(received, HOUR) == due
    assert clock.between(received, due) == HOUR


def test_alsace_moselle_has_two_more_holidays() -> None:
    national = BusinessClock(BusinessHours(), "Europe/Paris")
    moselle = BusinessClock(BusinessHours(subdivision="57"), "Europe/Paris")
    # Saturday 26 December is not a working day anyway: Good Friday (3 April 2026) shows it
    thursday = paris(2026, 4, 2, 16, 30)
    assert national.add(thursday, HOUR) == paris(2026, 4, 3, 9, 30)
    assert moselle.add(thursday, HOUR) == paris(2026, 4, 7, 9, 30)  # Friday and Easter Monday off
    # 26 December 2025 is a Friday
    assert national.add(paris(2025, 12, 24, 16, 30), HOUR) == paris(2025, 12, 26, 9, 30)
    assert moselle.add(paris(2025, 12, 24, 16, 30), HOUR) == paris(2025, 12, 29, 9, 30)


@pytest.mark.parametrize("country", [None, ""])
def test_no_holiday_calendar_counts_every_working_day(country: str | None) -> None:
    plain = BusinessClock(BusinessHours(holidays=country), "Europe/Paris")
    assert plain.add(paris(2026, 12, 24, 16, 30), HOUR) == paris(2026, 12, 25, 9, 30)


@pytest.mark.parametrize(
    ("friday", "monday", "elapsed_hours"),
    [
        (paris(2026, 3, 27, 16, 0), paris(2026, 3, 30, 10, 0), 65),  # clocks go forward on Sunday 29 March
        (paris(2026, 10, 23, 16, 0), paris(2026, 10, 26, 10, 0), 67),  # and back on Sunday 25 October
    ],
)
def test_dst_weekends(clock: BusinessClock, friday: datetime, monday: datetime, elapsed_hours: int) -> None:
    due = clock.add(friday, 2 * HOUR)
    assert due == monday
    assert due.astimezone(PARIS).hour == 10  # the wall clock, not a UTC hour shifted by the change
    assert clock.between(friday, monday) == 2 * HOUR
    assert due - friday.astimezone(UTC) == timedelta(hours=elapsed_hours)  # the weekend lost or gained an hour


def test_dst_sunday_inside_business_hours() -> None:
    """A team that works on Sundays, at night: the night the clocks change is an hour shorter or longer."""
    every_day = BusinessHours(days=[0, 1, 2, 3, 4, 5, 6], start="00:00", end="06:00", holidays=None)
    night = BusinessClock(every_day, "Europe/Paris")
    assert night.between(paris(2026, 3, 29, 0, 0), paris(2026, 3, 29, 6, 0)) == 5 * HOUR
    assert night.between(paris(2026, 10, 25, 0, 0), paris(2026, 10, 25, 6, 0)) == 7 * HOUR
    assert night.add(paris(2026, 3, 29, 0, 0), 5 * HOUR) == paris(2026, 3, 29, 6, 0)


def test_between_over_a_weekend(clock: BusinessClock) -> None:
    friday, monday = paris(2026, 6, 12, 15, 0), paris(2026, 6, 15, 11, 0)
    assert clock.between(friday, monday) == 4 * HOUR  # 15:00–17:00 and 09:00–11:00
    assert clock.between(paris(2026, 6, 13, 8, 0), paris(2026, 6, 14, 20, 0)) == 0  # the weekend alone
    assert clock.between(paris(2026, 6, 8, 0, 0), paris(2026, 6, 15, 0, 0)) == 5 * 8 * HOUR  # a week


def test_between_is_zero_when_end_is_not_after_start(clock: BusinessClock) -> None:
    moment = paris(2026, 6, 10, 10, 0)
    assert clock.between(moment, moment) == 0
    assert clock.between(moment, moment - timedelta(hours=1)) == 0


def test_other_time_zones_and_utc_inputs() -> None:
    montreal = BusinessClock(BusinessHours(holidays="CA", subdivision="QC"), "America/Toronto")
    # 16:45 in Montréal on a Friday is 20:45 UTC
    due = montreal.add(datetime(2026, 6, 12, 20, 45, tzinfo=UTC), 30 * 60)
    assert due == datetime(2026, 6, 15, 9, 15, tzinfo=ZoneInfo("America/Toronto"))


def test_naive_datetimes_and_negative_times_are_refused(clock: BusinessClock) -> None:
    with pytest.raises(ValueError, match="naive"):
        clock.add(datetime(2026, 6, 10, 10, 0), 60)
    with pytest.raises(ValueError, match="naive"):
        clock.between(datetime(2026, 6, 10, 10, 0), paris(2026, 6, 10, 11, 0))
    with pytest.raises(ValueError, match="negative"):
        clock.add(paris(2026, 6, 10, 10, 0), -1)


@pytest.mark.parametrize("seconds", [0, 1, 59, 30 * 60, 8 * HOUR, 8 * HOUR + 1, 40 * HOUR, 500 * HOUR])
@pytest.mark.parametrize(
    "start",
    [paris(2026, 6, 12, 16, 45), paris(2026, 3, 27, 12, 0), paris(2026, 10, 24, 12, 0), paris(2026, 12, 24, 3, 0)],
)
def test_add_and_between_agree(clock: BusinessClock, start: datetime, seconds: float) -> None:
    assert clock.between(start, clock.add(start, seconds)) == seconds


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)),
    seconds=st.integers(min_value=0, max_value=200 * 3600),
)
def test_add_and_between_agree_anywhere(start: datetime, seconds: int) -> None:
    clock = BusinessClock(BusinessHours(start="08:30", end="17:30"), "Europe/Paris")
    due = clock.add(start, seconds)
    assert clock.between(start, due) == seconds
    assert due >= start
    if seconds:  # a due time is inside business hours: one second earlier is one second less
        assert clock.between(start, due - timedelta(seconds=1)) == seconds - 1
