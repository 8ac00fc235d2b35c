"""veille: the sources a persona watches (feeds, official crisis feeds, network searches, its
mentions) with their polling state (validators, next check, errors, broken), the items they
brought (deduplicated per source, sanitised, seen / dismissed / drafted), the tombstones of
dismissed items, the crisis postures proposed to managers, a post's origin (the watch item it
came from), and the usage alerts' new kinds (crisis keyword, vigilance, volume spike, broken source)

Revision ID: 0011_veille
Revises: 0010_deliveries_by_persona
Create Date: 2026-12-04 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_veille"
down_revision: str | None = "0010_deliveries_by_persona"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ALERT_KINDS = "'behind_cadence', 'quota_low', 'needs_reauth', 'inbox_over_target', 'long_day', 'metrics_failing'"
NEW_ALERT_KINDS = OLD_ALERT_KINDS + ", 'crisis_keyword', 'vigilance', 'volume_spike', 'source_broken'"


def _alert_kinds(kinds: str) -> None:
    with op.batch_alter_table("usage_alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_usage_alerts_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", f"kind IN ({kinds})")


def upgrade() -> None:
    op.create_table(
        "veille_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("plugin", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('feed', 'search', 'mentions')", name=op.f("ck_veille_sources_kind_known")),
        sa.CheckConstraint("consecutive_errors >= 0", name=op.f("ck_veille_sources_errors_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_veille_sources_account_id_accounts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_veille_sources_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_veille_sources")),
        sa.UniqueConstraint(
            "persona_id", "kind", "plugin", "target", name=op.f("uq_veille_sources_persona_id_kind_plugin_target")
        ),
    )
    with op.batch_alter_table("veille_sources", schema=None) as batch_op:
        batch_op.create_index("ix_veille_sources_due", ["enabled", "next_check_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_veille_sources_persona_id"), ["persona_id"], unique=False)

    op.create_table(
        "veille_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary_html", sa.Text(), nullable=True),
        sa.Column("summary_text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=300), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "keywords", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("area", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_by_id", sa.Uuid(), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('green', 'yellow', 'orange', 'red')",
            name=op.f("ck_veille_items_severity_known"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'seen', 'dismissed', 'drafted')", name=op.f("ck_veille_items_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_veille_items_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_veille_items_post_id_posts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["veille_sources.id"],
            name=op.f("fk_veille_items_source_id_veille_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["status_by_id"], ["staff.id"], name=op.f("fk_veille_items_status_by_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_veille_items")),
        sa.UniqueConstraint("source_id", "dedup_key", name=op.f("uq_veille_items_source_id_dedup_key")),
    )
    with op.batch_alter_table("veille_items", schema=None) as batch_op:
        batch_op.create_index("ix_veille_items_persona_captured", ["persona_id", "captured_at", "id"], unique=False)

    op.create_table(
        "veille_tombstones",
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["veille_sources.id"],
            name=op.f("fk_veille_tombstones_source_id_veille_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "dedup_key", name=op.f("pk_veille_tombstones")),
    )
    op.create_table(
        "crisis_postures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("persona_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "held_delivery_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('proposed', 'accepted', 'declined', 'ended')", name=op.f("ck_crisis_postures_state_known")
        ),
        sa.CheckConstraint(
            "trigger IN ('keyword', 'vigilance', 'spike', 'manual')", name=op.f("ck_crisis_postures_trigger_known")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff.id"], name=op.f("fk_crisis_postures_decided_by_id_staff"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["veille_items.id"], name=op.f("fk_crisis_postures_item_id_veille_items"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_crisis_postures_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_postures")),
    )
    with op.batch_alter_table("crisis_postures", schema=None) as batch_op:
        batch_op.create_index("ix_crisis_postures_persona_state", ["persona_id", "state"], unique=False)

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )

    _alert_kinds(NEW_ALERT_KINDS)


def downgrade() -> None:
    op.execute(f"DELETE FROM usage_alerts WHERE kind NOT IN ({OLD_ALERT_KINDS})")
    _alert_kinds(OLD_ALERT_KINDS)
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("crisis_postures", schema=None) as batch_op:
        batch_op.drop_index("ix_crisis_postures_persona_state")

    op.drop_table("crisis_postures")
    op.drop_table("veille_tombstones")
    with op.batch_alter_table("veille_items", schema=None) as batch_op:
        batch_op.drop_index("ix_veille_items_persona_captured")

    op.drop_table("veille_items")
    with op.batch_alter_table("veille_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_veille_sources_persona_id"))
        batch_op.drop_index("ix_veille_sources_due")

    op.drop_table("veille_sources")
