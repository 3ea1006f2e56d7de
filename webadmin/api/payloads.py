"""Cards as JSON and JSON as cards: the published columns out, the card form's fields in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, tzinfo
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session
from werkzeug.datastructures import MultiDict

from dialplan.timeline import TimelineKind
from models import Call, CallEvent, Direction, RecordingState, Role, Status, User, utcnow
from models.routing import Queue
from webadmin.calls.forms import CardForm
from webadmin.inputs import FIRST_YEAR, LAST_YEAR, InputError, is_record_id, moment

#: The published card format (calls.py: every column up to `notes`), in that order.
PUBLISHED_COLUMNS = (
    "id",
    "uniqueid",
    "linkedid",
    "queue",
    "direction",
    "status",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_sec",
    "talk_sec",
    "hold_sec",
    "src_number",
    "dst_number",
    "did",
    "operator_id",
    "purpose_id",
    "category_id",
    "sub_category_id",
    "recording_path",
    "recording_url",
    "resolved_first_call",
    "needs_callback",
    "notes",
)
#: Columns beside the published ones that API clients also get.
EXTRA_COLUMNS = (
    "caller_name",
    "did_source",
    "did_city",
    "end_reason",
    "ivr_path",
    "queue_entered_at",
    "wait_sec",
    "recording_state",
    "completed_at",
    "completed_by_id",
)
#: JSON name -> CardForm field: the fields that complete a card.
CARD_FIELDS = {
    "purpose_id": "purpose",
    "category_id": "category",
    "sub_category_id": "subcategory",
    "notes": "notes",
    "resolved_first_call": "resolved_first_call",
    "needs_callback": "needs_callback",
    "tag_ids": "tags",
}
_FORM_TO_JSON = {form: name for name, form in CARD_FIELDS.items()}
#: A card logged by hand may start this far in the future (clocks of phones differ).
CLOCK_SKEW = timedelta(minutes=5)
Errors = dict[str, list[str]]
#: A plain session or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


class Invalid(ValueError):
    """The payload breaks some rules; `fields` maps each JSON name to its messages."""

    def __init__(self, fields: Errors) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()))
        self.fields = fields


def json_value(value: Any) -> Any:
    """A column's value as JSON: timestamps in ISO 8601 with their offset."""
    return value.isoformat() if isinstance(value, datetime) else value


def card_json(call: Call) -> dict[str, Any]:
    """The card under the column names of `calls`, plus its tag ids."""
    card = {name: json_value(getattr(call, name)) for name in PUBLISHED_COLUMNS + EXTRA_COLUMNS}
    card["tag_ids"] = [tag.id for tag in call.tags]
    return card


def card_form(session: DbSession, call: Call, payload: dict[str, Any]) -> CardForm:
    """The card form filled from JSON and validated as the page's form is; Invalid if not."""
    data: MultiDict[str, str] = MultiDict()
    errors: Errors = {}
    for name, field in CARD_FIELDS.items():
        value = payload.get(name)
        if value is None:
            continue
        if name == "notes":
            if not isinstance(value, str):
                errors[name] = [_("Expected text.")]
            else:
                data.add(field, value)
        elif name in ("resolved_first_call", "needs_callback"):
            if not isinstance(value, bool):
                errors[name] = [_("Expected true or false.")]
            elif value:
                data.add(field, "y")  # an unchecked box is simply absent from a form
        elif name == "tag_ids":
            if not isinstance(value, list) or not all(is_record_id(item) for item in value):
                errors[name] = [_("Expected a list of tag ids.")]
            else:
                for item in value:
                    data.add(field, str(item))
        elif not is_record_id(value):
            errors[name] = [_("Expected an id (a whole number).")]
        else:
            data.add(field, str(value))
    form = CardForm(formdata=data, meta={"csrf": False})
    form.offer_choices(session, call)
    if not form.validate() or errors:
        for field, messages in form.errors.items():
            name = _FORM_TO_JSON.get(field, field)
            errors.setdefault(name, [str(message) for message in messages])
        raise Invalid(errors)
    return form


def has_card_fields(payload: dict[str, Any]) -> bool:
    """True when the payload carries any of the fields that complete a card."""
    return any(payload.get(name) is not None for name in CARD_FIELDS)


def _moment(payload: dict[str, Any], name: str, tz: tzinfo, errors: Errors) -> datetime | None:
    raw = payload.get(name)
    if raw is None:
        return None
    try:
        moment(str(raw).strip(), tz)  # the site's one reading of a time, with its years
    except InputError:
        errors[name] = [
            _(
                "Expected a date and time in ISO 8601 in the years %(first)d to "
                "%(last)d, e.g. 2026-03-02T10:15:00+03:00.",
                first=FIRST_YEAR,
                last=LAST_YEAR,
            )
        ]
        return None
    parsed = datetime.fromisoformat(str(raw).strip())
    # A time without an offset is read in the call centre's zone, like the filters.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _text(payload: dict[str, Any], name: str, limit: int, errors: Errors) -> str | None:
    raw = payload.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw.strip()) > limit:
        errors[name] = [_("Expected text of at most %(n)d characters.", n=limit)]
        return None
    return raw.strip()


def _choice(payload: dict[str, Any], name: str, allowed: list[str], errors: Errors) -> str | None:
    raw = payload.get(name)
    if raw not in allowed:
        errors[name] = [_("Expected one of: %(values)s.", values=", ".join(allowed))]
        return None
    return str(raw)


def new_call(session: DbSession, payload: dict[str, Any], author: User, tz: tzinfo) -> Call:
    """A card for a call logged by hand (e.g. from a mobile), not yet added; Invalid if wrong."""
    errors: Errors = {}
    direction = _choice(payload, "direction", [member.value for member in Direction], errors)
    final = [member.value for member in Status if member is not Status.RINGING]
    status = _choice(payload, "status", final, errors)
    started = _moment(payload, "started_at", tz, errors)
    answered = _moment(payload, "answered_at", tz, errors)
    ended = _moment(payload, "ended_at", tz, errors)
    if payload.get("started_at") is None:
        errors["started_at"] = [_("Give the time the call started.")]
    elif started is not None and started > utcnow() + CLOCK_SKEW:
        errors["started_at"] = [_("The call cannot start in the future.")]
    if status == Status.ANSWERED.value and started is not None:
        answered = answered or started
    elif answered is not None and status is not None:
        errors["answered_at"] = [_("Only an answered call has an answer time.")]
    moments = [moment for moment in (started, answered, ended) if moment is not None]
    if moments != sorted(moments):
        errors["ended_at"] = [_("The times must follow each other: start, answer, end.")]
    texts = {
        name: _text(payload, name, limit, errors)
        for name, limit in (
            ("src_number", 64),
            ("dst_number", 64),
            ("did", 32),
            ("caller_name", 128),
            ("queue", 64),
        )
    }
    needed = "src_number" if direction == Direction.INBOUND.value else "dst_number"
    if direction is not None and not texts[needed] and needed not in errors:
        errors[needed] = [_("Give the other party's number.")]
    queue = texts.pop("queue")
    if queue and session.scalar(select(Queue.id).where(Queue.name == queue)) is None:
        errors["queue"] = [_("No such queue.")]
    operator_id = _operator(session, payload.get("operator_id"), author, errors)
    if errors:
        raise Invalid(errors)
    assert started is not None and direction is not None and status is not None
    linkedid = f"manual-{uuid.uuid4().hex}"
    call = Call(
        uniqueid=linkedid,
        linkedid=linkedid,
        direction=direction,
        status=status,
        queue=queue,
        started_at=started,
        answered_at=answered,
        ended_at=ended,
        operator_id=operator_id,
        duration_sec=_seconds(started, ended),
        talk_sec=_seconds(answered, ended),
        recording_state=RecordingState.MISSING.value,
        **texts,
    )
    call.events = [
        CallEvent(at=utcnow(), kind=TimelineKind.CREATED, data={"by": author.login, "via": "api"})
    ]
    return call


def _operator(session: DbSession, raw: Any, author: User, errors: Errors) -> int | None:
    if author.role != Role.ADMIN.value:
        # Operators log their own calls only, so the card stays in their scope.
        if raw is not None and raw != author.id:
            errors["operator_id"] = [_("Operators log their own calls only.")]
        return author.id
    if raw is None:
        return None
    if (
        not is_record_id(raw)
        or session.scalar(select(User.id).where(User.id == raw, User.active.is_(True))) is None
    ):
        errors["operator_id"] = [_("No such active user.")]
        return None
    return int(raw)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds())
