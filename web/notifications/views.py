"""A notification as people read it: its title, its text and where it leads, in the reader's language."""

from __future__ import annotations

import msgspec

from core.db.models import Notification
from core.notifications import texts
from web.i18n import gettext as _


class Shown(msgspec.Struct, frozen=True, kw_only=True):
    notification: Notification
    title: str
    text: str
    path: str


def title(notification: Notification) -> str:
    return _(texts.TITLES[notification.kind])


def text(notification: Notification) -> str:
    detail = notification.detail or {}
    return _(texts.template(notification.kind, detail)) % texts.names(detail)


def path(notification: Notification) -> str:
    return texts.path(notification.kind, notification.subject_id, notification.persona_id, notification.detail)


def shown(notification: Notification) -> Shown:
    return Shown(notification=notification, title=title(notification), text=text(notification), path=path(notification))
