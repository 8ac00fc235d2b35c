"""The one writer of inbox rows: idempotent, threaded both ways, linked to our post, our own echoes
not work (and an answer from the network's app recorded), hostile sizes stored without a crash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.channels import InboxKind, RemoteItem
from core.db.enums import DeliveryState, InboxStatus
from core.db.models import Account, Delivery, InboxEvent, InboxItem, Post
from core.inbox.ingest import CUT_MARKER, MAX_TEXT_BYTES, ingest
from core.runtime import Runtime
from tests.inbox.networks import persona

pytestmark = pytest.mark.anyio
OURS = "104857600123456"
NOW = datetime.now(UTC)


def item(remote_id: str, **values: object) -> RemoteItem:
    fields: dict[str, object] = {
        "kind": InboxKind.COMMENT,
        "text": f"commentaire {remote_id}",
        "author_id": "6200000000000001",
        "author_handle": "camille",
        "created_at": NOW - timedelta(minutes=5),
        "thread_id": "post-1",
    }
    return RemoteItem(remote_id=remote_id, **{**fields, **values})  # type: ignore[arg-type]


@pytest.fixture
async def account(runtime: Runtime) -> Account:
    persona_id = await persona(runtime)
    async with runtime.session() as session:
        row = Account(persona_id=persona_id, channel="facebook", handle="RegionOccitanie", external_id=OURS)
        session.add(row)
        await session.flush()
        post = Post(persona_id=persona_id, text="Le TER à 1 €")
        session.add(post)
        await session.flush()
        session.add(
            Delivery(
                post_id=post.id,
                account_id=row.id,
                client_ref="c1",
                state=DeliveryState.PUBLISHED,
                remote_id="post-1",
                published_at=NOW - timedelta(hours=1),
            )
        )
    return row


async def _ingest(runtime: Runtime, account: Account, items: list[RemoteItem], via: str = "poll"):  # type: ignore[no-untyped-def]
    async with runtime.session() as session:
        return await ingest(session, await session.get(Account, account.id), items, via=via)  # type: ignore[arg-type]


async def _items(runtime: Runtime) -> dict[str, InboxItem]:
    async with runtime.sessions() as session:
        return {i.remote_id: i for i in (await session.scalars(select(InboxItem))).all()}


async def test_same_items_twice_and_within_one_call_make_one_row(runtime: Runtime, account: Account) -> None:
    first = await _ingest(runtime, account, [item("a"), item("b"), item("a")], via="webhook")
    assert len(first.new) == 2 and first.duplicates == 1
    again = await _ingest(runtime, account, [item("a"), item("b"), item("c")])
    assert len(again.new) == 1 and again.duplicates == 2
    stored = await _items(runtime)
    assert set(stored) == {"a", "b", "c"} and stored["a"].first_seen_via == "webhook"
    assert stored["c"].first_seen_via == "poll"


async def test_concurrent_poll_and_webhook_never_raise(runtime: Runtime, account: Account) -> None:
    batch = [item(f"x{n}") for n in range(50)]
    results = await asyncio.gather(*(_ingest(runtime, account, batch, via) for via in ("poll", "webhook", "poll")))
    assert sum(len(r.new) for r in results) == 50
    assert len(await _items(runtime)) == 50


async def test_threading_both_ways_and_the_link_to_our_post(runtime: Runtime, account: Account) -> None:
    # The reply arrives before the comment it answers: linked when the comment comes.
    await _ingest(runtime, account, [item("reply", kind=InboxKind.REPLY, parent_id="comment")])
    assert (await _items(runtime))["reply"].parent_id is None
    await _ingest(runtime, account, [item("comment"), item("elsewhere", thread_id="not-ours")])
    await _ingest(runtime, account, [item("reply-2", kind=InboxKind.REPLY, parent_id="comment")])
    stored = await _items(runtime)
    assert stored["reply"].parent_id == stored["comment"].id == stored["reply-2"].parent_id
    async with runtime.sessions() as session:
        ours = await session.scalar(select(Delivery.id).where(Delivery.remote_id == "post-1"))
    assert stored["comment"].delivery_id == ours and stored["reply"].delivery_id == ours
    assert stored["elsewhere"].delivery_id is None
    # Parent and child in the same call.
    await _ingest(runtime, account, [item("c2-reply", parent_id="c2", kind=InboxKind.REPLY), item("c2")])
    stored = await _items(runtime)
    assert stored["c2-reply"].parent_id == stored["c2"].id


async def test_a_message_without_a_thread_of_ours_is_not_linked(runtime: Runtime, account: Account) -> None:
    await _ingest(runtime, account, [item("m1", kind=InboxKind.MESSAGE, thread_id="t_1")])
    assert (await _items(runtime))["m1"].delivery_id is None


async def test_our_own_echo_is_not_work_and_an_answer_from_the_app_is_recorded(
    runtime: Runtime, account: Account
) -> None:
    await _ingest(runtime, account, [item("question")])
    echo = item("our-answer", kind=InboxKind.REPLY, author_id=OURS, parent_id="question", created_at=NOW)
    result = await _ingest(runtime, account, [echo])
    assert result.new == [] and result.own == 1
    stored = await _items(runtime)
    assert stored["our-answer"].status == InboxStatus.CLOSED and stored["our-answer"].response_due_at is None
    assert stored["question"].status == InboxStatus.ANSWERED and stored["question"].first_response_at is not None
    async with runtime.sessions() as session:
        kinds = (
            await session.scalars(select(InboxEvent.kind).where(InboxEvent.item_id == stored["question"].id))
        ).all()
    responses = [k for k in kinds if k != "received"]
    assert responses  # the response event of the lead's record_response
    # The same echo read again by the next poll records nothing more.
    await _ingest(runtime, account, [echo])
    async with runtime.sessions() as session:
        again = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.item_id == stored["question"].id)
        )
    assert again == len(kinds)


async def test_the_echo_of_a_reply_porte_voix_sent_records_nothing(runtime: Runtime, account: Account) -> None:
    await _ingest(runtime, account, [item("question")])
    async with runtime.session() as session:
        post = Post(persona_id=account.persona_id, text="Merci !")
        session.add(post)
        await session.flush()
        question = await session.scalar(select(InboxItem.id).where(InboxItem.remote_id == "question"))
        session.add(
            Delivery(
                post_id=post.id,
                account_id=account.id,
                client_ref="reply-1",
                kind="reply",
                in_reply_to_id=question,
                state=DeliveryState.PUBLISHED,
                remote_id="sent-by-us",
                published_at=NOW,
            )
        )
    await _ingest(runtime, account, [item("sent-by-us", author_id=OURS, parent_id="question")])
    assert (await _items(runtime))["question"].first_response_at is None  # the outbox records its own replies


async def test_hostile_sizes_are_stored_without_a_crash(runtime: Runtime, account: Account) -> None:
    huge = "é" * (MAX_TEXT_BYTES + 10)
    hostile = [
        item("big", text=huge, author_handle="h" * 5000, author_name="n" * 5000, url="http://x/" + "u" * 10_000),
        item("nul", text="avant\x00après <script>alert(1)</script>"),
        item("long-parent", parent_id="p" * 500, thread_id="t" * 500),
        item("surrogate", text="a\ud800b"),
        item("future", created_at=NOW + timedelta(days=3650)),
        item("naive", created_at=datetime(2025, 1, 1, 12, 0)),
        item("r" * 500),
        item(""),
    ]
    result = await _ingest(runtime, account, hostile)
    assert len(result.new) == 6 and result.skipped == 2
    stored = await _items(runtime)
    big = stored["big"]
    assert big.text.endswith(CUT_MARKER) and len(big.text.encode()) <= MAX_TEXT_BYTES + len(CUT_MARKER.encode())
    assert len(big.author_handle) == 200 and len(big.author_name) == 200 and big.url is None
    assert stored["nul"].text == "avant\ufffdaprès <script>alert(1)</script>"  # kept as given, never rendered
    assert stored["long-parent"].parent_remote_id is None and stored["long-parent"].thread_remote_id is None
    assert stored["future"].received_at <= datetime.now(UTC)
    assert stored["naive"].received_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


async def test_via_must_be_known(runtime: Runtime, account: Account) -> None:
    with pytest.raises(ValueError):
        await _ingest(runtime, account, [item("a")], via="email")
    assert await _items(runtime) == {}
