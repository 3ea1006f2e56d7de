"""Every timeline entry the product writes has words on the card page, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from webadmin.labels import EVENTS

REPO = Path(__file__).resolve().parents[2]
# The ways code names a timeline entry: Event("x", ...), FlowEvent("x", ...), a flow's
# _event("x", ...), a late card's late_event="x", a CallEvent(kind="x").
WRITTEN = re.compile(
    r'(?:\bEvent|FlowEvent|_event)\(\s*"([a-z_]+)"'
    r'|(?:late_event|kind)\s*[=:]\s*"([a-z_]+)"'
)
# dialplan.flow writes f"ivr_{kind}" for a menu answer that is not an option.
IVR_ANSWERS = {"ivr_invalid", "ivr_timeout"}


def written_kinds() -> set[str]:
    kinds = set(IVR_ANSWERS)
    for folder in ("fastagi", "dialplan", "callcards", "webadmin/api"):
        for source in (REPO / folder).rglob("*.py"):
            for match in WRITTEN.finditer(source.read_text()):
                kinds.add(match[1] or match[2])
    return kinds


def test_every_kind_of_timeline_entry_has_a_label() -> None:
    kinds = written_kinds()
    assert {"call_started", "route", "queue_overflow", "hangup", "message_left"} <= kinds
    assert sorted(kinds - set(EVENTS)) == []
