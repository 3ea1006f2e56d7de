"""What templates may call: the permission check, labels for codes, dates in the local zone."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any

from flask import Flask, current_app
from flask_babel import format_datetime
from flask_login import current_user

from models import Direction, Status, utcnow
from webadmin import labels
from webadmin.permissions import has_permission


def can(permission: str) -> bool:
    """The permission check, for showing only the links and buttons a user may use."""
    return bool(current_user and current_user.is_authenticated
                and has_permission(current_user, permission))


def has_endpoint(endpoint: str) -> bool:
    """True when a page exists (e.g. the reports area, built separately)."""
    return endpoint in current_app.view_functions


def moment(value: datetime | None, fmt: str = "dd.MM.yyyy HH:mm:ss") -> str:
    """A timestamp in the call centre's zone."""
    return format_datetime(value, fmt) if value is not None else ""


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
        "audit_label": lambda code: labels.label(labels.AUDIT_ACTIONS, code),
    }
    app.jinja_env.globals.update(helpers)
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["seconds"] = seconds
