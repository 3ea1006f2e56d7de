"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 15:48:25.532350
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import models.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asterisk_cdr",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calldate", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clid", sa.String(length=80), nullable=True),
        sa.Column("src", sa.String(length=80), nullable=True),
        sa.Column("dst", sa.String(length=80), nullable=True),
        sa.Column("dcontext", sa.String(length=80), nullable=True),
        sa.Column("channel", sa.String(length=80), nullable=True),
        sa.Column("dstchannel", sa.String(length=80), nullable=True),
        sa.Column("lastapp", sa.String(length=80), nullable=True),
        sa.Column("lastdata", sa.String(length=255), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("billsec", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=45), nullable=True),
        sa.Column("amaflags", sa.Integer(), nullable=True),
        sa.Column("accountcode", sa.String(length=20), nullable=True),
        sa.Column("uniqueid", sa.String(length=150), nullable=True),
        sa.Column("userfield", sa.String(length=255), nullable=True),
        sa.Column("peeraccount", sa.String(length=20), nullable=True),
        sa.Column("linkedid", sa.String(length=150), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asterisk_cdr")),
    )
    op.create_index(op.f("ix_asterisk_cdr_calldate"), "asterisk_cdr", ["calldate"], unique=False)
    op.create_index(op.f("ix_asterisk_cdr_linkedid"), "asterisk_cdr", ["linkedid"], unique=False)
    op.create_index(op.f("ix_asterisk_cdr_uniqueid"), "asterisk_cdr", ["uniqueid"], unique=False)
    op.create_table(
        "asterisk_cel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("eventtype", sa.String(length=30), nullable=True),
        sa.Column("eventtime", sa.DateTime(timezone=True), nullable=True),
        sa.Column("userdeftype", sa.String(length=255), nullable=True),
        sa.Column("cid_name", sa.String(length=80), nullable=True),
        sa.Column("cid_num", sa.String(length=80), nullable=True),
        sa.Column("cid_ani", sa.String(length=80), nullable=True),
        sa.Column("cid_rdnis", sa.String(length=80), nullable=True),
        sa.Column("cid_dnid", sa.String(length=80), nullable=True),
        sa.Column("exten", sa.String(length=80), nullable=True),
        sa.Column("context", sa.String(length=80), nullable=True),
        sa.Column("channame", sa.String(length=80), nullable=True),
        sa.Column("appname", sa.String(length=80), nullable=True),
        sa.Column("appdata", sa.String(length=512), nullable=True),
        sa.Column("amaflags", sa.Integer(), nullable=True),
        sa.Column("accountcode", sa.String(length=20), nullable=True),
        sa.Column("peeraccount", sa.String(length=20), nullable=True),
        sa.Column("uniqueid", sa.String(length=150), nullable=True),
        sa.Column("linkedid", sa.String(length=150), nullable=True),
        sa.Column("userfield", sa.String(length=255), nullable=True),
        sa.Column("peer", sa.String(length=80), nullable=True),
        sa.Column("extra", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asterisk_cel")),
    )
    op.create_index(op.f("ix_asterisk_cel_eventtime"), "asterisk_cel", ["eventtime"], unique=False)
    op.create_index(op.f("ix_asterisk_cel_linkedid"), "asterisk_cel", ["linkedid"], unique=False)
    op.create_table(
        "call_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_category")),
        sa.UniqueConstraint("name", name=op.f("uq_call_category_name")),
    )
    op.create_table(
        "call_purpose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_purpose")),
        sa.UniqueConstraint("name", name=op.f("uq_call_purpose_name")),
    )
    op.create_table(
        "call_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_call_tag_name")),
    )
    op.create_table(
        "flow_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_flow_settings")),
    )
    op.create_table(
        "ivr_menus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prompt", sa.String(length=255), nullable=False),
        sa.Column("timeout_sec", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("timeout_prompt", sa.String(length=255), nullable=True),
        sa.Column("invalid_prompt", sa.String(length=255), nullable=True),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "default_action",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_menus")),
        sa.UniqueConstraint("name", name=op.f("uq_ivr_menus_name")),
    )
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("ring_timeout_sec", sa.Integer(), nullable=False),
        sa.Column("max_wait_sec", sa.Integer(), nullable=False),
        sa.Column("wrapup_sec", sa.Integer(), nullable=False),
        sa.Column("service_level_sec", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "weekly",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "holidays",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "exceptions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "override",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "closed_action",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=True),
        sa.Column("sip_endpoint", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("api_token_hash", sa.String(length=128), nullable=True),
        sa.Column("api_token_expires_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('operator', 'supervisor', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("api_token_hash", name=op.f("uq_users_api_token_hash")),
        sa.UniqueConstraint("extension", name=op.f("uq_users_extension")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "call_sub_category",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["call_category.id"],
            name=op.f("fk_call_sub_category_category_id_call_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_sub_category")),
        sa.UniqueConstraint("category_id", "name", name=op.f("uq_call_sub_category_category_id")),
    )
    op.create_table(
        "dids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "entry",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("city", sa.String(length=128), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_dids_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dids")),
        sa.UniqueConstraint("number", name=op.f("uq_dids_number")),
    )
    op.create_table(
        "flow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_flow_versions_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
    )
    op.create_table(
        "queue_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("penalty", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_members_queue_id_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_queue_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "queue_id", name=op.f("pk_queue_members")),
    )
    op.create_table(
        "queue_supervisors",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_supervisors_queue_id_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_queue_supervisors_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "queue_id", name=op.f("pk_queue_supervisors")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("duration_sec", sa.Integer(), nullable=True),
        sa.Column("talk_sec", sa.Integer(), nullable=True),
        sa.Column("hold_sec", sa.Integer(), nullable=True),
        sa.Column("src_number", sa.String(length=64), nullable=True),
        sa.Column("dst_number", sa.String(length=64), nullable=True),
        sa.Column("did", sa.String(length=32), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("sub_category_id", sa.Integer(), nullable=True),
        sa.Column("recording_path", sa.String(length=255), nullable=True),
        sa.Column("recording_url", sa.String(length=255), nullable=True),
        sa.Column("resolved_first_call", sa.Boolean(), nullable=False),
        sa.Column("needs_callback", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("caller_name", sa.String(length=128), nullable=True),
        sa.Column("did_source", sa.String(length=128), nullable=True),
        sa.Column("did_city", sa.String(length=128), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("ivr_path", sa.String(length=255), nullable=True),
        sa.Column("queue_entered_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("wait_sec", sa.Integer(), nullable=True),
        sa.Column("recording_state", sa.String(length=16), nullable=False),
        sa.Column("completed_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('inbound', 'outbound')", name=op.f("ck_calls_direction")),
        sa.CheckConstraint(
            "status IN ('ringing', 'answered', 'missed', 'abandoned', 'busy', 'failed')",
            name=op.f("ck_calls_status"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["call_category.id"], name=op.f("fk_calls_category_id_call_category")
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_id"], ["users.id"], name=op.f("fk_calls_completed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["users.id"], name=op.f("fk_calls_operator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["purpose_id"], ["call_purpose.id"], name=op.f("fk_calls_purpose_id_call_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["sub_category_id"],
            ["call_sub_category.id"],
            name=op.f("fk_calls_sub_category_id_call_sub_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
    )
    op.create_index(
        "ix_calls_operator_started", "calls", ["operator_id", "started_at"], unique=False
    )
    op.create_index("ix_calls_queue_started", "calls", ["queue", "started_at"], unique=False)
    op.create_index(
        "ix_calls_src_number_started", "calls", ["src_number", "started_at"], unique=False
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"], unique=False)
    op.create_index(op.f("ix_calls_uniqueid"), "calls", ["uniqueid"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_audit_log_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel_uniqueid", sa.String(length=64), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_events_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
    )
    op.create_index(op.f("ix_call_events_call_id"), "call_events", ["call_id"], unique=False)
    op.create_table(
        "call_tags",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_tags_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["call_tag.id"], name=op.f("fk_call_tags_tag_id_call_tag")
        ),
        sa.PrimaryKeyConstraint("call_id", "tag_id", name=op.f("pk_call_tags")),
    )


def downgrade() -> None:
    op.drop_table("call_tags")
    op.drop_index(op.f("ix_call_events_call_id"), table_name="call_events")
    op.drop_table("call_events")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_calls_uniqueid"), table_name="calls")
    op.drop_index("ix_calls_started_at", table_name="calls")
    op.drop_index("ix_calls_src_number_started", table_name="calls")
    op.drop_index("ix_calls_queue_started", table_name="calls")
    op.drop_index("ix_calls_operator_started", table_name="calls")
    op.drop_table("calls")
    op.drop_table("queue_supervisors")
    op.drop_table("queue_members")
    op.drop_table("flow_versions")
    op.drop_table("dids")
    op.drop_table("call_sub_category")
    op.drop_table("users")
    op.drop_table("schedules")
    op.drop_table("queues")
    op.drop_table("ivr_menus")
    op.drop_table("flow_settings")
    op.drop_table("call_tag")
    op.drop_table("call_purpose")
    op.drop_table("call_category")
    op.drop_index(op.f("ix_asterisk_cel_linkedid"), table_name="asterisk_cel")
    op.drop_index(op.f("ix_asterisk_cel_eventtime"), table_name="asterisk_cel")
    op.drop_table("asterisk_cel")
    op.drop_index(op.f("ix_asterisk_cdr_uniqueid"), table_name="asterisk_cdr")
    op.drop_index(op.f("ix_asterisk_cdr_linkedid"), table_name="asterisk_cdr")
    op.drop_index(op.f("ix_asterisk_cdr_calldate"), table_name="asterisk_cdr")
    op.drop_table("asterisk_cdr")
