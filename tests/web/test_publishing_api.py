"""The publishing API end to end, on both databases: compose, check, list, approve, send back,
submit, reschedule, cancel, retry, settle, pause. About the web layer and the database state:
every time is in the future (the worker, if any, has nothing due) and no network is called."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select, update

from core.db.enums import DeliveryState, Role
from core.db.models import Account, AuditEvent, Delivery, Persona, PostingSlot
from core.runtime import Runtime
from tests.web.conftest import bearer, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio

REGION, PRESIDENT = "region-occitanie", "presidente-region"
NEUTRAL = "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 15 janvier."


class Team:
    """API tokens for one of each role on the Région, and the ids the tests need."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tokens: dict[str, dict[str, str]] = {}
        self.ids: dict[str, uuid.UUID] = {}
        self.accounts: dict[tuple[str, str], uuid.UUID] = {}

    async def setup(self) -> Team:
        for role in (Role.MANAGER, Role.EDITOR, Role.CONTRIBUTOR, Role.MODERATOR):
            staff_id, secret = await staff_with_token(self.runtime, f"pub-{role.value}", roles={REGION: role})
            self.tokens[role.value], self.ids[role.value] = bearer(secret), staff_id
        _, secret = await staff_with_token(self.runtime, "pub-editor-2", roles={REGION: Role.EDITOR})
        self.tokens["editor2"] = bearer(secret)
        self.personas = await persona_ids(self.runtime)
        async with self.runtime.session() as session:
            for account in (await session.scalars(select(Account).join(Persona))).all():
                slug = next(s for s, i in self.personas.items() if i == account.persona_id)
                self.accounts[(slug, account.channel)] = account.id
        return self

    def url(self, path: str = "", slug: str = REGION) -> str:
        return f"/api/v1/personas/{self.personas[slug]}{path}"


@pytest.fixture
async def team(runtime: Runtime, demo: Any) -> Team:
    return await Team(runtime).setup()


async def compose(client: AsyncTestClient, team: Team, who: str, channel: str = "x", **body: Any) -> Any:
    payload = {"accountIds": [str(team.accounts[(REGION, channel)])], "text": NEUTRAL, **body}
    return await client.post(team.url("/posts"), json=payload, headers=team.tokens[who])


async def set_state(runtime: Runtime, delivery_id: str, state: DeliveryState) -> None:
    async with runtime.session() as session:
        await session.execute(update(Delivery).where(Delivery.id == uuid.UUID(delivery_id)).values(state=state))


async def test_contributor_post_waits_then_someone_else_approves_it(client: AsyncTestClient, team: Team) -> None:
    created = await compose(client, team, "contributor", localTime="2027-02-10T10:00:00")
    assert created.status_code == 201, created.text
    body = created.json()
    (delivery,) = body["deliveries"]
    assert delivery["state"] == "pending_approval" and delivery["scheduledAt"] == "2027-02-10T09:00:00Z"
    assert delivery["handle"] == "Occitanie" and delivery["text"] == NEUTRAL
    assert body["findings"][0]["channel"] == "x"
    post_id = body["post"]["id"]
    listed = (
        await client.get(team.url("/deliveries"), params={"state": "pending_approval"}, headers=team.tokens["editor"])
    ).json()
    assert [d["id"] for d in listed["items"]] == [delivery["id"]]
    # the contributor's role does not approve; the editor does
    mine = await client.post(team.url(f"/posts/{post_id}/approve"), json={}, headers=team.tokens["contributor"])
    assert mine.status_code == 403
    approved = await client.post(
        team.url(f"/posts/{post_id}/approve"), json={"reason": "relu"}, headers=team.tokens["editor"]
    )
    assert approved.status_code == 200, approved.text
    (after,) = approved.json()["deliveries"]
    assert (
        after["state"] == "scheduled"
        and after["approvedById"] == str(team.ids["editor"])
        and after["approvalReason"] == "relu"
    )
    detail = (await client.get(team.url(f"/deliveries/{delivery['id']}"), headers=team.tokens["contributor"])).json()
    kinds = [(e["kind"], e["actorName"]) for e in detail["history"]]
    assert kinds == [("created", "pub-contributor"), ("approved", "pub-editor")]
    assert detail["history"][1]["detail"]["reason"] == "relu"


async def test_nobody_approves_their_own_post(client: AsyncTestClient, team: Team) -> None:
    # An editor's institutional post naming the president in the pre-election window needs review.
    created = await compose(
        client,
        team,
        "editor",
        text="La présidente Camille Delorme inaugure le lycée de Rodez.",
        localTime="2027-02-11T10:00:00",
    )
    assert created.status_code == 201, created.text
    assert created.json()["deliveries"][0]["state"] == "pending_approval"
    assert any(f["severity"] == "review" for f in created.json()["findings"][0]["findings"])
    post_id = created.json()["post"]["id"]
    own = await client.post(team.url(f"/posts/{post_id}/approve"), json={"reason": "ok"}, headers=team.tokens["editor"])
    assert own.status_code == 400 and own.json()["detail"] == "personne ne valide sa propre publication"
    unsigned = await client.post(team.url(f"/posts/{post_id}/approve"), json={}, headers=team.tokens["manager"])
    assert unsigned.status_code == 400 and "demandent un motif écrit" in unsigned.json()["detail"]
    signed = await client.post(
        team.url(f"/posts/{post_id}/approve"),
        json={"reason": "Inauguration factuelle, validée."},
        headers=team.tokens["manager"],
    )
    assert signed.status_code == 200 and signed.json()["deliveries"][0]["state"] == "scheduled"


async def test_another_personas_account_is_refused_without_naming_it(client: AsyncTestClient, team: Team) -> None:
    foreign = str(team.accounts[(PRESIDENT, "x")])
    refused = await client.post(
        team.url("/posts"), json={"accountIds": [foreign], "text": NEUTRAL}, headers=team.tokens["editor"]
    )
    assert refused.status_code == 400
    # a tampered id learns nothing of the other persona: not its handle, not its name
    assert refused.json()["detail"] == f"aucun compte {foreign} pour ce persona"
    assert "CamilleDelorme" not in refused.text and "Delorme" not in refused.text
    assert refused.json()["extra"][0]["key"] == "accountIds"
    checked = await client.post(
        team.url("/posts/check"), json={"accountIds": [foreign], "text": NEUTRAL}, headers=team.tokens["editor"]
    )
    assert checked.status_code == 400 and "CamilleDelorme" not in checked.text
    async with team.runtime.session() as session:
        assert (await session.scalar(select(Delivery.id).limit(1))) is None  # nothing written


async def test_tiktok_on_the_institution_is_blocked_with_the_refusal_reason(
    client: AsyncTestClient, team: Team
) -> None:
    async with team.runtime.session() as session:
        account = Account(persona_id=team.personas[REGION], channel="tiktok", handle="occitanie.tt", external_id="tt-1")
        session.add(account)
        await session.flush()
        tiktok = str(account.id)
    blocked = await client.post(
        team.url("/posts"),
        json={"accountIds": [tiktok], "text": NEUTRAL, "localTime": "2027-02-12T10:00:00"},
        headers=team.tokens["manager"],
    )
    assert blocked.status_code == 422, blocked.text
    (entry,) = blocked.json()["extra"]["findings"]
    assert entry["channel"] == "tiktok" and entry["handle"] == "occitanie.tt"
    block = next(f for f in entry["findings"] if f["severity"] == "block")
    assert "l'institution ne peut pas s'incarner elle-même" in block["messageFr"]
    async with team.runtime.session() as session:
        assert (await session.scalar(select(Delivery.id).limit(1))) is None


async def test_local_times_across_the_spring_forward_night(client: AsyncTestClient, team: Team) -> None:
    gap = await compose(client, team, "editor", localTime="2027-03-28T02:30:00")
    assert gap.status_code == 400
    assert gap.json()["detail"] == (
        "28/03/2027 02:30 n'existe pas dans le fuseau Europe/Paris (on avance les horloges cette nuit-là)"
    )
    assert gap.json()["extra"][0]["key"] == "localTime"
    before = await compose(client, team, "editor", localTime="2027-03-27T09:00:00")
    after = await compose(client, team, "editor", localTime="2027-03-29T09:00:00")
    assert before.json()["deliveries"][0]["scheduledAt"] == "2027-03-27T08:00:00Z"
    assert after.json()["deliveries"][0]["scheduledAt"] == "2027-03-29T07:00:00Z"
    naive = await compose(client, team, "editor", scheduledAt="2027-03-29T09:00:00")
    assert naive.status_code == 400 and "décalage horaire" in naive.json()["detail"]  # the staff's French
    both = await compose(client, team, "editor", scheduledAt="2027-03-29T09:00:00Z", publishNow=True)
    assert both.status_code == 400


async def test_reschedule_and_cancel_until_the_queue_has_it(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    first = (await compose(client, team, "editor", localTime="2027-02-15T10:00:00")).json()["deliveries"][0]
    moved = await client.post(
        team.url(f"/deliveries/{first['id']}/reschedule"),
        json={"localTime": "2027-02-16T11:30:00"},
        headers=team.tokens["editor"],
    )
    assert moved.status_code == 200 and moved.json()["scheduledAt"] == "2027-02-16T10:30:00Z"
    canceled = await client.post(
        team.url(f"/deliveries/{first['id']}/cancel"), json={"reason": "doublon"}, headers=team.tokens["editor"]
    )
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"

    second = (await compose(client, team, "editor", localTime="2027-02-17T10:00:00")).json()["deliveries"][0]
    await set_state(runtime, second["id"], DeliveryState.QUEUED)
    late = await client.post(
        team.url(f"/deliveries/{second['id']}/reschedule"),
        json={"scheduledAt": "2027-02-18T10:00:00+01:00"},
        headers=team.tokens["editor"],
    )
    assert late.status_code == 400 and "ne peut plus être reprogrammé" in late.json()["detail"]
    too_late = await client.post(team.url(f"/deliveries/{second['id']}/cancel"), json={}, headers=team.tokens["editor"])
    assert too_late.status_code == 400 and "ne peut plus être annulé" in too_late.json()["detail"]
    history = (await client.get(team.url(f"/deliveries/{first['id']}"), headers=team.tokens["editor"])).json()[
        "history"
    ]
    assert [e["kind"] for e in history] == ["created", "rescheduled", "canceled"]


async def test_send_back_then_submit_again(client: AsyncTestClient, team: Team) -> None:
    post = (await compose(client, team, "contributor", localTime="2027-02-18T10:00:00")).json()["post"]
    empty = await client.post(
        team.url(f"/posts/{post['id']}/send-back"), json={"comment": ""}, headers=team.tokens["editor"]
    )
    assert empty.status_code == 400
    back = await client.post(
        team.url(f"/posts/{post['id']}/send-back"),
        json={"comment": "Ajoutez la date limite."},
        headers=team.tokens["editor"],
    )
    assert back.status_code == 200 and back.json()["deliveries"][0]["state"] == "draft"
    again = await client.post(
        team.url(f"/posts/{post['id']}/submit"),
        json={"localTime": "2027-02-19T10:00:00"},
        headers=team.tokens["contributor"],
    )
    assert again.status_code == 200, again.text
    (delivery,) = again.json()["deliveries"]
    assert delivery["state"] == "pending_approval" and delivery["scheduledAt"] == "2027-02-19T09:00:00Z"


async def test_retry_a_failed_delivery_and_settle_an_uncertain_one(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    failed = (await compose(client, team, "editor", localTime="2027-02-20T10:00:00")).json()["deliveries"][0]
    uncertain = (await compose(client, team, "editor", channel="linkedin", localTime="2027-02-20T10:00:00")).json()[
        "deliveries"
    ][0]
    await set_state(runtime, failed["id"], DeliveryState.FAILED)
    await set_state(runtime, uncertain["id"], DeliveryState.UNCERTAIN)
    by_contributor = await client.post(
        team.url(f"/deliveries/{failed['id']}/retry"), headers=team.tokens["contributor"]
    )
    assert by_contributor.status_code == 403
    retried = await client.post(team.url(f"/deliveries/{failed['id']}/retry"), headers=team.tokens["editor"])
    assert retried.status_code == 200 and retried.json()["state"] == "scheduled"
    twice = await client.post(team.url(f"/deliveries/{failed['id']}/retry"), headers=team.tokens["editor"])
    assert twice.status_code == 400 and "seul un envoi échoué" in twice.json()["detail"]
    settled = await client.post(
        team.url(f"/deliveries/{uncertain['id']}/resolve"),
        json={"published": True, "remoteUrl": "https://www.linkedin.com/feed/update/1"},
        headers=team.tokens["editor"],
    )
    assert settled.status_code == 200
    assert (
        settled.json()["state"] == "published"
        and settled.json()["remoteUrl"] == "https://www.linkedin.com/feed/update/1"
    )


async def test_pagination_filters_and_the_moderator(client: AsyncTestClient, team: Team) -> None:
    made = []
    for day in range(1, 6):
        channel = "x" if day % 2 else "linkedin"
        response = await compose(client, team, "editor", channel=channel, localTime=f"2027-01-0{day}T10:00:00")
        made.append(response.json()["deliveries"][0]["id"])
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(team.url("/deliveries"), params=params, headers=team.tokens["editor"])).json()
        seen += [d["id"] for d in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == made and pages == 3
    linkedin = str(team.accounts[(REGION, "linkedin")])
    only = (
        await client.get(team.url("/deliveries"), params={"accountId": linkedin}, headers=team.tokens["editor"])
    ).json()
    assert [d["id"] for d in only["items"]] == [made[1], made[3]]
    window = (
        await client.get(
            team.url("/deliveries"), params={"from": "2027-01-02", "to": "2027-01-03"}, headers=team.tokens["editor"]
        )
    ).json()
    assert [d["id"] for d in window["items"]] == [made[1], made[2]]
    states = (
        await client.get(
            team.url("/deliveries"), params=[("state", "draft"), ("state", "canceled")], headers=team.tokens["editor"]
        )
    ).json()
    assert states["items"] == []
    bad = await client.get(team.url("/deliveries"), params={"cursor": "not-ours"}, headers=team.tokens["editor"])
    assert bad.status_code == 400
    # moderators work in the inbox only
    assert (await client.get(team.url("/deliveries"), headers=team.tokens["moderator"])).status_code == 403
    assert (await client.get(team.url(f"/deliveries/{made[0]}"), headers=team.tokens["moderator"])).status_code == 403
    # another persona's delivery id under this persona answers 404
    other = await client.get(team.url(f"/deliveries/{made[0]}", slug=PRESIDENT), headers=team.tokens["editor"])
    assert other.status_code == 404


async def test_add_to_queue_takes_each_accounts_next_free_slot(
    client: AsyncTestClient, team: Team, runtime: Runtime
) -> None:
    async with runtime.session() as session:
        for channel, local in (("x", "09:15"), ("linkedin", "12:30")):
            # the persona file's slots make way for the test's
            await session.execute(delete(PostingSlot).where(PostingSlot.account_id == team.accounts[(REGION, channel)]))
            for weekday in range(7):
                session.add(PostingSlot(account_id=team.accounts[(REGION, channel)], weekday=weekday, local_time=local))
    accounts = [str(team.accounts[(REGION, "x")]), str(team.accounts[(REGION, "linkedin")])]
    first = await client.post(
        team.url("/posts"),
        json={"accountIds": accounts, "text": NEUTRAL, "addToQueue": True},
        headers=team.tokens["editor"],
    )
    assert first.status_code == 201, first.text
    times = {d["channel"]: d["scheduledAt"] for d in first.json()["deliveries"]}
    assert times["x"].endswith(("08:15:00Z", "09:15:00Z")) and times["linkedin"].endswith(("11:30:00Z", "12:30:00Z"))
    second = await client.post(
        team.url("/posts"),
        json={"accountIds": accounts[:1], "text": NEUTRAL, "addToQueue": True},
        headers=team.tokens["editor"],
    )
    assert second.json()["deliveries"][0]["scheduledAt"] > times["x"]  # the next slot, not the same one


async def test_live_check_counts_as_the_network_does_and_finds_the_first_person(
    client: AsyncTestClient, team: Team
) -> None:
    accounts = [str(team.accounts[(REGION, "x")]), str(team.accounts[(REGION, "facebook")])]
    text = "Je suis fière de nos lycées 🎓 https://www.laregion.fr/lycees"
    checked = await client.post(
        team.url("/posts/check"), json={"accountIds": accounts, "text": text}, headers=team.tokens["contributor"]
    )
    assert checked.status_code == 200, checked.text
    by_channel = {a["channel"]: a for a in checked.json()["accounts"]}
    assert by_channel["x"]["text"]["counting"] == "twitter" and by_channel["x"]["text"]["limit"] == 280
    assert by_channel["x"]["text"]["length"] == len("Je suis fière de nos lycées  ") + 2 + 23  # emoji 2, URL 23
    rules = {f["rule"] for f in by_channel["facebook"]["findings"]}
    assert any("first_person" in r for r in rules), rules
    first_person = next(f for f in by_channel["facebook"]["findings"] if "first_person" in f["rule"])
    assert (
        first_person["messageFr"]
        and first_person["messageEn"]
        and first_person["severity"] in ("block", "review", "warn")
    )
    async with team.runtime.session() as session:
        assert (await session.scalar(select(Delivery.id).limit(1))) is None  # the check writes nothing


async def test_pause_holds_deliveries_and_resume_lets_them_go(client: AsyncTestClient, team: Team) -> None:
    scheduled = (await compose(client, team, "editor", localTime="2027-02-22T10:00:00")).json()["deliveries"][0]
    no_reason = await client.post(team.url("/pause"), json={"reason": " "}, headers=team.tokens["manager"])
    assert no_reason.status_code == 400
    assert (
        await client.post(team.url("/pause"), json={"reason": "deuil"}, headers=team.tokens["editor"])
    ).status_code == 403
    paused = await client.post(team.url("/pause"), json={"reason": "Deuil régional"}, headers=team.tokens["manager"])
    assert paused.status_code == 200
    assert paused.json()["paused"] is True and [d["id"] for d in paused.json()["held"]] == [scheduled["id"]]
    seen = (await client.get(team.url("/paused-deliveries"), headers=team.tokens["contributor"])).json()
    assert seen["reason"] == "Deuil régional"
    resumed = await client.post(team.url("/resume"), headers=team.tokens["manager"])
    assert resumed.json() == {**resumed.json(), "paused": False, "reason": None, "held": []}
    async with team.runtime.session() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.in_(("persona.paused", "persona.resumed")))
            )
        ).all()
    assert list(actions) == ["persona.paused", "persona.resumed"]


# ------------------------------------------------------------------ the HTML admin's forms


async def test_admin_forms_pause_with_held_list_and_a_refused_post_leaves_nothing(
    client: AsyncTestClient, team: Team, demo: Any, runtime: Runtime
) -> None:
    from core.db.models import Post
    from tests.web.conftest import login

    await compose(client, team, "editor", localTime="2027-02-22T10:00:00")
    await login(client, demo["dircom.region"].email, demo["dircom.region"].password)
    form = {"_csrf_token": client.cookies["pv_csrf"]}
    base = f"/admin/personas/{team.personas[REGION]}"
    paused = await client.post(f"{base}/pause", data={**form, "reason": "Deuil régional"}, follow_redirects=True)
    assert paused.status_code == 200
    assert "Deuil régional" in paused.text and 'class="held"' in paused.text and NEUTRAL[:40] in paused.text
    # a blocked post (first person on the institution is not blocked, an unknown format on X is)
    before = await _count(runtime, Post)
    refused = await client.post(
        f"{base}/compose",
        data={
            **form,
            "account_id": str(team.accounts[(REGION, "instagram")]),
            "text": NEUTRAL,
            "format": "post",
            "when": "at",
            "local_time": "2027-02-23T10:00",
        },
    )
    assert refused.status_code == 422 and 'id="compose-error"' in refused.text
    assert await _count(runtime, Post) == before  # the post the service had flushed is rolled back
    resumed = await client.post(f"{base}/resume", data=form, follow_redirects=True)
    assert resumed.status_code == 200 and 'class="held"' not in resumed.text


async def _count(runtime: Runtime, model: Any) -> int:
    from sqlalchemy import func

    async with runtime.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_post_text_with_a_script_tag_is_shown_as_text(client: AsyncTestClient, team: Team, demo: Any) -> None:
    hostile = 'Concert <script>alert("pv")</script> <img src=x onerror=alert(1)> ce soir.'
    created = await compose(client, team, "editor", text=hostile, scheduledAt="2027-02-02T10:00:00+01:00")
    assert created.status_code == 201, created.text
    body = created.json()
    post_id, delivery_id = body["post"]["id"], body["deliveries"][0]["id"]
    from tests.web.conftest import login

    await login(client, demo["dircom.region"].email, demo["dircom.region"].password)
    base = f"/admin/personas/{team.personas[REGION]}"
    for page in (f"{base}/posts/{post_id}", f"{base}/deliveries/{delivery_id}", f"{base}/calendar?week=2027-02-01"):
        html = (await client.get(page)).text
        assert '<script>alert("pv")</script>' not in html and "<img src=x" not in html, page
        assert "&lt;script&gt;alert(" in html or page.endswith("week=2027-02-01"), page


async def test_on_this_date_without_a_date_and_a_past_date_are_refused_in_french(
    client: AsyncTestClient, team: Team, demo: Any, runtime: Runtime
) -> None:
    from core.db.models import Post
    from tests.web.conftest import login

    await login(client, demo["cm.region"].email, demo["cm.region"].password)
    form = {"_csrf_token": client.cookies["pv_csrf"], "account_id": str(team.accounts[(REGION, "x")])}
    base = f"/admin/personas/{team.personas[REGION]}"
    before = await _count(runtime, Post)
    undated = await client.post(f"{base}/compose", data={**form, "text": NEUTRAL, "when": "at", "local_time": ""})
    assert undated.status_code in (400, 422) and "Choisissez une date et une heure" in undated.text
    past = await client.post(
        f"{base}/compose", data={**form, "text": NEUTRAL, "when": "at", "local_time": "2025-01-10T10:00"}
    )
    assert past.status_code in (400, 422) and "10/01/2025 10:00" in past.text
    assert await _count(runtime, Post) == before  # nothing saved, no draft in silence
    api = await compose(client, team, "editor", scheduledAt="2025-01-10T10:00:00+01:00")
    assert api.status_code in (400, 422) and "est passé" in api.text, api.text


async def test_a_link_is_http_or_https_only(client: AsyncTestClient, team: Team) -> None:
    account = str(team.accounts[(REGION, "x")])
    for link in ("javascript:alert(1)", "ftp://files.laregion.fr/a.pdf", "data:text/html,<b>x</b>"):
        refused = await client.post(
            team.url("/posts"),
            json={"accountIds": [account], "text": NEUTRAL, "link": link, "saveAsDraft": True},
            headers=team.tokens["editor"],
        )
        assert refused.status_code == 400, (link, refused.text)
        assert refused.json()["code"] == "link_scheme" and refused.json()["extra"][0]["key"] == "link"
    accepted = await client.post(
        team.url("/posts"),
        json={"accountIds": [account], "text": NEUTRAL, "link": "https://www.laregion.fr/", "saveAsDraft": True},
        headers=team.tokens["editor"],
    )
    assert accepted.status_code == 201, accepted.text
