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
    "usage_alert": _("Usage alert"),
}
BODIES = {
    "sent_back": _("%(who)s sent back your post “%(excerpt)s” (%(persona)s): %(comment)s"),
    "waiting_approval": _("“%(excerpt)s” (%(persona)s) waits for your approval."),
    "failed": _("“%(excerpt)s” (%(persona)s) failed on %(channel)s @%(handle)s: %(error)s"),
    "needs_reauth": _(
        "%(channel)s @%(handle)s (%(persona)s) must be reconnected: nothing is sent nor received until then."
    ),
}
#: a usage alert's text, by the alert's kind (``detail["alert"]``, :mod:`core.usage.alerts`)
ALERT_BODIES = {
    "behind_cadence": _(
        "%(channel)s @%(handle)s (%(persona)s) is behind its line today: %(posts)s of %(target)s posts by %(hour)s:00."
    ),
    "quota_low": _("%(channel)s @%(handle)s (%(persona)s) has %(left)s%% of its API budget left (%(endpoint)s)."),
    "needs_reauth": _("%(channel)s @%(handle)s (%(persona)s) must be reconnected: nothing is sent nor received."),
    "inbox_over_target": _(
        "The inbox of %(persona)s is over its response target: %(overdue)s messages overdue, "
        "first responses today in %(median)s min (target %(target)s min)."
    ),
    "long_day": _("%(who)s has worked a %(hours)s-hour day on %(persona)s: far beyond a reasonable day."),
    "metrics_failing": _("The metrics of %(channel)s @%(handle)s (%(persona)s) fail: %(error)s"),
    "source_broken": _("The crisis feed “%(source)s” of %(persona)s is no longer read after 3 errors: %(error)s"),
    # the watch (core.veille.crisis): each proposes a crisis posture to the managers
    "crisis_keyword": _("Crisis keyword “%(keyword)s” in the watch of %(persona)s: %(title)s"),
    "vigilance": _("Orange vigilance for %(area)s (%(departement)s), watched by %(persona)s: %(title)s"),
    "vigilance:red": _("Red vigilance for %(area)s (%(departement)s), watched by %(persona)s: %(title)s"),
    "volume_spike": _(
        "The watch of %(persona)s is spiking: %(last24)s items in 24 hours against %(mean)s a day over the week."
    ),
}
#: the alerts of the watch lead to the crisis posture they propose
CRISIS_ALERTS = frozenset({"crisis_keyword", "vigilance", "volume_spike"})
OPEN = _("Open")
MAIL_FOOTER = _("All your notifications: %(url)s")


@cache
def catalogue(locale: str) -> NullTranslations:
    return Translations.load(str(CATALOGUES), [locale], domain="messages")


def translate(message: str, locale: str) -> str:
    return catalogue(locale).gettext(message)


class Names(dict[str, Any]):
    """A notification's names for its text: an absent or empty one reads "—"."""

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        return "—" if value is None or value == "" else str(value)


def names(detail: dict[str, Any]) -> Names:
    return Names(detail)


def template(kind: str, detail: dict[str, Any]) -> str:
    """The message (msgid) of a notification: a usage alert's depends on the alert's kind."""
    if kind == "usage_alert":
        alert = str(detail.get("alert"))
        # a level of its own (a red vigilance) reads differently from the kind's default
        found = ALERT_BODIES.get(f"{alert}:{detail.get('level')}") or ALERT_BODIES.get(alert)
        return found or ALERT_BODIES["metrics_failing"]
    return BODIES[kind]


def title(kind: str, locale: str) -> str:
    return translate(TITLES[kind], locale)


def body(kind: str, detail: dict[str, Any], locale: str) -> str:
    return translate(template(kind, detail), locale) % names(detail)


def path(kind: str, subject_id: Any, persona_id: Any, detail: dict[str, Any]) -> str:
    """Where the notification leads in the admin."""
    persona = f"/admin/personas/{persona_id}"
    if kind == "sent_back":
        return f"{persona}/posts/{subject_id}"
    if kind == "waiting_approval":
        return f"{persona}/approvals"
    if kind == "failed":
        return f"{persona}/deliveries/{subject_id}"
    if kind == "usage_alert" and detail.get("alert") in CRISIS_ALERTS:
        return f"{persona}/veille/crisis"
    if kind == "usage_alert":
        return f"{persona}/usage"
    return "/admin/accounts"
