"""The queue edit form as a browser posts it (shared by the site tests and the live ones)."""

from __future__ import annotations

from models.routing import Queue


def queue_form(queue: Queue, **extra: str) -> dict[str, str]:
    """The queue's settings as form fields, without members, with `extra` changed."""
    data = {
        "name": queue.name,
        "title": queue.title,
        "strategy": queue.strategy,
        "ring_timeout_sec": str(queue.ring_timeout_sec),
        "max_wait_sec": str(queue.max_wait_sec),
        "wrapup_sec": str(queue.wrapup_sec),
        "service_level_sec": str(queue.service_level_sec),
        "active": "y",
        "when_empty": "hangup",
        "when_empty_message": "",
        "when_timeout": "hangup",
        "when_timeout_message": "",
        # The live floor's fields (migration 0016).
        "wrapup_hold_sec": str(queue.wrapup_hold_sec),
        "missed_rings_pause": str(queue.missed_rings_pause),
        "max_wait_alert_sec": str(queue.max_wait_alert_sec),
        "service_level_target_pct": str(queue.service_level_target_pct),
    }
    data.update(extra)
    return data
