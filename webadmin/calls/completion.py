"""Saving a card: the fields, who completed it and when, and an audit trace of later edits."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from models import AuditEntry, Call, CallTag, User, utcnow
from webadmin.calls.forms import CardForm, DbSession

_FIELDS = (
    "purpose_id",
    "category_id",
    "sub_category_id",
    "notes",
    "resolved_first_call",
    "needs_callback",
)


def _snapshot(call: Call) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(call, name) for name in _FIELDS}
    values["tags"] = sorted(tag.id for tag in call.tags)
    return values


def save_card(session: DbSession, call: Call, form: CardForm, user: User) -> bool:
    """Store a valid form on the card; True when this save completed it for the first time."""
    before = _snapshot(call)
    call.purpose_id = form.purpose.data
    call.category_id = form.category.data
    call.sub_category_id = form.subcategory.data
    call.notes = form.notes.data.strip()
    call.resolved_first_call = bool(form.resolved_first_call.data)
    call.needs_callback = bool(form.needs_callback.data)
    tag_ids = form.tags.data or []
    call.tags = (
        list(session.scalars(select(CallTag).where(CallTag.id.in_(tag_ids)))) if tag_ids else []
    )
    first = call.completed_at is None
    if first:
        # The first save ends the after-call work (METRICS.md); later edits keep that moment.
        call.completed_at = utcnow()
        call.completed_by_id = user.id
        session.add(
            AuditEntry(
                user_id=user.id,
                action="card.complete",
                call_id=call.id,
                remote_addr=request.remote_addr,
                detail={},
            )
        )
        return True
    after = _snapshot(call)
    changed = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    if changed:
        session.add(
            AuditEntry(
                user_id=user.id,
                action="card.edit",
                call_id=call.id,
                remote_addr=request.remote_addr,
                detail={"changed": changed},
            )
        )
    return False
