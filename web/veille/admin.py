"""The watch admin, per persona: the board (the stream with its filters, a GET form that works
without JS; seen, dismiss and "draft a post", which opens the composer with the item) and the
sources page (the list with each source's state, add a feed, disable, enable again — a broken
source is checked again).

Same service calls as the JSON API (:mod:`core.veille.board`, :mod:`core.veille.sources`); forms
post back here with the CSRF token and redirect (post/redirect/get); a refusal comes back as a
message on the page it came from. Titles are shown as text; only an item's ``summary_html``, which
the collector sanitised with nh3, is shown as HTML.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Persona
from core.people.permissions import Action
from core.publishing.compose import StaffActor
from core.runtime import Runtime
from core.veille import board, search
from core.veille import sources as service
from core.veille.feeds import feed_registry
from web import access
from web.auth import StaffUser
from web.forms import Form, flash, safe_next
from web.i18n import gettext as _
from web.refusals import back

_PERSONA = "/personas/{persona_id:uuid}"
_BOARD = _PERSONA + "/veille"
_ITEM = _BOARD + "/items/{watch_item_id:uuid}"
_SOURCES = _BOARD + "/sources"
_SOURCE = _SOURCES + "/{source_id:uuid}"
_BACK_TO_BOARD = back("/admin/personas/{persona_id}/veille")
_BACK_TO_SOURCES = back("/admin/personas/{persona_id}/veille/sources")
_PAGE = 30
_FILTERS = ("source", "keyword", "status", "q")


class BackForm(msgspec.Struct):
    #: the board's address with its filters, to come back to the same view
    next: str = ""


class SourceForm(msgspec.Struct):
    target: str = ""
    label: str = ""
    plugin: str = "rss"
    crisis: str = ""


class SearchForm(msgspec.Struct):
    account_id: str = ""
    target: str = ""
    label: str = ""


def status_label(status: str) -> str:
    return {
        "new": _("New"),
        "seen": _("Seen"),
        "dismissed": _("Dismissed"),
        "drafted": _("Drafted"),
    }.get(status, status)


def severity_label(severity: str | None) -> str:
    return {
        "green": _("Green vigilance"),
        "yellow": _("Yellow vigilance"),
        "orange": _("Orange vigilance"),
        "red": _("Red vigilance"),
    }.get(severity or "", severity or "")


def _source_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise board.WatchRefusal(_("This source is not one of the persona's."), field="source") from None


def _board_url(persona_id: uuid.UUID, next_url: str) -> str:
    base = f"/admin/personas/{persona_id}/veille"
    target = safe_next(next_url) if next_url else base
    return target if target.startswith(base) else base


class AdminVeilleController(Controller):
    path = "/admin"
    include_in_schema = False

    # -------------------------------------------------------------- the board
    @get(_BOARD, **access.persona(Action.SEE_VEILLE))
    async def board_page(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        query = {k: v for k, v in request.query_params.items() if k in _FILTERS and isinstance(v, str) and v}
        filters = board.BoardFilter(
            source_id=_source_id(query.get("source")),
            keyword=query.get("keyword"),
            status=query.get("status"),
            q=query.get("q"),
        )
        page = await board.stream(db_session, persona.id, filters, cursor=cursor, limit=_PAGE)
        sources = await service.sources_of(db_session, persona.id)
        here = f"/admin/personas/{persona.id}/veille" + (f"?{urlencode(query)}" if query else "")
        context = {
            "persona": persona,
            "page": page,
            "filters": query,
            "kept": query,
            "here": here,
            "sources": sources,
            "source_labels": {s.id: s.label for s in sources},
            "broken": [s for s in sources if s.broken_at is not None],
            "keywords": await board.keywords_of(db_session, persona.id),
            "statuses": board.STATUSES,
            "status_label": status_label,
            "severity_label": severity_label,
            "first_page": cursor is None,
        }
        return Template("veille/board.html", context=context)

    @post(_ITEM + "/seen", status_code=303, refused=_BACK_TO_BOARD, **access.persona(Action.COMPOSE))
    async def mark_seen(
        self,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
        data: Annotated[BackForm, Form],
    ) -> Redirect:
        await board.mark_seen(db_session, actor.actor, persona.id, watch_item_id)
        return Redirect(_board_url(persona.id, data.next), status_code=303)

    @post(_ITEM + "/dismiss", status_code=303, refused=_BACK_TO_BOARD, **access.persona(Action.COMPOSE))
    async def dismiss(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        watch_item_id: FromPath[uuid.UUID],
        data: Annotated[BackForm, Form],
    ) -> Redirect:
        await board.dismiss(db_session, actor.actor, persona.id, watch_item_id)
        flash(request, _("Dismissed: this item will not come back."))
        return Redirect(_board_url(persona.id, data.next), status_code=303)

    # -------------------------------------------------------------- sources
    @get(_SOURCES, **access.persona(Action.SEE_VEILLE))
    async def sources_page(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        runtime: NamedDependency[Runtime],
    ) -> Template:
        sources = await service.sources_of(db_session, persona.id)
        context = {
            "persona": persona,
            "sources": sources,
            "plugins": feed_registry().keys(),
            "search_accounts": await search.searchable_accounts(db_session, runtime.channels, persona.id),
            "watches_mentions": any(s.kind == "mentions" for s in sources),
        }
        return Template("veille/sources.html", context=context)

    @post(_SOURCES, status_code=303, refused=_BACK_TO_SOURCES, **access.persona(Action.MANAGE_SOURCES))
    async def add_source(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        data: Annotated[SourceForm, Form],
    ) -> Redirect:
        await service.create_source(
            db_session,
            persona,
            kind="feed",
            plugin=data.plugin or "rss",
            target=data.target,
            label=data.label,
            crisis=True if data.crisis else None,
            actor=actor.actor,
        )
        flash(request, _("Source added: it is checked in a moment."))
        return _to_sources(persona.id)

    @post(_SOURCES + "/search", status_code=303, refused=_BACK_TO_SOURCES, **access.persona(Action.MANAGE_SOURCES))
    async def add_search(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        runtime: NamedDependency[Runtime],
        data: Annotated[SearchForm, Form],
    ) -> Redirect:
        try:
            chosen: uuid.UUID | None = uuid.UUID(data.account_id)
        except ValueError:
            chosen = None
        account = await search.check_search(db_session, runtime.channels, persona.id, chosen, data.target)
        await service.create_source(
            db_session,
            persona,
            kind="search",
            plugin=account.channel,
            target=data.target,
            label=data.label or data.target,
            account_id=account.id,
            actor=actor.actor,
        )
        flash(request, _("Search added: it is checked in a moment."))
        return _to_sources(persona.id)

    @post(_SOURCES + "/mentions", status_code=303, refused=_BACK_TO_SOURCES, **access.persona(Action.MANAGE_SOURCES))
    async def add_mentions(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
    ) -> Redirect:
        await service.create_source(
            db_session, persona, kind="mentions", plugin="inbox", target="", label=_("Mentions"), actor=actor.actor
        )
        flash(request, _("The persona's mentions now come onto the watch."))
        return _to_sources(persona.id)

    @post(_SOURCE + "/disable", status_code=303, refused=_BACK_TO_SOURCES, **access.persona(Action.MANAGE_SOURCES))
    async def disable_source(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        source_id: FromPath[uuid.UUID],
    ) -> Redirect:
        source = await service.get_source(db_session, source_id, [persona.id])
        await service.disable_source(db_session, source, actor=actor.actor)
        flash(request, _("Source disabled: it is no longer checked; its items stay."))
        return _to_sources(persona.id)

    @post(_SOURCE + "/enable", status_code=303, refused=_BACK_TO_SOURCES, **access.persona(Action.MANAGE_SOURCES))
    async def enable_source(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[StaffActor],
        persona: NamedDependency[Persona],
        source_id: FromPath[uuid.UUID],
    ) -> Redirect:
        source = await service.get_source(db_session, source_id, [persona.id])
        if source.broken_at is not None:
            await service.repair_source(db_session, source, actor=actor.actor)
        await service.enable_source(db_session, source, actor=actor.actor)
        flash(request, _("Source enabled: it is checked again now."))
        return _to_sources(persona.id)


def _to_sources(persona_id: uuid.UUID) -> Redirect:
    return Redirect(f"/admin/personas/{persona_id}/veille/sources", status_code=303)
