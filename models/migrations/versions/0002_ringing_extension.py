"""calls: the extension ringing now, for the staff site's screen-pop

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("ringing_extension", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("ringing_at", models.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch.create_index(batch.f("ix_calls_ringing_extension"), ["ringing_extension"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(batch.f("ix_calls_ringing_extension"))
        batch.drop_column("ringing_at")
        batch.drop_column("ringing_extension")
