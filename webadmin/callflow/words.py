"""The call flow's document words (parts, fields, places) in the admin's language."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

PARTS: dict[str, LazyString] = {
    "menu": _l("menu"),
    "DID": _l("DID"),
    "schedule": _l("business hours"),
    "queue": _l("queue"),
    "settings": _l("settings"),
}
FIELDS: dict[str, LazyString] = {
    "default_queue": _l("default queue"),
    "recording_announcement": _l("recording announcement"),
    "title": _l("title"),
    "max_wait_sec": _l("longest wait, s"),
    "service_level_sec": _l("service level, s"),
    "prompt": _l("prompt"),
    "default": _l("default"),
    "timeout_sec": _l("wait for a key, s"),
    "retries": _l("retries"),
    "timeout_prompt": _l("timeout prompt"),
    "invalid_prompt": _l("invalid-key prompt"),
    "timezone": _l("time zone"),
    "override": _l("override"),
    "closed_action": _l("when closed"),
    "entry": _l("entry"),
    "schedule": _l("business hours"),
    "source": _l("source"),
    "city": _l("city"),
    "active": _l("active"),
    "message": _l("message"),
    "option": _l("key"),
    "weekly": _l("weekly hours"),
    "holiday": _l("holiday"),
    "exception": _l("exception"),
    "when_empty": _l("when no operator can answer"),
    "when_timeout": _l("when the wait runs out"),
    "strategy": _l("ring strategy"),
    "ring_timeout_sec": _l("rings, s"),
    "wrapup_sec": _l("wrap-up, s"),
    "retention_days": _l("recordings kept, days"),
    "members": _l("operators (penalty)"),
    "callback_retries": _l("callbacks: retries"),
    "callback_max_attempts": _l("callbacks: attempts"),
    "callback_short_abandon_sec": _l("callbacks: short abandon, s"),
    "callback_mode": _l("callbacks: requested ones"),
    "callback_caller_id": _l("callbacks: number shown"),
    "wrapup_hold_sec": _l("wrap-up held until the card is done, s"),
    "missed_rings_pause": _l("missed rings before a pause"),
    "max_wait_alert_sec": _l("wallboard alert after a wait of, s"),
    "service_level_target_pct": _l("service-level target, %"),
    "callback_offer": _l("callback offer"),
    "callback_after_sec": _l("callback offered after, s (0: never)"),
    "callback_key": _l("callback key"),
    "callback_repeat_sec": _l("callback offered again every, s"),
    "callback_prompt": _l("callback offer's sound"),
}
DAYS: dict[str, LazyString] = {
    "mon": _l("Mon"),
    "tue": _l("Tue"),
    "wed": _l("Wed"),
    "thu": _l("Thu"),
    "fri": _l("Fri"),
    "sat": _l("Sat"),
    "sun": _l("Sun"),
}


def field_label(field: str) -> str:
    """ "option 1" -> "key 1", "weekly mon" -> "weekly hours Mon", "prompt" -> "prompt"."""
    head, _space, rest = field.partition(" ")
    if head not in FIELDS:
        return field
    return f"{FIELDS[head]} {DAYS.get(rest, rest)}".strip()


def place_text(where: str) -> str:
    """Where dialplan.validate found a problem, in words: "menu main, key 1"."""
    if where == "default_queue":
        return _("default queue")
    if where == "recording_announcement":
        return _("recording announcement")
    words = []
    for index, part in enumerate(where.split(", ")):
        head, _space, rest = part.partition(" ")
        if index == 0:
            words.append(f"{PARTS[head]} {rest}".strip() if head in PARTS else part)
        else:
            words.append(field_label(part))
    return ", ".join(words)
