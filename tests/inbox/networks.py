"""The inbox against the fake networks on 127.0.0.1: a persona, one connected account per network."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core.audit import Actor
from core.channels import AccountRef
from core.db.models import Account, InboxItem, Persona
from core.personas.service import KNOWN_FORMATS, known_channels, upsert_personas
from core.runtime import Runtime
from personas import SEED_DIR, load_dir
from plugins.testing import FakeNetwork, serve_in_thread
from plugins.testing.fakes.bluesky import FakeBluesky
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.instagram import FakeInstagram
from plugins.testing.fakes.linkedin import FakeLinkedIn
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.x import FakeX

#: small pages, so that every test's inbox spans several of them
PAGE_SIZES = {
    "facebook": {"extra_inbox_page_size": "2"},
    "instagram": {"extra_inbox_page_size": "2"},
    "linkedin": {"extra_page_size": "2"},
    "x": {"extra_inbox_page_size": "5"},  # X accepts 5 to 100
    "bluesky": {"extra_inbox_page_size": "2"},
    "mastodon": {"extra_page_size": "2"},
}
#: the Meta subscription check's verify token
VERIFY_TOKEN = "jeton-de-verification"
EXTRA = {"facebook": {"webhook_secret": VERIFY_TOKEN}, "instagram": {"webhook_secret": VERIFY_TOKEN}}
FAKES: dict[str, type[FakeNetwork]] = {
    "facebook": FakeFacebook,
    "instagram": FakeInstagram,
    "linkedin": FakeLinkedIn,
    "x": FakeX,
    "bluesky": FakeBluesky,
    "mastodon": FakeMastodon,
}


@pytest.fixture(scope="session", name="networks")
def networks_fixture() -> Iterator[dict[str, tuple[FakeNetwork, str]]]:
    """Every fake network with an inbox, served on 127.0.0.1 (import ``networks_fixture`` to use it)."""
    served: dict[str, tuple[FakeNetwork, str]] = {}
    stacks = []
    for key, cls in FAKES.items():
        fake = cls()
        context = serve_in_thread(fake)
        served[key] = (fake, context.__enter__())
        stacks.append(context)
    yield served
    for context in stacks:
        context.__exit__(None, None, None)


@dataclass
class Connected:
    runtime: Runtime
    fake: FakeNetwork
    ref: AccountRef
    account_id: uuid.UUID
    persona_id: uuid.UUID


def point_at(runtime: Runtime, networks: dict[str, tuple[FakeNetwork, str]], *, reset: bool = True) -> None:
    """Before the runtime's host exists: every plugin at its fake, with small pages (and the
    fakes' state forgotten, unless ``reset`` is False: a second runtime on the same scene)."""
    for key, (fake, url) in networks.items():
        if reset:
            fake.reset()
        runtime.base_url_overrides[key] = url
        runtime.channel_overrides[key] = {**fake.plugin_settings(url), **PAGE_SIZES[key], **EXTRA.get(key, {})}


async def persona(runtime: Runtime, slug: str = "region-occitanie") -> uuid.UUID:
    """One of the seed personas (``region-occitanie``, ``presidente-region``), stored once."""
    async with runtime.session() as session:
        found = await session.scalar(select(Persona.id).where(Persona.slug == slug))
        if found is not None:
            return found
        files = load_dir(SEED_DIR, known_channels=known_channels(runtime.channels), known_formats=KNOWN_FORMATS)
        stored = await upsert_personas(session, files, Actor.system("test"))
        return next(p.id for p in stored if p.slug == slug)


async def connect(runtime: Runtime, persona_id: uuid.UUID, channel: str, ref: AccountRef) -> uuid.UUID:
    async with runtime.session() as session:
        account = Account(
            persona_id=persona_id,
            channel=channel,
            handle=ref.handle,
            external_id=ref.external_id,
            credentials_encrypted=runtime.vault.encrypt(ref.credentials),
        )
        session.add(account)
        await session.flush()
        return account.id


async def item_count(runtime: Runtime, account_id: uuid.UUID | None = None) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(InboxItem)
        if account_id is not None:
            query = query.where(InboxItem.account_id == account_id)
        return int(await session.scalar(query) or 0)


async def items_of(runtime: Runtime, account_id: uuid.UUID) -> list[InboxItem]:
    async with runtime.sessions() as session:
        return list((await session.scalars(select(InboxItem).where(InboxItem.account_id == account_id))).all())


async def account_row(runtime: Runtime, account_id: uuid.UUID) -> Account:
    async with runtime.sessions() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account
