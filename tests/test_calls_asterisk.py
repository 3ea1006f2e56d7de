"""Real calls through a real Asterisk 22 and our FastAGI server; the cards they leave in PostgreSQL.

Each test places a call with AMI (a Local channel pair: the ;1 half is the caller's phone,
the ;2 half runs our dialplan), plays the caller's part, and reads the card the FastAGI
server wrote. Test operators are Local channels that answer (tests/asterisk_driver.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callcards.reconcile import reconcile
from callcards.sandbox import SandboxInfo
from dialplan import FlowSettings, simulate
from fastagi.cards import CardStore
from models import Call, Queue, User
from models.flow import latest_version, publish
from models.routing import Schedule
from recordings import RecordingStore
from reports.figures import queue_report
from reports.period import Period
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.conftest import set_override

pytestmark = pytest.mark.asterisk

DID = "74951234567"
CALLER = "79161234567"
OPERATORS = {"101", "102"}


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox, with the FastAGI server up and operators answering."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        try:
            yield driver
        finally:
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")


def kinds(card: Call) -> list[str]:
    return [event.kind for event in card.events]


def operator_extension(sessions: sessionmaker[Session], card: Call) -> str | None:
    with sessions() as session:
        user = session.get(User, card.operator_id) if card.operator_id else None
        return user.extension if user else None


async def reach_menu_and_press(ami: AsteriskDriver, call: TestCall, keys: str) -> None:
    """Wait until the menu listens for keys, then press them."""
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)  # GET DATA starts the prompt; keys before it are dropped
    await ami.press(call, keys)


async def test_caller_presses_1_operator_answers_and_caller_hangs_up_makes_answered_card(
    ami: AsteriskDriver, sessions: sessionmaker[Session], asterisk_sandbox: SandboxInfo
) -> None:
    call = await ami.call(DID, CALLER, caller_name="Иван Петров")
    await reach_menu_and_press(ami, call, "1")
    await ami.wait_for_operator(call, "appointments")
    answered = await wait_card(sessions, call.linkedid, lambda card: card.answered_at is not None)
    await asyncio.sleep(2.0)  # they talk
    await ami.hangup(call)
    await ami.wait_hungup(call)
    card = await wait_card(sessions, call.linkedid)

    assert (card.status, card.end_reason, card.direction) == (
        "answered",
        "caller_hangup",
        "inbound",
    )
    assert card.queue == "appointments" and card.ivr_path == "main > 1"
    assert (card.src_number, card.did, card.uniqueid) == (CALLER, DID, call.dialplan_id)
    assert card.did_source == "Яндекс.Директ" and card.did_city == "Москва"
    assert operator_extension(sessions, card) in OPERATORS
    assert card.started_at <= card.queue_entered_at <= card.answered_at < card.ended_at
    assert answered.status == "answered" and answered.ended_at is None
    assert card.talk_sec is not None and card.talk_sec >= 2
    assert card.duration_sec is not None and card.duration_sec >= card.talk_sec
    assert card.wait_sec is not None and card.hold_sec == 0
    for expected in (
        "call_started",
        "ivr_entered",
        "ivr_key",
        "route",
        "operator_rang",
        "answered",
        "hangup",
    ):
        assert expected in kinds(card), (expected, kinds(card))
    recording = Path(asterisk_sandbox.recordings_dir) / (card.recording_path or "")
    assert card.recording_path and recording.is_file() and recording.stat().st_size > 1000
    settled = await wait_card(sessions, call.linkedid, lambda c: c.recording_state != "pending")
    assert settled.recording_state == "ok"
    assert card.recording_url == f"/api/calls/{card.id}/recording"


async def test_the_dialplan_passes_what_it_knows_and_the_channel_names_the_card(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")  # nobody answers: no `answered`
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    told = await ami.get_var(call, "CC_CARD_ID")
    await ami.hangup(call)
    await ami.wait_hungup(call)
    card = await wait_card(sessions, call.linkedid, lambda c: c.ended_at is not None)
    assert told == str(card.id)
    asked = [
        str(e.command)
        for e in ami.events_of(call)
        if e.event == "AGIExecStart" and e.uniqueid == call.dialplan_id
    ]
    # incoming and hangup were given the linkedid, CC_ACTION and CC_CARD_ID (even empty).
    assert asked[0].startswith("GET DATA") and asked[-1].startswith("GET")
    assert not [
        command
        for command in asked
        if command.startswith("GET")
        and ("linkedid" in command or "CC_ACTION" in command or "CC_CARD_ID" in command)
    ]
    # The decision went back in one command, which Asterisk ran (CC_CARD_ID was read above).
    [handed] = [command for command in asked if command.startswith(("EXEC", "SET"))]
    assert handed.startswith(f'EXEC "MSet" "CC_CARD_ID={card.id},CC_QUEUE=appointments,')


async def test_caller_hanging_up_while_waiting_in_queue_makes_abandoned_card(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")  # operators ring, nobody answers
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    ringing = await wait_card(
        sessions, call.linkedid, lambda card: card.ringing_extension is not None
    )
    await asyncio.sleep(1.0)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)

    assert ringing.ringing_extension in OPERATORS  # the screen-pop knew who was ringing
    assert (card.status, card.end_reason) == ("abandoned", "caller_hangup_queue")
    assert card.operator_id is None and card.answered_at is None
    assert card.queue == "appointments" and card.ringing_extension is None
    assert card.wait_sec is not None and card.wait_sec >= 1


PAUSABLE = [f"Local/{ext}@cc-test-operators/n" for ext in sorted(OPERATORS)]


async def pause_all(ami: AsteriskDriver, queues: list[str], paused: bool) -> None:
    """Pause (or unpause) every test operator in these queues."""
    for queue in queues:
        for member in PAUSABLE:
            await ami.queue_pause(queue, member, paused, "lunch" if paused else "")


def queues_of(card: Call) -> list[str]:
    """The queues the call reached, in order, as its timeline tells."""
    route = next(e for e in card.events if e.kind == "route")
    return [route.data["queue"]] + [
        e.data["to_queue"] for e in card.events if e.kind == "queue_overflow" and e.data["to_queue"]
    ]


def simulated_queues(sessions: sessionmaker[Session], keys: str, outcomes: list[str]) -> list[str]:
    """The queues the route simulator says such a call reaches, on the published flow."""
    with sessions() as session:
        version = latest_version(session)
        assert version is not None
        settings = FlowSettings.from_document(version.document)
    return simulate(settings, DID, CALLER, datetime.now(UTC), [keys], outcomes).queues


def queue_report_now(sessions: sessionmaker[Session]) -> dict[str | None, tuple[int, int, int]]:
    """Offered, answered and refused per queue over the last hour, as the admin's queue report
    gives them; "All queues" for the total."""
    now = datetime.now(UTC)
    with sessions() as session:
        admin = session.scalar(select(User).where(User.login == "admin"))
        report = queue_report(session, Period(now - timedelta(hours=1), now, UTC), admin)
    total = report.total
    return {
        **{row.queue: (row.offered, row.answered, row.refused) for row in report.rows},
        "All queues": (total.offered, total.answered, total.refused),
    }


def report_change(
    before: dict[str | None, tuple[int, int, int]], after: dict[str | None, tuple[int, int, int]]
) -> dict[str | None, tuple[int, ...]]:
    """What one call added to the rows of the queue report (the rows it changed)."""
    changes = {
        queue: tuple(
            now - then for now, then in zip(figures, before.get(queue, (0, 0, 0)), strict=True)
        )
        for queue, figures in after.items()
    }
    return {queue: change for queue, change in changes.items() if any(change)}


async def test_appointments_with_every_operator_paused_overflows_to_reception_which_answers(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    report_before = queue_report_now(sessions)
    await pause_all(ami, ["appointments"], True)
    try:
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "1")
        await ami.wait_for_operator(call, "reception")
        await asyncio.sleep(1.0)
        await ami.hangup(call)
        card = await wait_card(sessions, call.linkedid)
    finally:
        await pause_all(ami, ["appointments"], False)
    assert (card.status, card.end_reason, card.queue) == ("answered", "caller_hangup", "reception")
    assert operator_extension(sessions, card) in OPERATORS
    assert (
        queues_of(card)
        == simulated_queues(sessions, "1", ["empty"])
        == ["appointments", "reception"]
    )
    step = next(e for e in card.events if e.kind == "queue_overflow")
    assert (step.data["queue_status"], step.data["reason"]) == ("JOINEMPTY", "overflow_empty")
    assert len([e for e in ami.events_of(call) if e.event == "QueueCallerJoin"]) == 1
    # The queue report: refused by appointments, offered and answered in reception; one call.
    assert report_change(report_before, queue_report_now(sessions)) == {
        "appointments": (0, 0, 1),
        "reception": (1, 1, 0),
        "All queues": (1, 1, 0),
    }


async def test_all_operators_paused_everywhere_says_sorry_and_misses_with_no_operator(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    await pause_all(ami, ["appointments", "reception"], True)
    try:
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "1")
        await ami.wait_for_agi(call, "STREAM FILE")  # reception's sorry
        card = await wait_card(sessions, call.linkedid)
    finally:
        await pause_all(ami, ["appointments", "reception"], False)
    assert (card.status, card.end_reason) == ("missed", "no_operator")
    assert card.operator_id is None
    assert [e.data.get("queue_status") for e in card.events if e.kind == "hangup"] == ["JOINEMPTY"]
    assert [
        (e.data["from_queue"], e.data["to_queue"], e.data["message"])
        for e in card.events
        if e.kind == "queue_overflow"
    ] == [("appointments", "reception", ""), ("reception", "", "im-sorry")]


async def test_a_queue_whose_wait_runs_out_says_sorry_and_misses_the_call(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    publish_reception_wait(sessions, 3)
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")  # operators ring, nobody answers
    try:
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "2")
        await ami.wait_for_queue_join("reception", call=call)
        await ami.wait_for_agi(call, "STREAM FILE")
        card = await wait_card(sessions, call.linkedid)
    finally:
        publish_reception_wait(sessions, 120)
    assert (card.status, card.end_reason, card.queue) == ("missed", "queue_timeout", "reception")
    assert card.wait_sec is not None and card.wait_sec >= 3
    step = next(e for e in card.events if e.kind == "queue_overflow")
    assert (step.data["queue_status"], step.data["action"], step.data["message"]) == (
        "TIMEOUT",
        "hangup",
        "im-sorry",
    )
    assert [e.data.get("queue_status") for e in card.events if e.kind == "hangup"] == ["TIMEOUT"]


def publish_reception_wait(sessions: sessionmaker[Session], seconds: int) -> None:
    """Publish the flow with reception's longest wait set to `seconds`."""
    with sessions.begin() as session:
        session.execute(update(Queue).where(Queue.name == "reception").values(max_wait_sec=seconds))
        publish(session, user_id=None, comment=f"test: reception waits {seconds} s")


async def test_call_outside_business_hours_is_closed_and_missed(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    set_override(sessions, "closed")
    try:
        call = await ami.call(DID, CALLER)
        await ami.wait_for_agi(call, "STREAM FILE")  # the closed-hours message
        card = await wait_card(sessions, call.linkedid)
    finally:
        set_override(sessions, "open")
    assert (card.status, card.end_reason) == ("missed", "closed_hours")
    assert card.queue is None and card.queue_entered_at is None
    assert "closed_hours" in kinds(card) and "ivr_entered" not in kinds(card)
    assert not [
        e
        for e in ami.events_of(call)
        if e.event == "AGIExecStart" and str(e.command).startswith("GET DATA")
    ]


def set_closed_action(sessions: sessionmaker[Session], action: dict[str, Any]) -> None:
    """Give the demo clinic another closed-hours action and publish the flow."""
    with sessions.begin() as session:
        session.execute(
            update(Schedule).where(Schedule.name == "clinic").values(closed_action=action)
        )
        publish(session, user_id=None, comment=f"test: closed action {action['kind']}")


@pytest.fixture
def closed_for_messages(sessions: sessionmaker[Session]) -> Iterator[None]:
    """The clinic is closed and takes a message of up to 30 s after the greeting vm-intro."""
    with sessions() as session:
        before = session.scalar(select(Schedule.closed_action).where(Schedule.name == "clinic"))
    set_closed_action(sessions, {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 30})
    set_override(sessions, "closed")
    yield
    set_closed_action(sessions, before)
    set_override(sessions, "open")


def message_noted(card: Call) -> bool:
    """The card is closed, its recording settled, and the message (or its absence) noted.

    The hangup route notes the message just after closing the card, in the background.
    """
    return (
        card.ended_at is not None
        and card.recording_state != "pending"
        and bool({"message_left", "no_message"} & set(kinds(card)))
    )


async def test_caller_on_a_closed_day_leaves_a_spoken_message_that_becomes_the_card_recording(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
    closed_for_messages: None,
) -> None:
    call = await ami.call(DID, CALLER)
    greeting = await ami.wait_for_agi(call, "STREAM FILE")
    await ami.wait_for_application(call, "Record")
    await asyncio.sleep(0.5)  # Record() beeps first; words said over the beep are not kept
    await ami.speak(call, "hello-world")  # about 1.5 s of speech, then the caller hangs up
    await ami.wait_hungup(call)
    card = await wait_card(sessions, call.linkedid, message_noted)

    assert "vm-intro" in str(greeting.command)
    assert (card.status, card.end_reason, card.needs_callback) == ("missed", "closed_hours", True)
    assert (card.queue, card.queue_entered_at, card.operator_id) == ("reception", None, None)
    assert card.recording_state == "ok"
    recording = Path(asterisk_sandbox.recordings_dir) / (card.recording_path or "")
    assert recording.is_file() and recording.stat().st_size > 44 + 16000  # over 1 s of sound
    assert card.recording_path == f"{card.started_at:%Y/%m/%d}/{call.dialplan_id}.wav"
    message = next(e for e in card.events if e.kind == "message_left")
    assert message.data["record_status"] == "HANGUP" and int(message.data["seconds"]) >= 1
    assert "closed_hours" in kinds(card) and "ivr_entered" not in kinds(card)


async def test_caller_on_a_closed_day_who_hangs_up_without_a_word_leaves_an_empty_message(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    closed_for_messages: None,
) -> None:
    call = await ami.call(DID, CALLER)
    await ami.wait_for_application(call, "Record")
    await asyncio.sleep(0.5)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid, message_noted)

    assert (card.status, card.end_reason, card.needs_callback) == ("missed", "closed_hours", False)
    assert card.recording_state == "empty"
    assert "message_left" not in kinds(card)
    assert [e.data["record_status"] for e in card.events if e.kind == "no_message"] == ["HANGUP"]


async def test_invalid_key_then_silence_retries_then_default_queue(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "9")  # no option 9: the invalid-key prompt, again
    await ami.wait_for_agi(call, "GET DATA")  # second try: the caller stays silent
    await ami.wait_for_agi(call, "GET DATA", timeout=20)  # third try: silent again
    await ami.wait_for_operator(call, "reception", timeout=30)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)

    assert card.queue == "reception" and card.status == "answered"
    assert card.ivr_path == "main > 9:invalid > timeout > timeout > default"
    for expected in ("ivr_invalid", "ivr_timeout", "ivr_retries_exhausted"):
        assert expected in kinds(card)
    route = next(e for e in card.events if e.kind == "route")
    assert (route.data["queue"], route.data["reason"]) == ("reception", "ivr_default")


async def test_with_the_fastagi_server_stopped_the_call_still_reaches_the_default_queue(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    agi_server: AgiProcess,
    asterisk_sandbox: SandboxInfo,
) -> None:
    agi_server.stop()
    try:
        call = await ami.call(DID, CALLER)
        await ami.wait_for_queue_join("reception", call=call)
        await ami.wait_for_operator(call, "reception")
        # The server comes back while the caller talks: the hangup builds the card late.
        agi_server.start()
        await asyncio.sleep(1.0)
        await ami.hangup(call)
        card = await wait_card(sessions, call.linkedid)
    finally:
        agi_server.start()
    assert (card.status, card.queue) == ("answered", "reception")
    assert operator_extension(sessions, card) in OPERATORS
    assert "card_created_late" in kinds(card)
    assert card.recording_path and card.recording_path.startswith("fallback/")
    recording = Path(asterisk_sandbox.recordings_dir) / card.recording_path
    assert recording.is_file() and recording.stat().st_size > 44


async def test_call_transferred_to_a_second_queue_keeps_one_card(
    ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    first = await ami.wait_for_operator(call, "appointments")
    await wait_card(sessions, call.linkedid, lambda card: card.answered_at is not None)
    await ami.operator_blind_transfer(first.destchannel, "reception")
    await ami.wait_for_operator(call, "reception")
    await asyncio.sleep(1.0)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)

    with sessions() as session:
        cards = session.scalars(
            select(Call).where(Call.src_number == CALLER, Call.started_at >= card.started_at)
        ).all()
    assert [c.id for c in cards] == [card.id]
    assert (card.status, card.queue) == ("answered", "reception")
    transfer = next(e for e in card.events if e.kind == "transferred")
    assert (transfer.data["from_queue"], transfer.data["to_queue"]) == ("appointments", "reception")
    assert kinds(card).count("answered") == 2  # one operator, then the next


@pytest.mark.parametrize(
    ("number", "status", "reason"),
    [
        ("84951112231", "answered", "answered"),
        ("84951112237", "busy", "busy"),
        ("84951112238", "failed", "congestion"),
    ],
)
async def test_operator_outbound_call_gets_a_card(
    ami: AsteriskDriver, sessions: sessionmaker[Session], number: str, status: str, reason: str
) -> None:
    call = await ami.outbound("101", number)
    if status == "answered":
        await ami.wait_for(
            lambda e: (
                e.event == "DialEnd" and e.uniqueid == call.dialplan_id and e.dialstatus == "ANSWER"
            ),
            since=call.since,
        )
        await asyncio.sleep(1.0)
        await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)
    assert (card.direction, card.status, card.end_reason) == ("outbound", status, reason)
    assert card.dst_number == number and operator_extension(sessions, card) == "101"
    assert card.recording_path and not card.recording_path.startswith("fallback/")


async def test_a_call_the_server_never_saw_gets_its_card_from_cel(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    agi_server: AgiProcess,
    asterisk_sandbox: SandboxInfo,
) -> None:
    agi_server.stop()
    try:
        call = await ami.call(DID, CALLER)
        await ami.wait_for_operator(call, "reception")
        await asyncio.sleep(1.0)
        await ami.hangup(call)
        await ami.wait_hungup(call)
        await asyncio.sleep(0.5)  # cel_pgsql writes as events happen
        with sessions() as session:
            assert session.scalar(select(Call).where(Call.linkedid == call.linkedid)) is None
            store = CardStore(sessions, RecordingStore(Path(asterisk_sandbox.recordings_dir)))
            rebuilt = reconcile(session, store, datetime.now(UTC) - timedelta(minutes=10))
            again = reconcile(session, store, datetime.now(UTC) - timedelta(minutes=10))
    finally:
        agi_server.start()
    assert call.linkedid in rebuilt and call.linkedid not in again
    card = await wait_card(sessions, call.linkedid)
    assert (card.status, card.queue, card.src_number, card.did) == (
        "answered",
        "reception",
        CALLER,
        DID,
    )
    assert operator_extension(sessions, card) in OPERATORS
    assert card.queue_entered_at <= card.answered_at < card.ended_at
    assert card.talk_sec is not None and card.talk_sec >= 1
    assert "card_rebuilt_from_cel" in kinds(card)
    assert card.recording_path and card.recording_path.startswith("fallback/")
    assert (Path(asterisk_sandbox.recordings_dir) / card.recording_path).stat().st_size > 44
