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


def state_label(state: Enum | str) -> str:
    value = state.value if isinstance(state, Enum) else state
    return {
        "draft": _("Draft"),
        "pending_approval": _("Waiting for approval"),
        "scheduled": _("Scheduled"),
        "queued": _("Queued"),
        "publishing": _("Being published"),
        "published": _("Published"),
        "failed": _("Failed"),
        "uncertain": _("Uncertain"),
        "canceled": _("Canceled"),
    }.get(value, str(value))


def state_tone(state: Enum | str) -> str:
    """The badge colour of a delivery state (a CSS class)."""
    value = state.value if isinstance(state, Enum) else state
    return {
        "published": "ok",
        "failed": "bad",
        "uncertain": "bad",
        "pending_approval": "warn",
        "canceled": "muted",
        "draft": "muted",
    }.get(value, "")


def event_label(kind: str) -> str:
    return {
        "created": _("Composed"),
        "approved": _("Approved"),
        "sent_back": _("Sent back"),
        "submitted": _("Submitted"),
        "rescheduled": _("Rescheduled"),
        "canceled": _("Canceled"),
        "retried": _("Retried"),
        "resolved": _("Settled by hand"),
        "queued": _("Queued"),
        "attempt": _("Attempt"),
        "published": _("Published"),
        "dry_run": _("Dry run: request built, nothing sent"),
        "failed": _("Failed"),
        "transient_error": _("Temporary error"),
        "rate_limited": _("Rate limited by the network"),
        "needs_reauth": _("Account needs reconnection"),
        "uncertain": _("Uncertain"),
        "reconciled": _("Found on the network"),
        "held": _("Held"),
        "policy": _("Held by the policy"),
        "edited": _("Edited"),
    }.get(kind, kind)


def severity_label(severity: Enum | str) -> str:
    value = severity.value if isinstance(severity, Enum) else severity
    return {"block": _("Blocks"), "review": _("Needs approval"), "warn": _("Warning"), "info": _("Note")}.get(
        value, str(value)
    )


def option_label(name: str, fallback: str = "") -> str:
    """A network's publish option (``core.channels.PublishOption.name``), in the user's language;
    ``fallback``: the plugin's English label (an ``N_`` msgid), translated when the catalogue has it."""
    known = {
        "privacy_level": _("Who can see this post"),
        "disable_comment": _("Turn off comments"),
        "disable_duet": _("Turn off Duet"),
        "disable_stitch": _("Turn off Stitch"),
        "brand_organic_toggle": _("Promotes your own brand"),
        "brand_content_toggle": _("Branded content (paid partnership)"),
    }.get(name)
    return known or (_(fallback) if fallback else name)


def choice_label(value: str) -> str:
    """A value of a publish option (TikTok's privacy levels), in the user's language."""
    return {
        "PUBLIC_TO_EVERYONE": _("Everyone"),
        "MUTUAL_FOLLOW_FRIENDS": _("Friends (mutual followers)"),
        "FOLLOWER_OF_CREATOR": _("Followers"),
        "SELF_ONLY": _("Only me"),
    }.get(value, value)


LABELS = {
    "option_label": option_label,
    "choice_label": choice_label,
    "state_label": state_label,
    "state_tone": state_tone,
    "event_label": event_label,
    "severity_label": severity_label,
    "role_label": role_label,
    "role_help": role_help,
    "employer_label": employer_label,
    "status_label": status_label,
    "mode_label": mode_label,
}
