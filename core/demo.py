"""The demo: the seed's teams with fictional names, created once on an empty database."""

from __future__ import annotations

import secrets

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.db.enums import Employer, Role
from core.db.models import InboxItem, Persona
from core.people.staff import assign, create_staff, staff_count
from core.usage.demo_history import REMOTE_PREFIX, seed_demo_history
from core.veille.sources import create_source, sources_of, update_source


class DemoLogin(msgspec.Struct, frozen=True):
    email: str
    password: str
    who: str


# (e-mail, display name, employer, admin, {persona slug: role}, what they do)
DEMO_TEAM = [
    ("admin@demo.portevoix.fr", "Alex Martin", Employer.INSTITUTION, True, {}, "site admin"),
    (
        "cm.region@demo.portevoix.fr",
        "Léa Fabre",
        Employer.INSTITUTION,
        False,
        {"region-occitanie": Role.EDITOR},
        "community manager of the Région (editor)",
    ),
    (
        "apprentie.region@demo.portevoix.fr",
        "Inès Roussel",
        Employer.INSTITUTION,
        False,
        {"region-occitanie": Role.CONTRIBUTOR},
        "apprentice community manager of the Région (contributor)",
    ),
    (
        "cm.presidente@demo.portevoix.fr",
        "Hugo Bernard",
        Employer.CABINET,
        False,
        {"presidente-region": Role.EDITOR},
        "the president's community manager (editor)",
    ),
    (
        "dircom.region@demo.portevoix.fr",
        "Nadia Cazals",
        Employer.INSTITUTION,
        False,
        {"region-occitanie": Role.MANAGER},
        "head of communication of the Région (manager)",
    ),
]


async def seed_demo_staff(session: AsyncSession) -> list[DemoLogin]:
    """Create the demo team when there is no staff at all; return their logins (else nothing)."""
    if await staff_count(session):
        return []
    actor = Actor.system("demo")
    personas = {p.slug: p for p in (await session.scalars(select(Persona))).all()}
    logins: list[DemoLogin] = []
    for email, name, employer, is_admin, roles, who in DEMO_TEAM:
        password = secrets.token_urlsafe(9)
        staff = await create_staff(
            session,
            email=email,
            display_name=name,
            password=password,
            actor=actor,
            is_admin=is_admin,
            employer=employer,
        )
        for slug, role in roles.items():
            if slug in personas:
                await assign(session, staff, personas[slug], role, actor)
        logins.append(DemoLogin(email=email, password=password, who=who))
    return logins


async def seed_demo(session: AsyncSession) -> list[DemoLogin]:
    """``portevoix run``: the demo team on an empty database, and with it a few weeks of usage
    history (marked demo) so the usage charts mean something on first launch. A database with
    staff of its own gets neither."""
    logins = await seed_demo_staff(session)
    if logins:
        await seed_demo_history(session)
    return logins


async def inbox_is_empty(session: AsyncSession) -> bool:
    """No inbox item yet but the demo history's: the demo seeds its simulated networks' comments only then."""
    found = select(InboxItem.id).where(InboxItem.remote_id.not_like(f"{REMOTE_PREFIX}%")).limit(1)
    return await session.scalar(found) is None


async def point_demo_watch(session: AsyncSession, feeds: list[tuple[str, str, str]]) -> int:
    """The Région's watch on the demo's simulated feeds, ``(plugin, url, label)`` each. The feeds
    move to a new port at every start: a source is found by its label and pointed at the new
    address (due at once); the team's own sources are left alone. Returns the sources set."""
    region = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
    if region is None:
        return 0
    actor = Actor.system("demo")
    known = {source.label: source for source in await sources_of(session, region.id)}
    for plugin, url, label in feeds:
        if label in known:
            await update_source(session, known[label], actor=actor, target=url, enabled=True)
        else:
            await create_source(session, region, kind="feed", plugin=plugin, target=url, label=label, actor=actor)
    return len(feeds)
