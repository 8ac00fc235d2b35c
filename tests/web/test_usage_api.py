"""The usage API on both databases: the period's series as JSON, each series as a CSV file, the
rights (the president's usage is invisible to the Région's team, a 404 as for any persona that is
not theirs), a bad period refused in French, and the admin page drawn from the same figures."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import Persona, Staff
from core.demo import DemoLogin
from core.runtime import Runtime
from core.usage import export
from tests.usage.history import fill
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio

END = date(2026, 11, 27)
QUERY = {"period": "week", "end": END.isoformat()}


async def _history(runtime: Runtime, slug: str, days: int = 10, staff_email: str | None = None) -> Persona:
    async with runtime.session() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == slug))
        assert persona is not None
        staff_id = await session.scalar(select(Staff.id).where(Staff.email == staff_email)) if staff_email else None
        await fill(session, persona, END, days, staff_id=staff_id)
        return persona


async def test_the_week_as_json_has_the_four_networks_against_their_targets(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    region = await _history(runtime, "region-occitanie", staff_email=demo["cm.region"].email)
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    response = await client.get(f"/api/v1/personas/{region.id}/usage", params=QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == {"kind": "week", "start": "2026-11-21", "end": "2026-11-27", "timezone": "Europe/Paris"}
    cadence = {a["channel"]: a for a in body["cadence"]}
    assert sorted(cadence) == ["facebook", "instagram", "linkedin", "x"]
    facebook = cadence["facebook"]
    # 2 a day, one short on Sunday the 22nd: 13 of 14, six days of seven on target
    assert (facebook["postsTarget"], facebook["posts"], facebook["postsTargetTotal"]) == (2, 13, 14)
    assert facebook["daysOnTarget"] == 6
    assert [d["posts"] for d in facebook["days"]][:2] == [2, 1]
    audience = {a["channel"]: a for a in body["audience"]}
    assert audience["facebook"]["days"][-1]["followers"] is not None
    assert len(body["engagement"]) == sum(a["posts"] for a in body["cadence"])
    assert {b["endpoint"] for b in body["budgets"]} == {"POST /publish"}
    assert body["responseTimes"]["first"]["count"] == 14
    assert [w["name"] for w in body["workload"]] == ["Léa Fabre"]
    # the month: 30 days ending on the same day
    month = (await client.get(f"/api/v1/personas/{region.id}/usage", params={**QUERY, "period": "month"})).json()
    assert (month["period"]["start"], len(month["cadence"][0]["days"])) == ("2026-10-29", 30)


async def test_the_presidents_usage_is_invisible_to_the_regions_team(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    president = ids["presidente-region"]
    for who in ("cm.region", "dircom.region", "apprentie.region"):
        client.cookies.clear()
        await login(client, demo[who].email, demo[who].password)
        for path in ("usage", "usage/cadence.csv", "usage/workload.csv"):
            response = await client.get(f"/api/v1/personas/{president}/usage" + path.removeprefix("usage"))
            assert response.status_code == 404, (who, path, response.status_code)
            assert "Léa" not in response.text and "facebook" not in response.text
        assert (await client.get(f"/admin/personas/{president}/usage")).status_code == 404
        assert (await client.get(f"/api/v1/personas/{ids['region-occitanie']}/usage")).status_code == 200
    # and the other way round, with a token: the president's team sees the president, not the Région
    _, token = await staff_with_token(runtime, "cabinet", roles={"presidente-region": Role.VIEWER})
    client.cookies.clear()
    assert (await client.get(f"/api/v1/personas/{president}/usage", headers=bearer(token))).status_code == 200
    region = await client.get(f"/api/v1/personas/{ids['region-occitanie']}/usage", headers=bearer(token))
    assert region.status_code == 404
    assert (await client.get(f"/api/v1/personas/{president}/usage")).status_code == 401


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"period": "year"}, "period", "la période est « week » (semaine) ou « month » (mois), pas « year »"),
        ({"end": "27/11/2026"}, "end", "la fin de la période est une date comme 2026-11-27"),
        ({"end": "1999-12-31"}, "end", "entre les années 2000 et 2100"),
    ],
)
async def test_a_bad_period_is_refused_in_french(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin], query: dict[str, str], field: str, words: str
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "viewer", roles={"region-occitanie": Role.VIEWER})
    for path in ("usage", "usage/cadence.csv"):
        response = await client.get(
            f"/api/v1/personas/{ids['region-occitanie']}/{path}",
            params=query,
            headers={**bearer(token), "accept-language": "fr"},
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert words in body["detail"], body
        assert body["extra"][0]["key"] == field and body["code"].startswith(field)


async def test_each_csv_file_is_the_series_of_the_period(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    region = await _history(runtime, "region-occitanie", staff_email=demo["cm.region"].email)
    await login(client, demo["dircom.region"].email, demo["dircom.region"].password)
    for name in export.SERIES:
        response = await client.get(f"/api/v1/personas/{region.id}/usage/{name}.csv", params=QUERY)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("text/csv")
        disposition = response.headers["content-disposition"]
        assert disposition == f'attachment; filename="region-occitanie-{name}-2026-11-21-2026-11-27.csv"'
        assert response.content.startswith("\ufeff".encode())
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        assert lines[0][0] in ("accountId", "deliveryId", "day", "staffId"), (name, lines[0])
        assert len(lines) > 1, name  # the history fills every series
    unknown = await client.get(f"/api/v1/personas/{region.id}/usage/passwords.csv")
    assert unknown.status_code == 404


async def test_the_page_shows_the_same_figures_with_a_table_for_each_chart(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    region = await _history(runtime, "region-occitanie", staff_email=demo["cm.region"].email)
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    page = await client.get(f"/admin/personas/{region.id}/usage", params=QUERY, headers={"accept-language": "fr"})
    assert page.status_code == 200, page.text
    html = page.text
    for table in ("cadence-days", "audience-days", "calls-days", "response-days", "workload-days"):
        assert f'data-table="{table}"' in html and f'id="{table}"' in html, table
    assert html.count("<caption") >= 8 and 'scope="col"' in html and 'scope="row"' in html
    assert "<script>" not in html  # CSP: our own files only
    assert 'src="/static/usage.js"' in html and 'src="/static/vendor/uplot/uPlot.iife.min.js"' in html
    for name in export.SERIES:
        assert f"/api/v1/personas/{region.id}/usage/{name}.csv?period=week&amp;end=2026-11-27" in html, name
    assert 'data-channel="facebook" data-posts="13" data-posts-target="14"' in html
    assert "<meter" in html
    assert "trop longue" in html  # the 13-hour days of the history, beyond the long-day setting
    previous = f"/admin/personas/{region.id}/usage?period=week&amp;end=2026-11-20"
    assert previous in html
    bad = await client.get(f"/admin/personas/{region.id}/usage", params={"period": "an"})
    assert bad.status_code == 400
