"""The one refusal base class: a service says no, and says why.

Every service refusal (a bad input, a forbidden move, a rule that blocks) is a :class:`Refusal`.
The web layer answers all of them with one exception handler: JSON 400/403/404/409/422 with
the field for the API, a flash message and a redirect (or the form again) for the admin.
``core`` knows nothing of HTTP; ``status`` is only the kind of refusal, as a number everybody reads.

A refusal's words are an English gettext msgid marked with :func:`N_` (``pybabel extract -k N_``)
and its numbers and names are ``params``: ``Refusal(N_("the file is larger than %(mb)s MB"),
params={"mb": 50})``. ``message`` is that text formatted in English (logs, tests); the web layer
shows ``gettext(template) % params`` in the reader's language (:func:`web.messages.refusal_text`).
"""

from __future__ import annotations

from typing import Any, ClassVar


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for translation without translating it (core knows no locale)."""
    return message


class Refusal(ValueError):
    """A domain operation that cannot be done; ``message`` says why, for the person who asked.

    ``template`` is the English msgid (``%(name)s`` placeholders), ``params`` its values;
    ``message`` is the two together, in English. ``field`` names the input at fault (snake_case,
    as in the service's signature), ``code`` is a stable machine word for callers that branch on
    it, ``extra`` carries structured detail (the policy findings of a blocked post).
    """

    #: 400 bad input; 403 not allowed; 404 not found (or not yours); 409 conflicts with the state;
    #: 422 understood but refused by a rule
    status: ClassVar[int] = 400

    def __init__(
        self,
        template: str,
        *,
        params: dict[str, Any] | None = None,
        field: str | None = None,
        code: str = "refused",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.params = params or {}
        self.message = template % self.params if self.params else template
        super().__init__(self.message)
        self.field = field
        self.code = code
        self.extra = extra or {}


class NotFound(Refusal):
    """The thing does not exist, or not for this caller (never say which)."""

    status = 404


class Conflict(Refusal):
    """The request contradicts the current state (an e-mail already taken, a post already sent)."""

    status = 409
