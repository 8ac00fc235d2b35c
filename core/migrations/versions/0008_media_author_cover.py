"""media: a video's cover (its first frame, a JPEG beside the file) and who uploaded it (the
composer offers each author their own unused uploads; a staff member deleted leaves them unowned)

Revision ID: 0008_media_author_cover
Revises: 0007_notifications
Create Date: 2026-12-03 09:00:00

Media stored before this revision have no cover and no known uploader.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_media_author_cover"
down_revision: str | None = "0007_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("uploaded_by_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_media_uploaded_by_id_staff"), "staff", ["uploaded_by_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_media_uploaded_by_id"), ["uploaded_by_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_uploaded_by_id"))
        batch_op.drop_constraint(batch_op.f("fk_media_uploaded_by_id_staff"), type_="foreignkey")
        batch_op.drop_column("uploaded_by_id")
        batch_op.drop_column("cover_path")
