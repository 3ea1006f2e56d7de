"""The callcards data model: SQLAlchemy 2.0 tables usable with or without Flask."""

from __future__ import annotations

from models.asterisk import AsteriskCdr, AsteriskCel
from models.base import Base, utcnow
from models.callbacks import CallbackAttempt, CallbackCard, CallbackTask, TaskOutcome, TaskReason
from models.calls import AuditEntry, Call, CallEvent, Direction, RecordingState, Status
from models.dictionaries import CallCategory, CallPurpose, CallSubCategory, CallTag, call_tags
from models.journal import CardOperation
from models.live import AgentState, LiveEvent, LiveFloor, LiveWrapup, OperatorState
from models.reports import (
    CategoryDay,
    FirstCallDay,
    OperatorDay,
    QueueDay,
    RangDay,
    ReportDay,
    WaitDay,
)
from models.routing import Did, FlowSetting, FlowVersion, IvrMenu, Queue, Schedule
from models.users import PhoneType, QueueMember, Role, StaffSession, User, queue_supervisors

__all__ = [
    "AgentState",
    "LiveEvent",
    "LiveFloor",
    "LiveWrapup",
    "OperatorState",
    "AsteriskCdr",
    "AsteriskCel",
    "AuditEntry",
    "Base",
    "Call",
    "CallbackAttempt",
    "CallbackCard",
    "CallbackTask",
    "CallCategory",
    "CallEvent",
    "CardOperation",
    "CategoryDay",
    "FirstCallDay",
    "OperatorDay",
    "QueueDay",
    "RangDay",
    "ReportDay",
    "WaitDay",
    "CallPurpose",
    "CallSubCategory",
    "CallTag",
    "Did",
    "Direction",
    "FlowSetting",
    "FlowVersion",
    "IvrMenu",
    "PhoneType",
    "Queue",
    "QueueMember",
    "RecordingState",
    "Role",
    "Schedule",
    "StaffSession",
    "Status",
    "TaskOutcome",
    "TaskReason",
    "User",
    "call_tags",
    "queue_supervisors",
    "utcnow",
]
