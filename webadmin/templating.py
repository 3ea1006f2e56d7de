"""What templates may call: the permission check, labels for codes, dates in the local zone."""

from __future__ import annotations

from datetime import date, datetime
from operator import attrgetter
from typing import Any

from flask import Flask, current_app
from flask_babel import format_date, format_datetime
from flask_login import current_user

from models import Direction, Status, utcnow
from webadmin import labels, words
from webadmin.permissions import has_permission


def can(permission: str) -> bool:
    """The permission check, for showing only the links and buttons a user may use."""
    return bool(
        current_user and current_user.is_authenticated and has_permission(current_user, permission)
    )


def has_endpoint(endpoint: str) -> bool:
    """True when a page exists (e.g. the reports area, built separately)."""
    return endpoint in current_app.view_functions


#: The site's one way to write a date (dd.MM.yyyy), and the times that go with it; a page
#: names a style, never a pattern of its own.
DAY = "dd.MM.yyyy"
MOMENT_STYLES = {
    "second": f"{DAY} HH:mm:ss",
    "minute": f"{DAY} HH:mm",
    "time": "HH:mm:ss",  # a step of a call, under the call's own date
    "clock": "HH:mm",  # today's time (since when an operator is on a break)
}


def moment(value: datetime | None, style: str = "second") -> str:
    """A timestamp in the call centre's zone, in one of the site's styles."""
    return format_datetime(value, MOMENT_STYLES[style]) if value is not None else ""


def day(value: date | None) -> str:
    """A calendar day in the site's date format."""
    return format_date(value, DAY) if value is not None else ""


def seconds(value: int | None) -> str:
    """A duration as m:ss or h:mm:ss."""
    if value is None:
        return ""
    hours, rest = divmod(int(value), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def init_app(app: Flask) -> None:
    """Register the helpers as Jinja globals and filters."""
    helpers: dict[str, Any] = {
        "can": can,
        "now": utcnow,
        "attrgetter": attrgetter,
        "identity": lambda value: value,
        "statuses": [member.value for member in Status],
        "directions": [member.value for member in Direction],
        "has_endpoint": has_endpoint,
        "role_label": lambda code: labels.label(labels.ROLES, code),
        "phone_label": lambda code: labels.label(labels.PHONE_TYPES, code),
        "status_label": lambda code: labels.label(labels.STATUSES, code),
        "direction_label": lambda code: labels.label(labels.DIRECTIONS, code),
        "reason_label": lambda code: labels.label(labels.END_REASONS, code),
        "event_label": lambda code: labels.label(labels.EVENTS, code),
        "event_sentence": lambda event: words.event_sentence(event.kind, event.data),
        "ivr_words": words.ivr_words,
        "audit_details": words.audit_details,
        "queue_title": lambda name: words.flow_names().queue(name),
        "queue_titles": lambda names: ", ".join(words.flow_names().queue(name) for name in names),
        "strategy_label": lambda code: labels.label(labels.STRATEGIES, code),
        "audit_label": lambda code: labels.label(labels.AUDIT_ACTIONS, code),
        "task_reason_label": lambda code: labels.label(labels.TASK_REASONS, code),
        "task_outcome_label": lambda code: labels.label(labels.TASK_OUTCOMES, code),
        "pause_reasons_words": lambda: {
            code: str(words) for code, words in labels.PAUSE_REASONS.items()
        },
    }
    app.jinja_env.globals.update(helpers)
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["seconds"] = seconds
