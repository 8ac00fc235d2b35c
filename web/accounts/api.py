"""/api/v1/personas/{persona_id}/accounts: a persona's accounts, their status and mode."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import service
from core.db.enums import AccountMode
from core.db.models import Account, Persona
from core.people.permissions import Action
from web import access
from web.accounts.schemas import AccountModeIn, AccountOut, AccountPage
from web.auth import StaffUser
from web.openapi import SAME_PERSONA, linked
from web.pagination import Cursor, Limit
from web.structs import out

#: OpenAPI links (web.openapi): a draft a client may compose on the list's first account
A_DRAFT_ON_THE_FIRST_ACCOUNT = {"accountIds": ["$response.body#/items/0/id"], "text": "Bonjour", "saveAsDraft": True}


class AccountApiController(Controller):
    path = "/api/v1/personas/{persona_id:uuid}/accounts"
    tags = ["personas"]

    @get(
        "/",
        summary="A persona's accounts: status and mode",
        operation_class=linked(
            200,
            bodies={"compose": A_DRAFT_ON_THE_FIRST_ACCOUNT},
            setAccountMode={**SAME_PERSONA, "account_id": "$response.body#/items/0/id"},
            compose=SAME_PERSONA,
        ),
        **access.persona(Action.SEE_PERSONA),
    )
    async def list_accounts(
        self,
        db_session: NamedDependency[AsyncSession],
        persona: NamedDependency[Persona],
        cursor: FromQuery[Cursor] = None,
        limit: FromQuery[Limit] = 50,
    ) -> AccountPage:
        return out(await service.account_page(db_session, persona.id, cursor=cursor, limit=limit), AccountPage)

    @patch(
        "/{account_id:uuid}",
        summary="Switch an account between live and dry run (managers)",
        **access.persona(Action.MANAGE_ACCOUNTS),
    )
    async def set_account_mode(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        account: NamedDependency[Account],
        data: JSONBody[AccountModeIn],
    ) -> AccountOut:
        await service.set_mode(db_session, account, AccountMode(data.mode), request.user.actor)
        return out(account, AccountOut)
