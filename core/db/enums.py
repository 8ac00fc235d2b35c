"""The state sets of the domain, shared by the models, the services and the API.

``InboxKind`` is the plugin contract's (what a network item is), ``Employer`` the policy
engine's (what L52-8 looks at), ``AccountMode`` and ``PersonaKind`` the persona files': one
enum each, re-exported here.
"""

from __future__ import annotations

import enum

from core.channels.contract import InboxKind
from personas.policy.model import Employer
from personas.schema import AccountMode, PersonaKind

__all__ = [
    "AccountMode",
    "AccountStatus",
    "DeliveryKind",
    "DeliveryState",
    "Employer",
    "ErrorKind",
    "InboxKind",
    "InboxStatus",
    "MediaOrigin",
    "PersonaKind",
    "Role",
]


class AccountStatus(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_REAUTH = "needs_reauth"
    DISABLED = "disabled"


class Role(enum.StrEnum):
    """A staff member's role on one persona, from most to least."""

    MANAGER = "manager"  # approves, manages the persona's accounts
    EDITOR = "editor"  # composes, schedules, publishes within policy
    CONTRIBUTOR = "contributor"  # composes; needs a manager's or editor's approval
    MODERATOR = "moderator"  # inbox only
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.MODERATOR: 1, Role.CONTRIBUTOR: 2, Role.EDITOR: 3, Role.MANAGER: 4}


class DeliveryState(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # a send was interrupted; nobody knows yet if the network took it
    CANCELED = "canceled"


class DeliveryKind(enum.StrEnum):
    POST = "post"
    REPOST = "repost"  # retweet, share, reshare of a network post
    REPLY = "reply"  # an answer to an inbox item (comment, mention, private message)


class ErrorKind(enum.StrEnum):
    """Why a delivery is not (yet) published: what ``Delivery.error_kind`` holds."""

    RATE_LIMITED = "rate_limited"  # the network asked to slow down; back in ``scheduled`` until the reset
    NEEDS_REAUTH = "needs_reauth"  # the account must be reconnected before anything is sent
    REJECTED = "rejected"  # refused for good by the network (its message is in ``last_error``)
    TRANSIENT = "transient"  # 5xx, timeout, dropped connection: retried with backoff
    UNKNOWN = "unknown"  # a plugin bug during the send: nobody knows whether it went out
    LEASE_EXPIRED = "lease_expired"  # the worker stopped during the send
    UNRESOLVED = "unresolved"  # reconcile could not tell: a human decides
    POLICY = "policy"  # a new finding at publish time holds it for approval


class InboxStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    CLOSED = "closed"


class MediaOrigin(enum.StrEnum):
    """Where a media asset comes from (L52-8: institution-owned media off the official's accounts)."""

    REGION_DAM = "region_dam"
    PERSONAL = "personal"
    CAMPAIGN = "campaign"
