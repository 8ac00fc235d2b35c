"""The one permission table: what each role may do on a persona.

Routes declare an :class:`Action` (``web.access.persona(Action.APPROVE)``), services check the
same action (:func:`require`), templates ask the same table (:func:`allows`), and the
authorization matrix test is generated from it. A new room adds its actions here, nowhere else.
"""

from __future__ import annotations

import enum

import msgspec

from core.db.enums import Role
from core.errors import N_, Refusal


class Action(enum.StrEnum):
    """A thing a staff member does on one persona."""

    SEE_PERSONA = "see_persona"  # the persona's definition, policy and team
    SEE_POSTS = "see_posts"  # posts, deliveries, calendar, approvals list, media library
    COMPOSE = "compose"  # write a post, upload media, submit for approval
    PUBLISH = "publish"  # schedule or publish within policy without approval
    APPROVE = "approve"  # approve or send back someone else's post
    SETTLE = "settle"  # retry a failed delivery, resolve an uncertain one, reschedule others' posts
    OVERRIDE = "override"  # sign off a blocking finding with a reason
    PAUSE = "pause"  # the persona's kill switch
    MANAGE_ACCOUNTS = "manage_accounts"  # connect, reconnect, switch live / dry run
    MODERATE = "moderate"  # the inbox: read comments and mentions, reply, hide, assign
    SEE_PRIVATE_MESSAGES = "see_private_messages"  # the persona's private messages
    BAN = "ban"  # ban or block a member of the public (a decision that needs review)
    SAVED_REPLIES = "saved_replies"  # write the persona's saved replies (everyone in the inbox uses them)
    SEE_USAGE = "see_usage"  # the usage figures: cadence, audience, budgets, response times, the team's workload
    DECIDE_POSTURE = "decide_posture"  # accept, decline or end a crisis posture (it pulls the kill switch)
    SEE_VEILLE = "see_veille"  # the watch board: what the persona's sources brought (seen, dismiss, draft: compose)
    MANAGE_SOURCES = "manage_sources"  # add, disable, re-enable the sources the persona watches


class Permission(msgspec.Struct, frozen=True, kw_only=True):
    """The least role that may do an action, and the roles refused although they rank high enough."""

    minimum: Role
    #: moderators work in the inbox only: they see no posts although they rank above viewers
    refused: frozenset[Role] = frozenset()
    #: site administrators may do this without an assignment (read definitions and teams to assign)
    admin_without_assignment: bool = False


_INBOX_ONLY = frozenset({Role.MODERATOR})

PERMISSIONS: dict[Action, Permission] = {
    Action.SEE_PERSONA: Permission(minimum=Role.VIEWER, admin_without_assignment=True),
    Action.SEE_POSTS: Permission(minimum=Role.VIEWER, refused=_INBOX_ONLY),
    Action.COMPOSE: Permission(minimum=Role.CONTRIBUTOR),
    Action.PUBLISH: Permission(minimum=Role.EDITOR),
    Action.APPROVE: Permission(minimum=Role.EDITOR),
    Action.SETTLE: Permission(minimum=Role.EDITOR),
    Action.OVERRIDE: Permission(minimum=Role.MANAGER),
    Action.PAUSE: Permission(minimum=Role.MANAGER, admin_without_assignment=True),  # any persona, even unmanaged
    Action.MANAGE_ACCOUNTS: Permission(minimum=Role.MANAGER),
    Action.MODERATE: Permission(minimum=Role.MODERATOR),
    Action.SEE_PRIVATE_MESSAGES: Permission(minimum=Role.MODERATOR),
    Action.BAN: Permission(minimum=Role.MANAGER),
    Action.SAVED_REPLIES: Permission(minimum=Role.EDITOR),
    Action.SEE_USAGE: Permission(minimum=Role.VIEWER, admin_without_assignment=True),
    # like the pause it pulls: managers, and site administrators on any persona
    Action.DECIDE_POSTURE: Permission(minimum=Role.MANAGER, admin_without_assignment=True),
    # the watch is public news: moderators see it too (a crisis reaches the inbox first)
    Action.SEE_VEILLE: Permission(minimum=Role.VIEWER),
    Action.MANAGE_SOURCES: Permission(minimum=Role.EDITOR),
}


def allows(role: Role | None, action: Action) -> bool:
    """Whether a staff member with ``role`` on a persona (None: no assignment) may do ``action``."""
    if role is None:
        return False
    permission = PERMISSIONS[action]
    return role.at_least(permission.minimum) and role not in permission.refused


class NotAllowed(Refusal):
    """The role on the persona does not allow the action (HTTP 403)."""

    status = 403


def require(role: Role | None, action: Action) -> None:
    """Refuse unless ``role`` allows ``action`` (services call this, whoever called them)."""
    if not allows(role, action):
        needed = PERMISSIONS[action].minimum.value
        raise NotAllowed(
            N_("this needs the %(role)s role on this persona (%(action)s)"),
            params={"role": needed, "action": action.value},
            code="role_needed",
        )
