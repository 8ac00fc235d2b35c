"""Sessions, tokens, CSRF, the login throttle, passwords, headers, errors and pagination, through the HTTP surface."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.enums import Role
from core.db.models import AuditEvent
from core.demo import DemoLogin
from core.runtime import Runtime
from tests.web.conftest import bearer, login, persona_ids, staff_with_token
from web.ratelimit import MAX_FAILURES_PER_EMAIL

pytestmark = pytest.mark.anyio


def csrf(client: AsyncTestClient) -> dict[str, str]:
    return {"x-csrftoken": client.cookies["pv_csrf"]}


async def test_login_issues_a_new_session_id_and_the_old_one_dies(
    client: AsyncTestClient, demo: dict[str, DemoLogin]
) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    first = client.cookies["pv_session"]
    # logging in again from a logged-in browser (or a fixated id) must not keep the id
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    second = client.cookies["pv_session"]
    assert first != second
    assert (await client.get("/api/v1/me")).status_code == 200
    client.cookies.set("pv_session", first)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_session_cookie_flags(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "email": demo["admin"].email,
            "password": demo["admin"].password,
            "_csrf_token": client.cookies["pv_csrf"],
        },
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("pv_session="))
    assert (
        "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    )  # PORTEVOIX_COOKIE_SECURE off here


async def test_cookie_authenticated_unsafe_requests_need_csrf(
    client: AsyncTestClient, demo: dict[str, DemoLogin]
) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    refused = await client.post("/api/v1/me/tokens", json={"name": "no csrf"})
    assert refused.status_code == 403
    form = await client.post("/admin/me/tokens", data={"name": "no csrf"})
    assert form.status_code == 403
    accepted = await client.post("/api/v1/me/tokens", json={"name": "with csrf"}, headers=csrf(client))
    assert accepted.status_code == 201


async def test_token_requests_need_no_csrf_and_act_with_the_owners_rights(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    created = (await client.post("/api/v1/me/tokens", json={"name": "script"}, headers=csrf(client))).json()
    secret = created["secret"]
    assert secret.startswith("pv_") and "secret" not in (await client.get("/api/v1/me/tokens")).text
    client.cookies.clear()
    personas = (await client.get("/api/v1/personas", headers=bearer(secret))).json()["items"]
    assert [p["slug"] for p in personas] == ["region-occitanie"] and personas[0]["myRole"] == "editor"
    # an unsafe request with the token alone: no cookie, no CSRF token, accepted
    assert (await client.patch("/api/v1/me", json={"locale": "en"}, headers=bearer(secret))).status_code == 200
    ids = await persona_ids(runtime)
    assert (await client.get(f"/api/v1/personas/{ids['presidente-region']}", headers=bearer(secret))).status_code == 404
    # tokens are for the API, not the admin pages
    assert (await client.get("/admin/personas", headers=bearer(secret), follow_redirects=False)).status_code == 303
    # revoked: refused at once
    token_id = created["token"]["id"]
    assert (await client.delete(f"/api/v1/me/tokens/{token_id}", headers=bearer(secret))).status_code == 204
    refused = await client.get("/api/v1/me", headers=bearer(secret))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_or_malformed_tokens_are_401(client: AsyncTestClient) -> None:
    for header in ("Bearer pv_nope", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401 and set(response.json()) >= {"status_code", "detail"}


async def test_login_throttle_per_email(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    await client.get("/login")
    email = demo["cm.presidente"].email
    for _ in range(MAX_FAILURES_PER_EMAIL):
        wrong = await client.post(
            "/login", data={"email": email, "password": "wrong-password", "_csrf_token": client.cookies["pv_csrf"]}
        )
        assert wrong.status_code == 401
    # now even the right password waits: guessing stops here
    blocked = await client.post(
        "/login",
        data={"email": email, "password": demo["cm.presidente"].password, "_csrf_token": client.cookies["pv_csrf"]},
    )
    assert (
        blocked.status_code == 429 and "Trop de tentatives" in blocked.text and int(blocked.headers["retry-after"]) > 0
    )
    # another e-mail from the same address is not blocked yet
    await login(client, demo["cm.region"].email, demo["cm.region"].password)


async def test_admin_reset_gives_a_one_time_password_and_ends_sessions_and_tokens(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    _, admin_token = await staff_with_token(runtime, "root", is_admin=True)
    victim_id, victim_token = await staff_with_token(runtime, "victim", roles={"region-occitanie": Role.EDITOR})
    await login(client, "victim@test.portevoix.fr", "a-long-password")
    reset = await client.post(f"/api/v1/staff/{victim_id}/password-reset", headers=bearer(admin_token))
    assert reset.status_code == 200
    one_time = reset.json()["oneTimePassword"]
    assert (await client.get("/api/v1/me")).status_code == 401  # the session opened with the old password
    assert (await client.get("/api/v1/me", headers=bearer(victim_token))).status_code == 401  # tokens revoked
    # the one-time password works once, only to choose a new password
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": "victim@test.portevoix.fr", "password": one_time, "_csrf_token": client.cookies["pv_csrf"]},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/me/password"
    blocked = await client.get("/admin/personas", follow_redirects=False)
    assert blocked.status_code == 303 and blocked.headers["location"] == "/admin/me/password"
    assert (await client.get("/api/v1/personas")).status_code == 403
    changed = await client.post(
        "/api/v1/me/password",
        json={"currentPassword": one_time, "newPassword": "my-own-new-password"},
        headers=csrf(client),
    )
    assert changed.status_code == 204
    assert (await client.get("/admin/personas")).status_code == 200
    async with runtime.session() as session:
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(victim_id)))).all()
    assert "staff.password_reset" in actions and "staff.password_changed" in actions


async def test_staff_and_assignments_through_the_api_are_audited(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    _, token = await staff_with_token(runtime, "root", is_admin=True)
    ids = await persona_ids(runtime)
    created = await client.post(
        "/api/v1/staff",
        json={"email": "Chloe@Cabinet.fr", "displayName": "Chloé", "employer": "cabinet"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    staff = created.json()["staff"]
    assert (
        staff["email"] == "chloe@cabinet.fr"
        and staff["mustChangePassword"]
        and len(created.json()["oneTimePassword"]) >= 10
    )
    again = await client.post(
        "/api/v1/staff", json={"email": "chloe@cabinet.fr", "displayName": "Chloé"}, headers=bearer(token)
    )
    assert again.status_code == 409
    put = await client.put(
        f"/api/v1/personas/{ids['presidente-region']}/team/{staff['id']}",
        json={"role": "contributor"},
        headers=bearer(token),
    )
    assert put.status_code == 200 and put.json()["role"] == "contributor"
    team = (await client.get(f"/api/v1/personas/{ids['presidente-region']}/team", headers=bearer(token))).json()[
        "items"
    ]
    assert {m["email"]: m["role"] for m in team}["chloe@cabinet.fr"] == "contributor"
    patched = await client.patch(
        f"/api/v1/staff/{staff['id']}", json={"employer": "campaign", "isActive": False}, headers=bearer(token)
    )
    assert patched.json()["employer"] == "campaign" and patched.json()["isActive"] is False
    assert (
        await client.delete(f"/api/v1/personas/{ids['presidente-region']}/team/{staff['id']}", headers=bearer(token))
    ).status_code == 204
    async with runtime.session() as session:
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert {"staff.created", "assignment.set", "staff.updated", "staff.deactivated", "assignment.removed"} <= actions


async def test_validation_errors_name_the_field(client: AsyncTestClient, runtime: Runtime) -> None:
    _, token = await staff_with_token(runtime, "root", is_admin=True)
    response = await client.post(
        "/api/v1/staff", json={"email": "not-an-email", "displayName": ""}, headers=bearer(token)
    )
    assert response.status_code == 400
    body = response.json()
    assert (
        body["status_code"] == 400
        and body["extra"][0]["key"] in {"email", "displayName"}
        and body["extra"][0]["message"]
    )
    wrong_role = await client.put(
        f"/api/v1/personas/{uuid.uuid4()}/team/{uuid.uuid4()}",
        json={"role": "king"},
        headers=bearer(token),
    )
    assert wrong_role.status_code == 400 and wrong_role.json()["extra"][0]["key"] == "role"
    short = await client.post(
        "/api/v1/me/password", json={"currentPassword": "x", "newPassword": "short"}, headers=bearer(token)
    )
    assert short.status_code == 400 and short.json()["extra"][0]["key"] == "newPassword"


async def test_account_mode_switch_by_a_manager_is_audited(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    _, token = await staff_with_token(runtime, "boss", roles={"region-occitanie": Role.MANAGER})
    region = (await persona_ids(runtime))["region-occitanie"]
    account = (await client.get(f"/api/v1/personas/{region}/accounts", headers=bearer(token))).json()["items"][0]
    url = f"/api/v1/personas/{region}/accounts/{account['id']}"
    assert (await client.patch(url, json={"mode": "dry_run"}, headers=bearer(token))).json()["mode"] == "dry_run"
    assert (await client.patch(url, json={"mode": "nonsense"}, headers=bearer(token))).status_code == 400
    async with runtime.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "account.mode_changed"))
    assert event is not None and event.before == {"mode": "live"} and event.persona_id == region


async def test_keyset_pagination_walks_every_row_once(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    _, token = await staff_with_token(runtime, "root", is_admin=True)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/staff", params=params, headers=bearer(token))).json()
        seen += [s["email"] for s in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(demo) + 1 and seen == sorted(seen)
    bad = await client.get("/api/v1/staff", params={"cursor": "garbage!"}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["extra"][0]["key"] == "cursor"


async def test_security_headers_everywhere(client: AsyncTestClient, demo: dict[str, DemoLogin]) -> None:
    for path in ("/login", "/static/app.css", "/api/v1/me", "/nowhere", "/health"):
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin", path
