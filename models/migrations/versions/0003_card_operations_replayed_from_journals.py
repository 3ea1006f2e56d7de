"""card operations replayed from journals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:37:39.044055
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_operations",
        sa.Column("op_id", sa.String(length=32), nullable=False),
        sa.Column("applied_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("op_id", name=op.f("pk_card_operations")),
    )
    op.create_index(
        op.f("ix_card_operations_applied_at"), "card_operations", ["applied_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_card_operations_applied_at"), table_name="card_operations")
    op.drop_table("card_operations")
