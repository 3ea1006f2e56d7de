"""Traces of call-flow work in the audit log: draft edits, publishes, rollbacks, applies."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from models import AuditEntry
from webadmin.extensions import db


def note(action: str, **detail: Any) -> None:
    """Add an audit entry for the current admin (committed with the change it traces)."""
    db.session.add(
        AuditEntry(
            user_id=current_user.id, action=action, remote_addr=request.remote_addr, detail=detail
        )
    )


def note_change(part: str, name: str, change: str) -> None:
    """A draft edit: which part (did, schedule, menu, queue, prompt), which one, what was done."""
    note("callflow.change", part=part, name=name, change=change)
