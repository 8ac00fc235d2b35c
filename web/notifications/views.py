"""A notification as people read it: its title, its text and where it leads, in the reader's language."""

from __future__ import annotations

from typing import Any

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
    names: dict[str, Any] = {
        name: str(notification.detail.get(name) or "—")
        for name in ("who", "excerpt", "persona", "comment", "channel", "handle", "error")
    }
    return _(texts.BODIES[notification.kind]) % names


def path(notification: Notification) -> str:
    return texts.path(notification.kind, notification.subject_id, notification.persona_id, notification.detail)


def shown(notification: Notification) -> Shown:
    return Shown(notification=notification, title=title(notification), text=text(notification), path=path(notification))
