"""Every API route × every role × own/other persona, generated from the app's route table.

Each route declares its rule in its handler ``opt`` (web.access): the public, any staff member,
site admins, or an action on the persona, whose roles the one permission table says
(core.people.permissions). A new /api route without a rule fails here, and so does a route whose
answers do not follow its rule. Probes authenticate with API tokens (their owner's rights,
nothing more).
"""

from __future__ import annotations

import itertools
import typing
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit import Actor
from core.db.enums import MediaOrigin, Role
from core.db.models import (
    Account,
    CrisisPosture,
    InboxItem,
    ModerationAction,
    SavedReply,
    Staff,
    VeilleItem,
    VeilleSource,
)
from core.demo import DemoLogin
from core.media.service import store_upload
from core.people.permissions import PERMISSIONS, Action, Permission
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from tests.web.conftest import bearer, persona_ids, staff_with_token
from web.access import declared
from web.accounts import schemas as accounts
from web.inbox import schemas as inbox
from web.media.schemas import MediaDescriptionIn, MediaUploadForm
from web.people import schemas as people
from web.publishing import pause
from web.publishing import schemas as publishing
from web.publishing.edit import PostEditIn
from web.veille import crisis as crisis_web
from web.veille import schemas as veille

pytestmark = pytest.mark.anyio

OWN, OTHER = "region-occitanie", "presidente-region"
PROBES = ["none", *(r.value for r in sorted(Role, key=lambda r: r.rank)), "admin"]
_unique = itertools.count()
# a 1×1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)

# A valid body for each request structure: a new structure without an example fails the test.
EXAMPLES: dict[type[Any], Any] = {
    accounts.AccountModeIn: lambda: {"mode": "dry_run"},
    people.AssignmentIn: lambda: {"role": "viewer"},
    people.StaffIn: lambda: {"email": f"new{next(_unique)}@test.portevoix.fr", "displayName": "New"},
    people.StaffPatch: lambda: {},
    people.MePatch: lambda: {},
    people.PasswordChangeIn: lambda: {"currentPassword": "not-the-password", "newPassword": "another-long-one"},
    people.TokenIn: lambda: {"name": "matrix"},
    publishing.ComposeIn: lambda: {"accountIds": [], "text": "Matrice"},
    publishing.CheckIn: lambda: {"accountIds": [], "text": "Matrice"},
    publishing.ApproveIn: lambda: {"reason": "matrice"},
    publishing.SendBackIn: lambda: {"comment": "matrice"},
    publishing.SubmitIn: lambda: {"localTime": "2027-02-01T10:00:00"},
    publishing.RescheduleIn: lambda: {"localTime": "2027-02-02T10:00:00"},
    publishing.CancelIn: lambda: {"reason": "matrice"},
    publishing.ResolveIn: lambda: {"published": False},
    publishing.PauseIn: lambda: {"reason": "matrice"},
    pause.ResumeIn | None: lambda: {"choices": []},  # optional: without overdue deliveries, no body
    MediaDescriptionIn: lambda: {"altText": "Matrice"},
    PostEditIn: lambda: {"text": "Matrice"},
    inbox.AssignIn: lambda: {"assigneeId": None, "note": "matrice"},
    inbox.ReplyIn: lambda: {"text": "Matrice"},
    inbox.NoteIn: lambda: {"text": "matrice"},
    # refused by the service (unknown reason code) once the rule has let the caller through
    inbox.ModerationIn: lambda: {"action": "hide", "reasonCode": "matrice"},
    inbox.ReviewIn: lambda: {"approve": False},
    inbox.SavedReplyIn: lambda: {"shortCode": f"m{next(_unique)}", "title": "Matrice", "text": "Matrice"},
    # multipart only: a JSON body is refused (400) once the rule has let the caller through
    MediaUploadForm: lambda: {"alt_text": "matrice"},
    crisis_web.DeclineIn | None: lambda: {"reason": "matrice"},
    veille.SourceIn: lambda: {"target": f"https://veille.example.test/{next(_unique)}.xml", "label": "Matrice"},
    veille.SourcePatch: lambda: {"label": "Matrice"},
}


_POSTURE = "/api/v1/personas/{persona_id:uuid}/veille/postures/{posture_id:uuid}"

# The rules as reviewed: weakening one (or adding a route) must show up here, in review. A persona
# route names its action and the roles the permission table gives it: "minimum-refused roles",
# "+admin_sees" when site admins may do it without an assignment.
REVIEWED_RULES = {
    "GET /api/v1/me": "staff",
    "PATCH /api/v1/me": "staff",
    "POST /api/v1/me/password": "staff",
    "GET /api/v1/me/tokens": "staff",
    "POST /api/v1/me/tokens": "staff",
    "DELETE /api/v1/me/tokens/{token_id:uuid}": "staff",
    "GET /api/v1/personas": "staff",
    "GET /api/v1/personas/{persona_id:uuid}": "see_persona: viewer+admin_sees",
    "GET /api/v1/personas/{persona_id:uuid}/accounts": "see_persona: viewer+admin_sees",
    "PATCH /api/v1/personas/{persona_id:uuid}/accounts/{account_id:uuid}": "manage_accounts: manager",
    "GET /api/v1/personas/{persona_id:uuid}/team": "see_persona: viewer+admin_sees",
    "DELETE /api/v1/personas/{persona_id:uuid}/team/{staff_id:uuid}": "admin",
    "PUT /api/v1/personas/{persona_id:uuid}/team/{staff_id:uuid}": "admin",
    "GET /api/v1/staff": "admin",
    "POST /api/v1/staff": "admin",
    "GET /api/v1/staff/{staff_id:uuid}": "admin",
    "PATCH /api/v1/staff/{staff_id:uuid}": "admin",
    "POST /api/v1/staff/{staff_id:uuid}/password-reset": "admin",
    # publishing: moderators work in the inbox only, so they see no posts ("-moderator")
    "POST /api/v1/personas/{persona_id:uuid}/posts": "compose: contributor",
    "POST /api/v1/personas/{persona_id:uuid}/posts/check": "compose: contributor",
    "GET /api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}": "see_posts: viewer-moderator",
    "POST /api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}/approve": "approve: editor",
    "POST /api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}/send-back": "approve: editor",
    "POST /api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}/submit": "compose: contributor",
    "GET /api/v1/personas/{persona_id:uuid}/deliveries": "see_posts: viewer-moderator",
    "GET /api/v1/personas/{persona_id:uuid}/deliveries/{delivery_id:uuid}": "see_posts: viewer-moderator",
    "POST /api/v1/personas/{persona_id:uuid}/deliveries/{delivery_id:uuid}/reschedule": "compose: contributor",
    "POST /api/v1/personas/{persona_id:uuid}/deliveries/{delivery_id:uuid}/cancel": "compose: contributor",
    "POST /api/v1/personas/{persona_id:uuid}/deliveries/{delivery_id:uuid}/retry": "settle: editor",
    "POST /api/v1/personas/{persona_id:uuid}/deliveries/{delivery_id:uuid}/resolve": "settle: editor",
    # the kill switch: managers, and site admins on any persona (one without a manager included)
    "POST /api/v1/personas/{persona_id:uuid}/pause": "pause: manager+admin_sees",
    "POST /api/v1/personas/{persona_id:uuid}/resume": "pause: manager+admin_sees",
    "GET /api/v1/personas/{persona_id:uuid}/paused-deliveries": "see_posts: viewer-moderator",
    # media: uploading is composing; reading them is reading posts
    "POST /api/v1/personas/{persona_id:uuid}/media": "compose: contributor",
    "GET /api/v1/personas/{persona_id:uuid}/media": "see_posts: viewer-moderator",
    "GET /api/v1/personas/{persona_id:uuid}/media/{media_id:uuid}/file": "see_posts: viewer-moderator",
    "PATCH /api/v1/personas/{persona_id:uuid}/media/{media_id:uuid}": "compose: contributor",
    "PATCH /api/v1/personas/{persona_id:uuid}/posts/{post_id:uuid}": "compose: contributor",
    "GET /api/v1/notifications": "staff",
    "GET /api/v1/notifications/unread": "staff",
    "POST /api/v1/notifications/read": "staff",
    "POST /api/v1/notifications/{notification_id:uuid}/read": "staff",
    "DELETE /api/v1/personas/{persona_id:uuid}/media/{media_id:uuid}": "compose: contributor",
    # inbox: moderators and up (private messages: the same roles, see_private_messages); a ban's
    # review is a manager's; saved replies are written by editors, used by everyone in the inbox
    "GET /api/v1/personas/{persona_id:uuid}/inbox": "moderate: moderator",
    "GET /api/v1/personas/{persona_id:uuid}/inbox/summary": "moderate: moderator",
    "GET /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/assign": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/close": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/moderation": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/notes": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/reopen": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/reply": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/inbox/{item_id:uuid}/replying": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/moderation/{action_id:uuid}/review": "ban: manager",
    "POST /api/v1/personas/{persona_id:uuid}/moderation/{action_id:uuid}/accept": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/moderation/{action_id:uuid}/dismiss": "moderate: moderator",
    "GET /api/v1/personas/{persona_id:uuid}/saved-replies": "moderate: moderator",
    "POST /api/v1/personas/{persona_id:uuid}/saved-replies": "saved_replies: editor",
    "PUT /api/v1/personas/{persona_id:uuid}/saved-replies/{saved_reply_id:uuid}": "saved_replies: editor",
    "DELETE /api/v1/personas/{persona_id:uuid}/saved-replies/{saved_reply_id:uuid}": "saved_replies: editor",
    # usage: every assigned role, and site admins (they watch every persona's budgets)
    "GET /api/v1/personas/{persona_id:uuid}/usage": "see_usage: viewer+admin_sees",
    "GET /api/v1/personas/{persona_id:uuid}/usage/{table:str}": "see_usage: viewer+admin_sees",
    # crisis postures: seen with the watch; decided by managers and site admins (the pause they pull)
    "GET /api/v1/personas/{persona_id:uuid}/veille/postures": "see_veille: viewer",
    f"POST {_POSTURE}/accept": "decide_posture: manager+admin_sees",
    f"POST {_POSTURE}/decline": "decide_posture: manager+admin_sees",
    f"POST {_POSTURE}/end": "decide_posture: manager+admin_sees",
    # veille: the board for every assigned role; working it is composing; sources are the editors'
    "GET /api/v1/personas/{persona_id:uuid}/veille/sources": "see_veille: viewer",
    "POST /api/v1/personas/{persona_id:uuid}/veille/sources": "manage_sources: editor",
    "GET /api/v1/personas/{persona_id:uuid}/veille/sources/{source_id:uuid}": "see_veille: viewer",
    "PATCH /api/v1/personas/{persona_id:uuid}/veille/sources/{source_id:uuid}": "manage_sources: editor",
    "DELETE /api/v1/personas/{persona_id:uuid}/veille/sources/{source_id:uuid}": "manage_sources: editor",
    "GET /api/v1/personas/{persona_id:uuid}/veille/items": "see_veille: viewer",
    "GET /api/v1/personas/{persona_id:uuid}/veille/items/{watch_item_id:uuid}": "see_veille: viewer",
    "POST /api/v1/personas/{persona_id:uuid}/veille/items/{watch_item_id:uuid}/seen": "compose: contributor",
    "POST /api/v1/personas/{persona_id:uuid}/veille/items/{watch_item_id:uuid}/dismiss": "compose: contributor",
    "POST /api/v1/personas/{persona_id:uuid}/veille/items/{watch_item_id:uuid}/draft": "compose: contributor",
}


def roles(permission: Permission) -> str:
    """The permission table's entry as a word: "viewer-moderator", "viewer+admin_sees"."""
    refused = "".join(f"-{r.value}" for r in sorted(permission.refused, key=lambda r: -r.rank))
    return permission.minimum.value + refused + ("+admin_sees" if permission.admin_without_assignment else "")


def rule_of(opt: dict[str, Any]) -> str:
    """What a route declares, with the roles the permission table gives its action."""
    word = str(declared(opt))
    return word if word in ("public", "staff", "admin") else f"{word}: {roles(PERMISSIONS[Action(word)])}"


def api_operations(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    operations = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api"):
            for method, (handler, _kwargs) in route.route_handler_map.items():
                if method != "OPTIONS":
                    operations.append((method, route.path, handler))
    return sorted(operations, key=lambda op: (op[1], op[0]))


def body_type(handler: HTTPRouteHandler) -> type[Any] | None:
    hints = typing.get_type_hints(handler.fn, include_extras=True)
    if "data" not in hints:
        return None
    return typing.get_args(hints["data"])[0]


def expected(rule: str, probe: str, target: str) -> str:
    """'allowed', 'forbidden' (403) or 'absent' (404) for this probe on this persona."""
    if rule == "staff":
        return "allowed"
    if rule == "admin":
        return "allowed" if probe == "admin" else "forbidden"
    _action, _, granted = rule.partition(": ")
    granted, admin_sees, _ = granted.partition("+admin_sees")
    if probe == "admin":
        return "allowed" if admin_sees else "absent"
    if probe == "none" or target == OTHER:
        return "absent"
    minimum, *refused = granted.split("-")
    if probe in refused:
        return "forbidden"
    return "allowed" if Role(probe).at_least(Role(minimum)) else "forbidden"


async def test_every_api_route_declares_a_rule(client: AsyncTestClient) -> None:
    operations = api_operations(client.app)
    assert len(operations) >= 15, "the route table looks empty"
    undeclared = [f"{m} {p}" for m, p, h in operations if declared(h.opt) in (None, "public")]
    assert undeclared == [], f"API routes without an access rule (or public): {undeclared}"
    assert {f"{m} {p}": rule_of(h.opt) for m, p, h in operations} == REVIEWED_RULES
    admin_pages = [
        f"{method} {route.path}"
        for route in client.app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/admin")
        for method, (handler, _kwargs) in route.route_handler_map.items()
        if method != "OPTIONS" and declared(handler.opt) is None
    ]
    assert admin_pages == [], f"admin pages without an access rule: {admin_pages}"


async def test_authorization_matrix(client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]) -> None:
    ids = await persona_ids(runtime)
    tokens = {}
    for probe in PROBES:
        roles = {OWN: Role(probe)} if probe not in ("none", "admin") else {}
        _, tokens[probe] = await staff_with_token(runtime, f"probe-{probe}", roles=roles, is_admin=probe == "admin")
    async with runtime.session() as session:
        accounts = {
            slug: await session.scalar(select(Account.id).where(Account.persona_id == pid).limit(1))
            for slug, pid in ids.items()
        }
        target_staff = await session.scalar(select(Staff.id).where(Staff.email == demo["apprentie.region"].email))
    posts = {OWN: await _a_post(runtime, ids[OWN], accounts[OWN], target_staff), OTHER: (uuid.uuid4(), uuid.uuid4())}
    media = {OWN: await _a_media(runtime, ids[OWN]), OTHER: uuid.uuid4()}
    items = {OWN: await _an_item(runtime, accounts[OWN]), OTHER: uuid.uuid4()}
    bans = {OWN: await _a_pending_ban(runtime, items[OWN], target_staff), OTHER: uuid.uuid4()}
    postures = {OWN: await _a_posture(runtime, ids[OWN]), OTHER: await _a_posture(runtime, ids[OTHER])}
    watched = {OWN: await _a_watch_item(runtime, ids[OWN]), OTHER: await _a_watch_item(runtime, ids[OTHER])}

    failures: list[str] = []
    checked = 0
    for method, path, handler in api_operations(client.app):
        assert declared(handler.opt) is not None, f"{method} {path} declares no access rule"
        rule = rule_of(handler.opt)
        kind = body_type(handler)
        if kind is not None and kind not in EXAMPLES:
            pytest.fail(f"{method} {path}: add an example body for {kind.__name__} to EXAMPLES")
        for target in (OWN, OTHER):
            url = (
                path.replace("{persona_id:uuid}", str(ids[target]))
                .replace("{account_id:uuid}", str(accounts[target]))
                .replace("{staff_id:uuid}", str(target_staff))
                .replace("{token_id:uuid}", str(uuid.uuid4()))
                .replace("{notification_id:uuid}", str(uuid.uuid4()))
                .replace("{post_id:uuid}", str(posts[target][0]))
                .replace("{delivery_id:uuid}", str(posts[target][1]))
                .replace("{media_id:uuid}", "{media_id:uuid}" if method == "DELETE" else str(media[target]))
                .replace("{item_id:uuid}", str(items[target]))
                .replace("{action_id:uuid}", str(bans[target]))
                .replace("{posture_id:uuid}", str(postures[target]))
                .replace("{watch_item_id:uuid}", str(watched[target][1]))
                .replace("{table:str}", "cadence.csv")
            )

            async def fresh(url: str, target: str = target) -> str:
                # a saved reply (a media) per probe: the first allowed DELETE would leave the next ones a 404
                saved = await _a_saved_reply(runtime, ids[OWN]) if target == OWN else uuid.uuid4()
                url = url.replace("{saved_reply_id:uuid}", str(saved))
                if "{source_id:uuid}" in url:  # a watch source per probe too (DELETE)
                    source = (await _a_watch_item(runtime, ids[target]))[0]
                    url = url.replace("{source_id:uuid}", str(source))
                if "{media_id:uuid}" in url:  # the same for a deleted media
                    url = url.replace(
                        "{media_id:uuid}", str(await _a_media(runtime, ids[OWN]) if target == OWN else uuid.uuid4())
                    )
                return url

            assert "{" not in (await fresh(url)), f"no value for a path parameter of {path}"
            body = EXAMPLES[kind]() if kind is not None else None
            anonymous = await client.request(method, await fresh(url), json=body)
            if anonymous.status_code != 401:
                failures.append(f"{method} {url} without a token: {anonymous.status_code}, expected 401")
            for probe in PROBES:
                body = EXAMPLES[kind]() if kind is not None else None
                response = await client.request(method, await fresh(url), json=body, headers=bearer(tokens[probe]))
                want = expected(rule, probe, target)
                got = response.status_code
                ok = {
                    "allowed": got not in (401, 403)
                    and not (got == 404 and rule not in ("staff", "admin"))
                    and got < 500,
                    "forbidden": got == 403,
                    "absent": got == 404,
                }[want]
                checked += 1
                if not ok:
                    failures.append(
                        f"{method} {path} as {probe} on {target}: {got}, expected {want} ({response.text[:120]})"
                    )
    assert failures == [], "\n".join(failures)
    assert checked >= 15 * len(PROBES) * 2


async def _a_media(runtime: Runtime, persona_id: uuid.UUID) -> uuid.UUID:
    async with runtime.session() as session:
        stored = await store_upload(
            session,
            runtime.settings.data_path,
            persona_id=persona_id,
            data=PNG,
            filename="m.png",
            content_type="image/png",
            alt_text="matrice",
            origin=MediaOrigin.REGION_DAM,
            actor=Actor.system("matrix"),
        )
        return stored.media.id


async def _a_watch_item(runtime: Runtime, persona_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A watch source of the persona and an item it brought: (source id, item id)."""
    async with runtime.session() as session:
        source = VeilleSource(
            persona_id=persona_id,
            kind="feed",
            plugin="rss",
            target=f"https://m.example.test/{next(_unique)}",
            label="M",
        )
        session.add(source)
        await session.flush()
        item = VeilleItem(
            source_id=source.id, persona_id=persona_id, dedup_key=uuid.uuid4().hex, title="Matrice", content_hash="0"
        )
        session.add(item)
        await session.flush()
        return source.id, item.id


async def _a_posture(runtime: Runtime, persona_id: uuid.UUID) -> uuid.UUID:
    """A crisis posture proposed to the persona (the first manager accepts it, ends it; the rest are 409)."""
    async with runtime.session() as session:
        posture = CrisisPosture(persona_id=persona_id, trigger="manual", detail={"signals": []}, held_delivery_ids=[])
        session.add(posture)
        await session.flush()
        return posture.id


async def _an_item(runtime: Runtime, account_id: uuid.UUID) -> uuid.UUID:
    """A comment in the persona's inbox, for the inbox routes to act on."""
    async with runtime.session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        item = InboxItem(
            account_id=account.id,
            persona_id=account.persona_id,
            remote_id="matrix-comment",
            kind="comment",
            author_remote_id="matrix-author",
            author_handle="matrice",
            text="Matrice des droits ?",
            received_at=datetime(2027, 1, 10, 9, tzinfo=UTC),
        )
        session.add(item)
        await session.flush()
        return item.id


async def _a_pending_ban(runtime: Runtime, item_id: uuid.UUID, requested_by: uuid.UUID) -> uuid.UUID:
    """A ban of the item's author that waits for a manager's review."""
    async with runtime.session() as session:
        item = await session.get(InboxItem, item_id)
        assert item is not None
        entry = ModerationAction(
            item_id=item.id,
            persona_id=item.persona_id,
            action="ban",
            state="pending_review",
            reason_code="harassment",
            requested_by_id=requested_by,
        )
        session.add(entry)
        await session.flush()
        return entry.id


async def _a_saved_reply(runtime: Runtime, persona_id: uuid.UUID) -> uuid.UUID:
    async with runtime.session() as session:
        saved = SavedReply(persona_id=persona_id, short_code=f"s{next(_unique)}", title="Matrice", text="Matrice")
        session.add(saved)
        await session.flush()
        return saved.id


async def _a_post(
    runtime: Runtime, persona_id: uuid.UUID, account_id: uuid.UUID, author: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """A contributor's post waiting for approval, so the publishing routes have something real to act on."""
    async with runtime.session() as session:
        result = await compose(
            session,
            runtime.channels,
            StaffActor(id=author, label="matrix", role=Role.CONTRIBUTOR),
            ComposeRequest(
                persona_id=persona_id,
                account_ids=(account_id,),
                text="Matrice des droits.",
                scheduled_at=datetime(2027, 2, 1, 9, tzinfo=UTC),
            ),
        )
        return result.post.id, result.deliveries[0].id
