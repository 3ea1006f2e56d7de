"""One call walked through DID, hours and menus: every branch down to its decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialplan.demo import DEMO_DID, demo_document
from dialplan.flow import CallFlow, decide_transfer, default_decision, simulate
from dialplan.settings import Action, FlowSettings, Menu, Schedule
from dialplan.steps import Collect, Decision, Play

MOSCOW = ZoneInfo("Europe/Moscow")
OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW)  # Monday morning
CLOSED = datetime(2026, 11, 28, 12, 0, tzinfo=MOSCOW)  # Saturday
CALLER = "79161234567"


def clinic_document() -> dict[str, Any]:
    """The demo clinic plus a lab submenu, repeat, back and hang-up keys."""
    doc = demo_document()
    doc["menus"][0]["options"] += [
        {"digit": "4", "action": {"kind": "menu", "target": "lab"}},
        {"digit": "#", "action": {"kind": "repeat"}},
        {"digit": "*", "action": {"kind": "back"}},
        {"digit": "9", "action": {"kind": "hangup", "message": "vm-goodbye"}},
    ]
    doc["menus"].append(
        {
            "name": "lab",
            "prompt": "vm-press",
            "timeout_sec": 5,
            "retries": 1,
            "options": [
                {"digit": "1", "action": {"kind": "queue", "target": "reception"}},
                {"digit": "*", "action": {"kind": "back"}},
                {"digit": "#", "action": {"kind": "repeat"}},
                {"digit": "8", "action": {"kind": "hangup"}},
            ],
            "default": {"kind": "queue", "target": "appointments"},
        }
    )
    return doc


def clinic(**main_changes: Any) -> FlowSettings:
    """The clinic's settings, with fields of the main menu changed."""
    doc = clinic_document()
    doc["menus"][0].update(main_changes)
    return FlowSettings.from_document(doc)


def call(
    settings: FlowSettings, *keys: str | None, at: datetime = OPEN, dialed: str = DEMO_DID
) -> Any:
    """Simulate a call pressing the given keys."""
    return simulate(settings, dialed, CALLER, at, keys)


def kinds(result: Any) -> list[str]:
    """The kinds of the call's events, in order."""
    return [event.kind for event in result.events]


def test_first_step_plays_the_main_menu_and_reads_one_key() -> None:
    """A call on the demo DID in hours starts at the main menu."""
    flow = CallFlow(clinic(), DEMO_DID, CALLER, OPEN)
    assert flow.start() == Collect("hello", 3000, 1, "main", 1)
    assert flow.hours is not None and flow.hours.open


def test_key_one_goes_to_appointments_with_its_wait_limit() -> None:
    """1 in the main menu queues the caller for appointments."""
    result = call(clinic(), "1")
    assert result.decision == Decision("queue", "appointments", 120, None, "ivr")
    assert result.ivr_path == ["main", "1"]
    assert [type(step) for step in result.steps] == [Collect, Decision]


def test_events_tell_the_whole_call() -> None:
    """The timeline: DID, hours, menu, prompt, key, queue."""
    result = call(clinic(), "2")
    assert kinds(result) == ["did", "hours", "ivr_entered", "ivr_prompt", "ivr_key", "queue_chosen"]
    did, hours = result.events[0].data, result.events[1].data
    assert (did["known"], did["source"], did["caller"]) == ("true", "Яндекс.Директ", CALLER)
    assert (hours["open"], hours["reason"]) == ("true", "weekly")
    assert result.events[-1].data == {"queue": "reception", "reason": "ivr"}


def test_invalid_then_silence_then_silence_falls_to_the_default_queue() -> None:
    """Three failed tries (retries 2) end in the menu's default."""
    result = call(clinic(), "7", None, "")
    assert result.steps == [
        Collect("hello", 3000, 1, "main", 1),
        Play("im-sorry"),
        Collect("hello", 3000, 1, "main", 2),
        Play("please-try-again"),
        Collect("hello", 3000, 1, "main", 3),
        Decision("queue", "reception", 120, None, "ivr_default"),
    ]
    assert result.ivr_path == ["main", "7:invalid", "timeout", "timeout", "default"]
    assert kinds(result).count("ivr_retries_exhausted") == 1


def test_path_with_one_retry_reads_timeout_invalid_default() -> None:
    """With one retry: silence, a wrong key, then the default."""
    result = call(clinic(retries=1), None, "7")
    assert result.ivr_path == ["main", "timeout", "7:invalid", "default"]
    assert result.decision.reason == "ivr_default"


def test_wrong_key_on_the_last_try_still_plays_the_invalid_prompt() -> None:
    """The caller hears why the menu ended."""
    result = call(clinic(retries=0), "7")
    assert result.steps[1:] == [
        Play("im-sorry"),
        Decision("queue", "reception", 120, None, "ivr_default"),
    ]


def test_silence_on_the_last_try_plays_no_timeout_prompt() -> None:
    """ "Please try again" would be wrong when there is no next try."""
    result = call(clinic(retries=0), None)
    assert [type(step) for step in result.steps] == [Collect, Decision]


def test_timeout_without_a_prompt_just_replays_the_menu() -> None:
    """timeout_prompt null: straight back to the menu prompt."""
    result = call(clinic(timeout_prompt=None), None, "1")
    assert [type(step) for step in result.steps] == [Collect, Collect, Decision]


def test_running_out_of_keys_counts_as_silence() -> None:
    """The simulator treats a caller with nothing more to press as silent."""
    result = call(clinic())
    assert result.ivr_path == ["main", "timeout", "timeout", "timeout", "default"]


def test_empty_string_is_a_timeout_like_none() -> None:
    """GET DATA returns "" on silence."""
    flow = CallFlow(clinic(), DEMO_DID, CALLER, OPEN)
    flow.start()
    assert flow.keys("") == Play("please-try-again")
    assert flow.ivr_path == ["main", "timeout"]


def test_repeat_replays_the_menu_without_using_a_try() -> None:
    """# replays the menu as the same attempt; a later wrong key still gets its tries."""
    result = call(clinic(retries=0), "#", "#", "1")
    collects = [step for step in result.steps if isinstance(step, Collect)]
    assert [step.attempt for step in collects] == [1, 1, 1]
    assert result.decision.reason == "ivr"
    assert result.ivr_path == ["main", "#", "#", "1"]


def test_submenu_key_plays_the_submenu() -> None:
    """4 enters the lab menu at its first try."""
    result = call(clinic(), "4", "1")
    assert result.steps[1] == Collect("vm-press", 5000, 1, "lab", 1)
    assert result.ivr_path == ["main", "4", "lab", "1"]
    assert result.decision == Decision("queue", "reception", 120, None, "ivr")


def test_submenu_uses_its_own_default_when_tries_run_out() -> None:
    """The lab menu (retries 1) sends a silent caller to appointments."""
    result = call(clinic(), "4")
    assert result.decision == Decision("queue", "appointments", 120, None, "ivr_default")
    assert result.ivr_path == ["main", "4", "lab", "timeout", "timeout", "default"]


def test_back_returns_to_the_parent_menu() -> None:
    """* in the lab menu goes back to main, at its first try."""
    result = call(clinic(), "7", "4", "*", "1")
    assert result.ivr_path == ["main", "7:invalid", "4", "lab", "*", "main", "1"]
    assert Collect("hello", 3000, 1, "main", 1) in result.steps[4:]
    assert result.decision.queue == "appointments"
    assert "ivr_back" in kinds(result)


def test_back_in_the_top_menu_plays_it_again() -> None:
    """There is nowhere further back than the first menu."""
    result = call(clinic(), "*", "1")
    assert result.ivr_path == ["main", "*", "main", "1"]
    assert result.decision.queue == "appointments"


def test_hangup_key_plays_its_message_then_hangs_up() -> None:
    """9 says goodbye and ends the call."""
    result = call(clinic(), "9")
    assert result.steps[1:] == [
        Play("vm-goodbye"),
        Decision("hangup", None, None, "vm-goodbye", "ivr_hangup"),
    ]
    assert "ivr_hangup" in kinds(result)


def test_hangup_key_without_a_message_hangs_up_at_once() -> None:
    """No message, no Play step."""
    result = call(clinic(), "4", "8")
    assert result.steps[-1] == Decision("hangup", None, None, None, "ivr_hangup")
    assert not any(isinstance(step, Play) for step in result.steps)


def test_default_can_lead_to_another_menu() -> None:
    """A main menu whose default is the lab menu plays the lab menu after the tries."""
    result = call(clinic(retries=0, default={"kind": "menu", "target": "lab"}), None, "1")
    assert result.ivr_path == ["main", "timeout", "default", "lab", "1"]
    assert result.decision.reason == "ivr"


def test_default_hangup_hangs_up_with_its_message() -> None:
    """A default of "message then hang up" ends the call as the menu's default."""
    result = call(clinic(retries=0, default={"kind": "hangup", "message": "vm-goodbye"}), None)
    assert result.decision == Decision("hangup", None, None, "vm-goodbye", "ivr_default")


def test_option_to_an_unknown_queue_goes_to_the_default_queue() -> None:
    """A queue deleted after the menu was set up never drops the call."""
    doc = clinic_document()
    doc["menus"][0]["options"][0]["action"]["target"] = "gone"
    result = call(FlowSettings.from_document(doc), "1")
    assert result.decision == Decision("queue", "reception", 120, None, "unknown_queue")
    fallback = next(event for event in result.events if event.kind == "fallback")
    assert fallback.data == {"reason": "unknown_queue", "queue": "gone"}


def test_option_to_an_unknown_menu_goes_to_the_default_queue() -> None:
    """A missing submenu sends the caller to the default queue."""
    doc = clinic_document()
    doc["menus"][0]["options"][4]["action"]["target"] = "gone"
    result = call(FlowSettings.from_document(doc), "4")
    assert result.decision == Decision("queue", "reception", 120, None, "unknown_menu")


def test_missing_default_queue_still_decides_a_queue() -> None:
    """Even a broken default queue name is handed to Asterisk rather than dropping the call."""
    doc = clinic_document()
    doc["default_queue"] = "nowhere"
    doc["dids"] = []
    result = call(FlowSettings.from_document(doc))
    assert result.decision == Decision("queue", "nowhere", None, None, "unknown_did")


def test_loop_guard_ends_endless_repeats() -> None:
    """A caller pressing # forever is queued once the step cap is reached."""
    result = call(clinic(), *["#"] * 500)
    assert result.decision == Decision("queue", "reception", 120, None, "loop_guard")
    assert len(result.steps) == 101
    assert result.events[-2].data["reason"] == "loop_guard"


def test_loop_guard_ends_menus_that_send_callers_round() -> None:
    """Two menus defaulting to each other cannot hold a silent caller forever."""
    doc = clinic_document()
    doc["menus"][0].update(options=[], default={"kind": "menu", "target": "lab"})
    doc["menus"][1].update(options=[], default={"kind": "menu", "target": "main"})
    flow = CallFlow(FlowSettings.from_document(doc), DEMO_DID, CALLER, OPEN, max_steps=10)
    step = flow.start()
    while not isinstance(step, Decision):
        step = flow.keys(None) if isinstance(step, Collect) else flow.played()
    assert step.reason == "loop_guard"


def test_closed_hours_play_the_message_then_hang_up() -> None:
    """The demo clinic on Saturday says goodbye."""
    result = call(clinic(), at=CLOSED)
    assert result.steps == [
        Play("vm-goodbye"),
        Decision("hangup", None, None, "vm-goodbye", "closed_hours"),
    ]
    assert kinds(result) == ["did", "hours", "closed_hours"]
    assert result.hours is not None and result.hours.reason == "outside_weekly"
    assert result.ivr_path == []


def test_closed_hours_can_send_calls_to_a_queue() -> None:
    """A closed action of kind queue skips the menu."""
    doc = clinic_document()
    doc["schedules"][0]["closed_action"] = {"kind": "queue", "target": "appointments"}
    result = call(FlowSettings.from_document(doc), at=CLOSED)
    assert result.decision == Decision("queue", "appointments", 120, None, "closed_hours_queue")


def test_closed_hours_voicemail_plays_the_greeting_then_records_a_message() -> None:
    """A voicemail closed action: the greeting, then the message, up to its length."""
    doc = clinic_document()
    doc["schedules"][0]["closed_action"] = {
        "kind": "voicemail",
        "message": "vm-leavemsg",
        "max_message_sec": 90,
    }
    result = call(FlowSettings.from_document(doc), at=CLOSED)
    assert result.steps == [
        Play("vm-leavemsg"),
        Decision("voicemail", None, None, "vm-leavemsg", "closed_hours_voicemail", 90),
    ]
    assert kinds(result) == ["did", "hours", "closed_hours"]
    assert result.events[-1].data["action"] == "voicemail"
    assert result.ivr_path == []


def test_voicemail_built_in_code_without_greeting_or_length_gets_the_defaults() -> None:
    """Settings made by hand still play "vm-intro" and allow 120 s."""
    settings = clinic()
    schedule = replace(settings.schedules["clinic"], closed_action=Action("voicemail"))
    settings = replace(settings, schedules={"clinic": schedule})
    result = call(settings, at=CLOSED)
    assert result.steps == [
        Play("vm-intro"),
        Decision("voicemail", None, None, "vm-intro", "closed_hours_voicemail", 120),
    ]


def test_voicemail_where_it_is_not_allowed_goes_to_the_default_queue() -> None:
    """A voicemail menu key made in code (settings refuse it) queues the caller instead."""
    settings = clinic()
    main = settings.menus["main"]
    menus = {**settings.menus, "main": replace(main, options={"7": Action("voicemail")})}
    result = call(replace(settings, menus=menus), "7")
    assert result.decision == Decision("queue", "reception", 120, None, "action_not_allowed")


def test_closed_hours_can_enter_an_after_hours_menu() -> None:
    """A closed action of kind menu plays that menu."""
    doc = clinic_document()
    doc["schedules"][0]["closed_action"] = {"kind": "menu", "target": "lab"}
    result = call(FlowSettings.from_document(doc), "1", at=CLOSED)
    assert result.ivr_path == ["lab", "1"]
    assert result.decision.reason == "ivr"


def test_override_open_lets_a_saturday_call_into_the_menu() -> None:
    """Opening by hand works for calls."""
    doc = clinic_document()
    doc["schedules"][0]["override"] = {"state": "open", "until": None}
    result = call(FlowSettings.from_document(doc), "1", at=CLOSED)
    assert result.decision.reason == "ivr"
    assert result.hours is not None and result.hours.reason == "override_open"


def test_did_entering_a_queue_goes_straight_there() -> None:
    """A DID with a queue entry has no menu."""
    doc = clinic_document()
    doc["dids"][0]["entry"] = {"kind": "queue", "target": "appointments"}
    result = call(FlowSettings.from_document(doc))
    assert result.steps == [Decision("queue", "appointments", 120, None, "did")]


def test_unknown_did_goes_to_the_default_queue_without_a_menu() -> None:
    """A number nobody set up is still answered."""
    result = call(clinic(), dialed="78120000000")
    assert result.steps == [Decision("queue", "reception", 120, None, "unknown_did")]
    assert result.did.known is False
    assert result.hours is None


def test_did_without_a_schedule_is_always_open() -> None:
    """No schedule means no hours check."""
    doc = clinic_document()
    doc["dids"][0]["schedule"] = None
    result = call(FlowSettings.from_document(doc), "1", at=CLOSED)
    assert result.decision.reason == "ivr"
    assert "hours" not in kinds(result)


def test_did_with_a_missing_schedule_goes_to_the_default_queue() -> None:
    """A schedule deleted under a DID is a broken setting: default queue."""
    doc = clinic_document()
    doc["dids"][0]["schedule"] = "gone"
    result = call(FlowSettings.from_document(doc))
    assert result.decision == Decision("queue", "reception", 120, None, "unknown_schedule")


def test_broken_time_zone_does_not_stop_the_call() -> None:
    """An error while deciding becomes a fallback to the default queue."""
    settings = clinic()
    broken = Schedule("clinic", "Mars/Olympus", Action("hangup"))
    settings = FlowSettings(
        settings.default_queue, settings.queues, settings.menus, {"clinic": broken}, settings.dids
    )
    result = call(settings)
    assert result.decision.reason == "error"
    fallback = result.events[-2]
    assert fallback.kind == "fallback" and "Mars/Olympus" in fallback.data["error"]


def test_action_not_allowed_at_its_place_goes_to_the_default_queue() -> None:
    """A menu default of "repeat", built by hand, cannot loop the caller."""
    settings = clinic()
    menus = dict(settings.menus)
    menus["main"] = Menu("main", "hello", Action("repeat"), retries=0)
    settings = FlowSettings(
        settings.default_queue, settings.queues, menus, settings.schedules, settings.dids
    )
    assert call(settings).decision.reason == "action_not_allowed"


def test_keys_before_start_are_refused() -> None:
    """The step machine must be started first."""
    flow = CallFlow(clinic(), DEMO_DID, CALLER, OPEN)
    with pytest.raises(RuntimeError, match="start"):
        flow.keys("1")


def test_played_is_refused_while_a_key_is_awaited() -> None:
    """played() answers a Play step only."""
    flow = CallFlow(clinic(), DEMO_DID, CALLER, OPEN)
    flow.start()
    with pytest.raises(RuntimeError, match="Collect"):
        flow.played()


def test_after_the_decision_the_flow_keeps_answering_with_it() -> None:
    """A late key does not reopen a decided call."""
    flow = CallFlow(clinic(), DEMO_DID, CALLER, OPEN)
    flow.start()
    decision = flow.keys("1")
    assert flow.keys("2") == decision
    assert flow.decision == decision


def test_naive_time_is_refused() -> None:
    """The hours check needs a zone."""
    with pytest.raises(ValueError, match="time zone"):
        CallFlow(clinic(), DEMO_DID, CALLER, datetime(2026, 11, 23, 10, 0))


def test_transfer_to_a_known_queue_uses_its_wait_limit() -> None:
    """A transfer names the queue it goes to."""
    assert decide_transfer(clinic(), "appointments") == Decision(
        "queue", "appointments", 120, None, "transfer"
    )


def test_transfer_to_an_unknown_queue_goes_to_the_default_queue() -> None:
    """An operator's typo still reaches someone."""
    assert decide_transfer(clinic(), "sales") == Decision(
        "queue", "reception", 120, None, "transfer_unknown_queue"
    )


def test_default_decision_is_the_default_queue() -> None:
    """What the AGI route uses when it has no flow at all."""
    assert default_decision(clinic()) == Decision("queue", "reception", 120, None, "fallback")
