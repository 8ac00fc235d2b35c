"""usage ledger: audience and engagement samples (one per hour, with the API version), usage
alerts (one per persona, kind, subject and local day), downsampled usage points, the accounts'
metrics errors, demo history marks, and the index the cadence reads (account, published_at)

Revision ID: 0009_usage_ledger
Revises: 0008_media_author_cover
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_usage_ledger"
down_revision: str | None = "0008_media_author_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_KINDS = "'sent_back', 'waiting_approval', 'failed', 'needs_reauth'"
NEW_KINDS = OLD_KINDS + ", 'usage_alert'"
OLD_SUBJECTS = "'post', 'delivery', 'account'"
NEW_SUBJECTS = OLD_SUBJECTS + ", 'alert'"


def _notification_kinds(kinds: str, subjects: str) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_notifications_subject_type_known"), type_="check")
        batch_op.create_check_constraint("kind_known", f"kind IN ({kinds})")
        batch_op.create_check_constraint("subject_type_known", f"subject_type IN ({subjects})")


def upgrade() -> None:
    op.create_table(
        "usage_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_state", sa.String(length=8), nullable=False),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False),
        sa.Column("webhook_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('behind_cadence', 'quota_low', 'needs_reauth', 'inbox_over_target', 'long_day',"
            " 'metrics_failing')",
            name=op.f("ck_usage_alerts_kind_known"),
        ),
        sa.CheckConstraint(
            "webhook_state IN ('none', 'pending', 'sent', 'failed')", name=op.f("ck_usage_alerts_webhook_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_usage_alerts_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_alerts")),
        sa.UniqueConstraint(
            "persona_id", "kind", "subject", "day", name=op.f("uq_usage_alerts_persona_id_kind_subject_day")
        ),
    )
    with op.batch_alter_table("usage_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_usage_alerts_persona_raised", ["persona_id", "raised_at"], unique=False)

    op.create_table(
        "audience_samples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("following", sa.Integer(), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=True),
        sa.Column("impressions", sa.Integer(), nullable=True),
        sa.Column(
            "extra", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("api_version", sa.String(length=32), nullable=False),
        sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_audience_samples_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_samples")),
        sa.UniqueConstraint("account_id", "at", name=op.f("uq_audience_samples_account_id_at")),
    )
    op.create_table(
        "engagement_samples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("impressions", sa.Integer(), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("reposts", sa.Integer(), nullable=True),
        sa.Column("replies", sa.Integer(), nullable=True),
        sa.Column(
            "extra", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("api_version", sa.String(length=32), nullable=False),
        sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_engagement_samples_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_engagement_samples_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_samples")),
        sa.UniqueConstraint("delivery_id", "at", name=op.f("uq_engagement_samples_delivery_id_at")),
    )
    with op.batch_alter_table("engagement_samples", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_samples_account_at", ["account_id", "at"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metrics_fetched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("metrics_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("metrics_error_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_account_published", ["account_id", "published_at"], unique=False)

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("usage_samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=8), server_default="raw", nullable=False))
        batch_op.add_column(sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint("resolution_known", "resolution IN ('raw', 'day')")

    _notification_kinds(NEW_KINDS, NEW_SUBJECTS)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'usage_alert'")
    _notification_kinds(OLD_KINDS, OLD_SUBJECTS)
    with op.batch_alter_table("usage_samples", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_usage_samples_resolution_known"), type_="check")
        batch_op.drop_column("demo")
        batch_op.drop_column("resolution")

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("demo")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_account_published")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("metrics_error_at")
        batch_op.drop_column("metrics_error")
        batch_op.drop_column("metrics_fetched_at")

    with op.batch_alter_table("engagement_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_samples_account_at")

    op.drop_table("engagement_samples")
    op.drop_table("audience_samples")
    with op.batch_alter_table("usage_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_alerts_persona_raised")

    op.drop_table("usage_alerts")
