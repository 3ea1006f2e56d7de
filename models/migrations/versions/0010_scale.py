"""calls: partial indexes on the open cards (the screen-pop) and the untaken callbacks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00

The workspace asks once a second per operator for the card ringing at their extension or in
talk with them. Through the plain operator_id index that read every card the operator ever
had (about 15,000 pages a poll on a year of a million cards); these two indexes hold only
the cards whose call has not ended, a few per operator on the floor, on PostgreSQL and
SQLite alike (webadmin/workspace/routes.py `current_call`; docs/benchmarks.md).

An operator's calls list also shows the callbacks nobody has taken in their queues
(webadmin/permissions.py `calls_scope`); without an index of their own, that clause made the
list's capped count a sequential scan of every card. A third partial index holds them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN_CARD = sa.text("ended_at IS NULL")
CALLBACK_UNTAKEN = sa.text("needs_callback AND operator_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_calls_open_ringing",
        "calls",
        ["ringing_extension"],
        postgresql_where=OPEN_CARD,
        sqlite_where=OPEN_CARD,
    )
    op.create_index(
        "ix_calls_open_operator",
        "calls",
        ["operator_id"],
        postgresql_where=OPEN_CARD,
        sqlite_where=OPEN_CARD,
    )
    op.create_index(
        "ix_calls_callbacks_untaken",
        "calls",
        ["queue"],
        postgresql_where=CALLBACK_UNTAKEN,
        sqlite_where=CALLBACK_UNTAKEN,
    )


def downgrade() -> None:
    op.drop_index("ix_calls_callbacks_untaken", table_name="calls")
    op.drop_index("ix_calls_open_operator", table_name="calls")
    op.drop_index("ix_calls_open_ringing", table_name="calls")
