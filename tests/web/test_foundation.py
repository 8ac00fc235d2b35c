"""The first web rooms: health, login, the personas admin page and API, OpenAPI, errors."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from core.demo import DemoLogin
from tests.web.conftest import login

pytestmark = pytest.mark.anyio


async def test_health_reports_database_and_queue(client: AsyncTestClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() | {"version": None} == {
        "status": "healthy",
        "database": True,
        "queue": True,
        "version": None,
    }


async def test_the_address_of_the_app_leads_to_the_admin(client: AsyncTestClient) -> None:
    home = await client.get("/", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"] == "/admin"
    landed = await client.get("/")  # then to the login page, which answers
    assert landed.status_code == 200 and 'name="password"' in landed.text


async def test_admin_requires_login(client: AsyncTestClient) -> None:
    response = await client.get("/admin/personas", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/admin/personas"
    api = await client.get("/api/v1/personas")
    assert api.status_code == 401 and api.json()["status_code"] == 401


async def test_wrong_password_is_refused(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": demo["admin"].email, "password": "not-the-password", "_csrf_token": client.cookies["pv_csrf"]},
    )
    assert response.status_code == 401
    assert "Courriel inconnu ou mot de passe erroné." in response.text


async def test_login_form_without_csrf_token_is_refused(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"email": demo["admin"].email, "password": demo["admin"].password})
    assert response.status_code == 403


async def test_admin_sees_both_personas_and_tiktok_refused(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await login(client, demo["admin"].email, demo["admin"].password)
    page = await client.get("/admin/personas")
    assert page.status_code == 200
    html = page.text
    assert "Région Occitanie" in html and "Camille Delorme, présidente de la Région" in html
    region = html.split('id="persona-region-occitanie"')[1].split("</section>")[0]
    tiktok = region.split('data-channel="tiktok"')[1].split("</tr>")[0]
    assert "Refusé" in tiktok and "incarnation" in tiktok
    facebook = region.split('data-channel="facebook"')[1].split("</tr>")[0]
    assert "175" in facebook and "2 publications par jour" in facebook and "@RegionOccitanie" in facebook
    president = html.split('id="persona-presidente-region"')[1].split("</section>")[0]
    assert 'data-channel="tiktok"' in president and "@camilledelorme" in president and "Refusé" not in president


async def test_team_members_see_only_their_persona(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    personas = (await client.get("/api/v1/personas")).json()["items"]
    assert [p["slug"] for p in personas] == ["region-occitanie"]
    tiktok = next(c for c in personas[0]["channels"] if c["channel"] == "tiktok")
    assert tiktok["allowed"] is False and "incarnation" in tiktok["refusalReason"]
    page = (await client.get("/admin/personas")).text
    assert "présidente de la Région</h2>" not in page


async def test_language_switch(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await login(client, demo["admin"].email, demo["admin"].password)
    assert "Se déconnecter" in (await client.get("/admin/personas")).text
    await client.post(
        "/admin/me/locale", data={"locale": "en", "next": "/admin/personas", "_csrf_token": client.cookies["pv_csrf"]}
    )
    english = (await client.get("/admin/personas")).text
    assert "Log out" in english and "Refused" in english and "2 posts a day" in english
    # the choice is the user's own: it survives a new login
    await client.post("/logout", data={"_csrf_token": client.cookies["pv_csrf"]})
    client.cookies.delete("pv_locale")
    await login(client, demo["admin"].email, demo["admin"].password)
    assert "Log out" in (await client.get("/admin/personas")).text


async def test_login_page_language_follows_the_browser_then_the_switch(client: AsyncTestClient) -> None:
    assert "Mot de passe" in (await client.get("/login")).text
    assert "Password" in (await client.get("/login", headers={"accept-language": "en-GB,en;q=0.8"})).text
    await client.post("/locale", data={"locale": "en", "next": "/login", "_csrf_token": client.cookies["pv_csrf"]})
    assert "Password" in (await client.get("/login")).text


async def test_logout_ends_the_session(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await login(client, demo["admin"].email, demo["admin"].password)
    await client.post("/logout", data={"_csrf_token": client.cookies["pv_csrf"]})
    assert (await client.get("/api/v1/personas")).status_code == 401


async def test_openapi_lists_the_api(client: AsyncTestClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/personas" in schema["paths"] and "/health" in schema["paths"]
    assert not any(path.startswith("/admin") for path in schema["paths"])


async def test_unknown_admin_page_is_a_french_404(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await login(client, demo["admin"].email, demo["admin"].password)
    response = await client.get("/admin/nowhere")
    assert response.status_code == 404 and "Introuvable" in response.text and "Traceback" not in response.text
