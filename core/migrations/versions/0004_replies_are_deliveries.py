"""one outbox: a reply is a delivery of kind reply; error kinds are checked

Revision ID: 0004_replies_are_deliveries
Revises: 0003_web_staff_password_reset
Create Date: 2026-12-01 10:00:00

The ``replies`` table copied the delivery's lease, attempts and state columns; a reply is now a
delivery (and a post) of kind ``reply`` answering an inbox item. No version of Porte-voix wrote
a row in ``replies``: the upgrade stops rather than drop one, and the downgrade stops rather
than drop reply deliveries the old schema cannot hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_replies_are_deliveries"
down_revision: str | None = "0003_web_staff_password_reset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('post', 'repost')"
NEW_KINDS = "kind IN ('post', 'repost', 'reply')"
OLD_REPOST = "kind = 'post' OR repost_of IS NOT NULL"
NEW_REPOST = "kind != 'repost' OR repost_of IS NOT NULL"
REPLY_HAS_ITEM = "(kind = 'reply' AND in_reply_to_id IS NOT NULL) OR (kind != 'reply' AND in_reply_to_id IS NULL)"
ERROR_KINDS = (
    "error_kind IN ('rate_limited', 'needs_reauth', 'rejected', 'transient', 'unknown', 'lease_expired', "
    "'unresolved', 'policy')"
)


def _refuse_rows(query: str, why: str) -> None:
    if op.get_bind().execute(sa.text(query)).scalar():
        raise RuntimeError(why)


def _swap_check(batch: object, name: str, condition: str) -> None:
    batch.drop_constraint(op.f(name), type_="check")  # type: ignore[attr-defined]
    batch.create_check_constraint(op.f(name), condition)  # type: ignore[attr-defined]


def upgrade() -> None:
    _refuse_rows("SELECT COUNT(*) FROM replies", "the replies table holds rows: move them to deliveries first")
    op.drop_index(op.f("ix_replies_item_id"), table_name="replies")
    op.drop_table("replies")
    # batch mode: SQLite changes constraints by copying the table
    with op.batch_alter_table("posts") as batch:
        _swap_check(batch, "ck_posts_post_kind", NEW_KINDS)
        _swap_check(batch, "ck_posts_repost_has_target", NEW_REPOST)
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("in_reply_to_id", sa.Uuid(), nullable=True))
        batch.create_index(op.f("ix_deliveries_in_reply_to_id"), ["in_reply_to_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_deliveries_in_reply_to_id_inbox_items"),
            "inbox_items",
            ["in_reply_to_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        _swap_check(batch, "ck_deliveries_delivery_kind", NEW_KINDS)
        batch.create_check_constraint(op.f("ck_deliveries_reply_has_item"), REPLY_HAS_ITEM)
        batch.create_check_constraint(op.f("ck_deliveries_delivery_error_kind"), ERROR_KINDS)


def downgrade() -> None:
    _refuse_rows(
        "SELECT COUNT(*) FROM posts WHERE kind = 'reply'",
        "reply deliveries exist and the older schema cannot hold them: delete them first",
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(op.f("ck_deliveries_delivery_error_kind"), type_="check")
        batch.drop_constraint(op.f("ck_deliveries_reply_has_item"), type_="check")
        _swap_check(batch, "ck_deliveries_delivery_kind", OLD_KINDS)
        batch.drop_constraint(op.f("fk_deliveries_in_reply_to_id_inbox_items"), type_="foreignkey")
        batch.drop_index(op.f("ix_deliveries_in_reply_to_id"))
        batch.drop_column("in_reply_to_id")
    with op.batch_alter_table("posts") as batch:
        _swap_check(batch, "ck_posts_repost_has_target", OLD_REPOST)
        _swap_check(batch, "ck_posts_post_kind", OLD_KINDS)
    op.create_table(
        "replies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "queued",
                "publishing",
                "published",
                "failed",
                "uncertain",
                name="reply_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("client_ref", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_id", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state != 'published' OR remote_id IS NOT NULL", name=op.f("ck_replies_published_has_remote_id")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff.id"], name=op.f("fk_replies_author_id_staff"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["inbox_items.id"], name=op.f("fk_replies_item_id_inbox_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_replies_client_ref")),
    )
    op.create_index(op.f("ix_replies_item_id"), "replies", ["item_id"], unique=False)
