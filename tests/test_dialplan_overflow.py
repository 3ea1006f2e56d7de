"""A queue's overflow: the document, its validation, the decision after Queue() returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dialplan import FlowSettings, SettingsError, decide_overflow, simulate, validate
from dialplan.demo import DEMO_DID, SORRY, demo_document
from dialplan.explain import describe
from dialplan.overflow import MAX_OVERFLOWS
from dialplan.settings import Action
from dialplan.steps import Play

OPEN = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, the clinic is open


def queue_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(queue for queue in doc["queues"] if queue["name"] == name)


def settings_with(**changes: dict[str, Any]) -> FlowSettings:
    """The demo clinic with some queues' fields changed: name -> {field: value}."""
    doc = demo_document()
    for name, fields in changes.items():
        queue_of(doc, name).update(fields)
    return FlowSettings.from_document(doc)


def problems(doc: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in validate(doc)]


# -- the document ------------------------------------------------------------------------


def test_overflow_actions_are_read_and_dumped_back() -> None:
    settings = FlowSettings.from_document(demo_document())
    appointments, reception = settings.queues["appointments"], settings.queues["reception"]
    assert appointments.when_empty == Action("queue", "reception")
    assert reception.when_timeout == Action("hangup", message=SORRY)
    assert FlowSettings.from_document(settings.to_document()) == settings
    assert settings.to_document()["queues"][1]["when_empty"] == {"kind": "hangup", "message": SORRY}


def test_a_queue_without_overflow_hangs_up_as_before() -> None:
    doc = demo_document()
    for queue in doc["queues"]:
        del queue["when_empty"]
        queue["when_timeout"] = None
    settings = FlowSettings.from_document(doc)
    assert {q.when_empty for q in settings.queues.values()} == {Action("hangup")}
    assert {q.when_timeout for q in settings.queues.values()} == {Action("hangup")}
    assert validate(doc) == []


def test_a_menu_is_not_an_overflow() -> None:
    doc = demo_document()
    queue_of(doc, "reception")["when_empty"] = {"kind": "menu", "target": "main"}
    with pytest.raises(
        SettingsError, match="queue reception, when_empty: kind 'menu' is not allowed here"
    ):
        FlowSettings.from_document(doc)


# -- validation --------------------------------------------------------------------------


def test_an_overflow_to_a_missing_queue_is_reported() -> None:
    doc = demo_document()
    queue_of(doc, "appointments")["when_timeout"] = {"kind": "queue", "target": "billing"}
    assert problems(doc) == ["queue appointments, when_timeout: queue 'billing' does not exist"]


def test_an_overflow_loop_is_reported_once() -> None:
    doc = demo_document()
    queue_of(doc, "reception")["when_timeout"] = {"kind": "queue", "target": "appointments"}
    assert problems(doc) == [
        "queue appointments: the overflow goes round queues appointments > "
        "reception > appointments; a caller would never leave them"
    ]


def test_a_queue_overflowing_to_itself_is_a_loop() -> None:
    doc = demo_document()
    queue_of(doc, "reception")["when_empty"] = {"kind": "queue", "target": "reception"}
    assert problems(doc) == [
        "queue reception: the overflow goes round queues reception > "
        "reception; a caller would never leave them"
    ]


def test_a_longer_loop_is_found() -> None:
    doc = demo_document()
    doc["queues"].append(
        {"name": "billing", "when_empty": {"kind": "queue", "target": "appointments"}}
    )
    queue_of(doc, "reception")["when_empty"] = {"kind": "queue", "target": "billing"}
    assert problems(doc) == [
        "queue appointments: the overflow goes round queues appointments > "
        "reception > billing > appointments; a caller would never leave "
        "them"
    ]


def test_a_chain_without_a_loop_is_fine() -> None:
    doc = demo_document()
    doc["queues"].append(
        {"name": "billing", "when_empty": {"kind": "queue", "target": "appointments"}}
    )
    assert problems(doc) == []


# -- the decision after Queue() returns ---------------------------------------------------


@pytest.mark.parametrize(
    "status", ["JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL", "joinempty "]
)
def test_an_empty_queue_sends_the_caller_to_its_when_empty_queue(status: str) -> None:
    result = decide_overflow(settings_with(), "appointments", status)
    decision = result.decision
    assert (decision.action, decision.queue, decision.queue_timeout, decision.reason) == (
        "queue",
        "reception",
        120,
        "overflow_empty",
    )
    assert result.steps == (decision,)
    assert [
        (e.kind, e.data["from_queue"], e.data["to_queue"], e.data["condition"])
        for e in result.events
    ] == [("queue_overflow", "appointments", "reception", "empty")]


def test_a_timed_out_queue_plays_its_message_then_hangs_up() -> None:
    result = decide_overflow(settings_with(), "reception", "TIMEOUT")
    assert result.steps[0] == Play(SORRY)
    assert (result.decision.action, result.decision.message, result.decision.reason) == (
        "hangup",
        SORRY,
        "overflow_timeout",
    )
    assert result.events[0].data["message"] == SORRY


def test_an_answered_call_is_never_overflowed() -> None:
    result = decide_overflow(settings_with(), "appointments", "CONTINUE")
    assert (result.decision.action, result.decision.reason) == ("hangup", "answered")
    assert not any(isinstance(step, Play) for step in result.steps)


def test_the_hops_are_capped_whatever_the_document_says() -> None:
    settings = settings_with()
    assert (
        decide_overflow(settings, "appointments", "JOINEMPTY", MAX_OVERFLOWS - 1).decision.queue
        == "reception"
    )
    capped = decide_overflow(settings, "appointments", "JOINEMPTY", MAX_OVERFLOWS)
    assert (capped.decision.action, capped.decision.reason) == ("hangup", "overflow_limit")


def test_a_queue_the_flow_does_not_know_overflows_to_the_default_queue() -> None:
    result = decide_overflow(settings_with(), "old-queue", "TIMEOUT")
    assert (result.decision.action, result.decision.queue, result.decision.reason) == (
        "queue",
        "reception",
        "overflow_fallback",
    )


def test_the_default_queue_giving_the_caller_back_is_never_asked_again() -> None:
    settings = FlowSettings(default_queue="reception")  # no flow was ever readable
    result = decide_overflow(settings, "reception", "JOINEMPTY")
    assert (result.decision.action, result.decision.reason) == ("hangup", "overflow_fallback")
    assert decide_overflow(settings, "appointments", "JOINEMPTY").decision.queue == "reception"


def test_a_target_that_vanished_means_the_default_queue() -> None:
    settings = settings_with(appointments={"when_empty": {"kind": "queue", "target": "gone"}})
    result = decide_overflow(settings, "appointments", "LEAVEEMPTY")
    assert (result.decision.queue, result.decision.reason) == (
        "reception",
        "overflow_unknown_queue",
    )
    assert result.events[0].data["missing"] == "gone"


def test_an_unexpected_status_means_the_default_queue() -> None:
    result = decide_overflow(settings_with(), "appointments", "")
    assert (result.decision.queue, result.decision.reason) == ("reception", "overflow_fallback")


# -- the simulator -----------------------------------------------------------------------


def test_the_simulator_follows_the_overflow_of_each_queue() -> None:
    call = simulate(settings_with(), DEMO_DID, "79161234567", OPEN, ["1"], ["empty", "timeout"])
    assert call.queues == ["appointments", "reception"]
    assert (call.decision.action, call.decision.reason) == ("hangup", "overflow_timeout")
    assert call.steps[-2:] == [Play(SORRY), call.decision]
    lines = describe(call)
    assert "queue appointments gives the call back: empty (JOINEMPTY)" in lines
    assert "=> queue reception (wait up to 120 s) [overflow_empty]" in lines
    assert lines[-1] == "queues: appointments > reception"


def test_the_simulator_stops_at_the_queue_that_answers() -> None:
    call = simulate(settings_with(), DEMO_DID, "79161234567", OPEN, ["1"], ["empty"])
    assert (call.decision.queue, call.queues) == ("reception", ["appointments", "reception"])
    plain = simulate(settings_with(), DEMO_DID, "79161234567", OPEN, ["1"])
    assert (plain.decision.queue, plain.queues) == ("appointments", ["appointments"])


def test_the_simulator_refuses_an_unknown_queue_outcome() -> None:
    with pytest.raises(ValueError, match="queue outcome 'busy'"):
        simulate(settings_with(), DEMO_DID, "79161234567", OPEN, ["1"], ["busy"])
