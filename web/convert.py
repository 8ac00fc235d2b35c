"""Domain rows → API structures (one place, so the API and tests agree)."""

from __future__ import annotations

from core.db.enums import Role
from core.db.models import Account, ApiToken, Persona, Staff
from web.schemas import (
    AccountOut,
    AssignmentOut,
    ChannelPolicyOut,
    PersonaOut,
    StaffOut,
    TeamMemberOut,
    TokenOut,
)


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        persona_id=account.persona_id,
        channel=account.channel,
        handle=account.handle,
        display_name=account.display_name,
        status=account.status.value,
        mode=account.mode.value,  # type: ignore[arg-type]
    )


def persona_out(persona: Persona, my_role: Role | None = None) -> PersonaOut:
    return PersonaOut(
        id=persona.id,
        slug=persona.slug,
        name=persona.name,
        kind=persona.kind.value,
        embodies=persona.embodies,
        timezone=persona.timezone,
        editorial_line=persona.editorial_line,
        paused=persona.paused,
        channels=[
            ChannelPolicyOut(
                channel=p.channel,
                allowed=p.allowed,
                refusal_reason=p.refusal_reason,
                main=p.main,
                audience=p.audience,
                tone=p.tone,
                purpose=p.purpose,
                posts_per_day=p.posts_per_day,
                reposts_per_day=p.reposts_per_day,
                formats=list(p.formats),
            )
            for p in persona.channel_policies
        ],
        accounts=[account_out(a) for a in persona.accounts],
        my_role=my_role,
    )


def staff_out(staff: Staff, assignments: list[tuple[Persona, Role]]) -> StaffOut:
    return StaffOut(
        id=staff.id,
        email=staff.email,
        display_name=staff.display_name,
        is_admin=staff.is_admin,
        is_active=staff.is_active,
        employer=staff.employer,
        locale=staff.locale,  # type: ignore[arg-type]
        must_change_password=staff.must_change_password,
        last_login_at=staff.last_login_at,
        assignments=[
            AssignmentOut(persona_id=p.id, persona_slug=p.slug, persona_name=p.name, role=role)
            for p, role in assignments
        ],
    )


def member_out(staff: Staff, role: Role) -> TeamMemberOut:
    return TeamMemberOut(
        staff_id=staff.id,
        email=staff.email,
        display_name=staff.display_name,
        employer=staff.employer,
        is_active=staff.is_active,
        role=role,
    )


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )
