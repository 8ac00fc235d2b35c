"""The accounts page, the live / dry-run switch, and connecting an account through its network's
OAuth flow (managers of the persona).

``GET …/accounts/{id}/connect`` keeps the flow's state and PKCE verifier in the person's
server-side session (bound to the account, ten minutes) and sends the browser to the network;
the network sends it back to ``/oauth/{channel}/callback`` (the redirect URI the plugin gives
the network, unless one is configured), which checks the state and stores the tokens
encrypted. The rules live in :mod:`core.accounts.service`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import service
from core.db.enums import AccountMode
from core.db.models import Account
from core.db.types import utcnow
from core.errors import Refusal
from core.people.permissions import Action
from core.personas.service import visible_personas
from core.runtime import Runtime
from web import access
from web.auth import StaffUser, check
from web.forms import Form, flash, safe_next
from web.i18n import gettext as _
from web.labels import mode_label
from web.messages import refusal_text
from web.refusals import error_page

#: the session key holding the started flows, by state
SESSION_KEY = "oauth_pending"
#: at most this many flows waiting at once per session (the oldest go)
MAX_PENDING = 5


class ModeForm(msgspec.Struct):
    mode: Literal["live", "dry_run"]
    next: str = "/admin/accounts"


def callback_url(request: Request[Any, Any, Any], channel: str) -> str:
    """This app's callback for ``channel``, as the browser reaches it."""
    return f"{str(request.base_url).rstrip('/')}/oauth/{channel}/callback"


def refusal_message(exc: Refusal) -> str:
    """Why a connection failed, in the manager's language."""
    handle = getattr(exc, "handle", "")
    messages = {
        "state": _(
            "This answer from the network does not match a connection started from this session. "
            "Nothing was stored; start again from the accounts page."
        ),
        "expired": _(
            "The connection took more than 10 minutes. Nothing was stored; start again from the accounts page."
        ),
        "not_supported": _(
            "This network offers no OAuth connection: its credentials are set by an administrator "
            "(see the operations guide)."
        ),
        "disabled": _("This account is disabled: it cannot be connected."),
        "identity": _(
            "The network gave access to another account than @%(handle)s. "
            "Sign in on the network as @%(handle)s and start again.",
            handle=handle,
        ),
        # the network's own words (its ``error_description``), shown as it wrote them
        "denied": _("The network did not give access: %(detail)s", detail=exc.message),
    }
    return messages.get(exc.code) or _("The network refused the connection: %(detail)s", detail=refusal_text(exc))


def _back_to_accounts(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    flash(request, refusal_message(exc))
    return Redirect("/admin/accounts", status_code=303)


def _callback_refused(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    return error_page(400, refusal_message(exc))


def _pending(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = request.session.get(SESSION_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


class AdminAccountsController(Controller):
    include_in_schema = False

    @get("/admin/accounts", **access.staff())
    async def accounts(
        self, request: Request[StaffUser, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        personas = await visible_personas(db_session, request.user.visible_persona_ids)
        return Template("accounts/accounts.html", context={"personas": personas})

    @post(
        "/admin/personas/{persona_id:uuid}/accounts/{account_id:uuid}/mode",
        status_code=303,
        **access.persona(Action.MANAGE_ACCOUNTS),
    )
    async def set_account_mode(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        account: NamedDependency[Account],
        data: Annotated[ModeForm, Form],
    ) -> Template | Redirect:
        await service.set_mode(db_session, account, AccountMode(data.mode), request.user.actor)
        if request.headers.get("hx-request"):
            return HTMXTemplate(
                template_name="accounts/_account_row.html",
                context={"account": account, "can_manage": True, "next": safe_next(data.next)},
            )
        flash(request, _("Mode of @%(handle)s: %(mode)s.", handle=account.handle, mode=mode_label(account.mode)))
        return Redirect(safe_next(data.next), status_code=303)

    @get(
        "/admin/personas/{persona_id:uuid}/accounts/{account_id:uuid}/connect",
        refused=_back_to_accounts,
        **access.persona(Action.MANAGE_ACCOUNTS),
    )
    async def connect(
        self,
        request: Request[StaffUser, Any, Any],
        runtime: NamedDependency[Runtime],
        account: NamedDependency[Account],
    ) -> Redirect:
        """Start the network's OAuth flow for this account (connect, or reconnect)."""
        default = callback_url(request, account.channel)
        url, pending = service.start_connection(runtime.host, account, default_redirect_uri=default)
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

    @get("/oauth/{channel:str}/callback", refused=_callback_refused, **access.staff())
    async def callback(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        runtime: NamedDependency[Runtime],
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
            check(request.user, pending.persona_id, Action.MANAGE_ACCOUNTS)
        if error and pending is not None:
            raise service.ConnectionRefused(error_description or error, code="denied")
        account = await service.finish_connection(
            db_session, runtime.host, pending, state=state, code=code, actor=request.user.actor
        )
        flash(request, _("@%(handle)s (%(channel)s) is connected.", handle=account.handle, channel=account.channel))
        return Redirect("/admin/accounts", status_code=303)
