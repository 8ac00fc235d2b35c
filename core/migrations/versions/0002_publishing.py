"""publishing: posting slots, queue bookkeeping

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:56:28.670710
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table('posting_slots',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('local_time', sa.String(length=5), nullable=False),
    sa.CheckConstraint("local_time LIKE '__:__'", name=op.f('ck_posting_slots_local_time_hh_mm')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_posting_slots_weekday_valid')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_posting_slots_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posting_slots')),
    sa.UniqueConstraint('account_id', 'weekday', 'local_time', name=op.f('uq_posting_slots_account_id_weekday_local_time'))
    )
    with op.batch_alter_table('posting_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posting_slots_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))

def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('queued_at')
        batch_op.drop_column('approved_rules')

    with op.batch_alter_table('posting_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posting_slots_account_id'))

    op.drop_table('posting_slots')
