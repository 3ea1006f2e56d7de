"""What changed between two call-flow documents, part by part and field by field (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dialplan.document import FLOOR_FIELDS, SECTIONS, FlowDocument


@dataclass(frozen=True)
class Change:
    """One field that differs: part "menu", name "main", field "option 1", before and after.

    An added part has `before` None in all its fields, a removed one `after` None; field ""
    with both None never occurs.
    """

    part: str
    name: str
    field: str
    before: Any
    after: Any

    @property
    def kind(self) -> str:
        """added, removed or changed."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


def document_changes(old: FlowDocument | None, new: FlowDocument) -> list[Change]:
    """Every field that differs between two documents (all of `new` when `old` is None)."""
    # Read as plain mappings: a stored version may predate a field (its default applies).
    before_doc: Mapping[str, Any] = old or {}
    after_doc: Mapping[str, Any] = new
    changes = []
    for key in ("default_queue", "recording_announcement"):
        if before_doc.get(key) != after_doc.get(key):
            # "-" for none: None in a Change means the part itself was added or removed.
            changes.append(
                Change("settings", "", key, before_doc.get(key) or "-", after_doc.get(key) or "-")
            )
    for section, part, key in SECTIONS:
        before = {item[key]: _fields(section, item) for item in before_doc.get(section, [])}
        after = {item[key]: _fields(section, item) for item in after_doc.get(section, [])}
        for name in sorted(set(before) | set(after), key=lambda n: (n not in before, n)):
            was, now = before.get(name, {}), after.get(name, {})
            for field in [*was, *(f for f in now if f not in was)]:
                if was.get(field) != now.get(field):
                    changes.append(Change(part, name, field, was.get(field), now.get(field)))
    return changes


def _fields(section: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as field -> value; options, days and dates become fields of their own."""
    return dict(_flatten(section, item))


def _flatten(section: str, item: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if section == "queues":
        yield from ((key, item.get(key)) for key in ("title", "max_wait_sec", "service_level_sec"))
        for key in ("when_empty", "when_timeout"):  # versions from before them hung up
            yield key, item.get(key) or {"kind": "hangup", "message": None}
        setup = item.get("setup") or {}  # "-": not kept by versions from before the setup was
        for key in ("strategy", "ring_timeout_sec", "wrapup_sec"):
            yield key, setup.get(key, "-")
        yield "retention_days", (setup.get("retention_days") or "∞") if setup else "-"
        members = [f"{m['login']} ({m.get('penalty', 0)})" for m in setup.get("members", [])]
        yield "members", (", ".join(members) or "-") if setup else "-"
        for key, (default, _low, _high) in FLOOR_FIELDS.items():
            yield key, setup.get(key, default) if setup else "-"
        offer = item.get("callback_offer") or {}  # none: no offer (older versions too)
        yield "callback_after_sec", offer.get("after_sec") or 0
        if offer.get("after_sec"):
            yield "callback_key", offer.get("key", "1")
            yield "callback_repeat_sec", offer.get("repeat_sec", 60)
            yield "callback_prompt", offer.get("prompt") or "callcards/callback-offer"
        callbacks = item.get("callbacks") or {}  # none: the defaults (callbacks/)
        yield "callback_retries", ", ".join(callbacks.get("retry_schedule", [])) or "-"
        for key in ("max_attempts", "short_abandon_sec", "mode", "caller_id"):
            yield f"callback_{key}", callbacks.get(key) or "-"
    elif section == "menus":
        yield "prompt", item.get("prompt")
        for option in item.get("options", []):
            yield f"option {option['digit']}", option.get("action")
        yield "default", item.get("default")
        for key in ("timeout_sec", "retries", "timeout_prompt", "invalid_prompt"):
            yield key, item.get(key) if item.get(key) is not None else ""
    elif section == "schedules":
        yield "timezone", item.get("timezone")
        weekly = item.get("weekly") or {}
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            yield f"weekly {day}", ", ".join(weekly.get(day, [])) or "-"
        for holiday in item.get("holidays", []):
            yield f"holiday {holiday['date']}", holiday.get("name") or "-"
        for exception in item.get("exceptions", []):
            hours = ", ".join(exception.get("ranges", [])) or "closed"
            name = exception.get("name")
            yield f"exception {exception['date']}", f"{hours} ({name})" if name else hours
        yield "override", item.get("override") or "-"
        yield "closed_action", item.get("closed_action")
    elif section == "dids":
        yield "entry", item.get("entry")
        yield "schedule", item.get("schedule") or "-"
        for key in ("source", "city"):
            yield key, item.get(key) or "-"
        yield "active", bool(item.get("active", True))
