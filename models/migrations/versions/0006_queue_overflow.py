"""queues: what a call does when the queue is empty or its wait runs out (overflow)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:00:00

Two flow-document actions per queue (`when_empty`, `when_timeout`: another queue, or a
message then hang up); NULL reads as hang up, what every queue did before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("when_empty", JSON_DOCUMENT, nullable=True))
        batch.add_column(sa.Column("when_timeout", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("when_timeout")
        batch.drop_column("when_empty")
