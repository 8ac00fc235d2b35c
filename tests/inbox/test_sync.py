"""The reconciliation poll against the fake networks: every network whose plugin reads an inbox,
several pages each, none lost, none twice, a crash between pages, an expired token, a refused source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core.channels import AccountRef, Feature
from core.db.enums import AccountStatus, InboxKind
from core.db.models import Account, AuditEvent
from core.inbox.sync import inbox_channels, sync_account, sync_due_accounts
from core.runtime import Runtime
from plugins.testing import FakeNetwork
from tests.inbox.networks import (
    account_row,
    connect,
    item_count,
    items_of,
    networks_fixture,  # noqa: F401 - the fixture "networks"
    persona,
    point_at,
)

pytestmark = pytest.mark.anyio
Seed = Callable[[Any, AccountRef], set[InboxKind]]


def seed_facebook(fake: Any, ref: AccountRef) -> set[InboxKind]:
    post = fake.seed_post("Le TER à 1 € cet été : où et quand ?")
    first = fake.seed_comment(post, "Super nouvelle pour Toulouse !")
    for n in range(3):
        fake.seed_comment(post, f"Et pour Montpellier ? ({n})", author=(f"62000000000001{n}", f"Lecteur {n}"))
    fake.seed_comment(post, "Je réponds à Camille", parent_id=first, author=("6200000000000099", "Luc"))
    fake.seed_conversation("7100000000000001", "Inès Robert", ["Bonjour", "Où trouver le formulaire ?"])
    return {InboxKind.COMMENT, InboxKind.REPLY, InboxKind.MESSAGE}


def seed_instagram(fake: Any, ref: AccountRef) -> set[InboxKind]:
    media = fake.seed_media("Le pont du Gard au lever du soleil")
    first = fake.seed_comment(media, "Magnifique 😍")
    for n in range(3):
        fake.seed_comment(media, f"On y était ! {n}", username=f"visiteur{n}", user_id=f"1780000000000100{n}")
    fake.seed_comment(media, "Moi aussi", parent_id=first, username="ana", user_id="17800000000001999")
    return {InboxKind.COMMENT, InboxKind.REPLY}


def seed_linkedin(fake: Any, ref: AccountRef) -> set[InboxKind]:
    post = fake.add_post("Nouvelle aide régionale à l'export pour les PME.")
    first = fake.add_comment(post, "Quels sont les critères d'éligibilité ?")
    for n in range(3):
        fake.add_comment(post, f"Intéressant ({n})", actor=f"urn:li:person:p{n}")
    fake.add_comment(post, "Voir le site de la Région", actor="urn:li:person:xyz", parent=first)
    return {InboxKind.COMMENT, InboxKind.REPLY}


def seed_x(fake: Any, ref: AccountRef) -> set[InboxKind]:
    ours = fake.add_tweet(ref.external_id, "Discours de la présidente à Albi.")
    for n in range(6):
        fake.add_mention(ref, f"merci pour l'info {n}", author=f"citoyen{n}")
    fake.add_mention(ref, "et le lien vers la vidéo ?", author="curieuse", reply_to=ours)
    return {InboxKind.MENTION, InboxKind.REPLY}


def seed_bluesky(fake: Any, ref: AccountRef) -> set[InboxKind]:
    ours = fake.add_post(ref.handle, "Question du jour : votre plus beau village ?")
    for n in range(4):
        fake.add_post(f"user{n}.bsky.social", f"Saint-Cirq-Lapopie ! {n}", reply_to=ours.uri)
    fake.add_post("ana.bsky.social", f"@{ref.handle} vous avez vu ?", mention=ref)
    return {InboxKind.MENTION, InboxKind.REPLY}


def seed_mastodon(fake: Any, ref: AccountRef) -> set[InboxKind]:
    for n in range(4):
        fake.add_mention(f"bravo pour le plan vélo {n}", from_acct=f"cycliste{n}")
    fake.add_direct_message("Bonjour, à qui écrire pour une subvention ?", from_acct="asso")
    fake.add_direct_message("Et pour un stage ?", from_acct="etudiante")
    return {InboxKind.MENTION, InboxKind.MESSAGE}


SEEDS: dict[str, Seed] = {
    "facebook": seed_facebook,
    "instagram": seed_instagram,
    "linkedin": seed_linkedin,
    "x": seed_x,
    "bluesky": seed_bluesky,
    "mastodon": seed_mastodon,
}


async def _connected(runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], channel: str) -> tuple[Any, Any]:
    point_at(runtime, networks)
    fake = networks[channel][0]
    ref = fake.make_account()  # type: ignore[attr-defined]
    persona_id = await persona(runtime)
    account_id = await connect(runtime, persona_id, channel, ref)
    return fake, (ref, account_id)


async def test_every_network_with_an_inbox_is_tested(runtime: Runtime) -> None:
    builtin = {key for key in inbox_channels(runtime) if runtime.channels.source(key).startswith("plugins.")}
    assert builtin == set(SEEDS)
    assert all(runtime.channels.get(key).capabilities.supports(Feature.INBOX) for key in SEEDS)


@pytest.mark.parametrize("channel", sorted(SEEDS))
async def test_polled_with_pagination_and_twice_stores_once(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], channel: str
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, channel)
    kinds = SEEDS[channel](fake, ref)

    first = await sync_account(runtime, account_id)
    assert first.status == "synced", first
    assert first.pages > 1  # more items than one page
    stored = await items_of(runtime, account_id)
    assert {item.kind for item in stored} == kinds
    assert first.new == len(stored) >= 5
    assert all(item.text and item.author_remote_id != ref.external_id for item in stored)
    account = await account_row(runtime, account_id)
    assert account.inbox_synced_at is not None and account.inbox_failing_since is None

    again = await sync_account(runtime, account_id)
    assert again.status == "synced" and again.new == 0
    assert await item_count(runtime, account_id) == len(stored)
    assert {item.first_seen_via for item in stored} == {"poll"}


@pytest.mark.parametrize("channel", ["facebook", "linkedin", "mastodon", "x"])
async def test_a_crash_between_pages_resumes_there(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], channel: str
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, channel)
    SEEDS[channel](fake, ref)
    # The worker stops after its first page: that page and its cursor are stored together.
    stopped = await sync_account(runtime, account_id, max_pages=1)
    assert stopped.pages == 1
    after_one = await item_count(runtime, account_id)
    cursor = (await account_row(runtime, account_id)).inbox_cursor
    assert after_one >= 1 and cursor is not None

    resumed = await sync_account(runtime, account_id)
    total = await item_count(runtime, account_id)
    assert resumed.new == total - after_one and resumed.duplicates == 0  # from the cursor: no page read twice
    # A fresh account reading the whole inbox at once finds the same items: nothing was lost.
    everything = {item.remote_id for item in await items_of(runtime, account_id)}
    async with runtime.session() as session:
        await session.execute(update(Account).where(Account.id == account_id).values(inbox_cursor=None))
    full = await sync_account(runtime, account_id)
    assert full.new == 0 and {item.remote_id for item in await items_of(runtime, account_id)} == everything


async def test_an_expired_token_says_since_when_and_needs_reauth(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]]
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, "facebook")
    seed_facebook(fake, ref)
    fake.fail_next("expired", times=5)
    result = await sync_account(runtime, account_id)
    assert result.status == "needs_reauth"
    account = await account_row(runtime, account_id)
    assert account.status == AccountStatus.NEEDS_REAUTH
    assert account.inbox_failing_since is not None and "expired" in (account.inbox_error or "")
    assert account.inbox_synced_at is None and await item_count(runtime) == 0
    async with runtime.sessions() as session:
        audited = await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(account_id)))
        assert "account.needs_reauth" in audited.all()
    # Not polled again until reconnected (a poll would only fail again).
    fake.reset()
    assert (await sync_account(runtime, account_id)).reason == "account_not_connected"


async def test_failures_keep_the_first_failure_time_and_a_success_clears_it(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]]
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, "mastodon")
    seed_mastodon(fake, ref)
    fake.fail_next("server_error", times=20)
    assert (await sync_account(runtime, account_id)).status == "failed"
    since = (await account_row(runtime, account_id)).inbox_failing_since
    assert since is not None
    assert (await sync_account(runtime, account_id)).status == "failed"
    assert (await account_row(runtime, account_id)).inbox_failing_since == since
    fake.reset()
    seed_mastodon(fake, ref)
    assert (await sync_account(runtime, account_id)).status == "synced"
    account = await account_row(runtime, account_id)
    assert account.inbox_failing_since is None and account.inbox_error is None and account.inbox_synced_at


@pytest.mark.parametrize("channel", ["facebook", "mastodon"])
async def test_private_messages_refused_the_comments_still_arrive(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], channel: str
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, channel)
    SEEDS[channel](fake, ref)
    if channel == "facebook":
        fake.withheld_permissions = {"pages_messaging"}  # type: ignore[attr-defined]
    else:
        fake.withheld_scopes = {"read:statuses"}  # type: ignore[attr-defined]
    result = await sync_account(runtime, account_id)
    assert result.status == "synced"
    stored = await items_of(runtime, account_id)
    assert stored and InboxKind.MESSAGE not in {item.kind for item in stored}
    account = await account_row(runtime, account_id)
    assert set(account.inbox_unavailable) == {"conversations"}


async def test_rate_limited_throttles_the_account_and_the_due_poll_skips_it(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]]
) -> None:
    fake, (ref, account_id) = await _connected(runtime, networks, "mastodon")
    seed_mastodon(fake, ref)
    fake.fail_next("rate_limited", times=2, retry_after=120)
    result = await sync_account(runtime, account_id)
    assert result.status == "throttled"
    assert (await account_row(runtime, account_id)).throttled_until is not None
    assert await sync_due_accounts(runtime) == 0 and await item_count(runtime) == 0
    async with runtime.session() as session:
        await session.execute(update(Account).where(Account.id == account_id).values(throttled_until=None))
    # the 429 said no call is left until its reset (core.usage.budget): the poll waits for it too
    assert await sync_due_accounts(runtime) == 0
    after_reset = datetime.now(UTC) + timedelta(seconds=121)
    assert await sync_due_accounts(runtime, now=after_reset) == 1 and await item_count(runtime) == 6
    assert await sync_due_accounts(runtime) == 0  # polled a moment ago: not due before the interval


async def test_accounts_without_an_inbox_or_credentials_are_skipped(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]]
) -> None:
    point_at(runtime, networks)
    persona_id = await persona(runtime)
    async with runtime.session() as session:
        bare = Account(persona_id=persona_id, channel="mastodon", handle="a", external_id="1")
        disabled = Account(
            persona_id=persona_id, channel="x", handle="b", external_id="2", status=AccountStatus.DISABLED
        )
        tiktok = Account(persona_id=persona_id, channel="tiktok", handle="c", external_id="3")
        session.add_all([bare, disabled, tiktok])
        await session.flush()
        ids = (bare.id, disabled.id, tiktok.id)
    reasons = [(await sync_account(runtime, account_id)).reason for account_id in ids]
    expected_tiktok = "no_inbox" if "tiktok" not in inbox_channels(runtime) else "account_not_connected"
    assert reasons == ["account_not_connected", "account_not_connected", expected_tiktok]
    assert await sync_due_accounts(runtime) == 0


@pytest.mark.parametrize("channel", ["x", "bluesky"])
async def test_a_caught_up_poll_asks_only_for_what_is_new(
    runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], channel: str
) -> None:
    """X and Bluesky keep a ``since`` cursor: the next poll asks once for what is newer, and stops."""
    fake, (ref, account_id) = await _connected(runtime, networks, channel)
    SEEDS[channel](fake, ref)
    await sync_account(runtime, account_id)
    before = len(fake.received)
    again = await sync_account(runtime, account_id)
    assert again.status == "synced" and again.new == 0 and again.pages == 1
    assert len(fake.received) - before == 1
    assert (await account_row(runtime, account_id)).inbox_cursor is not None
