"""What a notification says, in the recipient's language (the list, the top bar and the e-mail).

The messages are marked here with ``_`` (extracted by ``make translations``) and translated with
Babel from the project's one catalogue, ``web/translations``, read as data (core imports no web).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

#: the project's compiled gettext catalogue (``make translations``)
CATALOGUES = Path(__file__).resolve().parents[2] / "web" / "translations"


def _(message: str) -> str:
    """Marks a message for extraction; translated later, in the recipient's language."""
    return message


TITLES = {
    "sent_back": _("Your post was sent back"),
    "waiting_approval": _("A post waits for your approval"),
    "failed": _("A delivery failed"),
    "needs_reauth": _("An account must be reconnected"),
}
BODIES = {
    "sent_back": _("%(who)s sent back your post “%(excerpt)s” (%(persona)s): %(comment)s"),
    "waiting_approval": _("“%(excerpt)s” (%(persona)s) waits for your approval."),
    "failed": _("“%(excerpt)s” (%(persona)s) failed on %(channel)s @%(handle)s: %(error)s"),
    "needs_reauth": _(
        "%(channel)s @%(handle)s (%(persona)s) must be reconnected: nothing is sent nor received until then."
    ),
}
OPEN = _("Open")
MAIL_FOOTER = _("All your notifications: %(url)s")


@cache
def catalogue(locale: str) -> NullTranslations:
    return Translations.load(str(CATALOGUES), [locale], domain="messages")


def translate(message: str, locale: str) -> str:
    return catalogue(locale).gettext(message)


def _variables(detail: dict[str, Any]) -> dict[str, str]:
    names = ("who", "excerpt", "persona", "comment", "channel", "handle", "error")
    return {name: str(detail.get(name) or "—") for name in names}


def title(kind: str, locale: str) -> str:
    return translate(TITLES[kind], locale)


def body(kind: str, detail: dict[str, Any], locale: str) -> str:
    return translate(BODIES[kind], locale) % _variables(detail)


def path(kind: str, subject_id: Any, persona_id: Any, detail: dict[str, Any]) -> str:
    """Where the notification leads in the admin."""
    persona = f"/admin/personas/{persona_id}"
    if kind == "sent_back":
        return f"{persona}/posts/{subject_id}"
    if kind == "waiting_approval":
        return f"{persona}/approvals"
    if kind == "failed":
        return f"{persona}/deliveries/{subject_id}"
    return "/admin/accounts"
