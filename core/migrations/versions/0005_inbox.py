"""the inbox: items per persona, threaded and linked to our posts; notes, saved replies,
measured events, moderation actions and the write-once archive; each account's sync state

Revision ID: 0005_inbox
Revises: 0004_replies_are_deliveries
Create Date: 2026-12-02 05:03:21

Items stored before this revision get their persona from their account.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005_inbox'
down_revision: str | None = '0004_replies_are_deliveries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbox_archives',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('persona_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_archives'))
    )
    with op.batch_alter_table('inbox_archives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_archives_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_archives_persona_id'), ['persona_id'], unique=False)

    op.create_table('saved_replies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('persona_id', sa.Uuid(), nullable=False),
    sa.Column('short_code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("short_code != ''", name=op.f('ck_saved_replies_short_code_not_empty')),
    sa.ForeignKeyConstraint(['persona_id'], ['personas.id'], name=op.f('fk_saved_replies_persona_id_personas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_replies')),
    sa.UniqueConstraint('persona_id', 'short_code', name=op.f('uq_saved_replies_persona_id_short_code'))
    )
    op.create_table('inbox_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('persona_id', sa.Uuid(), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('business_seconds', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['inbox_items.id'], name=op.f('fk_inbox_events_item_id_inbox_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_events'))
    )
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_events_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_inbox_events_persona_kind_at', ['persona_id', 'kind', 'at'], unique=False)

    op.create_table('inbox_notes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff.id'], name=op.f('fk_inbox_notes_author_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['inbox_items.id'], name=op.f('fk_inbox_notes_item_id_inbox_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_notes'))
    )
    with op.batch_alter_table('inbox_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_notes_item_id'), ['item_id'], unique=False)

    op.create_table('moderation_actions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('persona_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('reviewed_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("action IN ('hide', 'unhide', 'delete', 'ban')", name=op.f('ck_moderation_actions_action_known')),
    sa.CheckConstraint("reason_code != ''", name=op.f('ck_moderation_actions_has_reason')),
    sa.CheckConstraint("state IN ('proposed', 'pending_review', 'done', 'manual', 'refused', 'failed')", name=op.f('ck_moderation_actions_state_known')),
    sa.ForeignKeyConstraint(['item_id'], ['inbox_items.id'], name=op.f('fk_moderation_actions_item_id_inbox_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_actions'))
    )
    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_actions_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_actions_persona_id'), ['persona_id'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbox_synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inbox_failing_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inbox_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('inbox_unavailable', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='{}'))

    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('persona_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('parent_remote_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('delivery_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('first_seen_via', sa.String(length=8), nullable=False, server_default='poll'))
        batch_op.add_column(sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('response_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('legal_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hidden', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('replying_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('replying_until', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE inbox_items SET persona_id = (SELECT accounts.persona_id FROM accounts "
        "WHERE accounts.id = inbox_items.account_id)"
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.alter_column('persona_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.create_index('ix_inbox_items_account_parent', ['account_id', 'parent_remote_id'], unique=False)
        batch_op.create_index('ix_inbox_items_account_thread', ['account_id', 'thread_remote_id'], unique=False)
        batch_op.create_index('ix_inbox_items_persona_received', ['persona_id', 'received_at', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inbox_items_replying_id_staff'), 'staff', ['replying_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_inbox_items_persona_id_personas'), 'personas', ['persona_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_inbox_items_delivery_id_deliveries'), 'deliveries', ['delivery_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(batch_op.f('ck_inbox_items_seen_via_known'), "first_seen_via IN ('poll', 'webhook')")
        batch_op.create_check_constraint(
            batch_op.f('ck_inbox_items_assigned_has_assignee'), "status != 'assigned' OR assignee_id IS NOT NULL"
        )
    _archive_append_only_up()



def downgrade() -> None:
    _archive_append_only_down()
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_inbox_items_assigned_has_assignee'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_inbox_items_seen_via_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_inbox_items_delivery_id_deliveries'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_inbox_items_persona_id_personas'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_inbox_items_replying_id_staff'), type_='foreignkey')
        batch_op.drop_index('ix_inbox_items_persona_received')
        batch_op.drop_index('ix_inbox_items_account_thread')
        batch_op.drop_index('ix_inbox_items_account_parent')
        batch_op.drop_column('replying_until')
        batch_op.drop_column('replying_id')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('hidden')
        batch_op.drop_column('last_response_at')
        batch_op.drop_column('legal_due_at')
        batch_op.drop_column('response_due_at')
        batch_op.drop_column('flags')
        batch_op.drop_column('first_seen_via')
        batch_op.drop_column('delivery_id')
        batch_op.drop_column('parent_remote_id')
        batch_op.drop_column('persona_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('inbox_unavailable')
        batch_op.drop_column('inbox_error')
        batch_op.drop_column('inbox_failing_since')
        batch_op.drop_column('inbox_synced_at')

    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_actions_persona_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_actions_item_id'))

    op.drop_table('moderation_actions')
    with op.batch_alter_table('inbox_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_notes_item_id'))

    op.drop_table('inbox_notes')
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_events_persona_kind_at')
        batch_op.drop_index(batch_op.f('ix_inbox_events_item_id'))

    op.drop_table('inbox_events')
    op.drop_table('saved_replies')
    with op.batch_alter_table('inbox_archives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_archives_persona_id'))
        batch_op.drop_index(batch_op.f('ix_inbox_archives_item_id'))

    op.drop_table('inbox_archives')


# The archive is write-once in the database itself (X1), like the audit log.
def _archive_append_only_up() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION inbox_archives_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'inbox_archives is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER inbox_archives_append_only BEFORE UPDATE OR DELETE ON inbox_archives "
            "FOR EACH ROW EXECUTE FUNCTION inbox_archives_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER inbox_archives_no_{verb.lower()} BEFORE {verb} ON inbox_archives "
                "BEGIN SELECT RAISE(ABORT, 'inbox_archives is append-only'); END"
            )


def _archive_append_only_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inbox_archives_append_only ON inbox_archives")
        op.execute("DROP FUNCTION IF EXISTS inbox_archives_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS inbox_archives_no_update")
        op.execute("DROP TRIGGER IF EXISTS inbox_archives_no_delete")
