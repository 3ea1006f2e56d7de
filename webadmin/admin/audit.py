"""The audit log: who listened to or downloaded which recording, and other traced acts."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import AuditEntry, User
from webadmin.calls.queries import CallFilters, FilterError
from webadmin.extensions import db
from webadmin.inputs import record_id, requested_page
from webadmin.labels import AUDIT_ACTIONS
from webadmin.permissions import require

PER_PAGE = 100


@require("admin.audit")
def index() -> str | tuple[str, int]:
    """Entries newest first, filtered by period, user, action and card."""
    errors: dict[str, str] = {}
    try:
        period = CallFilters.from_args({key: request.args.get(key, "") for key in ("from", "to")})
    except FilterError as error:
        period, errors = CallFilters(), error.errors
    stmt = select(AuditEntry).options(selectinload(AuditEntry.user))
    if period.period_from is not None:
        stmt = stmt.where(AuditEntry.at >= period.period_from)
    if period.period_to is not None:
        stmt = stmt.where(AuditEntry.at < period.period_to)
    action = request.args.get("action", "")
    for name, column in (("user", AuditEntry.user_id), ("call", AuditEntry.call_id)):
        raw = request.args.get(name, "").strip()
        if not raw:
            continue
        wanted = record_id(raw)
        if wanted is None:
            errors[name] = _("Expected an id (a whole number).")
        else:
            stmt = stmt.where(column == wanted)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    page = db.paginate(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()),
        page=requested_page(request.args.get("page")),
        per_page=PER_PAGE,
        error_out=False,
    )
    users = list(db.session.scalars(select(User).order_by(User.name)))
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "admin/audit.html", page=page, users=users, actions=AUDIT_ACTIONS, args=args, errors=errors
    ), 400 if errors else 200
