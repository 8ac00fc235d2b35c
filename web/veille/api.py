"""/api/v1/personas/{persona_id}/veille…: the persona's watch sources (list, add, change, delete),
its items (the board's stream with its filters, keyset pagination, newest first), marking an item
seen or dismissed, and the draft an item starts.

Everything lives under the persona: the guard checks the caller's role on the persona of the path
(the one permission table), then the source or the item is looked up *in* that persona. Another
persona's source or item answers 404, as if it did not exist — the president's team cannot even
learn that the Région's watch holds an item.

Access: reading is ``see_veille``; sources are changed with ``manage_sources``; seen, dismiss and
draft are ``compose`` (a viewer reads the board, a contributor works it).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona, VeilleSource
from core.people.permissions import Action
from core.publishing.compose import StaffActor
from core.runtime import Runtime
from core.veille import board, search
from core.veille import sources as service
from web import access
from web.access import ConflictException
from web.pagination import Cursor, Limit
from web.structs import Items, out
from web.veille.schemas import DraftOut, ItemOut, ItemPage, SourceIn, SourceOut, SourcePatch, origin_out

_VEILLE = "/{persona_id:uuid}/veille"
_SOURCE = _VEILLE + "/sources/{source_id:uuid}"
_ITEM = _VEILLE + "/items/{watch_item_id:uuid}"
_REFUSED = [ClientException, ConflictException]

SourceFilter = Annotated[uuid.UUID | None, QueryParameter(description="one of the persona's sources")]
KeywordFilter = Annotated[str | None, QueryParameter(max_length=100, description="a crisis keyword found in the item")]
StatusFilter = Annotated[
    str | None,
    QueryParameter(max_length=16, description="new, seen, dismissed or drafted (none: all but the dismissed)"),
]
TextFilter = Annotated[str | None, QueryParameter(max_length=200, description="words in the title")]


async def _source(db: AsyncSession, persona: Persona, source_id: uuid.UUID) -> VeilleSource:
    return await service.get_source(db, source_id, [persona.id])


def composer_url(persona_id: uuid.UUID, item_id: uuid.UUID) -> str:
    return f"/admin/personas/{persona_id}/compose?from_item={item_id}"


class VeilleApiController(Controller):
    path = "/api/v1/personas"
    tags = ["veille"]

    # -------------------------------------------------------------- sources
    @get(
        _VEILLE + "/sources",
        summary="The persona's watch sources, crisis feeds first",
        **access.persona(Action.SEE_VEILLE),
    )
    async def list_sources(
        self, db_session: NamedDependency[AsyncSession], persona: NamedDependency[Persona]
    ) -> Items[SourceOut]:
        return Items(items=[out(s, SourceOut) for s in await service.sources_of(db_session, persona.id)])

    @post(
        _VEILLE + "/sources",
        summary="Watch a new source: a feed's URL, a network search, the persona's mentions (due at once)",
        **access.persona(Action.MANAGE_SOURCES, errors=_REFUSED),
    )
    async def create_source(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: JSONBody[SourceIn],
        runtime: NamedDependency[Runtime],
    ) -> SourceOut:
        account_id = data.account_id
        if data.kind == "search":  # the persona's own account, on a network that searches
            account_id = (
                await search.check_search(db_session, runtime.channels, persona.id, data.account_id, data.target)
            ).id
        source = await service.create_source(
            db_session,
            persona,
            kind=data.kind,
            plugin=data.plugin,
            target=data.target,
            label=data.label,
            crisis=data.crisis,
            interval_s=data.interval_s,
            account_id=account_id,
            actor=actor.actor,
        )
        return out(source, SourceOut)

    @get(_SOURCE, summary="One watch source and its polling state", **access.persona(Action.SEE_VEILLE))
    async def get_source(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        source_id: FromPath[uuid.UUID],
    ) -> SourceOut:
        return out(await _source(db_session, persona, source_id), SourceOut)

    @patch(
        _SOURCE,
        summary="Change a source (label, address, crisis, interval); enabled false stops it, true polls it "
        "again now — a broken source is checked again, its errors forgotten",
        **access.persona(Action.MANAGE_SOURCES, errors=_REFUSED),
    )
    async def update_source(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        source_id: FromPath[uuid.UUID],
        data: JSONBody[SourcePatch],
    ) -> SourceOut:
        source = await _source(db_session, persona, source_id)
        changes = {k: v for k, v in _patch_fields(data).items() if v is not None}
        if changes:
            source = await service.update_source(db_session, source, actor=actor.actor, **changes)
        if data.enabled and source.broken_at is not None:
            source = await service.repair_source(db_session, source, actor=actor.actor)
        return out(source, SourceOut)

    @delete(
        _SOURCE,
        summary="Stop watching a source: it goes with its items (a source of the persona file comes back "
        "with the next load: disable it instead)",
        **access.persona(Action.MANAGE_SOURCES),
    )
    async def delete_source(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        source_id: FromPath[uuid.UUID],
    ) -> None:
        await service.delete_source(db_session, await _source(db_session, persona, source_id), actor=actor.actor)

    # -------------------------------------------------------------- items
    @get(
        _VEILLE + "/items",
        summary="The watch board: the persona's items, newest first, filtered; keyset pagination",
        **access.persona(Action.SEE_VEILLE, errors=[ClientException]),
    )
    async def list_items(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        source: SourceFilter = None,
        keyword: KeywordFilter = None,
        status: StatusFilter = None,
        q: TextFilter = None,
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> ItemPage:
        filters = board.BoardFilter(source_id=source, keyword=keyword, status=status or None, q=q)
        page = await board.stream(db_session, persona.id, filters, cursor=cursor, limit=limit)
        return ItemPage(items=[out(i, ItemOut) for i in page.items], next_cursor=page.next_cursor)

    @get(_ITEM, summary="One watch item", **access.persona(Action.SEE_VEILLE))
    async def get_item(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
    ) -> ItemOut:
        return out(await board.own_item(db_session, persona.id, watch_item_id), ItemOut)

    @post(_ITEM + "/seen", status_code=200, summary="Mark a new item seen", **access.persona(Action.COMPOSE))
    async def mark_seen(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
    ) -> ItemOut:
        return out(await board.mark_seen(db_session, actor.actor, persona.id, watch_item_id), ItemOut)

    @post(
        _ITEM + "/dismiss",
        status_code=200,
        summary="Dismiss an item: off the board, and its source never brings it back (a tombstone); audited",
        **access.persona(Action.COMPOSE),
    )
    async def dismiss(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
    ) -> ItemOut:
        return out(await board.dismiss(db_session, actor.actor, persona.id, watch_item_id), ItemOut)

    @post(
        _ITEM + "/draft",
        status_code=200,
        summary="What a post from this item starts with: its link, a suggested text, its origin; compose it "
        "with POST …/posts and fromItem (the item becomes drafted when the post is saved)",
        **access.persona(Action.COMPOSE),
    )
    async def draft(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
    ) -> DraftOut:
        found = await board.draft_from_item(db_session, persona.id, watch_item_id)
        return DraftOut(
            persona_id=found.persona_id,
            item_id=found.item_id,
            link=found.link,
            text=found.text,
            origin=origin_out(found.origin),
            composer_url=composer_url(persona.id, found.item_id),
        )


def _patch_fields(data: SourcePatch) -> dict[str, object]:
    return {
        "label": data.label,
        "target": data.target,
        "crisis": data.crisis,
        "enabled": data.enabled,
        "interval_s": data.interval_s,
    }
