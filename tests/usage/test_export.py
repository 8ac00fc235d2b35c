"""CSV export equals the JSON, for every table, on both databases: ten days of history on the
Région, the period's JSON (``web.usage.schemas.usage_out`` of the overview, encoded and decoded
as the API does) flattened by the CSV's own columns, beside the CSV file parsed back."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import msgspec
import pytest
from sqlalchemy import select

from core.audit import Actor
from core.db.models import Persona
from core.people.staff import create_staff
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from core.usage import export, series
from personas import SEED_DIR, load_dir
from tests.usage.history import fill
from web.usage.schemas import usage_out

pytestmark = pytest.mark.anyio

END = date(2026, 11, 27)


def _cell(value: Any) -> str:
    """A JSON value as the CSV writes it: nothing for null, true/false, a decimal comma, lists spaced."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, list):
        return " ".join(_cell(v) for v in value)
    return str(value)


def _nested(parents: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Each child of ``key`` with its parent's fields (the child's own win)."""
    return [{**parent, **child} for parent in parents for child in parent[key]]


def json_rows(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The JSON's records of one table, one per CSV line."""
    if name in ("cadence", "audience"):
        return _nested(doc[name], "days")
    if name == "engagement":
        return doc["engagement"]
    if name == "budgets":
        return doc["budgets"]
    if name == "api-calls":
        return _nested(doc["apiCalls"], "days")
    if name == "response-times":
        return [{"day": d["day"], "kind": k, **d[k]} for d in doc["responseTimes"]["days"] for k in ("first", "next")]
    assert name == "workload"
    return [
        {**row, **{"firstResponses" + k[0].upper() + k[1:]: v for k, v in row["firstResponses"].items()}}
        for row in _nested(doc["workload"], "days")
    ]


@pytest.fixture
async def region(runtime: Runtime) -> Persona:
    files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
    async with runtime.session() as session:
        await upsert_personas(session, files, Actor.system("test"))
        persona = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
        assert persona is not None
        cm = await create_staff(
            session, email="cm@t.fr", display_name="Léa", password="long enough pw", actor=Actor.system("t")
        )
        await fill(session, persona, END, 10, staff_id=cm.id)
        return persona


@pytest.mark.parametrize("kind", ["week", "month"])
async def test_every_csv_table_equals_the_json(runtime: Runtime, region: Persona, kind: str) -> None:
    period = series.make_period(kind, END, region.timezone)
    async with runtime.sessions() as session:
        doc = msgspec.json.decode(msgspec.json.encode(usage_out(await series.overview(session, region, period))))
        tables = {name: await export.table_of(session, region, period, name) for name in export.SERIES}
    for name, table in tables.items():
        data = export.to_csv(table)
        assert data.startswith(b"\xef\xbb\xbf"), name  # the BOM French Excel wants
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
        header, body = lines[0], lines[1:]
        records = json_rows(doc, name)
        assert body, f"{name}: the history leaves no table empty"
        assert len(body) == len(records), name
        expected = [[_cell(record[column]) for column in header] for record in records]
        assert body == expected, name
    # the figures themselves, not just the same emptiness: the cadence and the audience carry numbers
    assert any(
        line[4] not in ("", "0")
        for line in csv.reader(io.StringIO(export.to_csv(tables["cadence"]).decode("utf-8-sig")), delimiter=";")
    )
    assert doc["audience"][0]["days"][-1]["followers"] == 100_000 + 37 * 9
