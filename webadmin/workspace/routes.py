"""The start page: for operators the workspace with the screen-pop, for others the calls list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, or_, select
from werkzeug.wrappers import Response

from models import AuditEntry, Call, PhoneType, Status, utcnow
from webadmin.calls.queries import incomplete_clause
from webadmin.calls.routes import card_context, card_form
from webadmin.extensions import db
from webadmin.permissions import has_permission, require, signed_in
from webadmin.workspace.day import your_day
from webadmin.workspace.phone import phone_words
from webadmin.workspace.status import PauseForm, change_status, operator_status

bp = Blueprint("workspace", __name__)

# Bounds that keep a card whose hang-up was never reported from popping up for ever.
RINGING_FRESH = timedelta(minutes=10)
TALK_FRESH = timedelta(hours=4)


def current_call(user: Any) -> Call | None:
    """The call ringing at the user's extension or in talk with them now, newest first."""
    now = utcnow()
    ringing = (
        and_(
            Call.status == Status.RINGING.value,
            Call.ringing_extension == user.extension,
            Call.started_at > now - RINGING_FRESH,
        )
        if user.extension
        else None
    )
    talking = and_(
        Call.status == Status.ANSWERED.value,
        Call.operator_id == user.id,
        Call.answered_at > now - TALK_FRESH,
    )
    where = or_(ringing, talking) if ringing is not None else talking
    # Both are open cards (a ring is never set on an ended call, the hang-up clears it): said
    # once, outside the OR, it lets the planner read only the partial indexes on open cards
    # (ix_calls_open_ringing, ix_calls_open_operator) instead of every card the operator had.
    return db.session.scalar(
        select(Call)
        .where(Call.ended_at.is_(None), where)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(1)
    )


def pending_cards(user: Any, limit: int = 20) -> list[Call]:
    """The user's answered calls whose card is not saved yet, oldest first."""
    return list(
        db.session.scalars(
            select(Call)
            .where(Call.operator_id == user.id, incomplete_clause())
            .order_by(Call.started_at)
            .limit(limit)
        )
    )


@bp.get("/")
@signed_in
def index() -> str | Response:
    """Operators get the workspace; supervisors and admins without a phone get the calls list."""
    if not (has_permission(current_user, "workspace.use") and current_user.extension):
        return redirect(url_for("calls.list"))
    call = current_call(current_user)
    context: dict[str, Any] = {"call": None, "form": None}
    if call is not None:
        context = card_context(call, card_form(call, load=True))
    status = operator_status(current_user.extension)
    pause_form = PauseForm(paused="0" if status and status.state and status.state.paused else "1")
    return render_template(
        "workspace/index.html",
        **context,
        pending=pending_cards(current_user),
        poll_ms=current_app.config["WORKSPACE_POLL_MS"],
        status=status,
        pause_form=pause_form,
        phone_words=phone_words() if current_user.phone_type == PhoneType.WEBRTC.value else None,
        phone_check_ms=current_app.config.get("PHONE_CHECK_MS", 30000),
        day=your_day(current_user),
    )


@bp.post("/workspace/status")
@require("workspace.use")
def set_status() -> Response:
    """The operator steps away from the queues (with a reason) or comes back."""
    form = PauseForm()
    if not current_user.extension or not form.validate_on_submit():
        flash(_("Your state was not changed: the form was not valid."), "error")
        return redirect(url_for("workspace.index"))
    paused = form.paused.data == "1"
    status = change_status(current_user.extension, paused, form.reason.data or "")
    if status is None or status.state is None:
        flash(
            _(
                "Asterisk did not take the change: %(error)s",
                error=status.error if status else _("no connection to Asterisk is set up"),
            ),
            "error",
        )
        return redirect(url_for("workspace.index"))
    db.session.add(
        AuditEntry(
            user_id=current_user.id,
            action="operator.pause" if paused else "operator.ready",
            remote_addr=request.remote_addr,
            detail={
                "extension": current_user.extension,
                "reason": form.reason.data if paused else "",
                "queues": list(status.state.queues),
            },
        )
    )
    db.session.commit()
    if not status.state.queues:
        flash(_("Your phone is in no queue: queue calls do not reach you either way."), "error")
    elif paused:
        flash(_("You are on a break: queue calls do not ring your phone."), "success")
    else:
        flash(_("You are ready: queue calls ring your phone again."), "success")
    return redirect(url_for("workspace.index"))


@bp.get("/workspace/current")
@require("workspace.use", api=True)
def current() -> Response:
    """The call on the user's phone now, as JSON; the card's HTML only when it changed."""
    call = current_call(current_user)
    if call is None:
        return jsonify(call_id=None)
    payload: dict[str, Any] = {"call_id": call.id, "status": call.status}
    if request.args.get("have") != str(call.id):
        context = card_context(call, card_form(call, load=True))
        payload["html"] = render_template("workspace/_popped.html", **context)
    return jsonify(payload)
