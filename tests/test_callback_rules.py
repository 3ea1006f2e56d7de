"""Which cards make a callback task, for which number, and when the next attempt is due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.dialler import free_members
from callbacks.rules import (
    CardFacts,
    after_outcome,
    gets_through,
    next_attempt,
    outcome_of_dial,
    priority_of,
    task_number,
    task_reason,
)
from callcards.config import DEFAULT_OUTBOUND_NUMBERS
from dialplan.numbers import Refusal, callable_number, check_outbound, read_patterns
from dialplan.settings import FlowSettings, QueueCallbacks, Schedule, SettingsError
from models import Status, TaskOutcome, TaskReason

MOSCOW = ZoneInfo("Europe/Moscow")
POLICY = QueueCallbacks()
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW)  # a Monday
CARD = CardFacts(
    id=1,
    direction="inbound",
    status=Status.MISSED.value,
    queue="reception",
    src_number="79161234567",
    callback_number=None,
    needs_callback=False,
    end_reason="queue_timeout",
    started_at=T0,
    queue_entered_at=T0 + timedelta(seconds=5),
    wait_sec=60,
    duration_sec=70,
)


def weekdays_9_to_18() -> Schedule:
    weekly = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    doc = {"name": "s", "timezone": "Europe/Moscow", "closed_action": {"kind": "hangup"}}
    flow = {"default_queue": "q", "schedules": [{**doc, "weekly": weekly}]}
    return FlowSettings.from_document(flow).schedules["s"]


def test_missed_abandoned_voicemail_out_of_hours_marked_and_requested_make_tasks() -> None:
    assert task_reason(CARD, POLICY) is TaskReason.MISSED
    assert task_reason(replace(CARD, status="abandoned"), POLICY) is TaskReason.ABANDONED
    assert task_reason(replace(CARD, end_reason="closed_hours"), POLICY) is TaskReason.OUT_OF_HOURS
    assert task_reason(replace(CARD, needs_callback=True), POLICY) is TaskReason.VOICEMAIL
    marked = replace(CARD, status="answered", needs_callback=True)
    assert task_reason(marked, POLICY) is TaskReason.MARKED
    requested = replace(CARD, status="callback_requested")
    assert task_reason(requested, POLICY) is TaskReason.CALLBACK_REQUESTED


def test_short_abandon_answered_and_outbound_cards_make_no_task() -> None:
    short = replace(CARD, status="abandoned", wait_sec=3)
    assert task_reason(short, POLICY) is None
    assert task_reason(short, replace(POLICY, short_abandon_sec=2)) is TaskReason.ABANDONED
    in_ivr = replace(CARD, status="abandoned", queue_entered_at=None, duration_sec=2)
    assert task_reason(in_ivr, POLICY) is None
    assert task_reason(replace(CARD, status="answered"), POLICY) is None
    assert task_reason(replace(CARD, direction="outbound"), POLICY) is None


def test_anonymous_and_malformed_numbers_have_no_number_to_call() -> None:
    for raw in (None, "", "anonymous", "Unknown", "12", "abc123", "1" * 16):
        assert task_number(replace(CARD, src_number=raw)) is None, raw
    assert task_number(replace(CARD, src_number="+7 (916) 123-45-67")) == "+79161234567"
    assert task_number(replace(CARD, callback_number="84951112233")) == "84951112233"


def test_a_requested_callback_goes_before_other_tasks() -> None:
    assert priority_of(TaskReason.CALLBACK_REQUESTED) < priority_of(TaskReason.MISSED)


def test_only_an_answered_inbound_call_not_itself_waiting_gets_through() -> None:
    answered = replace(CARD, status="answered")
    assert gets_through(answered)
    assert not gets_through(replace(answered, needs_callback=True))
    assert not gets_through(replace(answered, direction="outbound"))


def test_retries_follow_the_schedule_within_business_hours() -> None:
    hours = weekdays_9_to_18()
    assert next_attempt(POLICY, 1, T0, hours) == T0 + timedelta(minutes=15)
    assert next_attempt(POLICY, 2, T0, hours) == T0 + timedelta(hours=2)
    # Next working day: Tuesday at opening.
    assert next_attempt(POLICY, 2, T0, hours) == T0 + timedelta(hours=2)
    policy = replace(POLICY, max_attempts=5)
    assert next_attempt(policy, 3, T0, hours) == datetime(2026, 11, 24, 9, 0, tzinfo=MOSCOW)
    assert next_attempt(POLICY, 3, T0, hours) is None  # attempts ran out


def test_a_retry_due_after_closing_moves_to_the_next_opening() -> None:
    friday_evening = datetime(2026, 11, 27, 17, 0, tzinfo=MOSCOW)
    due = next_attempt(POLICY, 2, friday_evening, weekdays_9_to_18())
    assert due == datetime(2026, 11, 30, 9, 0, tzinfo=MOSCOW)  # Monday
    assert next_attempt(POLICY, 2, friday_evening, None) == friday_evening + timedelta(hours=2)


def test_outcomes_close_or_reschedule_and_the_last_attempt_closes_unreachable() -> None:
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert after_outcome(POLICY, TaskOutcome.REACHED, 1, at, None).closes_as is TaskOutcome.REACHED
    dnc = after_outcome(POLICY, TaskOutcome.DO_NOT_CALL, 1, at, None)
    assert dnc.closes_as is TaskOutcome.DO_NOT_CALL
    busy = after_outcome(POLICY, TaskOutcome.BUSY, 1, at, None)
    assert (busy.closes_as, busy.next_attempt_at) == (None, at + timedelta(minutes=15))
    last = after_outcome(POLICY, TaskOutcome.NO_ANSWER, 3, at, None)
    assert last.closes_as is TaskOutcome.UNREACHABLE


def test_busy_congestion_and_no_answer_come_from_the_call_itself() -> None:
    assert outcome_of_dial("busy", "busy") is TaskOutcome.BUSY
    assert outcome_of_dial("failed", "congestion") is TaskOutcome.BUSY
    assert outcome_of_dial("missed", "no_answer") is TaskOutcome.NO_ANSWER
    assert outcome_of_dial("answered", "answered") is None


@pytest.mark.parametrize(
    ("number", "refusal"),
    [
        ("84951234567", None),
        ("+7 495 123-45-67", None),
        ("4951234567", None),
        ("1234", None),
        ("88091234567", Refusal.NOT_ALLOWED),  # premium
        ("810441234567890", Refusal.NOT_ALLOWED),  # international
        ("+441234567890", Refusal.NOT_ALLOWED),
        ("0044123456789", Refusal.NOT_ALLOWED),
        ("1" * 16, Refusal.TOO_LONG),
        ("", Refusal.NO_DIGITS),
        ("*#", Refusal.NO_DIGITS),
    ],
)
def test_the_default_allowlist(number: str, refusal: Refusal | None) -> None:
    assert check_outbound(number, read_patterns(DEFAULT_OUTBOUND_NUMBERS)) is refusal


def test_a_site_can_allow_one_international_prefix() -> None:
    patterns = read_patterns("!8809.,0044.," + DEFAULT_OUTBOUND_NUMBERS)
    assert check_outbound("+441234567890", patterns) is None
    assert check_outbound("+331234567890", patterns) is Refusal.NOT_ALLOWED
    with pytest.raises(ValueError, match="pattern"):
        read_patterns("8X?")
    assert callable_number("79161234567") == "79161234567"


def test_queue_callback_settings_are_read_checked_and_dumped_back() -> None:
    doc = {
        "default_queue": "q",
        "queues": [
            {
                "name": "q",
                "callbacks": {
                    "retry_schedule": ["+10m", "next working day"],
                    "max_attempts": 2,
                    "short_abandon_sec": 10,
                    "mode": "auto",
                },
            }
        ],
    }
    flow = FlowSettings.from_document(doc)
    assert flow.queues["q"].callbacks == QueueCallbacks(
        ("+10m", "next working day"), 2, 10, "auto", None, None
    )
    assert FlowSettings.from_document(flow.to_document()) == flow
    plain = FlowSettings.from_document({"default_queue": "q", "queues": [{"name": "q"}]})
    assert "callbacks" not in plain.to_document()["queues"][0]
    bad = {
        "default_queue": "q",
        "queues": [{"name": "q", "callbacks": {"retry_schedule": ["soon"]}}],
    }
    with pytest.raises(SettingsError, match="retry step"):
        FlowSettings.from_document(bad)
    wrong_mode = {"default_queue": "q", "queues": [{"name": "q", "callbacks": {"mode": "x"}}]}
    with pytest.raises(SettingsError, match="mode"):
        FlowSettings.from_document(wrong_mode)


def test_a_free_operator_is_not_paused_not_in_a_call_and_idle() -> None:
    entries = [
        {"Event": "QueueParams", "Queue": "reception"},
        {
            "Event": "QueueMember",
            "Queue": "reception",
            "Location": "PJSIP/101",
            "Paused": "0",
            "InCall": "0",
            "Status": "1",
        },
        {
            "Event": "QueueMember",
            "Queue": "reception",
            "Location": "PJSIP/102",
            "Paused": "1",
            "InCall": "0",
            "Status": "1",
        },
        {
            "Event": "QueueMember",
            "Queue": "reception",
            "Location": "PJSIP/103",
            "Paused": "0",
            "InCall": "1",
            "Status": "2",
        },
        {
            "Event": "QueueMember",
            "Queue": "appointments",
            "Location": "PJSIP/104",
            "Paused": "0",
            "InCall": "0",
            "Status": "5",
        },
    ]
    assert free_members(entries) == {"reception": {"PJSIP/101"}}
