"""deliveries: the account's persona copied on each delivery, and an index on the list's exact sort
(persona, scheduled else created, id), so that a persona's page of deliveries is an index range
read from the cursor instead of a sort of all its rows (flat at a million rows; issue 15, B3)

Revision ID: 0010_deliveries_by_persona
Revises: 0009_usage_ledger
Create Date: 2026-12-04 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_deliveries_by_persona"
down_revision: str | None = "0009_usage_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("persona_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE deliveries SET persona_id = (SELECT accounts.persona_id FROM accounts "
        "WHERE accounts.id = deliveries.account_id)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("persona_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_persona_id_personas"), "personas", ["persona_id"], ["id"], ondelete="RESTRICT"
        )
    op.create_index(
        "ix_deliveries_persona_listed",
        "deliveries",
        ["persona_id", sa.text("coalesce(scheduled_at, created_at)"), "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_persona_listed", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deliveries_persona_id_personas"), type_="foreignkey")
        batch_op.drop_column("persona_id")
