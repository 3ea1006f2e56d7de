"""The settings document: read, written back, and refused with a clear message when malformed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dialplan.demo import demo_document
from dialplan.settings import (
    VOICEMAIL_GREETING,
    Action,
    DayException,
    FlowSettings,
    Holiday,
    Override,
    SettingsError,
    TimeRange,
)

Doc = dict[str, Any]
SOUNDS = Path("/root/.cache/callcards/asterisk-root/usr/share/asterisk/sounds/en_US_f_Allison")


def full_document() -> Doc:
    """The demo plus every optional part: holidays, exceptions, an override, a submenu."""
    doc = demo_document()
    schedule = doc["schedules"][0]
    schedule["weekly"]["fri"] = ["08:00-20:00", "22:00-06:00"]
    schedule["holidays"] = [
        {"date": "2027-01-01", "name": "Новый год"},
        {"date": "2027-01-02", "name": None},
    ]
    schedule["exceptions"] = [
        {"date": "2026-12-31", "ranges": ["09:00-15:00"], "name": "Канун"},
        {"date": "2026-12-30", "ranges": [], "name": None},
    ]
    schedule["override"] = {"state": "closed", "until": "2026-12-01T09:00:00+03:00"}
    doc["menus"][0]["options"].append({"digit": "4", "action": {"kind": "menu", "target": "sub"}})
    doc["menus"].append(
        {
            "name": "sub",
            "prompt": "vm-press",
            "options": [
                {"digit": "*", "action": {"kind": "back"}},
                {"digit": "#", "action": {"kind": "repeat"}},
                {"digit": "9", "action": {"kind": "hangup", "message": None}},
            ],
            "timeout_sec": 5,
            "retries": 0,
            "timeout_prompt": None,
            "invalid_prompt": None,
            "default": {"kind": "hangup", "message": "vm-goodbye"},
        }
    )
    doc["dids"].append(
        {
            "number": "+7 (812) 000-00-00",
            "entry": {"kind": "queue", "target": "reception"},
            "source": None,
            "city": "Санкт-Петербург",
            "schedule": None,
            "active": False,
        }
    )
    return doc


def test_demo_document_reads_and_writes_back_the_same() -> None:
    """to_document(from_document(doc)) gives the demo document back."""
    assert FlowSettings.from_document(demo_document()).to_document() == demo_document()


def test_full_document_round_trips_through_json() -> None:
    """Every part survives a trip through JSON text, as the database stores it."""
    doc = full_document()
    settings = FlowSettings.from_document(doc)
    written = json.loads(json.dumps(settings.to_document()))
    assert written == doc
    assert FlowSettings.from_document(written) == settings


def test_document_becomes_typed_settings() -> None:
    """Times, dates and ranges are read into their Python types."""
    schedule = FlowSettings.from_document(full_document()).schedules["clinic"]
    assert schedule.weekly[4] == (TimeRange(time(8), time(20)), TimeRange(time(22), time(6)))
    assert schedule.weekly[4][1].crosses_midnight
    assert schedule.holidays[0] == Holiday(date(2027, 1, 1), "Новый год")
    assert schedule.exceptions[date(2026, 12, 30)] == DayException(date(2026, 12, 30))
    assert schedule.exceptions[date(2026, 12, 30)].closed
    moscow = timezone(timedelta(hours=3))
    assert schedule.override == Override("closed", datetime(2026, 12, 1, 9, tzinfo=moscow))
    assert schedule.closed_action == Action("hangup", message="vm-goodbye")


def test_minimal_document_gets_the_documented_defaults() -> None:
    """Only the required fields: everything else takes its default."""
    settings = FlowSettings.from_document(
        {
            "default_queue": "reception",
            "queues": [{"name": "reception"}],
            "menus": [
                {
                    "name": "m",
                    "prompt": "hello",
                    "default": {"kind": "queue", "target": "reception"},
                }
            ],
            "dids": [{"number": "100", "entry": {"kind": "menu", "target": "m"}}],
        }
    )
    queue, menu, did = settings.queues["reception"], settings.menus["m"], settings.dids["100"]
    assert (queue.title, queue.max_wait_sec, queue.service_level_sec) == ("reception", 120, 20)
    assert (menu.timeout_sec, menu.retries, menu.options) == (5, 2, {})
    assert (menu.timeout_prompt, menu.invalid_prompt) == (None, None)
    assert (did.source, did.city, did.schedule, did.active) == (None, None, None, True)
    assert settings.schedules == {}


def test_settings_error_is_a_value_error_naming_the_place() -> None:
    """Callers may catch ValueError; the problems carry where and what."""
    with pytest.raises(ValueError, match=r"^settings: default_queue is missing$") as caught:
        FlowSettings.from_document({})
    assert isinstance(caught.value, SettingsError)
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("settings", "default_queue is missing")
    ]


def test_settings_error_counts_the_other_problems() -> None:
    """Several broken parts are all collected; the message says how many more."""
    doc = demo_document()
    doc["queues"][0]["max_wait_sec"] = -1
    doc["queues"][1]["service_level_sec"] = "20"
    with pytest.raises(SettingsError, match=r"\(and 1 more problem\)$") as caught:
        FlowSettings.from_document(doc)
    assert len(caught.value.problems) == 2


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A change to the demo document at a dotted path (numbers index lists)."""

    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


MALFORMED: list[tuple[str, Callable[[Doc], None], str]] = [
    ("empty document", lambda doc: doc.clear(), "settings: default_queue is missing"),
    (
        "top-level typo",
        _set("queus", []),
        "settings: unknown field 'queus' (fields: default_queue, queues, menus, schedules, dids, "
        "recording_announcement)",
    ),
    ("list is an object", _set("queues", {}), "settings: queues should be a list, got an object"),
    ("queue without name", _set("queues.0.name", ""), "queues[0]: name is empty"),
    (
        "wait as text",
        _set("queues.0.max_wait_sec", "120"),
        "queue appointments: max_wait_sec should be a whole number, got text",
    ),
    (
        "wait as boolean",
        _set("queues.0.max_wait_sec", True),
        "queue appointments: max_wait_sec should be a whole number, got true/false",
    ),
    (
        "zero wait",
        _set("queues.0.max_wait_sec", 0),
        "queue appointments: max_wait_sec should be at least 1, got 0",
    ),
    (
        "misspelt kind",
        _set("menus.0.options.0.action.kind", "queu"),
        "menu main, option 1: kind 'queu' is not allowed here "
        "(use queue, menu, hangup, repeat, back)",
    ),
    (
        "queue without target",
        _set("menus.0.options.0.action", {"kind": "queue"}),
        "menu main, option 1: a queue action needs a target (the queue name)",
    ),
    (
        "back with target",
        _set("menus.0.options.0.action", {"kind": "back", "target": "main"}),
        "menu main, option 1: a back action takes no target",
    ),
    (
        "message on a queue",
        _set("menus.0.default.message", "hello"),
        "menu main, default: a queue action takes no message (only hangup and voicemail play one)",
    ),
    (
        "voicemail as a menu key",
        _set("menus.0.options.0.action", {"kind": "voicemail"}),
        "menu main, option 1: kind 'voicemail' is not allowed here "
        "(use queue, menu, hangup, repeat, back)",
    ),
    (
        "voicemail as a DID entry",
        _set("dids.0.entry", {"kind": "voicemail"}),
        "DID 74951234567, entry: kind 'voicemail' is not allowed here (use queue, menu)",
    ),
    (
        "voicemail of 2 s",
        _set("schedules.0.closed_action", {"kind": "voicemail", "max_message_sec": 2}),
        "schedule clinic, closed_action: max_message_sec should be at least 5, got 2",
    ),
    (
        "voicemail of an hour",
        _set("schedules.0.closed_action", {"kind": "voicemail", "max_message_sec": 3600}),
        "schedule clinic, closed_action: max_message_sec should be at most 600, got 3600",
    ),
    (
        "voicemail length as text",
        _set("schedules.0.closed_action", {"kind": "voicemail", "max_message_sec": "60"}),
        "schedule clinic, closed_action: max_message_sec should be a whole number, got text",
    ),
    (
        "voicemail with a target",
        _set("schedules.0.closed_action", {"kind": "voicemail", "target": "reception"}),
        "schedule clinic, closed_action: a voicemail action takes no target",
    ),
    (
        "message length on a hang-up",
        _set("schedules.0.closed_action", {"kind": "hangup", "max_message_sec": 60}),
        "schedule clinic, closed_action: a hangup action takes no max_message_sec (only "
        "voicemail records a message)",
    ),
    (
        "repeat as default",
        _set("menus.0.default", {"kind": "repeat"}),
        "menu main, default: kind 'repeat' is not allowed here (use queue, menu, hangup)",
    ),
    (
        "two-digit key",
        _set("menus.0.options.0.digit", "11"),
        "menu main, options[0]: digit '11' should be one of 0-9, * or #",
    ),
    (
        "digit as a number",
        _set("menus.0.options.0.digit", 1),
        "menu main, options[0]: digit should be text, got a number",
    ),
    (
        "menu without default",
        lambda doc: doc["menus"][0].pop("default"),
        "menu main: default is missing",
    ),
    (
        "option not an object",
        _set("menus.0.options.0", "1"),
        "menu main, options[0]: expected an object, got text",
    ),
    (
        "range without minutes",
        _set("schedules.0.weekly.mon", ["8-20"]),
        "schedule clinic, weekly mon: time range '8-20' should look like \"08:00-20:00\"",
    ),
    (
        "hour 25",
        _set("schedules.0.weekly.mon", ["20:00-25:00"]),
        "schedule clinic, weekly mon: time range '20:00-25:00': hours go 00:00 to 23:59",
    ),
    (
        "zero-length range",
        _set("schedules.0.weekly.mon", ["08:00-08:00"]),
        "starts and ends at the same time (use 00:00-00:00 for the whole day)",
    ),
    (
        "range not in a list",
        _set("schedules.0.weekly.mon", "08:00-20:00"),
        'schedule clinic, weekly mon: expected a list of "HH:MM-HH:MM", got text',
    ),
    (
        "weekday spelt out",
        _set("schedules.0.weekly.monday", []),
        "schedule clinic, weekly: unknown day 'monday' (use mon, tue, wed, thu, fri, sat, sun)",
    ),
    (
        "unknown zone",
        _set("schedules.0.timezone", "Europe/Moskow"),
        "schedule clinic: unknown time zone 'Europe/Moskow' (use an IANA name like Europe/Moscow)",
    ),
    (
        "holiday in Russian date order",
        _set("schedules.0.holidays", [{"date": "31.12.2026"}]),
        "schedule clinic, holidays[0]: date '31.12.2026' should be a date like 2026-01-01",
    ),
    (
        "exception ranges null",
        _set("schedules.0.exceptions", [{"date": "2026-12-31", "ranges": None}]),
        "schedule clinic, exceptions[0]: ranges should be a list, got null",
    ),
    (
        "override maybe",
        _set("schedules.0.override", {"state": "maybe"}),
        "schedule clinic, override: state 'maybe' should be open or closed",
    ),
    (
        "override until without offset",
        _set("schedules.0.override", {"state": "open", "until": "2026-12-01T09:00"}),
        "schedule clinic, override: until '2026-12-01T09:00' needs a UTC offset",
    ),
    (
        "override until garbage",
        _set("schedules.0.override", {"state": "open", "until": "soon"}),
        "schedule clinic, override: until 'soon' should be a time like",
    ),
    (
        "DID entry hangs up",
        _set("dids.0.entry", {"kind": "hangup"}),
        "DID 74951234567, entry: kind 'hangup' is not allowed here (use queue, menu)",
    ),
    (
        "DID active as text",
        _set("dids.0.active", "yes"),
        "DID 74951234567: active should be true or false, got text",
    ),
    (
        "DID without digits",
        _set("dids.0.number", "reception"),
        "DID reception: number 'reception' has no digits",
    ),
    (
        "DID number as a number",
        _set("dids.0.number", 74951234567),
        "dids[0]: number should be text, got a number",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in MALFORMED], ids=[name for name, _, _ in MALFORMED]
)
def test_malformed_document_is_refused_with_a_clear_message(
    change: Callable[[Doc], None], message: str
) -> None:
    """Each malformed part names where it is and what is expected."""
    doc = demo_document()
    change(doc)
    with pytest.raises(SettingsError) as caught:
        FlowSettings.from_document(doc)
    assert message in str(caught.value)


def test_closed_voicemail_reads_with_its_greeting_and_length_and_writes_back() -> None:
    """A voicemail closed action keeps what the admin set and round-trips."""
    doc = demo_document()
    doc["schedules"][0]["closed_action"] = {
        "kind": "voicemail",
        "message": "vm-leavemsg",
        "max_message_sec": 90,
    }
    settings = FlowSettings.from_document(doc)
    assert settings.schedules["clinic"].closed_action == Action(
        "voicemail", message="vm-leavemsg", max_message_sec=90
    )
    assert settings.to_document() == doc


def test_closed_voicemail_gets_the_documented_defaults() -> None:
    """Without a greeting or a length: "vm-intro" and 120 s, written out in full."""
    doc = demo_document()
    doc["schedules"][0]["closed_action"] = {"kind": "voicemail", "message": None}
    settings = FlowSettings.from_document(doc)
    assert settings.schedules["clinic"].closed_action == Action(
        "voicemail", message="vm-intro", max_message_sec=120
    )
    assert settings.to_document()["schedules"][0]["closed_action"] == {
        "kind": "voicemail",
        "message": "vm-intro",
        "max_message_sec": 120,
    }


def test_a_document_that_is_not_an_object_is_refused() -> None:
    """A list or text where the document should be."""
    with pytest.raises(SettingsError, match="settings: expected an object, got a list"):
        FlowSettings.from_document([])  # type: ignore[arg-type]


def test_duplicates_are_read_keeping_the_first() -> None:
    """A digit or name twice does not stop a call; validate() reports it."""
    doc = demo_document()
    doc["menus"][0]["options"].append(
        {"digit": "1", "action": {"kind": "queue", "target": "reception"}}
    )
    doc["queues"].append({"name": "reception", "title": "again"})
    settings = FlowSettings.from_document(doc)
    assert settings.menus["main"].options["1"].target == "appointments"
    assert settings.queues["reception"].title == "Регистратура"


def test_demo_prompts_exist_in_the_stock_asterisk_sounds() -> None:
    """Every prompt the demo plays is a file in asterisk-core-sounds-en."""
    assert SOUNDS.is_dir(), f"{SOUNDS} is missing: scripts/test.sh builds the Asterisk root"
    doc = demo_document()
    menu, closed = doc["menus"][0], doc["schedules"][0]["closed_action"]
    prompts = {
        menu["prompt"],
        menu["timeout_prompt"],
        menu["invalid_prompt"],
        closed["message"],
        VOICEMAIL_GREETING,
    }
    assert all((SOUNDS / f"{prompt}.gsm").is_file() for prompt in prompts)
