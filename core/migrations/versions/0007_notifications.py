"""notifications: what a staff member must know (sent back, waiting for approval, failed, to
reconnect), one unread per recipient, kind and subject, and the state of its e-mail

Revision ID: 0007_notifications
Revises: 0006_publish_options
Create Date: 2026-12-02 12:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_notifications"
down_revision: str | None = "0006_publish_options"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_state", sa.String(length=8), nullable=False),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('sent_back', 'waiting_approval', 'failed', 'needs_reauth')",
            name=op.f("ck_notifications_kind_known"),
        ),
        sa.CheckConstraint(
            "subject_type IN ('post', 'delivery', 'account')", name=op.f("ck_notifications_subject_type_known")
        ),
        sa.CheckConstraint(
            "email_state IN ('pending', 'sending', 'sent', 'failed')", name=op.f("ck_notifications_email_state_known")
        ),
        sa.CheckConstraint("times >= 1", name=op.f("ck_notifications_times_positive")),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_notifications_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_notifications_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "uq_notifications_unread",
            ["staff_id", "kind", "subject_id"],
            unique=True,
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        )
        batch_op.create_index("ix_notifications_staff_at", ["staff_id", "event_at", "id"], unique=False)
        batch_op.create_index("ix_notifications_email_state", ["email_state", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_email_state")
        batch_op.drop_index("ix_notifications_staff_at")
        batch_op.drop_index("uq_notifications_unread")
    op.drop_table("notifications")
