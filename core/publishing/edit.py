"""Editing a saved post: its words (text, variants, link, format), its media and its accounts.

A post can be edited while nothing of it may have reached a network: every delivery that is not
canceled is a draft, waits for approval, is scheduled, or failed (:data:`EDIT_STATES`). A delivery
queued, publishing, published or uncertain stops the edit — the words are the post's, shared by
its deliveries, and changing them then would make a published delivery's record lie (or change
a post the worker is sending).

The policy engine runs again as when composing (the same helpers of ``core.publishing.compose``),
and each delivery follows from what it was:

- a draft stays a draft, a delivery waiting for approval keeps waiting (the approver reads the
  new words);
- a scheduled delivery whose words change goes back to approval when its approval was given to
  the old words, when a contributor changed them, or when the engine now asks for a review; an
  editor's own scheduled post that the engine finds fine stays scheduled (she could have
  composed it so);
- a failed delivery whose words change is canceled and replaced by a draft on the same account
  (its time has passed: the author submits the draft with a new one; a new delivery, so a new
  reference for the network);
- a delivery whose words do not change (only the accounts did) is left as it is (the dispatcher
  checks the policy again when it is due);
- an account taken off the post cancels its delivery (kept, with its history); an account added
  gets a delivery like compose makes one, at the post's next time (a draft when it has none).

Every kept delivery moves through the one state machine (a compare-and-set, to itself or back to
approval): a dispatcher claiming it meanwhile makes the edit fail, never half-apply. The history
keeps the words before and after, on each delivery and in the audit log.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.channels.registry import ChannelRegistry
from core.db.enums import DeliveryKind, DeliveryState, Role
from core.db.models import Delivery, Media, Post, Staff
from core.db.types import utcnow
from core.errors import N_
from core.media import service as media_service
from core.people.permissions import Action, allows, require
from core.publishing.compose import (
    ComposeRequest,
    PolicyBlocked,
    PublishingError,
    StaffActor,
    check_content,
    findings_on_account,
    findings_summary,
    initial_state,
    load_persona,
    load_post,
    own_accounts,
    own_media,
)
from core.publishing.states import move, record_event
from personas.policy import Finding, Outcome, Override, Stage, Verdict, decide

S = DeliveryState
#: the states every (not canceled) delivery of a post must be in for the post to be edited
EDIT_STATES = (S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.FAILED)
#: a delivery in one of these may be on a network, or is being sent: its post's words are final
FINAL_STATES = (S.QUEUED, S.PUBLISHING, S.PUBLISHED, S.UNCERTAIN)
#: the post's fields that make its content (what an approval signs)
CONTENT = ("text", "variants", "link", "format", "media_ids", "publish_options")


class PostChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What to change; a field left UNSET stays as it is. ``variants`` replaces all variants
    (an empty text drops a channel's variant); ``media_ids`` is the whole list, in order;
    ``account_ids`` the whole list of target accounts."""

    text: str | UnsetType = UNSET
    link: str | None | UnsetType = UNSET
    format: str | UnsetType = UNSET
    variants: dict[str, str] | UnsetType = UNSET
    media_ids: tuple[uuid.UUID, ...] | UnsetType = UNSET
    account_ids: tuple[uuid.UUID, ...] | UnsetType = UNSET
    #: the whole per-network options (TikTok's privacy level…), as composing takes them
    publish_options: dict[str, dict[str, str]] | UnsetType = UNSET
    #: a manager lifting overridable blocks, with reasons
    overrides: tuple[Override, ...] = ()


class EditResult(msgspec.Struct, frozen=True, kw_only=True):
    post: Post
    #: the post's deliveries that are not canceled, after the edit
    deliveries: tuple[Delivery, ...]
    findings: dict[uuid.UUID, list[Finding]]  # account id -> findings
    #: the content fields that changed (``accounts`` when the accounts did)
    changed: tuple[str, ...]


def may_edit(actor: StaffActor, post: Post) -> None:
    """Refuse unless ``actor`` may edit ``post``: composing is allowed to them, and a contributor
    edits only her own posts (editors and managers edit anyone's)."""
    require(actor.role, Action.COMPOSE)
    if post.author_id != actor.id and not allows(actor.role, Action.PUBLISH):
        # as cancel and reschedule say it: a refusal of this post, not of the route (the role may edit)
        raise PublishingError(N_("a contributor edits only her own posts"), code="not_the_author")


def editable(post: Post) -> None:
    """Refuse unless the post can still be edited (see the module's docstring for why)."""
    if post.kind == DeliveryKind.REPLY:
        raise PublishingError(N_("a reply cannot be edited: cancel it and answer again"), code="reply_not_editable")
    final = [d.state.value for d in post.deliveries if d.state in FINAL_STATES]
    if final:
        raise PublishingError(
            N_("this post can no longer be edited: a delivery is %(state)s (compose a new post instead)"),
            params={"state": min(final)},
            code="post_not_editable",
        )
    if not [d for d in post.deliveries if d.state != S.CANCELED]:
        raise PublishingError(N_("a canceled post cannot be edited: compose a new one"), code="post_canceled")


def _content(post: Post, media: list[Media]) -> dict[str, object]:
    return {
        "text": post.text,
        "variants": dict(post.variants or {}),
        "link": post.link,
        "format": post.format,
        "media_ids": [str(m.id) for m in media],
        "publish_options": {channel: dict(chosen) for channel, chosen in (post.publish_options or {}).items()},
    }


def _next_time(kept: list[Delivery]) -> datetime | None:
    """When an added account publishes: the post's next time still to come (None: a draft)."""
    now = utcnow()
    times = [
        d.scheduled_at
        for d in kept
        if d.state in (S.PENDING_APPROVAL, S.SCHEDULED) and d.scheduled_at is not None and d.scheduled_at > now
    ]
    return min(times) if times else None


async def _chosen_media(
    session: AsyncSession, actor: StaffActor, post: Post, ids: tuple[uuid.UUID, ...]
) -> tuple[uuid.UUID, ...]:
    """The media ids the post keeps: its own stay; a media another post uses is copied (as composing does)."""
    own = {m.id for m in post.media}
    others = [i for i in ids if i not in own]
    copies = await media_service.for_a_new_post(session, post.persona_id, others, actor.actor)
    copied = dict(zip(others, copies, strict=True))
    return tuple(i if i in own else copied[i] for i in ids)


async def edit_post(
    session: AsyncSession, registry: ChannelRegistry, actor: StaffActor, post_id: uuid.UUID, changes: PostChanges
) -> EditResult:
    """Change a saved post's words, media or accounts, re-check it, and move its deliveries on."""
    post = await load_post(session, post_id)
    may_edit(actor, post)
    editable(post)
    if changes.overrides:
        require(actor.role, Action.OVERRIDE)
    persona = await load_persona(session, post.persona_id)
    active = [d for d in post.deliveries if d.state != S.CANCELED]
    before_media = sorted(post.media, key=lambda m: m.position)
    before = _content(post, before_media)
    before_accounts = [d.account_id for d in active]

    # ---- the new content, checked as compose checks it
    text = post.text if changes.text is UNSET else changes.text
    link = post.link if changes.link is UNSET else (changes.link or None)
    format_ = post.format if changes.format is UNSET else changes.format
    variants = (
        dict(post.variants or {})
        if changes.variants is UNSET
        else {k: v for k, v in changes.variants.items() if v.strip()}
    )
    media_ids = tuple(m.id for m in before_media) if changes.media_ids is UNSET else changes.media_ids
    account_ids = tuple(before_accounts) if changes.account_ids is UNSET else tuple(dict.fromkeys(changes.account_ids))
    if media_ids != tuple(m.id for m in before_media):
        media_ids = await _chosen_media(session, actor, post, media_ids)
    draft = ComposeRequest(
        persona_id=persona.id,
        account_ids=account_ids,
        text=text,
        link=link,
        format=format_,
        media_ids=media_ids,
        variants=variants,
        repost_of=post.repost_of,
    )
    check_content(draft, post.kind)
    accounts = await own_accounts(session, persona, account_ids)
    media = await own_media(session, persona, media_ids)

    # ---- what changed
    post.text, post.link, post.format, post.variants = text, link, format_, variants
    if changes.publish_options is not UNSET:
        post.publish_options = {channel: dict(chosen) for channel, chosen in changes.publish_options.items() if chosen}
    after = _content(post, media)
    changed = [field for field in CONTENT if before[field] != after[field]]
    if set(account_ids) != set(before_accounts):
        changed.append("accounts")
    if not changed:
        return EditResult(post=post, deliveries=tuple(active), findings={}, changed=())
    content_changed = any(field in CONTENT for field in changed)
    if "media_ids" in changed:
        for old in before_media:
            if old.id not in media_ids:
                old.post_id, old.position = None, 0  # back to the library, unused
        for position, item in enumerate(media):
            item.post_id, item.position = post.id, position
    await session.flush()
    await session.refresh(post, ["media"])

    names = {d.account_id: d.account.handle for d in active} | {a.id: a.handle for a in accounts}

    # ---- the policy engine, account by account, and what each delivery becomes
    composer = await session.get(Staff, actor.id) if actor.id is not None else None
    by_account = {d.account_id: d for d in active}
    kept = [d for d in active if d.account_id in set(account_ids)]
    removed = [d for d in active if d.account_id not in set(account_ids)]
    added_at = _next_time(active)  # the post's time, even when the account that had it is taken off
    findings: dict[uuid.UUID, list[Finding]] = {}
    plans: list[_Plan] = []
    blocked: dict[uuid.UUID, list[Finding]] = {}
    for account in accounts:
        delivery = by_account.get(account.id)
        if delivery is not None and not content_changed:
            continue  # the same words on the same account: nothing to decide again
        replaced = delivery is not None and delivery.state == S.FAILED
        when = added_at if delivery is None else (None if replaced else delivery.scheduled_at)
        waits = when is not None and (delivery is None or delivery.state != S.DRAFT)
        moment = when if when is not None and when > utcnow() else utcnow()
        stage = Stage.SCHEDULE if waits else Stage.DRAFT
        found = await findings_on_account(session, registry, persona, post, account, moment, stage, composer, media)
        findings[account.id] = found
        verdict = decide(found, changes.overrides)
        if delivery is None or replaced:
            target = initial_state(actor.role, verdict.outcome, post.kind, keep_draft=not waits)
        else:
            target = _kept_state(actor, delivery, verdict)
        if target != S.DRAFT and verdict.outcome == Outcome.BLOCKED:
            blocked[account.id] = found
        plans.append(_Plan(delivery=delivery, account_id=account.id, channel=account.channel, to=target, when=when))
    if blocked:
        raise PolicyBlocked(blocked)

    # ---- the moves (compare-and-set: a delivery claimed meanwhile fails the whole edit)
    for delivery in removed:
        await _moved(
            session, delivery, S.CANCELED, event="canceled", actor=actor, detail={"reason": "removed from the post"}
        )
    planned = {p.delivery.id for p in plans if p.delivery is not None}
    result: list[Delivery] = [d for d in kept if d.id not in planned]
    for plan in plans:
        delivery = plan.delivery
        if delivery is not None and delivery.state != S.FAILED:
            detail = _edit_detail(before, after, changed, plan.channel, plan.to)
            await _moved(
                session,
                delivery,
                plan.to,
                event="edited",
                actor=actor,
                detail={**detail, "findings": findings_summary(findings[plan.account_id])},
                # an approval signs words: new words wait for a new one
                approved_by_id=None,
                approval_reason=None,
                approved_rules=[],
            )
            result.append(delivery)
            continue
        fresh = Delivery(
            post_id=post.id,
            account_id=plan.account_id,
            persona_id=post.persona_id,
            kind=post.kind,
            state=plan.to,
            scheduled_at=plan.when,
            client_ref=uuid.uuid4().hex,
        )
        session.add(fresh)
        await session.flush()
        replaces = {"replaces": delivery.id} if delivery is not None else {}
        findings_of = findings_summary(findings[plan.account_id])
        record_event(
            session, fresh.id, "created", actor=actor.id, state=plan.to.value, findings=findings_of, **replaces
        )
        if delivery is not None:  # a failed delivery: its time has passed, a draft takes its place
            await _moved(
                session,
                delivery,
                S.CANCELED,
                event="canceled",
                actor=actor,
                detail={"reason": "edited: replaced by a new draft", "replaced_by": fresh.id},
            )
        result.append(fresh)

    for override in changes.overrides:
        record(
            session,
            actor.actor,
            "policy.override",
            "post",
            post.id,
            persona_id=persona.id,
            after={"rule": override.rule},
            reason=override.reason,
        )
    record(
        session,
        actor.actor,
        "post.edited",
        "post",
        post.id,
        persona_id=persona.id,
        before={**{k: before[k] for k in changed if k in CONTENT}, "accounts": [names[i] for i in before_accounts]},
        after={
            **{k: after[k] for k in changed if k in CONTENT},
            "accounts": [names[i] for i in account_ids],
            "states": {names[d.account_id]: d.state.value for d in result},
        },
    )
    return EditResult(post=post, deliveries=tuple(result), findings=findings, changed=tuple(changed))


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What the edit does on one account: a kept delivery moved, or a new one (``delivery`` a
    failed one it replaces, or None)."""

    delivery: Delivery | None
    account_id: uuid.UUID
    channel: str
    to: DeliveryState
    when: datetime | None


def _kept_state(actor: StaffActor, delivery: Delivery, verdict: Verdict) -> DeliveryState:
    """What a kept draft, waiting or scheduled delivery becomes when its words change."""
    if delivery.state != S.SCHEDULED:
        return delivery.state
    if verdict.to_review or actor.role == Role.CONTRIBUTOR or delivery.approved_by_id is not None:
        # the engine asks for a reading, a contributor's words are read first, an approval signed other words
        return S.PENDING_APPROVAL
    return S.SCHEDULED


def _edit_detail(
    before: dict[str, object], after: dict[str, object], changed: list[str], channel: str, target: DeliveryState
) -> dict[str, object]:
    """A delivery's history entry: what changed, and its own words before and after."""

    def words(content: dict[str, object]) -> str:
        variants = content["variants"]
        variant = variants.get(channel) if isinstance(variants, dict) else None
        return variant if isinstance(variant, str) and variant.strip() else str(content["text"])

    detail: dict[str, object] = {"changed": changed, "state": target.value}
    if words(before) != words(after):
        detail |= {"text_before": words(before), "text_after": words(after)}
    return detail


async def _moved(
    session: AsyncSession,
    delivery: Delivery,
    to: DeliveryState,
    *,
    event: str,
    actor: StaffActor,
    detail: dict[str, object],
    **values: object,
) -> None:
    if not await move(
        session, delivery, to=to, from_=(delivery.state,), event=event, actor=actor.id, detail=detail, **values
    ):
        raise PublishingError(
            N_("the post changed meanwhile (a delivery was queued?): reload it and edit again"),
            code="changed_meanwhile",
        )
