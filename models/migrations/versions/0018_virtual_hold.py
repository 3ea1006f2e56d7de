"""queues: when a waiting caller is offered a callback (virtual hold)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:00:00

One flow-document part per queue (`callback_offer`: after how many seconds, which key, how
often again; dialplan.virtual_hold); NULL reads as no offer, what every queue did before.
The queue report's daily roll-ups count the calls that asked for a callback (0 before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("callback_offer", JSON_DOCUMENT, nullable=True))
    with op.batch_alter_table("report_queue_days") as batch:
        batch.add_column(
            sa.Column("callback_requested", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("report_queue_days") as batch:
        batch.drop_column("callback_requested")
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("callback_offer")
