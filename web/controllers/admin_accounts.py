"""Connecting an account through its network's OAuth flow (managers of the persona).

``GET …/accounts/{id}/connect`` keeps the flow's state and PKCE verifier in the person's
server-side session (bound to the account, ten minutes) and sends the browser to the network;
the network sends it back to ``/oauth/{channel}/callback`` (the redirect URI the plugin gives
the network, unless one is configured), which checks the state and stores the tokens
encrypted. The rules live in :mod:`core.accounts.service`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import service as service
from core.db.enums import Role
from core.db.types import utcnow
from core.runtime import Runtime
from web import access
from web.auth import StaffUser, require_role
from web.controllers.admin import flash
from web.controllers.personas_query import account_or_404
from web.i18n import gettext as _

#: the session key holding the started flows, by state
SESSION_KEY = "oauth_pending"
#: at most this many flows waiting at once per session (the oldest go)
MAX_PENDING = 5


def callback_url(request: Request[Any, Any, Any], channel: str) -> str:
    """This app's callback for ``channel``, as the browser reaches it."""
    return f"{str(request.base_url).rstrip('/')}/oauth/{channel}/callback"


def refusal_message(exc: service.ConnectionRefused, handle: str = "") -> str:
    messages = {
        "state": _(
            "This answer from the network does not match a connection started from this session. Nothing was stored; start again from the accounts page."
        ),
        "expired": _(
            "The connection took more than 10 minutes. Nothing was stored; start again from the accounts page."
        ),
        "not_supported": _(
            "This network offers no OAuth connection: its credentials are set by an administrator (see the operations guide)."
        ),
        "disabled": _("This account is disabled: it cannot be connected."),
        "identity": _(
            "The network gave access to another account than @%(handle)s. Sign in on the network as @%(handle)s and start again.",
            handle=handle,
        ),
    }
    return messages.get(exc.code) or _("The network refused the connection: %(detail)s", detail=exc.message)


def _pending(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = request.session.get(SESSION_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


class AdminAccountsController(Controller):
    include_in_schema = False

    @get("/admin/personas/{persona_id:uuid}/accounts/{account_id:uuid}/connect", **access.persona(Role.MANAGER))
    async def connect(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        account_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Start the network's OAuth flow for this account (connect, or reconnect)."""
        account = await account_or_404(db_session, persona_id, account_id)
        runtime: Runtime = request.app.state.runtime
        try:
            url, pending = service.start_connection(
                runtime.host, account, default_redirect_uri=callback_url(request, account.channel)
            )
        except service.ConnectionRefused as exc:
            flash(request, refusal_message(exc, account.handle))
            return Redirect("/admin/accounts", status_code=303)
        now = utcnow()
        waiting = {
            state: entry
            for state, entry in _pending(request).items()
            if isinstance(entry, dict)
            and datetime.fromisoformat(entry.get("expires_at", "2000-01-01T00:00:00+00:00")) > now
        }
        waiting[pending.state] = msgspec.to_builtins(pending)
        request.session[SESSION_KEY] = dict(list(waiting.items())[-MAX_PENDING:])
        return Redirect(url, status_code=303)

    @get("/oauth/{channel:str}/callback", **access.staff())
    async def callback(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        channel: FromPath[str],
        code: FromQuery[str] = "",
        oauth_state: Annotated[str, QueryParameter(name="state")] = "",
        error: FromQuery[str] = "",
        error_description: FromQuery[str] = "",
    ) -> Redirect | Template:
        """The network sends the person back here: check the state, store the tokens encrypted."""
        state = oauth_state
        waiting = _pending(request)
        raw = waiting.pop(state, None) if state else None
        request.session[SESSION_KEY] = waiting  # a state is good for one answer only
        pending = msgspec.convert(raw, service.PendingConnection) if isinstance(raw, dict) else None
        if pending is not None and pending.channel != channel:
            pending = None
        if pending is not None:
            # still a manager of the persona? (roles may have changed during the flow)
            require_role(request.user, pending.persona_id, Role.MANAGER)
        if error and pending is not None:
            return _refused(_("The network did not give access: %(detail)s", detail=error_description or error))
        runtime: Runtime = request.app.state.runtime
        try:
            async with db_session.begin_nested():
                account = await service.finish_connection(
                    db_session, runtime.host, pending, state=state, code=code, actor=request.user.actor
                )
        except service.ConnectionRefused as exc:
            return _refused(refusal_message(exc, exc.handle))
        flash(request, _("@%(handle)s (%(channel)s) is connected.", handle=account.handle, channel=account.channel))
        return Redirect("/admin/accounts", status_code=303)


def _refused(message: str) -> Template:
    return Template("admin/error.html", context={"status": 400, "detail": message}, status_code=400)
