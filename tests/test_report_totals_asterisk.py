"""The queue report's "All queues" row against Asterisk's own queue_log, on real calls that
cross queues.

Four calls go through the sandbox Asterisk and our FastAGI server, each crossing from
appointments to reception (the demo flow's overflow on both empty and timeout): one waits in
appointments until every operator is paused (LEAVEEMPTY, queue_log's EXITEMPTY) and is then
refused at reception's door (JOINEMPTY); one is refused by appointments and answered in
reception; one is refused by both; one waits out appointments' time (EXITWITHTIMEOUT) and
hangs up in reception (ABANDON). The report's figures are then worked out again from
queue_log alone, which Asterisk writes as it runs the queues (etc_asterisk/logger.conf):
each call's stints are its ENTERQUEUE lines and how each ended; a call with none was
refused at every door. The total follows METRICS.md's caller's view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callcards.sandbox import SandboxInfo
from models import Queue, User
from models.flow import publish
from reports.figures import QueueFigures, queue_report
from reports.period import Period
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.web.test_reports_totals import callers_view

pytestmark = pytest.mark.asterisk

DID = "74951234567"
PAUSABLE = [f"Local/{ext}@cc-test-operators/n" for ext in ("101", "102")]
#: How queue_log says a caller left a queue (Asterisk's app_queue), as a report outcome.
LEFT = {
    "CONNECT": "answered",
    "ABANDON": "abandoned",
    "EXITEMPTY": "missed",
    "EXITWITHTIMEOUT": "missed",
    "EXITWITHKEY": "missed",
}


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox, with the FastAGI server up."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        try:
            yield driver
        finally:
            await pause_all(driver, ["appointments", "reception"], False)
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")


async def pause_all(ami: AsteriskDriver, queues: list[str], paused: bool) -> None:
    """Pause (or unpause) every test operator in these queues."""
    for queue in queues:
        for member in PAUSABLE:
            await ami.queue_pause(queue, member, paused, "lunch" if paused else "")


async def reach_menu_and_press(ami: AsteriskDriver, call: TestCall, keys: str) -> None:
    """Wait until the menu listens for keys, then press them."""
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)  # GET DATA starts the prompt; keys before it are dropped
    await ami.press(call, keys)


def publish_appointments_wait(sessions: sessionmaker[Session], seconds: int) -> None:
    """Publish the flow with appointments' longest wait set to `seconds`."""
    with sessions.begin() as session:
        session.execute(
            update(Queue).where(Queue.name == "appointments").values(max_wait_sec=seconds)
        )
        publish(session, user_id=None, comment=f"test: appointments waits {seconds} s")


# -- the four calls ---------------------------------------------------------------------------


async def waited_then_refused(ami: AsteriskDriver, sessions: sessionmaker[Session]) -> TestCall:
    """Waits in appointments while its operators ring, until all are paused; reception,
    all paused too, refuses it at the door."""
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")  # operators ring, nobody answers
    call = await ami.call(DID, "79160000001")
    await reach_menu_and_press(ami, call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    await pause_all(ami, ["appointments", "reception"], True)
    try:
        # Asterisk checks leavewhenempty once the current ring (15 s) is over.
        await wait_card(sessions, call.linkedid, timeout=60)
    finally:
        await pause_all(ami, ["appointments", "reception"], False)
        await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
    return call


async def refused_then_answered(ami: AsteriskDriver, sessions: sessionmaker[Session]) -> TestCall:
    """Appointments refuses it at the door (all paused); reception answers."""
    await pause_all(ami, ["appointments"], True)
    try:
        call = await ami.call(DID, "79160000002")
        await reach_menu_and_press(ami, call, "1")
        await ami.wait_for_operator(call, "reception")
        await ami.hangup(call)
        await wait_card(sessions, call.linkedid)
    finally:
        await pause_all(ami, ["appointments"], False)
    return call


async def refused_everywhere(ami: AsteriskDriver, sessions: sessionmaker[Session]) -> TestCall:
    """Every operator is paused: both queues refuse it at the door."""
    await pause_all(ami, ["appointments", "reception"], True)
    try:
        call = await ami.call(DID, "79160000003")
        await reach_menu_and_press(ami, call, "1")
        await wait_card(sessions, call.linkedid)
    finally:
        await pause_all(ami, ["appointments", "reception"], False)
    return call


async def timeout_then_abandoned(ami: AsteriskDriver, sessions: sessionmaker[Session]) -> TestCall:
    """Appointments' 3 s run out while operators ring; the caller hangs up in reception."""
    publish_appointments_wait(sessions, 3)
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")
    try:
        call = await ami.call(DID, "79160000004")
        await reach_menu_and_press(ami, call, "1")
        await ami.wait_for_queue_join("reception", call=call, timeout=30)
        await asyncio.sleep(6)  # the caller's patience: longer than a short abandon (5 s)
        await ami.hangup(call)
        await wait_card(sessions, call.linkedid)
    finally:
        publish_appointments_wait(sessions, 120)
        await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
    return call


# -- queue_log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stint:
    """A caller's time in one queue as queue_log tells it."""

    queue: str
    outcome: str  # answered, abandoned, missed
    seconds: int  # waittime (ABANDON/EXIT*) or holdtime (CONNECT)


def stints_of(log: Path, callids: set[str]) -> dict[str, list[Stint]]:
    """Each call's stints, in order: an ENTERQUEUE line and the line it left the queue by.

    queue_log lines: time|callid|queue|agent|event|data1|data2|...; the callid is the
    uniqueid of the channel running Queue() (the dialplan half of a test call).
    """
    found: dict[str, list[Stint]] = {callid: [] for callid in callids}
    entered: dict[str, str] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("|")
        if len(fields) < 5 or fields[1] not in callids:
            continue
        callid, queue, event, data = fields[1], fields[2], fields[4], fields[5:]
        if event == "ENTERQUEUE":
            entered[callid] = queue
        elif event in LEFT and entered.get(callid) == queue:
            seconds = data[0] if event == "CONNECT" else (data[2] if len(data) > 2 else "0")
            found[callid].append(Stint(queue, LEFT[event], int(seconds or 0)))
            del entered[callid]
    if entered:
        raise AssertionError(f"queue_log has no end for the stints of {sorted(entered)}")
    return found


async def read_stints(
    log: Path, callids: set[str], timeout: float = 10.0
) -> dict[str, list[Stint]]:
    """The stints once queue_log holds how every one ended (Asterisk writes it as it goes)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return stints_of(log, callids)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def from_queue_log(
    stints: dict[str, list[Stint]],
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """The queue rows (every stint) and the total (each call once, the caller's view)."""
    rows: dict[str, dict[str, int]] = {}
    for stint in (stint for calls in stints.values() for stint in calls):
        row = rows.setdefault(
            stint.queue, {"offered": 0, "answered": 0, "abandoned": 0, "missed": 0}
        )
        row["offered"] += 1
        row[stint.outcome] += 1
    views = [
        callers_view([(stint.queue, stint.outcome) for stint in calls]) for calls in stints.values()
    ]
    total = {
        outcome: views.count(outcome) for outcome in ("answered", "abandoned", "missed", "refused")
    }
    return rows, {"offered": len(views) - total["refused"], **total}


def counts(row: QueueFigures, names: tuple[str, ...]) -> dict[str, int]:
    return {name: getattr(row, name) for name in names}


async def test_the_all_queues_row_agrees_with_queue_log_on_calls_that_cross_queues(
    ami: AsteriskDriver, sessions: sessionmaker[Session], asterisk_sandbox: SandboxInfo
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    calls = [
        await waited_then_refused(ami, sessions),
        await refused_then_answered(ami, sessions),
        await refused_everywhere(ami, sessions),
        await timeout_then_abandoned(ami, sessions),
    ]
    stints = await read_stints(
        asterisk_sandbox.log_dir / "queue_log", {call.dialplan_id for call in calls}
    )
    by_call = [
        [(stint.queue, stint.outcome) for stint in stints[call.dialplan_id]] for call in calls
    ]
    # What Asterisk did, as queue_log tells it: a refusal at the door leaves no line.
    assert by_call == [
        [("appointments", "missed")],
        [("reception", "answered")],
        [],
        [("appointments", "missed"), ("reception", "abandoned")],
    ]
    # No abandon was short (≤ 5 s), in the queue or overall: the abandon rate counts it.
    assert all(
        stint.seconds > 5
        for calls in stints.values()
        for stint in calls
        if stint.outcome == "abandoned"
    )
    log_rows, log_total = from_queue_log(stints)

    with sessions() as session:
        admin = session.scalar(select(User).where(User.login == "admin"))
        report = queue_report(
            session, Period(start, datetime.now(UTC) + timedelta(seconds=5), UTC), admin
        )
    names = ("offered", "answered", "abandoned", "missed")
    assert {row.queue: counts(row, names) for row in report.rows if row.queue} == log_rows
    assert (
        counts(report.total, (*names, "refused"))
        == log_total
        == {"offered": 3, "answered": 1, "abandoned": 1, "missed": 1, "refused": 1}
    )
    assert report.total.short_abandoned == 0
    assert report.total.answer_rate == pytest.approx(100 * log_total["answered"] / 3)
    assert report.total.abandon_rate == pytest.approx(100 * log_total["abandoned"] / 3)
    # The refusals queue_log cannot show: at appointments' door twice, at reception's twice.
    assert {row.queue: row.refused for row in report.rows if row.queue} == {
        "appointments": 2,
        "reception": 2,
    }
