"""Business hours: weekly ranges in a time zone, holidays, exceptions, the manual override."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from dialplan.settings import (
    CLOSED_KINDS,
    MESSAGE_KINDS,
    VOICEMAIL_MAX_SEC,
    WEEKDAYS,
    parse_range,
)
from models.routing import Did, Schedule
from webadmin.callflow.actions import (
    action_choices,
    action_from,
    action_value,
    draft_targets,
    missing_target,
)
from webadmin.callflow.audit import note_change
from webadmin.callflow.draft import prompt_error
from webadmin.callflow.forms import ConfirmForm, ScheduleForm
from webadmin.extensions import db
from webadmin.inputs import within_years, years_message
from webadmin.permissions import require

CLOSED_WORDS = ("closed", "закрыто", "-")


class Refused(ValueError):
    """A line of the form that cannot be read; the message is for the admin."""


def _ranges(text: str) -> list[str]:
    """ "08:00-20:00, 22:00-06:00" as the document's ranges; Refused if one is malformed."""
    ranges = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            ranges.append(str(parse_range(part)))
        except ValueError:
            raise Refused(
                _(
                    "“%(text)s” is not a time range: write it like 08:00-20:00 (hours "
                    "00 to 23; 00:00-00:00 is the whole day; 22:00-06:00 runs past "
                    "midnight).",
                    text=part.strip(),
                )
            ) from None
    return ranges


def _day(text: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(_("“%(text)s” is not a date like 2026-01-01.", text=text)) from None
    if not within_years(day):
        raise Refused(years_message())
    return day.isoformat()


def _holidays(text: str) -> list[dict[str, Any]]:
    holidays, seen = [], set()
    for line in filter(None, (line.strip() for line in text.splitlines())):
        day, _space, name = line.partition(" ")
        day = _day(day)
        if day in seen:
            raise Refused(_("%(day)s is listed twice.", day=day))
        seen.add(day)
        holidays.append({"date": day, "name": name.strip() or None})
    return holidays


def _exceptions(text: str) -> list[dict[str, Any]]:
    exceptions, seen = [], set()
    for line in filter(None, (line.strip() for line in text.splitlines())):
        day, hours, name = [*line.split(None, 2), "", ""][:3]
        day = _day(day)
        if day in seen:
            raise Refused(_("%(day)s has two exceptions.", day=day))
        seen.add(day)
        if not hours:
            raise Refused(_("%(day)s: write the hours (09:00-15:00) or “closed”.", day=day))
        ranges = [] if hours.lower() in CLOSED_WORDS else _ranges(hours)
        exceptions.append({"date": day, "ranges": ranges, "name": name.strip() or None})
    return exceptions


def _until(text: str, zone: ZoneInfo) -> str | None:
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refused(_("“%(text)s” is not a moment like 2026-06-01 09:00.", text=text)) from None
    if not within_years(moment):  # at the calendar's edges a zone shift overflows
        raise Refused(years_message())
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()


def _field(field: Any, read: Any) -> Any:
    """What `read` makes of a field's text; None with the message on the field if refused."""
    try:
        return read(field.data or "")
    except Refused as refused:
        field.errors.append(str(refused))
        return None


def _read(form: ScheduleForm) -> dict[str, Any] | None:
    """The schedule as the document has it, or None with the errors put on the fields."""
    zone = None
    try:
        zone = ZoneInfo((form.timezone.data or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        form.timezone.errors.append(_("Unknown time zone: use a name like Europe/Moscow."))
    weekly = {day: _field(getattr(form, day), _ranges) for day in WEEKDAYS}
    holidays = _field(form.holidays, _holidays)
    exceptions = _field(form.exceptions, _exceptions)
    until = _field(form.override_until, lambda text: _until(text, zone)) if zone else None
    queues, menus = draft_targets()
    missing = missing_target(form.closed_action.data or "", queues, menus)
    if missing:
        form.closed_action.errors.append(missing)
    message = prompt_error(form.closed_message.data)
    if message and form.closed_action.data in MESSAGE_KINDS:
        form.closed_message.errors.append(message)
    if any(field.errors for field in form):
        return None
    state = form.override_state.data
    return {
        "timezone": (form.timezone.data or "").strip(),
        "weekly": weekly,
        "holidays": holidays,
        "exceptions": exceptions,
        "override": {"state": state, "until": until} if state else None,
        "closed_action": action_from(
            form.closed_action.data or "",
            form.closed_message.data,
            max_message_sec=form.closed_max_message_sec.data,
        ),
    }


def _schedule(schedule_id: int) -> Schedule:
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        abort(404)
    return schedule


def _form(schedule: Schedule | None) -> ScheduleForm:
    if request.method == "POST" or schedule is None:
        form = ScheduleForm()
    else:
        form = ScheduleForm(formdata=None, obj=schedule)
        for day, field in zip(WEEKDAYS, form.weekday_fields(), strict=True):
            field.data = ", ".join((schedule.weekly or {}).get(day, []))
        form.holidays.data = "\n".join(
            f"{h['date']} {h.get('name') or ''}".strip() for h in schedule.holidays or []
        )
        form.exceptions.data = "\n".join(
            f"{e['date']} {','.join(e['ranges']) or 'closed'} {e.get('name') or ''}".strip()
            for e in schedule.exceptions or []
        )
        override = schedule.override or {}
        form.override_state.data = override.get("state", "")
        until = override.get("until")
        form.override_until.data = (
            datetime.fromisoformat(until)
            .astimezone(ZoneInfo(schedule.timezone))
            .strftime("%Y-%m-%dT%H:%M")
            if until
            else ""
        )
        form.closed_action.data = action_value(schedule.closed_action)
        form.closed_message.data = (schedule.closed_action or {}).get("message") or ""
        form.closed_max_message_sec.data = (schedule.closed_action or {}).get(
            "max_message_sec"
        ) or VOICEMAIL_MAX_SEC
    queues, menus = draft_targets()
    form.closed_action.choices = action_choices(
        CLOSED_KINDS, queues, menus, [form.closed_action.data or ""]
    )
    return form


def _save(form: ScheduleForm, schedule: Schedule | None) -> Schedule | None:
    """Write the form into a schedule (a new one when None); None when the form is refused."""
    if not form.validate_on_submit():
        _read(form)  # collect the range and date errors too, so all show at once
        return None
    own_id = schedule.id if schedule else -1
    if db.session.scalar(
        select(Schedule.id).where(Schedule.name == form.name.data, Schedule.id != own_id)
    ):
        form.name.errors.append(_("Business hours of this name exist already."))
    item = _read(form)
    if item is None or form.name.errors:
        return None
    if schedule is None:
        schedule = Schedule(name=form.name.data)
        db.session.add(schedule)
    schedule.name = form.name.data
    schedule.timezone = item["timezone"]
    schedule.weekly = item["weekly"]
    schedule.holidays = item["holidays"]
    schedule.exceptions = item["exceptions"]
    schedule.override = item["override"]
    schedule.closed_action = item["closed_action"]
    return schedule


@require("admin.callflow")
def index() -> str:
    """Every schedule of the draft, with its override and the DIDs that use it."""
    schedules = list(db.session.scalars(select(Schedule).order_by(Schedule.name)))
    users = {
        schedule.id: list(
            db.session.scalars(select(Did.number).where(Did.schedule_id == schedule.id))
        )
        for schedule in schedules
    }
    return render_template(
        "callflow/hours.html",
        schedules=schedules,
        users=users,
        weekdays=WEEKDAYS,
        delete_form=ConfirmForm(),
    )


@require("admin.callflow")
def create() -> str | Response | tuple[str, int]:
    """New business hours."""
    form = _form(None)
    schedule = _save(form, None) if request.method == "POST" else None
    if schedule is not None:
        note_change("schedule", schedule.name, "create")
        db.session.commit()
        flash(_("Business hours %(name)s are added to the draft.", name=schedule.name), "success")
        return redirect(url_for("callflow.hours"))
    status = 400 if request.method == "POST" else 200
    return render_template("callflow/hours_form.html", form=form, schedule=None), status


@require("admin.callflow")
def edit(schedule_id: int) -> str | Response | tuple[str, int]:
    """Change business hours, or switch the manual override."""
    schedule = _schedule(schedule_id)
    form = _form(schedule)
    if request.method == "POST" and _save(form, schedule) is not None:
        note_change("schedule", schedule.name, "edit")
        db.session.commit()
        flash(
            _(
                "Business hours %(name)s are saved in the draft. Publish to apply them to calls.",
                name=schedule.name,
            ),
            "success",
        )
        return redirect(url_for("callflow.hours"))
    status = 400 if request.method == "POST" else 200
    return render_template("callflow/hours_form.html", form=form, schedule=schedule), status


@require("admin.callflow")
def delete(schedule_id: int) -> Response:
    """Remove business hours that no DID uses."""
    schedule = _schedule(schedule_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("callflow.hours"))
    used = list(db.session.scalars(select(Did.number).where(Did.schedule_id == schedule.id)))
    if used:
        flash(
            _(
                "%(name)s is used by DIDs %(dids)s: choose other hours for them first.",
                name=schedule.name,
                dids=", ".join(used),
            ),
            "error",
        )
        return redirect(url_for("callflow.hours"))
    note_change("schedule", schedule.name, "delete")
    db.session.delete(schedule)
    db.session.commit()
    flash(_("Business hours %(name)s are removed from the draft.", name=schedule.name), "success")
    return redirect(url_for("callflow.hours"))
