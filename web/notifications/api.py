"""/api/v1/notifications: my notifications (keyset pages), the unread count, mark read."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Notification
from core.notifications import service
from web import access
from web.auth import StaffUser
from web.notifications import views
from web.notifications.schemas import MarkedOut, NotificationOut, NotificationPage, UnreadOut
from web.pagination import Cursor, Limit
from web.structs import out


def notification_out(notification: Notification) -> NotificationOut:
    return out(
        notification,
        NotificationOut,
        title=views.title(notification),
        text=views.text(notification),
        path=views.path(notification),
    )


class NotificationApiController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/", summary="My notifications, the latest first; keyset pagination", **access.staff())
    async def list_notifications(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
        unread: FromQuery[bool] = False,
    ) -> NotificationPage:
        page = await service.notification_page(db_session, request.user.id, cursor=cursor, limit=limit, unread=unread)
        return NotificationPage(items=[notification_out(n) for n in page.items], next_cursor=page.next_cursor)

    @get("/unread", summary="How many of my notifications are unread", **access.staff())
    async def unread_count(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> UnreadOut:
        return UnreadOut(unread=await service.unread_count(db_session, request.user.id))

    @post(
        "/{notification_id:uuid}/read", status_code=200, summary="Mark one of my notifications read", **access.staff()
    )
    async def mark_read(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        notification_id: FromPath[uuid.UUID],
    ) -> NotificationOut:
        return notification_out(await service.mark_read(db_session, request.user.id, notification_id))

    @post("/read", status_code=200, summary="Mark all my notifications read", **access.staff())
    async def mark_all_read(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> MarkedOut:
        return MarkedOut(marked=await service.mark_all_read(db_session, request.user.id))
