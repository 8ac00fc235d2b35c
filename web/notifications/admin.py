"""The admin's notifications: the list (mark read, mark all read), the count in the top bar."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.notifications import service
from web import access
from web.auth import StaffUser
from web.notifications import views
from web.refusals import back

PAGE = 30
_BACK = back("/admin/notifications")


class AdminNotificationsController(Controller):
    path = "/admin/notifications"
    include_in_schema = False

    @get("/", **access.staff())
    async def notifications(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await service.notification_page(db_session, request.user.id, cursor=cursor, limit=PAGE)
        context = {
            "shown": [views.shown(n) for n in page.items],
            "next_cursor": page.next_cursor,
            "unread": await service.unread_count(db_session, request.user.id),
        }
        return Template("notifications/list.html", context=context)

    # allowed while a one-time password waits to be replaced: the top bar loads it on every page
    @get("/badge", **access.staff(while_password_expired=True))
    async def badge(self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        """The top bar's link with the unread count (htmx loads it after the page)."""
        unread = await service.unread_count(db_session, request.user.id)
        return Template("notifications/_badge.html", context={"unread": unread})

    @post("/{notification_id:uuid}/read", status_code=303, refused=_BACK, **access.staff())
    async def mark_read(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        notification_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await service.mark_read(db_session, request.user.id, notification_id)
        return Redirect("/admin/notifications", status_code=303)

    @post("/{notification_id:uuid}/open", status_code=303, refused=_BACK, **access.staff())
    async def open_one(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        notification_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Mark it read and go where it leads."""
        notification = await service.mark_read(db_session, request.user.id, notification_id)
        return Redirect(views.path(notification), status_code=303)

    @post("/read", status_code=303, **access.staff())
    async def mark_all_read(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Redirect:
        await service.mark_all_read(db_session, request.user.id)
        return Redirect("/admin/notifications", status_code=303)
