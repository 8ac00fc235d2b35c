"""Every usage series as a flat table, and as CSV for a spreadsheet (French Excel's convention).

One line per account and day (cadence, audience, API calls), per post (engagement), per quota
(budgets), per day and kind of response (response times), per person and day (workload). The
columns are the JSON API's field names (camelCase) and the values the JSON's: numbers, ISO
dates, ISO instants in UTC, ``true``/``false``, and nothing for null. The file is UTF-8 with a
byte order mark and ``;`` between fields, decimals with a comma: what a French Excel opens as
columns and numbers without an import wizard.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.usage import series
from core.usage.series import Delays

#: the series, by the name the API and the file take
SERIES = ("cadence", "audience", "engagement", "budgets", "api-calls", "response-times", "workload")

Row = list[Any]


class Table(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    columns: list[str]
    rows: list[Row]


def camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def _fields(kind: type[msgspec.Struct], skip: Iterable[str] = ()) -> list[str]:
    return [f for f in kind.__struct_fields__ if f not in set(skip)]


def _values(item: msgspec.Struct, names: Sequence[str]) -> Row:
    return [getattr(item, name) for name in names]


_ACCOUNT = ["account_id", "channel", "handle"]
_DELAYS = _fields(Delays)


def cadence(rows: Sequence[series.AccountCadence]) -> Table:
    day = ["day", "posts", "posts_target", "reposts", "reposts_target", "replies"]
    return Table(
        name="cadence",
        columns=[camel(c) for c in (*_ACCOUNT, *day)],
        rows=[_values(a, _ACCOUNT) + _values(d, day) for a in rows for d in a.days],
    )


def audience(rows: Sequence[series.AccountAudience]) -> Table:
    day = _fields(series.AudienceDay)
    return Table(
        name="audience",
        columns=[camel(c) for c in (*_ACCOUNT, *day)],
        rows=[_values(a, _ACCOUNT) + _values(d, day) for a in rows for d in a.days],
    )


def engagement(rows: Sequence[series.PostEngagement]) -> Table:
    names = _fields(series.PostEngagement)
    return Table(name="engagement", columns=[camel(c) for c in names], rows=[_values(r, names) for r in rows])


def budgets(found: series.Budgets) -> Table:
    names = _fields(series.Budget)
    return Table(name="budgets", columns=[camel(c) for c in names], rows=[_values(b, names) for b in found.latest])


def api_calls(found: series.Budgets) -> Table:
    return Table(
        name="api-calls",
        columns=[camel(c) for c in (*_ACCOUNT, "day", "calls")],
        rows=[_values(a, _ACCOUNT) + [d.day, d.calls] for a in found.calls for d in a.days],
    )


def response_times(found: series.ResponseTimes) -> Table:
    # "first" and "next": the JSON's keys for first and next responses
    return Table(
        name="response-times",
        columns=["day", "kind", *(camel(c) for c in _DELAYS)],
        rows=[[d.day, kind, *_values(getattr(d, kind), _DELAYS)] for d in found.days for kind in ("first", "next")],
    )


def workload(rows: Sequence[series.StaffWorkload]) -> Table:
    day = ["day", "items_handled", "replies_sent", "hours", "hours_worked", "span_hours"]
    columns = ["staff_id", "name", *day, *(f"first_responses_{c}" for c in _DELAYS)]
    return Table(
        name="workload",
        columns=[camel(c) for c in columns],
        rows=[
            [w.staff_id, w.name, *_values(d, day), *_values(d.first_responses, _DELAYS)] for w in rows for d in w.days
        ],
    )


_TABLES: dict[str, tuple[Callable[..., Awaitable[Any]], Callable[[Any], Table]]] = {
    "cadence": (series.cadence, cadence),
    "audience": (series.audience, audience),
    "engagement": (series.engagement, engagement),
    "budgets": (series.budgets, budgets),
    "api-calls": (series.budgets, api_calls),
    "response-times": (series.response_times, response_times),
    "workload": (series.workload, workload),
}
assert tuple(_TABLES) == SERIES


async def table_of(session: AsyncSession, persona: Persona, period: series.Period, name: str) -> Table:
    """One series of ``persona`` over ``period`` as a table (only that series is read)."""
    read, tabulate = _TABLES[name]
    return tabulate(await read(session, persona, period))


def cell(value: Any) -> str:
    """One value as the CSV writes it (the JSON's value, with a decimal comma)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, datetime | date):
        return str(msgspec.to_builtins(value))
    if isinstance(value, list):
        return " ".join(cell(v) for v in value)
    return str(value)


def to_csv(table: Table) -> bytes:
    """The table as a French-Excel CSV: UTF-8 with BOM, ``;`` separated, CRLF lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows([cell(v) for v in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8-sig")


def filename(persona_slug: str, table: Table, period: series.Period) -> str:
    return f"{persona_slug}-{table.name}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
