"""The callback task list, one task (history, attempts), taking, handing over, calling back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callbacks.rules import RECORDABLE_OUTCOMES, hours_for, outcome_of_dial, policy_for
from callbacks.tasks import hand_over, published_flow, record_outcome, start_attempt, take
from models import (
    Call,
    CallbackAttempt,
    CallbackCard,
    CallbackTask,
    Role,
    TaskOutcome,
    User,
    utcnow,
)
from models.visibility import calls_scope, served_queue_names, tasks_scope
from webadmin.callbacks.dial import Dialled, click_to_call
from webadmin.extensions import db
from webadmin.inputs import record_id
from webadmin.permissions import has_permission, require, visible_call

bp = Blueprint("callbacks", __name__)

#: The list's orders: the caller's place (requested callbacks first), or the oldest first.
ORDERS = {
    "priority": (CallbackTask.priority, CallbackTask.waiting_since, CallbackTask.id),
    "oldest": (CallbackTask.waiting_since, CallbackTask.id),
}
_LIST_LIMIT = 200


def visible_task(task_id: int) -> CallbackTask:
    """The task if the user may see it (404 otherwise: a task of another queue is not there)."""
    task = db.session.scalar(
        tasks_scope(select(CallbackTask).where(CallbackTask.id == task_id), current_user)
    )
    if task is None:
        abort(404)
    return task


def _answer(ok: bool, message: str, status: int, back: str, **data: Any) -> Any:
    """JSON for a script (Accept: application/json), else a message and back to the page."""
    if request.accept_mimetypes.best == "application/json":
        body = {"ok": ok, "message": message, **data}
        return jsonify(body), status
    flash(message, "success" if ok else "error")
    return redirect(back)


def _back(task_id: int) -> str:
    return url_for("callbacks.task", task_id=task_id)


@bp.get("/callbacks", endpoint="index")
@require("callbacks.view")
def task_list() -> str:
    """The open tasks the user may work: requested callbacks first, or the oldest first."""
    order = request.args.get("order", "priority")
    if order not in ORDERS:
        order = "priority"
    tasks = db.session.scalars(
        tasks_scope(select(CallbackTask), current_user)
        .where(CallbackTask.closed_at.is_(None))
        .options(selectinload(CallbackTask.taken_by))
        .order_by(*ORDERS[order])
        .limit(_LIST_LIMIT)
    ).all()
    return render_template("callbacks/list.html", tasks=tasks, order=order, now=utcnow())


@bp.get("/callbacks/<int:task_id>", endpoint="task")
@require("callbacks.view")
def task_page(task_id: int) -> str:
    """One task: the caller's history, the attempts so far, what the operator can do."""
    task = visible_task(task_id)
    history = db.session.scalars(
        calls_scope(select(Call), current_user)
        .where(Call.src_number == task.number)
        .order_by(Call.started_at.desc())
        .limit(20)
    ).all()
    attempts = db.session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.task_id == task.id)
        .options(selectinload(CallbackAttempt.operator))
        .order_by(CallbackAttempt.id)
    ).all()
    cards = {
        card.linkedid: card
        for card in db.session.scalars(
            select(Call).where(Call.linkedid.in_([a.linkedid for a in attempts if a.linkedid]))
        )
    }
    pending = next((a for a in reversed(attempts) if a.outcome is None), None)
    pending_card = cards.get(pending.linkedid or "") if pending else None
    suggested = (
        outcome_of_dial(pending_card.status, pending_card.end_reason) if pending_card else None
    )
    return render_template(
        "callbacks/task.html",
        task=task,
        history=history,
        attempts=attempts,
        cards=cards,
        outcomes=RECORDABLE_OUTCOMES,
        suggested=suggested,
        operators=_operators_of(task) if has_permission(current_user, "callbacks.assign") else [],
    )


def _operators_of(task: CallbackTask) -> list[User]:
    """The active operators who answer the task's queue (whom a supervisor may hand it to)."""
    operators = db.session.scalars(
        select(User).where(User.active.is_(True), User.role == Role.OPERATOR.value)
    ).all()
    return [
        user
        for user in operators
        if task.queue in db.session.scalars(served_queue_names(user)).all()
    ]


@bp.post("/callbacks/<int:task_id>/take")
@require("callbacks.call")
def take_task(task_id: int) -> Any:
    """Lock the task to this operator: of two at once, exactly one gets it."""
    task = visible_task(task_id)
    if not take(db.session(), task.id, current_user.id, utcnow()):
        db.session.rollback()
        return _answer(False, _("Another operator has taken this task."), 409, _back(task_id))
    db.session.commit()
    return _answer(True, _("The task is yours."), 200, _back(task_id))


@bp.post("/callbacks/<int:task_id>/assign")
@require("callbacks.assign")
def assign_task(task_id: int) -> Any:
    """A supervisor hands the task to an operator of its queue, or back to everyone."""
    task = visible_task(task_id)
    raw = request.form.get("operator_id", "")
    operator_id = record_id(raw) if raw else None
    if raw and (operator_id is None or operator_id not in {u.id for u in _operators_of(task)}):
        return _answer(False, _("Choose an operator of this task's queue."), 400, _back(task_id))
    hand_over(db.session(), task, operator_id, utcnow())
    db.session.commit()
    return _answer(True, _("The task is handed over."), 200, _back(task_id))


@bp.post("/callbacks/<int:task_id>/call")
@require("callbacks.call")
def call_task(task_id: int) -> Any:
    """Click-to-call the task's number: the operator's phone first, then the customer."""
    task = visible_task(task_id)
    if not task.is_open:
        return _answer(False, _("This task is closed."), 409, _back(task_id))
    if task.taken_by_id not in (None, current_user.id):
        return _answer(False, _("Another operator has taken this task."), 409, _back(task_id))
    if task.taken_by_id is None and not take(db.session(), task.id, current_user.id, utcnow()):
        db.session.rollback()
        return _answer(False, _("Another operator has taken this task."), 409, _back(task_id))
    policy = policy_for(published_flow(db.session()), task.queue)
    dialled = click_to_call(current_user.account, task.number, policy.caller_id, task.number)
    if dialled.linkedid is None:
        db.session.commit()  # the task stays taken by this operator
        return _answer(False, dialled.refusal, dialled.status, _back(task_id))
    start_attempt(db.session(), task, current_user.id, dialled.linkedid)
    db.session.commit()
    return _answer(
        True,
        _("Your phone is ringing: answer it to call the customer."),
        200,
        _back(task_id),
        linkedid=dialled.linkedid,
    )


@bp.post("/callbacks/<int:task_id>/outcome")
@require("callbacks.call")
def task_outcome(task_id: int) -> Any:
    """Record how the call back went: closes the task, or schedules the next attempt."""
    task = visible_task(task_id)
    try:
        outcome = TaskOutcome(request.form.get("outcome", ""))
    except ValueError:
        outcome = None
    if outcome not in RECORDABLE_OUTCOMES:
        return _answer(False, _("Choose how the call went."), 400, _back(task_id))
    if not task.is_open:
        return _answer(False, _("This task is closed."), 409, _back(task_id))
    flow = published_flow(db.session())
    first_did = db.session.scalar(
        select(Call.did)
        .join(CallbackCard, CallbackCard.call_id == Call.id)
        .where(CallbackCard.task_id == task.id)
        .order_by(Call.started_at)
        .limit(1)
    )
    after = record_outcome(
        db.session(),
        task,
        outcome,
        operator_id=current_user.id,
        at=utcnow(),
        policy=policy_for(flow, task.queue),
        hours=hours_for(flow, task.queue, first_did),
    )
    db.session.commit()
    if after.closes_as is not None:
        return _answer(True, _("The outcome is saved; the task is closed."), 200, _back(task_id))
    return _answer(
        True, _("The outcome is saved; the next attempt is planned."), 200, _back(task_id)
    )


@bp.post("/dial")
@require("callbacks.call")
def dial() -> Any:
    """Click-to-call any number the operator may see on a card."""
    call_id = record_id(request.form.get("call_id"))
    if call_id is None:
        return _answer(False, _("Call from a card you may see."), 400, url_for("calls.list"))
    card = visible_call(call_id)
    back = url_for("calls.card", call_id=card.id)
    number = card.callback_number or card.src_number or ""
    if request.form.get("number") == "dst" and card.dst_number:
        number = card.dst_number
    policy = policy_for(published_flow(db.session()), card.queue or "")
    dialled: Dialled = click_to_call(current_user.account, number, policy.caller_id, number)
    if dialled.linkedid is None:
        return _answer(False, dialled.refusal, dialled.status, back)
    return _answer(
        True,
        _("Your phone is ringing: answer it to call the customer."),
        200,
        back,
        linkedid=dialled.linkedid,
    )
