"""The usage page of a persona: a week or a month of its figures, every chart drawn from a table on the page.

The tables are the page (RGAA: the accessible view, with captions and header scopes); each chart
is ``static/usage.js`` reading a table's ``data-value`` cells and drawing them with uPlot, served
by the app itself. Days are the persona's local days, times are shown in its time zone. Each table
links to its CSV file (the API's, :mod:`web.usage.api`). Same figures as the JSON: one
:func:`core.usage.series.overview`.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.db.types import utcnow
from core.people.permissions import Action
from core.runtime import Runtime
from core.usage import series
from web import access, i18n
from web.i18n import gettext as _


def day_label(day: date, fmt: str = "EEE d MMM") -> str:
    """A local day as people read it ("ven. 27 nov."), in the reader's language."""
    return format_date(day, fmt, locale=i18n.current_locale())


def metric_label(metric: str) -> str:
    return {
        "quota_remaining": _("remaining"),
        "quota_used_percent": _("used (%)"),
        "api_calls": _("API calls"),
    }.get(metric, metric)


def account_label(account: Any) -> str:
    return f"{account.channel} @{account.handle}"


class UsageLinks:
    """The page's addresses: this period as week or month, the periods before and after, the CSV files."""

    def __init__(self, persona: Persona, period: series.Period, today: date) -> None:
        self.base = f"/admin/personas/{persona.id}/usage"
        self.api = f"/api/v1/personas/{persona.id}/usage"
        self.period = period
        self.today = today

    def _query(self, kind: str, end: date) -> str:
        return urlencode({"period": kind, "end": end.isoformat()})

    def view(self, kind: str) -> str:
        return f"{self.base}?{self._query(kind, self.period.end)}"

    @property
    def previous(self) -> str:
        before = self.period.previous()
        return f"{self.base}?{self._query(before.kind, before.end)}"

    @property
    def next(self) -> str | None:
        """None when the next period would end after today (there is nothing to see there yet)."""
        after = self.period.next()
        if self.period.end >= self.today:
            return None
        end = min(after.end, self.today)
        return f"{self.base}?{self._query(after.kind, end)}"

    @property
    def current(self) -> str | None:
        return None if self.period.end == self.today else f"{self.base}?period={self.period.kind}"

    def csv(self, name: str) -> str:
        return f"{self.api}/{name}.csv?{self._query(self.period.kind, self.period.end)}"


class AdminUsageController(Controller):
    path = "/admin/personas"
    include_in_schema = False

    @get("/{persona_id:uuid}/usage", **access.persona(Action.SEE_USAGE))
    async def usage_page(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        runtime: NamedDependency[Runtime],
        period: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Template:
        now = utcnow()
        chosen = series.parse_period(period, end, persona, now)
        found = await series.overview(db_session, persona, chosen)
        context = {
            "persona": persona,
            "usage": found,
            "links": UsageLinks(persona, chosen, series.local_day(now, persona.timezone)),
            "day_label": day_label,
            "metric_label": metric_label,
            "account_label": account_label,
            "long_day_hours": runtime.settings.usage_long_day_hours,
            "metrics_errors": [a for a in found.accounts if a.metrics_error],
        }
        return Template("usage/usage.html", context=context)
