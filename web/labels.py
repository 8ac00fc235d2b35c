"""Words for the domain's values, translated (the admin shows these, never raw enum values)."""

from __future__ import annotations

from enum import Enum

from web.i18n import gettext as _


def role_label(role: Enum | str | None) -> str:
    value = role.value if isinstance(role, Enum) else role
    return {
        "manager": _("Manager"),
        "editor": _("Editor"),
        "contributor": _("Contributor"),
        "moderator": _("Moderator"),
        "viewer": _("Viewer"),
        None: _("Administrator (no assignment)"),
    }.get(value, str(value))


def role_help(role: str) -> str:
    return {
        "manager": _("approves, manages the persona's accounts"),
        "editor": _("composes, schedules, publishes within policy"),
        "contributor": _("composes; needs a manager's or editor's approval"),
        "moderator": _("inbox only"),
        "viewer": _("reads only"),
    }.get(role, "")


def employer_label(employer: Enum | str) -> str:
    value = employer.value if isinstance(employer, Enum) else employer
    return {
        "institution": _("Institution"),
        "cabinet": _("Cabinet (the elected official's team)"),
        "campaign": _("Campaign"),
        "other": _("Other"),
    }.get(value, str(value))


def status_label(status: Enum | str) -> str:
    value = status.value if isinstance(status, Enum) else status
    return {
        "connected": _("Connected"),
        "needs_reauth": _("Needs reconnection"),
        "disabled": _("Disabled"),
    }.get(value, str(value))


def mode_label(mode: Enum | str) -> str:
    value = mode.value if isinstance(mode, Enum) else mode
    return {"live": _("Live"), "dry_run": _("Dry run")}.get(value, str(value))


LABELS = {
    "role_label": role_label,
    "role_help": role_help,
    "employer_label": employer_label,
    "status_label": status_label,
    "mode_label": mode_label,
}
