"""The one refusal base class: a service says no, and says why.

Every service refusal (a bad input, a forbidden move, a rule that blocks) is a :class:`Refusal`.
The web layer answers all of them with one exception handler: JSON 400/403/404/409/422 with
the field for the API, a flash message and a redirect (or the form again) for the admin.
``core`` knows nothing of HTTP; ``status`` is only the kind of refusal, as a number everybody reads.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Refusal(ValueError):
    """A domain operation that cannot be done; ``message`` says why, for the person who asked.

    ``field`` names the input at fault (snake_case, as in the service's signature), ``code`` is a
    stable machine word for callers that branch on it, ``extra`` carries structured detail (the
    policy findings of a blocked post).
    """

    #: 400 bad input; 403 not allowed; 404 not found (or not yours); 409 conflicts with the state;
    #: 422 understood but refused by a rule
    status: ClassVar[int] = 400

    def __init__(
        self, message: str, *, field: str | None = None, code: str = "refused", extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.extra = extra or {}


class NotFound(Refusal):
    """The thing does not exist, or not for this caller (never say which)."""

    status = 404


class Conflict(Refusal):
    """The request contradicts the current state (an e-mail already taken, a post already sent)."""

    status = 409
