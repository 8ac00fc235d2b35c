"""Who may work on whose accounts without mixing the resources of the institution and of a campaign.

Art. L52-8 of the electoral code forbids a campaign the resources of a legal person: an agent paid
by the Région who runs the president's personal accounts, or a campaign employee who speaks for the
Région, are both the kind of mix the judge requalifies (rule S1 of the research notes). An assignment
is not refused — a cabinet may legitimately help the official — but the admin who makes it is told.
"""

from __future__ import annotations

import enum

from core.db.enums import Employer, Role
from core.db.models import Persona, Staff
from personas.schema import PersonaKind

#: roles that write or moderate in the persona's name (a viewer only reads)
_ACTING = (Role.CONTRIBUTOR, Role.MODERATOR, Role.EDITOR, Role.MANAGER)


class Mix(enum.StrEnum):
    """The two ways an assignment mixes resources."""

    CAMPAIGN_ON_INSTITUTION = "campaign_on_institution"
    INSTITUTION_ON_OFFICIAL = "institution_on_official"


def resource_mix(staff: Staff, persona: Persona, role: Role) -> Mix | None:
    """The mix this assignment makes, or None when the staff member's employer fits the persona."""
    if role not in _ACTING:
        return None
    if persona.kind == PersonaKind.INSTITUTION and staff.employer == Employer.CAMPAIGN:
        return Mix.CAMPAIGN_ON_INSTITUTION
    if persona.kind == PersonaKind.ELECTED_OFFICIAL and staff.employer in (Employer.INSTITUTION, Employer.CABINET):
        return Mix.INSTITUTION_ON_OFFICIAL
    return None
