"""A reply is a delivery: compose → dispatch → arq → worker → plugin.reply → fake X → database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.db.enums import AccountMode, DeliveryKind, DeliveryState, InboxKind
from core.db.models import Account, DeliveryEvent, InboxItem, UsageSample
from core.publishing.compose import compose_reply
from tests.queue.conftest import Pipeline

pytestmark = pytest.mark.anyio
QUESTION = "Quand ouvre le nouveau lycée de Rodez ?"
ANSWER = "Il ouvrira ses portes à la rentrée de septembre."


async def _mention(pipeline: Pipeline) -> tuple[str, InboxItem]:
    """Someone mentions the Région on the fake X; the item is in its inbox."""
    tweet = pipeline.fake.add_mention(pipeline.runtime.host.account_ref(pipeline.account), QUESTION)
    async with pipeline.runtime.session() as session:
        item = InboxItem(
            account_id=pipeline.account.id,
            persona_id=pipeline.account.persona_id,
            remote_id=tweet.id,
            kind=InboxKind.MENTION,
            author_remote_id=tweet.author_id,
            author_handle="citoyen",
            text=tweet.text,
            received_at=datetime.now(UTC),
        )
        session.add(item)
    return tweet.id, item


async def test_a_reply_goes_out_once_as_an_answer_to_the_item(pipeline: Pipeline) -> None:
    tweet_id, item = await _mention(pipeline)
    async with pipeline.runtime.session() as session:
        result = await compose_reply(session, pipeline.runtime.channels, pipeline.editor, item.id, ANSWER)
    (delivery,) = result.deliveries
    assert delivery.kind == DeliveryKind.REPLY and delivery.in_reply_to_id == item.id
    assert result.post.kind == DeliveryKind.REPLY and delivery.state == DeliveryState.SCHEDULED
    published = await pipeline.wait_for(delivery.id, DeliveryState.PUBLISHED)
    (request,) = pipeline.fake.requests_to("POST", r"^/2/tweets$")
    assert request.json == {"text": ANSWER, "reply": {"in_reply_to_tweet_id": tweet_id}}
    assert published.remote_id is not None
    assert pipeline.fake.tweets[published.remote_id].referenced == [{"type": "replied_to", "id": tweet_id}]
    async with pipeline.runtime.sessions() as session:
        kinds = (
            await session.scalars(
                select(DeliveryEvent.kind).where(DeliveryEvent.delivery_id == delivery.id).order_by(DeliveryEvent.at)
            )
        ).all()
        sent = (
            await session.scalars(select(UsageSample.metric).where(UsageSample.account_id == item.account_id))
        ).all()
    assert kinds == ["created", "queued", "attempt", "published"] and "replies_sent" in sent


async def test_a_dry_run_reply_records_its_draft_and_sends_nothing(pipeline: Pipeline) -> None:
    tweet_id, item = await _mention(pipeline)
    async with pipeline.runtime.session() as session:
        account = await session.get(Account, pipeline.account.id)
        assert account is not None
        account.mode = AccountMode.DRY_RUN
    async with pipeline.runtime.session() as session:
        result = await compose_reply(session, pipeline.runtime.channels, pipeline.editor, item.id, ANSWER)
    published = await pipeline.wait_for(result.deliveries[0].id, DeliveryState.PUBLISHED)
    assert published.remote_id is not None and published.remote_id.startswith("dry-run:")
    assert not pipeline.fake.requests_to("POST", r"^/2/tweets$")
    async with pipeline.runtime.sessions() as session:
        event = await session.scalar(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == published.id, DeliveryEvent.kind == "dry_run")
        )
    assert event is not None and event.detail["draft"]["reply_to"] == tweet_id
    assert event.detail["draft"]["text"] == ANSWER
