"""Every timeline entry the product writes has words on the card page, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from dialplan.timeline import TimelineKind
from webadmin.labels import EVENTS
from webadmin.words import SENTENCES

REPO = Path(__file__).resolve().parents[2]
# A timeline entry named by a bare string instead of TimelineKind: Event("x", ...),
# FlowEvent("x", ...), a flow's _event("x", ...), a late card's late_event="x".
BARE = re.compile(r'(?:\bEvent|FlowEvent|_event)\(\s*"([a-z_]+)"|late_event\s*[=:]\s*"([a-z_]+)"')


def written_kinds() -> set[str]:
    """Every kind of timeline entry the product writes: the one list of them."""
    return set(TimelineKind)


def test_every_kind_of_timeline_entry_has_a_label_and_a_sentence() -> None:
    assert sorted(set(EVENTS) ^ written_kinds()) == []
    assert sorted(set(SENTENCES) ^ written_kinds()) == []


def test_the_code_names_timeline_entries_only_through_timeline_kind() -> None:
    bare = [
        f"{source.relative_to(REPO)}: {match[0]}"
        for folder in ("fastagi", "dialplan", "callcards", "webadmin", "bench")
        for source in (REPO / folder).rglob("*.py")
        for match in BARE.finditer(source.read_text())
    ]
    assert bare == []
