"""Queues: ring strategy, timeouts, wrap-up, service level, retention, their operators, and
what a call does when the queue cannot answer (its overflow)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from dialplan.document import FLOOR_FIELDS
from dialplan.settings import (
    OVERFLOW_KINDS,
    OVERFLOW_WHEN,
    QueueCallbacks,
    SettingsError,
    dump_callbacks,
    read_callbacks,
)
from dialplan.validation import RESERVED_QUEUE_NAMES
from dialplan.virtual_hold import (
    DEFAULT_PROMPT,
    NO_OFFER,
    PROMPT_NAME,
    CallbackOffer,
    dump_offer,
    read_offer,
)
from models import QueueMember, User
from models.flow import ANNOUNCEMENT_KEY, DEFAULT_QUEUE_KEY, HANG_UP, draft_document
from models.routing import FlowSetting, Queue
from webadmin.callflow.actions import (
    action_choices,
    action_from,
    action_value,
    draft_targets,
    missing_target,
)
from webadmin.callflow.audit import note_change
from webadmin.callflow.draft import prompt_error, references
from webadmin.callflow.forms import DefaultQueueForm, QueueForm, RecordingForm
from webadmin.extensions import db
from webadmin.inputs import record_id
from webadmin.permissions import require

SETTINGS = (
    "title",
    "strategy",
    "ring_timeout_sec",
    "max_wait_sec",
    "wrapup_sec",
    "service_level_sec",
    "retention_days",
    *FLOOR_FIELDS,
)


def _queue(queue_id: int) -> Queue:
    queue = db.session.get(Queue, queue_id)
    if queue is None:
        abort(404)
    return queue


def _phones() -> list[User]:
    """Staff who can answer a queue: active accounts with a phone extension."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.extension.is_not(None))
            .order_by(User.extension)
        )
    )


def _members(queue: Queue | None) -> dict[int, QueueMember]:
    if queue is None or queue.id is None:
        return {}
    return {
        member.user_id: member
        for member in db.session.scalars(
            select(QueueMember).where(QueueMember.queue_id == queue.id)
        )
    }


def _overflow(queue: Queue | None, key: str) -> dict[str, Any]:
    """The queue's overflow action `key` as stored; hang up when none is set."""
    return dict((getattr(queue, key) if queue is not None else None) or HANG_UP)


def _offer(queue: Queue | None) -> dict[str, Any]:
    """The queue's callback offer as the form's fields (none stored, or unreadable: off)."""
    try:
        offer = read_offer(queue.callback_offer if queue is not None else None, "")
    except SettingsError:
        offer = NO_OFFER
    return {
        "callback_after_sec": offer.after_sec,
        "callback_key": offer.key,
        "callback_repeat_sec": offer.repeat_sec,
        "callback_prompt": offer.prompt,
    }


def _form(queue: Queue | None) -> QueueForm:
    if request.method == "POST":
        form = QueueForm()
        for key in OVERFLOW_WHEN:  # not posted (a script, an older page): left as it is
            if key not in request.form:
                action = _overflow(queue, key)
                getattr(form, key).data = action_value(action)
                getattr(form, f"{key}_message").data = action.get("message") or ""
        for name, (default, _low, _high) in FLOOR_FIELDS.items():  # the same for these
            if name not in request.form:
                value = getattr(queue, name) if queue is not None else default
                getattr(form, name).process_formdata([str(value)])
                getattr(form, name).raw_data = [str(value)]
        for name, value in _offer(queue).items():  # the same for the callback offer
            if name not in request.form:
                field = getattr(form, name)
                field.data, field.raw_data = value, [str(value)]
    else:
        members = _members(queue)
        data: dict[str, Any] = {
            "members": [
                {
                    "user_id": str(user.id),
                    "member": user.id in members,
                    "penalty": members[user.id].penalty if user.id in members else 0,
                }
                for user in _phones()
            ]
        }
        for key in OVERFLOW_WHEN:
            action = _overflow(queue, key)
            data[key], data[f"{key}_message"] = action_value(action), action.get("message") or ""
        if queue is not None:
            data.update({name: getattr(queue, name) for name in (*SETTINGS, "name", "active")})
        data.update(_callback_fields(queue))
        data.update(_offer(queue))
        form = QueueForm(formdata=None, data=data)
    if queue is not None:
        form.name.data = queue.name  # cards, reports and Asterisk know the queue by its name
    queues, _menus = draft_targets()
    own = queue.name if queue is not None else None
    others = {name: title for name, title in queues.items() if name != own}
    for key in OVERFLOW_WHEN:
        field = getattr(form, key)
        field.data = field.data or "hangup"
        field.choices = [
            choice
            for choice in action_choices(OVERFLOW_KINDS, others, [], [field.data])
            if choice.value
        ]
    return form


def _callback_fields(queue: Queue | None) -> dict[str, Any]:
    """The form's callback fields from the queue's settings (the defaults when unset)."""
    try:
        policy = read_callbacks((queue.callbacks if queue else None) or {}, "callbacks")
    except SettingsError:
        policy = QueueCallbacks()
    return {
        "callback_retries": ", ".join(policy.retry_schedule),
        "callback_max_attempts": policy.max_attempts,
        "callback_short_abandon_sec": policy.short_abandon_sec,
        "callback_mode": policy.mode,
        "callback_caller_id": policy.caller_id or "",
    }


def _callbacks_of(form: QueueForm) -> QueueCallbacks | None:
    """The callback settings the form asks for; None when not posted or wrong (then noted)."""
    if "callback_mode" not in request.form:
        return None
    steps = [step.strip() for step in (form.callback_retries.data or "").split(",") if step.strip()]
    document = {
        "retry_schedule": steps,
        "max_attempts": form.callback_max_attempts.data or 3,
        "short_abandon_sec": form.callback_short_abandon_sec.data or 0,
        "mode": form.callback_mode.data,
        "caller_id": form.callback_caller_id.data or None,
    }
    try:
        return read_callbacks(document, "callbacks")
    except SettingsError as error:
        form.callback_retries.errors.append(str(error))
        return None


def _posted_offer(form: QueueForm) -> CallbackOffer:
    return CallbackOffer(
        form.callback_after_sec.data or 0,
        form.callback_key.data or "1",
        form.callback_repeat_sec.data or 60,
        (form.callback_prompt.data or "").strip() or DEFAULT_PROMPT,
    )


def _check_offer(form: QueueForm) -> None:
    """An offer that is on plays a sound Asterisk has, named as queues.conf can hold it."""
    offer = _posted_offer(form)
    if not offer.on:
        return
    if not PROMPT_NAME.match(offer.prompt) or ".." in offer.prompt:
        form.callback_prompt.errors.append(
            _("A sound name: Latin letters, digits and _ . / - only.")
        )
        return
    error = prompt_error(offer.prompt)
    if error:
        form.callback_prompt.errors.append(error)


def _check_overflow(form: QueueForm, queue: Queue | None) -> None:
    """Each overflow goes to another existing queue, or plays a sound Asterisk has."""
    queues, _menus = draft_targets()
    for key in OVERFLOW_WHEN:
        field, message = getattr(form, key), getattr(form, f"{key}_message")
        kind, _colon, target = (field.data or "").partition(":")
        if kind not in OVERFLOW_KINDS:
            field.errors.append(_("Choose another queue, or a message then hang up."))
        elif kind == "queue" and target == (queue.name if queue else form.name.data):
            field.errors.append(_("A queue cannot overflow to itself: choose another queue."))
        elif kind == "queue":
            missing = missing_target(field.data, queues, [])
            if missing:
                field.errors.append(missing)
        else:
            error = prompt_error(message.data)
            if error:
                message.errors.append(error)


def _checked(form: QueueForm, queue: Queue | None) -> bool:
    valid = form.validate_on_submit()
    if request.method != "POST":
        return False
    name = form.name.data or ""
    if queue is None and name.lower() in RESERVED_QUEUE_NAMES:
        form.name.errors.append(
            _("“%(name)s” is reserved in Asterisk's queues.conf; pick another name.", name=name)
        )
    elif queue is None and db.session.scalar(select(Queue.id).where(Queue.name == name)):
        form.name.errors.append(_("A queue of this name exists already."))
    if queue is not None and queue.active and not form.active.data:
        used = references("queue", queue.name)
        if used:
            form.active.errors.append(
                _(
                    "Calls are sent to this queue (%(places)s); send them "
                    "elsewhere before deactivating it.",
                    places="; ".join(used),
                )
            )
    _check_overflow(form, queue)
    _callbacks_of(form)
    _check_offer(form)
    phones = {user.id for user in _phones()}
    for row in form.members:
        if record_id(str(row.form.user_id.data or "")) not in phones:
            row.form.member.errors.append(_("Not a member of staff with a phone."))
    return (
        valid
        and not any(field.errors for field in form)
        and not any(row.form.errors for row in form.members)
    )


def _save(form: QueueForm, queue: Queue) -> None:
    for name in SETTINGS:
        setattr(queue, name, getattr(form, name).data)
    callbacks = _callbacks_of(form)
    if callbacks is not None:
        queue.callbacks = dict(dump_callbacks(callbacks)) if callbacks != QueueCallbacks() else None
    queue.title = (form.title.data or "").strip()
    queue.active = bool(form.active.data)
    for key in OVERFLOW_WHEN:
        setattr(
            queue,
            key,
            action_from(getattr(form, key).data or "", getattr(form, f"{key}_message").data),
        )
    offer = _posted_offer(form)
    queue.callback_offer = dict(dump_offer(offer)) if offer.on else None
    members = _members(queue)
    chosen = {
        int(str(row.form.user_id.data)): row.form.penalty.data or 0
        for row in form.members
        if row.form.member.data
    }
    for user_id, member in members.items():
        if user_id not in chosen:
            db.session.delete(member)
    for user_id, penalty in chosen.items():
        if user_id in members:
            members[user_id].penalty = penalty
        else:
            db.session.add(QueueMember(user_id=user_id, queue=queue, penalty=penalty))


def _page(form: QueueForm, queue: Queue | None) -> tuple[str, int]:
    status = 400 if request.method == "POST" else 200
    users = {str(user.id): user for user in _phones()}
    return render_template("callflow/queue_form.html", form=form, queue=queue, users=users), status


@require("admin.callflow")
def index() -> str:
    """Every queue with its settings and operators, and the default queue."""
    queues = list(db.session.scalars(select(Queue).order_by(Queue.active.desc(), Queue.name)))
    members = {
        queue.id: list(
            db.session.scalars(
                select(QueueMember)
                .where(QueueMember.queue_id == queue.id)
                .join(User)
                .order_by(QueueMember.penalty, User.extension)
            )
        )
        for queue in queues
    }
    document = draft_document(db.session())
    default_form = DefaultQueueForm(formdata=None, default_queue=document["default_queue"])
    recording_form = RecordingForm(formdata=None, announcement=document.get(ANNOUNCEMENT_KEY) or "")
    default_form.default_queue.choices = [
        SelectChoice(queue.name, f"{queue.title} ({queue.name})")
        for queue in queues
        if queue.active
    ]
    return render_template(
        "callflow/queues.html",
        queues=queues,
        members=members,
        default_form=default_form,
        recording_form=recording_form,
    )


@require("admin.callflow")
def create() -> str | Response | tuple[str, int]:
    """A new queue."""
    form = _form(None)
    if _checked(form, None):
        queue = Queue(name=form.name.data)
        db.session.add(queue)
        _save(form, queue)
        note_change("queue", queue.name, "create")
        db.session.commit()
        flash(
            _("Queue %(name)s is added. Publish to send it to Asterisk.", name=queue.name),
            "success",
        )
        return redirect(url_for("callflow.queues"))
    return _page(form, None)


@require("admin.callflow")
def edit(queue_id: int) -> str | Response | tuple[str, int]:
    """Change a queue's settings and operators."""
    queue = _queue(queue_id)
    form = _form(queue)
    if _checked(form, queue):
        _save(form, queue)
        note_change("queue", queue.name, "edit")
        db.session.commit()
        flash(
            _("Queue %(name)s is saved. Publish to send it to Asterisk.", name=queue.name),
            "success",
        )
        return redirect(url_for("callflow.queues"))
    return _page(form, queue)


@require("admin.callflow")
def set_default() -> Response:
    """Choose the queue unknown or broken calls go to."""
    form = DefaultQueueForm()
    active = set(db.session.scalars(select(Queue.name).where(Queue.active.is_(True))))
    if not form.validate_on_submit() or form.default_queue.data not in active:
        flash(_("Choose an active queue."), "error")
        return redirect(url_for("callflow.queues"))
    _setting(DEFAULT_QUEUE_KEY, form.default_queue.data)
    note_change("default_queue", form.default_queue.data, "edit")
    db.session.commit()
    flash(
        _(
            "Unknown or broken calls will go to %(name)s once published.",
            name=form.default_queue.data,
        ),
        "success",
    )
    return redirect(url_for("callflow.queues"))


@require("admin.callflow")
def set_recording() -> Response:
    """Choose the announcement every caller hears first (or none)."""
    form = RecordingForm()
    announcement = (form.announcement.data or "").strip()
    error = prompt_error(announcement)
    if not form.validate_on_submit() or error:
        flash(error or _("The announcement is not a prompt name."), "error")
        return redirect(url_for("callflow.queues") + "#recording")
    _setting(ANNOUNCEMENT_KEY, announcement or None)
    note_change("recording_announcement", announcement or "-", "edit")
    db.session.commit()
    flash(
        _("Every caller will hear %(sound)s first once published.", sound=announcement)
        if announcement
        else _("No announcement once published."),
        "success",
    )
    return redirect(url_for("callflow.queues"))


def _setting(key: str, value: Any) -> None:
    setting = db.session.get(FlowSetting, key)
    if setting is None:
        db.session.add(FlowSetting(key=key, value=value))
    else:
        setting.value = value
