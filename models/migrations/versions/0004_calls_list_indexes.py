"""calls: indexes for the calls list on a large history (newest first, phone digits, incomplete, callbacks)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 17:20:00

PostgreSQL only (bench/site_history.py measured each on 1,000,000 cards; docs/benchmarks.md):
- every list is ordered `started_at DESC NULLS LAST, id DESC`, which the plain index on
  started_at cannot give (PostgreSQL does not let NOT NULL stand in for NULLS LAST);
  ix_calls_started_at stays: without it the planner picks a slower join for the operator
  report (1.9 s instead of 0.5 s on 30 days of a million cards);
- the phone filter is `LIKE '%digits%'` on src_number or dst_number: trigram indexes;
- incomplete cards and cards needing a callback are a few per cent: partial indexes.
SQLite gets nothing new: it cannot index NULLS LAST, and the embedded demo is small.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NEWEST_FIRST = [sa.text("started_at DESC NULLS LAST"), sa.text("id DESC")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # A trusted extension since PostgreSQL 13: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_calls_started_id_desc", "calls", NEWEST_FIRST)
    op.create_index(
        "ix_calls_src_number_trgm",
        "calls",
        ["src_number"],
        postgresql_using="gin",
        postgresql_ops={"src_number": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_calls_dst_number_trgm",
        "calls",
        ["dst_number"],
        postgresql_using="gin",
        postgresql_ops={"dst_number": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_calls_incomplete",
        "calls",
        NEWEST_FIRST,
        postgresql_where=sa.text("status = 'answered' AND completed_at IS NULL"),
    )
    op.create_index(
        "ix_calls_needs_callback", "calls", NEWEST_FIRST, postgresql_where=sa.text("needs_callback")
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_calls_needs_callback", table_name="calls")
    op.drop_index("ix_calls_incomplete", table_name="calls")
    op.drop_index("ix_calls_dst_number_trgm", table_name="calls")
    op.drop_index("ix_calls_src_number_trgm", table_name="calls")
    op.drop_index("ix_calls_started_id_desc", table_name="calls")
    # pg_trgm stays: something else may use it, and it costs nothing unused.
