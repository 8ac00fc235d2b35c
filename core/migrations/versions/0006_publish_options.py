"""the per-network publish options a post carries (TikTok's privacy level, comments, duet,
stitch, commercial-content disclosure…): {"tiktok": {"privacy_level": "SELF_ONLY", …}}

Revision ID: 0006_publish_options
Revises: 0005_inbox
Create Date: 2026-12-02 12:00:00

Posts stored before this revision carry no options (an empty mapping).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006_publish_options'
down_revision: str | None = '0005_inbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'publish_options',
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                nullable=False,
                server_default='{}',
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('publish_options')
