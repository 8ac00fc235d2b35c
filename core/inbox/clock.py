"""Business time: the SLA clock of the inbox.

A response target ("answer within 4 hours") counts the hours the persona's team works, not
the hours of the day: an item received on Friday at 16:45 with 30 minutes to go is due on
Monday at 09:15 (Hootsuite's example, Mon–Fri 09:00–17:00). The clock walks the working days
in the persona's time zone, skipping the public holidays of the ``holidays`` library (French
ones by default; Alsace-Moselle's two more with subdivision "57").

Every instant in and out is an aware datetime, returned in UTC. Arithmetic is done on UTC
instants because subtracting two datetimes that share a ``ZoneInfo`` ignores their offsets:
an opening on the Sunday of a DST change would otherwise be an hour off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as calendars

from personas.schema import BusinessHours

#: ten years without a single working day is a configuration nobody can answer in
MAX_DAYS = 3660


class BusinessClock:
    """Adds and measures business time for one persona's hours and time zone."""

    def __init__(self, hours: BusinessHours, timezone: str) -> None:
        self.hours = hours
        self.zone = ZoneInfo(timezone)
        self.days = frozenset(hours.days)
        self.opens = time.fromisoformat(hours.start)
        self.closes = time.fromisoformat(hours.end)

    @cached_property
    def _holidays(self) -> calendars.HolidayBase | None:
        # the library fills in each year the first time a date of it is looked up
        if not self.hours.holidays:  # None, or "" in a TOML file
            return None
        return calendars.country_holidays(self.hours.holidays, subdiv=self.hours.subdivision)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and not (self._holidays is not None and day in self._holidays)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The UTC instant ``seconds`` of business time after ``start``.

        Outside business hours the clock waits for the next opening (``add(night, 0)`` is that
        opening); a target that ends exactly at closing time is due at closing time.
        """
        if seconds < 0:
            raise ValueError(f"cannot add a negative business time ({seconds} s)")
        remaining = timedelta(seconds=seconds)
        for opening, closing in self._periods(_utc(start)):
            begin = max(opening, _utc(start))
            available = closing - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"no working day in {MAX_DAYS} days after {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds between two instants (0 when ``end`` is not after ``start``)."""
        start, end = _utc(start), _utc(end)
        total = timedelta()
        if end <= start:
            return 0.0
        for opening, closing in self._periods(start):
            if opening >= end:
                break
            total += min(closing, end) - max(opening, start)
        return total.total_seconds()

    def _periods(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods (UTC opening, UTC closing) that end after ``after``, in order."""
        day = after.astimezone(self.zone).date() - timedelta(days=1)  # a period may straddle UTC midnight
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opening = datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC)
                closing = datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC)
                if closing > after:
                    yield opening, closing
            day += timedelta(days=1)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the inbox clock takes aware datetimes only")
    return moment.astimezone(UTC)
