"""/api/v1/personas/{persona_id}/usage: every series of a period as JSON, and each one as a CSV file.

The guard checks ``see_usage`` on the persona of the path (the one permission table); another
persona, or none assigned, answers 404 as everywhere. ``period=week|month`` and ``end=YYYY-MM-DD``
(the last local day, today by default) are read by :func:`core.usage.series.parse_period`, whose
refusal answers 400 in the caller's language. The CSV file is the same figures as the JSON
(:mod:`core.usage.export`: the JSON's field names as columns, the JSON's values).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.db.types import utcnow
from core.people.permissions import Action
from core.usage import export, series
from web import access
from web.usage.schemas import UsageOut, usage_out

_USAGE = "/{persona_id:uuid}/usage"
#: the CSV files, by the name the path takes ("cadence.csv", …)
CSV_FILES = {f"{name}.csv": name for name in export.SERIES}

PeriodQuery = Annotated[str | None, QueryParameter(max_length=16, description="week (7 days, default) or month (30)")]
EndQuery = Annotated[
    str | None,
    QueryParameter(max_length=16, description="the period's last day, YYYY-MM-DD in the persona's time zone; today"),
]
TablePath = Annotated[str, Parameter(description="one of " + ", ".join(CSV_FILES), max_length=32)]


def period_of(persona: Persona, period: str | None, end: str | None) -> series.Period:
    return series.parse_period(period, end, persona, utcnow())


class UsageApiController(Controller):
    path = "/api/v1/personas"
    tags = ["usage"]

    @get(
        _USAGE,
        summary="Every usage series of a week or a month: cadence against the policy's targets, audience, "
        "engagement per post, API budgets and calls, response times, each person's workload",
        **access.persona(Action.SEE_USAGE, errors=[ClientException]),
    )
    async def get_usage(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        period: PeriodQuery = None,
        end: EndQuery = None,
    ) -> UsageOut:
        found = await series.overview(db_session, persona, period_of(persona, period, end))
        return usage_out(found)

    @get(
        _USAGE + "/{table:str}",
        summary="One usage series as a CSV file (UTF-8 with BOM, “;” between fields, decimal comma): "
        + ", ".join(CSV_FILES),
        media_type="text/csv",
        **access.persona(Action.SEE_USAGE, errors=[ClientException]),
    )
    async def usage_csv(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        table: TablePath,
        period: PeriodQuery = None,
        end: EndQuery = None,
    ) -> Response[bytes]:
        name = CSV_FILES.get(table)
        if name is None:
            raise NotFoundException()  # "Not Found", like an unknown route
        chosen = period_of(persona, period, end)
        found = await export.table_of(db_session, persona, chosen, name)
        return Response(
            export.to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{export.filename(persona.slug, found, chosen)}"',
                "cache-control": "private, no-store",
            },
        )
