"""The persona dashboard: today's deliveries against the cadence, what waits, what failed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core.db.enums import DeliveryState, Role
from core.db.models import Account, Delivery, Persona, Staff
from core.publishing.compose import ComposeRequest, StaffActor, compose
from core.runtime import Runtime
from tests.web.conftest import login

pytestmark = pytest.mark.anyio


async def test_today_counts_against_the_cadence_and_lists_what_needs_attention(
    client: AsyncTestClient, demo: Any, runtime: Runtime
) -> None:
    async with runtime.session() as session:
        persona = await session.scalar(select(Persona).where(Persona.slug == "region-occitanie"))
        assert persona is not None
        x = await session.scalar(select(Account).where(Account.persona_id == persona.id, Account.channel == "x"))
        editor = await session.scalar(select(Staff).where(Staff.email == demo["cm.region"].email))
        assert x is not None and editor is not None
        actor = StaffActor(id=editor.id, label=editor.email, role=Role.EDITOR)
        ids = []
        for n in range(3):
            result = await compose(
                session,
                runtime.channels,
                actor,
                ComposeRequest(
                    persona_id=persona.id,
                    account_ids=(x.id,),
                    text=f"Information pratique n°{n} sur les transports.",
                    variants={"x": f"Transports, en bref n°{n}."},
                    publish_now=True,
                ),
            )
            ids.append(result.deliveries[0].id)
        contributor = await session.scalar(select(Staff).where(Staff.email == demo["apprentie.region"].email))
        assert contributor is not None
        await compose(
            session,
            runtime.channels,
            StaffActor(id=contributor.id, label="c", role=Role.CONTRIBUTOR),
            ComposeRequest(
                persona_id=persona.id, account_ids=(x.id,), text="Brouillon de l'apprentie.", publish_now=True
            ),
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == ids[0])
            .values(state=DeliveryState.FAILED, last_error="Status is a duplicate.")
        )
    await login(client, demo["dircom.region"].email, demo["dircom.region"].password)
    html = (await client.get(f"/admin/personas/{persona.id}")).text
    today = html.split('id="today"')[1].split("</section>")[0]
    x_row = today.split('data-channel="x"')[1].split("</tr>")[0]
    assert (
        "3 / 2" in x_row and 'class="over"' in x_row
    )  # two scheduled + one waiting for approval (the failed one does not count) > 2 a day
    assert "1 publication attend sa validation" in today or "1 post waits for approval" in today
    assert "Status is a duplicate." in today and str(ids[0]) in today
    # the X deliveries are listed with the words X will show (the variant), not the main text
    assert "Transports, en bref n°1." in today and "Information pratique n°1" not in today
