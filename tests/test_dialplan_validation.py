"""validate(): every setting that would break or trap a call is reported before publishing."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from dialplan.demo import demo_document
from dialplan.settings import (
    Action,
    FlowSettings,
    Menu,
    Override,
    Schedule,
    TimeRange,
)
from dialplan.validation import validate

DEMO_PROMPTS = {"hello", "im-sorry", "please-try-again", "vm-goodbye"}


def problems(doc: dict[str, Any], known_prompts: set[str] | None = None) -> list[str]:
    """The problems of a document as "where: message" lines."""
    return [str(problem) for problem in validate(doc, known_prompts)]


def test_demo_document_is_valid() -> None:
    """The seeded clinic has nothing to report, prompts included."""
    assert validate(demo_document(), DEMO_PROMPTS) == []


def test_demo_settings_object_is_valid() -> None:
    """validate() takes the settings as well as the document."""
    assert validate(FlowSettings.from_document(demo_document())) == []


def test_digit_used_twice_is_reported() -> None:
    """Two options on key 1: the second would never be reached."""
    doc = demo_document()
    doc["menus"][0]["options"].append(
        {"digit": "1", "action": {"kind": "queue", "target": "reception"}}
    )
    assert problems(doc) == ["menu main, option 1: digit 1 is used twice"]


def test_name_listed_twice_is_reported() -> None:
    """Two queues called reception."""
    doc = demo_document()
    doc["queues"].append({"name": "reception"})
    assert problems(doc) == ["queue reception: queue reception is listed twice"]


def test_exception_date_given_twice_is_reported() -> None:
    """Two exceptions for one date contradict each other."""
    doc = demo_document()
    doc["schedules"][0]["exceptions"] = [
        {"date": "2026-12-31", "ranges": []},
        {"date": "2026-12-31", "ranges": ["10:00-12:00"]},
    ]
    assert problems(doc) == [
        "schedule clinic, exception 2026-12-31: date 2026-12-31 has two exceptions"
    ]


def test_option_to_a_missing_queue_is_reported() -> None:
    """A key pointing at a queue that does not exist."""
    doc = demo_document()
    doc["menus"][0]["options"][0]["action"]["target"] = "sales"
    assert problems(doc) == ["menu main, option 1: queue 'sales' does not exist"]


def test_option_to_a_missing_menu_is_reported() -> None:
    """A key pointing at a menu that does not exist."""
    doc = demo_document()
    doc["menus"][0]["options"][0]["action"] = {"kind": "menu", "target": "lab"}
    assert problems(doc) == ["menu main, option 1: menu 'lab' does not exist"]


def test_did_to_a_missing_menu_is_reported() -> None:
    """A DID entering a menu that does not exist."""
    doc = demo_document()
    doc["dids"][0]["entry"]["target"] = "welcome"
    assert problems(doc) == ["DID 74951234567, entry: menu 'welcome' does not exist"]


def test_did_to_a_missing_queue_is_reported() -> None:
    """A DID entering a queue that does not exist."""
    doc = demo_document()
    doc["dids"][0]["entry"] = {"kind": "queue", "target": "sales"}
    assert problems(doc) == ["DID 74951234567, entry: queue 'sales' does not exist"]


def test_did_with_an_unknown_schedule_is_reported() -> None:
    """A DID naming hours that were never set up."""
    doc = demo_document()
    doc["dids"][0]["schedule"] = "office"
    assert problems(doc) == ["DID 74951234567: schedule 'office' does not exist"]


def test_same_did_written_two_ways_is_reported() -> None:
    """+7 (495) 123-45-67 is the demo DID again; only one of them would get calls."""
    doc = demo_document()
    doc["dids"].append(
        {"number": "+7 (495) 123-45-67", "entry": {"kind": "queue", "target": "reception"}}
    )
    assert problems(doc) == [
        "DID +7 (495) 123-45-67: the same number as DID 74951234567; calls reach only one"
    ]


def test_missing_default_queue_is_reported() -> None:
    """Unknown and broken calls need somewhere to go."""
    doc = demo_document()
    doc["default_queue"] = "front-desk"
    assert problems(doc) == [
        "default_queue: queue 'front-desk' does not exist; unknown or broken calls go there"
    ]


def test_closed_action_to_a_missing_queue_is_reported() -> None:
    """After-hours calls pointed at a queue that does not exist."""
    doc = demo_document()
    doc["schedules"][0]["closed_action"] = {"kind": "queue", "target": "night"}
    assert problems(doc) == ["schedule clinic, closed_action: queue 'night' does not exist"]


def _trap_document() -> dict[str, Any]:
    """Main's key 4 leads to menus a and b, which only lead to each other."""
    doc = demo_document()
    doc["menus"][0]["options"].append({"digit": "4", "action": {"kind": "menu", "target": "a"}})
    doc["menus"] += [
        {
            "name": "a",
            "prompt": "hello",
            "default": {"kind": "menu", "target": "b"},
            "options": [
                {"digit": "1", "action": {"kind": "menu", "target": "b"}},
                {"digit": "#", "action": {"kind": "repeat"}},
            ],
        },
        {
            "name": "b",
            "prompt": "hello",
            "default": {"kind": "menu", "target": "a"},
            "options": [{"digit": "*", "action": {"kind": "back"}}],
        },
    ]
    return doc


def test_submenu_cycle_with_no_way_out_is_reported() -> None:
    """Menus a and b send callers round forever; main, which has queues, is fine."""
    found = problems(_trap_document())
    assert found == [
        "menu a: no key or default leads to a queue or a hang-up, so callers go round menus "
        "a, b until the loop guard queues them",
        "menu b: no key or default leads to a queue or a hang-up, so callers go round menus "
        "a, b until the loop guard queues them",
    ]


def test_submenu_cycle_with_a_queue_somewhere_is_fine() -> None:
    """One queue key in the cycle is a way out for every menu in it."""
    doc = _trap_document()
    doc["menus"][2]["options"].append({"digit": "0", "action": {"kind": "hangup"}})
    assert problems(doc) == []


def test_missing_prompt_is_reported_when_the_sounds_are_known() -> None:
    """A prompt that is not among the sound files would play silence."""
    assert problems(demo_document(), DEMO_PROMPTS - {"im-sorry", "vm-goodbye"}) == [
        "menu main, invalid_prompt: prompt 'im-sorry' is not among the sound files",
        "schedule clinic, closed_action, message: prompt 'vm-goodbye' is not among the sound files",
        "queue reception, when_empty, message: prompt 'im-sorry' is not among the sound files",
        "queue reception, when_timeout, message: prompt 'im-sorry' is not among the sound files",
    ]


def test_hangup_message_of_an_option_is_checked_as_a_prompt() -> None:
    """Messages played before hanging up are prompts too."""
    doc = demo_document()
    doc["menus"][0]["options"].append(
        {"digit": "9", "action": {"kind": "hangup", "message": "bye-bye"}}
    )
    assert problems(doc, DEMO_PROMPTS) == [
        "menu main, option 9, message: prompt 'bye-bye' is not among the sound files"
    ]


def test_voicemail_greeting_is_checked_as_a_prompt() -> None:
    """A closed-hours greeting that is not a sound would leave callers guessing."""
    doc = demo_document()
    doc["schedules"][0]["closed_action"] = {"kind": "voicemail", "message": "leave-it-here"}
    assert problems(doc, DEMO_PROMPTS) == [
        "schedule clinic, closed_action, message: prompt 'leave-it-here' is not among the "
        "sound files"
    ]
    doc["schedules"][0]["closed_action"] = {"kind": "voicemail"}
    assert problems(doc, DEMO_PROMPTS | {"vm-intro"}) == []
    assert problems(doc, DEMO_PROMPTS) == [
        "schedule clinic, closed_action, message: prompt 'vm-intro' is not among the sound files"
    ]


def test_voicemail_length_and_place_in_settings_built_by_hand_are_checked() -> None:
    """A message of 3 s, or a voicemail as a menu default, made in code is reported."""
    settings = FlowSettings.from_document(demo_document())
    schedule = settings.schedules["clinic"]
    schedules = {
        "clinic": Schedule(
            schedule.name,
            schedule.timezone,
            Action("voicemail", max_message_sec=3),
            schedule.weekly,
        )
    }
    menus = {"main": Menu("main", "hello", Action("voicemail"))}
    settings = FlowSettings(
        settings.default_queue, settings.queues, menus, schedules, settings.dids
    )
    assert [str(p) for p in validate(settings)] == [
        "menu main, default: kind 'voicemail' is not allowed here (use queue, menu, hangup)",
        "schedule clinic, closed_action: a message may last 5 to 600 s, not 3",
    ]


def test_prompts_are_not_checked_without_a_list_of_sounds() -> None:
    """Without known_prompts, any prompt name is accepted."""
    doc = demo_document()
    doc["menus"][0]["prompt"] = "no-such-sound"
    assert problems(doc) == []


def test_bad_time_range_in_a_document_is_reported() -> None:
    """Malformed parts come back as problems instead of an exception."""
    doc = demo_document()
    doc["schedules"][0]["weekly"]["mon"] = ["08:00-24:00"]
    assert problems(doc) == [
        "schedule clinic, weekly mon: time range '08:00-24:00': hours go "
        "00:00 to 23:59 (write 00:00 for midnight)"
    ]


def test_unknown_time_zone_in_a_document_is_reported_once() -> None:
    """The broken schedule is left out without DIDs reporting it missing."""
    doc = demo_document()
    doc["schedules"][0]["timezone"] = "Moscow"
    assert problems(doc) == [
        "schedule clinic: unknown time zone 'Moscow' (use an IANA name like Europe/Moscow)"
    ]


def test_broken_menu_is_reported_once_not_again_as_missing() -> None:
    """A DID entering a malformed menu gets no second "does not exist" problem."""
    doc = demo_document()
    doc["menus"][0]["timeout_sec"] = 0
    assert problems(doc) == ["menu main: timeout_sec should be at least 1, got 0"]


def test_every_malformed_part_is_reported_together() -> None:
    """Two broken parts, two problems."""
    doc = demo_document()
    doc["queues"][0]["title"] = 5
    doc["dids"][0]["active"] = "no"
    assert len(validate(doc)) == 2


def test_a_document_that_is_not_an_object_is_one_problem() -> None:
    """Even garbage gets a readable answer."""
    assert problems("[]") == ["settings: expected an object, got text"]  # type: ignore[arg-type]


def _settings_with_schedule(schedule: Schedule) -> FlowSettings:
    settings = FlowSettings.from_document(demo_document())
    return FlowSettings(
        settings.default_queue, settings.queues, settings.menus, {"clinic": schedule}, settings.dids
    )


def test_bad_zone_and_ranges_in_settings_built_by_hand_are_reported() -> None:
    """Settings made in code get the same schedule checks as documents."""
    schedule = Schedule(
        "clinic",
        "Nowhere/Town",
        Action("hangup"),
        weekly=((TimeRange(time(9), time(9)),),),
        override=Override("maybe", datetime(2026, 12, 1, 9)),
    )
    assert [str(p) for p in validate(_settings_with_schedule(schedule))] == [
        "schedule clinic: unknown time zone 'Nowhere/Town'",
        "schedule clinic, weekly: needs hours for 7 days, got 1",
        "schedule clinic, weekly mon: time range 09:00-09:00 starts and ends at the same time "
        "(use 00:00-00:00 for the whole day)",
        "schedule clinic, override: state 'maybe' should be open or closed",
        "schedule clinic, override: until needs a UTC offset",
    ]


def test_action_kinds_in_settings_built_by_hand_are_checked() -> None:
    """A menu default of "back" or a two-digit key made in code is reported."""
    settings = FlowSettings.from_document(demo_document())
    menus = {
        "main": Menu("main", "hello", Action("back"), options={"12": Action("queue", "reception")})
    }
    settings = FlowSettings(
        settings.default_queue, settings.queues, menus, settings.schedules, settings.dids
    )
    assert [str(p) for p in validate(settings)] == [
        "menu main, default: kind 'back' is not allowed here (use queue, menu, hangup)",
        "menu main, option 12: digit '12' should be one of 0-9, * or #",
    ]


def test_a_queue_named_general_is_refused_because_queues_conf_reserves_it() -> None:
    """queues.conf's [general] holds global options; it can never be a queue."""
    doc = demo_document()
    doc["queues"].append({"name": "general"})
    doc["queues"].append({"name": "bad queue,t"})
    assert problems(doc) == [
        "queue general: 'general' is reserved in queues.conf; pick another name",
        "queue bad queue,t: use only Latin letters, digits, '_', '.' and '-'",
    ]
