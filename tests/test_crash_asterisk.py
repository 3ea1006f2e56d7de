"""A real SIGKILL of the FastAGI server in the middle of real calls; every card field then
compared with what Asterisk itself recorded (CEL and CDR in the test database).

The three situations of a crash: a call in the menu when the server dies (answered while it
is down, hung up after it is back), a call waiting in a queue when it dies (ended while it
is down: only reconcile, on its timer in `callcards agi`, can close that card), and a call
that arrives while it is down (hung up after it is back).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings, load_settings
from callcards.reconcile import ami_live_calls
from callcards.sandbox import SandboxInfo
from models import AsteriskCdr, AsteriskCel, Call, User
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.conftest import ARTIFACTS, sandbox_ami_env

pytestmark = pytest.mark.asterisk

DID = "74951234567"
CALLER = "79161234567"
ANSWER_DELAY = 3  # seconds a test operator rings: the caller's wait in the queue
TALK = 2.0  # seconds the caller talks before hanging up
_OPERATOR_CHANNEL = re.compile(r"^Local/(\d+)@cc-test-operators")


@pytest.fixture
def crashing_server(
    agi_server: AgiProcess, asterisk_sandbox: SandboxInfo, database_url: str, agi_port: int
) -> Iterator[AgiProcess]:
    """`callcards agi` on the sandbox's port, reconciling every second, that a test may kill.

    The session's server steps aside for it and comes back afterwards.
    """
    agi_server.stop()
    server = AgiProcess(
        database_url,
        Path(Path(asterisk_sandbox.recordings_dir)),
        agi_port,
        ARTIFACTS / "callcards-agi-crash.log",
        extra_env={**sandbox_ami_env(asterisk_sandbox), "CALLCARDS_RECONCILE_EVERY": "1"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        agi_server.start()


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, crashing_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox; operators answer after ANSWER_DELAY seconds."""
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", str(ANSWER_DELAY))
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        try:
            yield driver
        finally:
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")


@dataclass(frozen=True)
class AsteriskRecord:
    """One call as Asterisk's CEL and CDR tell it (the caller's channel: our dialplan)."""

    started_at: datetime
    queue_entered_at: datetime
    answered_at: datetime
    talk_ended_at: datetime
    ended_at: datetime
    operator_extension: str
    recording_arguments: str
    cdr_duration: int


async def asterisk_record(sessions: sessionmaker[Session], call: TestCall) -> AsteriskRecord:
    """Wait until cel_pgsql and cdr_pgsql have written the call's end; what they say."""
    deadline = time.monotonic() + 20
    while True:
        with sessions() as session:
            rows = session.scalars(
                select(AsteriskCel)
                .where(AsteriskCel.linkedid == call.linkedid)
                .order_by(AsteriskCel.eventtime, AsteriskCel.id)
            ).all()
            cdr = session.scalar(
                select(AsteriskCdr).where(AsteriskCdr.uniqueid == call.dialplan_id)
            )
        if cdr is not None and any(row.eventtype == "LINKEDID_END" for row in rows):
            break
        assert time.monotonic() < deadline, f"no CEL/CDR end of {call.linkedid}"
        await asyncio.sleep(0.2)
    own = [row for row in rows if row.uniqueid == call.dialplan_id]

    def first(event: str, app: str | None = None) -> AsteriskCel:
        return next(
            row for row in own if row.eventtype == event and (app is None or row.appname == app)
        )

    bridge = first("BRIDGE_ENTER")
    operator = next(
        row
        for row in rows
        if row.eventtype == "BRIDGE_ENTER" and _OPERATOR_CHANNEL.match(row.channame or "")
    )
    extension = _OPERATOR_CHANNEL.match(operator.channame or "")
    assert extension is not None and cdr.duration is not None
    moments = [
        first("CHAN_START"),
        first("APP_START", "Queue"),
        bridge,
        first("BRIDGE_EXIT"),
        first("HANGUP"),
    ]
    assert all(row.eventtime is not None for row in moments)
    started, queued, answered, talk_ended, ended = (row.eventtime for row in moments)
    return AsteriskRecord(
        started_at=started,
        queue_entered_at=queued,
        answered_at=answered,  # type: ignore[arg-type]
        talk_ended_at=talk_ended,
        ended_at=ended,  # type: ignore[arg-type]
        operator_extension=extension.group(1),
        recording_arguments=first("APP_START", "MixMonitor").appdata or "",
        cdr_duration=cdr.duration,
    )


def seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def assert_card_tells_what_asterisk_did(
    sessions: sessionmaker[Session], card: Call, told: AsteriskRecord, recordings_dir: Path
) -> None:
    """Every field of the closed card against CEL and CDR (times within a second)."""
    assert (card.status, card.end_reason) == ("answered", "caller_hangup")
    assert abs(seconds(told.started_at, card.started_at)) <= 1
    assert card.answered_at is not None and card.ended_at is not None
    assert abs(seconds(told.answered_at, card.answered_at)) <= 1
    assert abs(seconds(told.ended_at, card.ended_at)) <= 1
    with sessions() as session:
        operator = session.get(User, card.operator_id) if card.operator_id else None
    assert operator is not None and operator.extension == told.operator_extension
    assert card.wait_sec is not None and card.talk_sec is not None
    assert abs(card.wait_sec - seconds(told.queue_entered_at, told.answered_at)) <= 1
    assert card.wait_sec >= ANSWER_DELAY - 1
    assert abs(card.talk_sec - seconds(told.answered_at, told.talk_ended_at)) <= 1
    assert card.talk_sec >= TALK - 1
    assert card.duration_sec is not None and abs(card.duration_sec - told.cdr_duration) <= 1
    assert card.recording_path and f"/{card.recording_path}," in told.recording_arguments
    assert card.recording_state == "ok"
    assert (recordings_dir / card.recording_path).stat().st_size > 44 + 8000 * TALK


async def alive_in_asterisk(settings: Settings, call: TestCall, expected: bool) -> bool:
    """Whether reconcile's AMI look finds a channel of the call, asked until it says
    `expected` (an operator's channel outlives the caller's by a moment) or 10 s pass."""
    deadline = time.monotonic() + 10
    while True:
        live = await asyncio.to_thread(ami_live_calls, settings)
        assert live is not None, "AMI did not list the channels"
        if (call.linkedid in live) == expected or time.monotonic() > deadline:
            return call.linkedid in live
        await asyncio.sleep(0.2)


async def talk_and_hang_up(ami: AsteriskDriver, call: TestCall) -> None:
    """The caller talks with the operator for TALK seconds, hangs up, and the call is gone."""
    await asyncio.sleep(TALK)  # the conversation's length, not a wait for something
    await ami.hangup(call)
    await ami.wait_hungup(call)


async def test_call_in_the_menu_when_the_server_is_killed_gets_its_answer_and_recording(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    crashing_server: AgiProcess,
    asterisk_sandbox: SandboxInfo,
) -> None:
    call = await ami.call(DID, CALLER)
    await ami.wait_for_agi(call, "GET DATA")
    opened = await wait_card(sessions, call.linkedid, lambda card: True)
    crashing_server.kill()  # the caller is in the menu
    await ami.wait_for_operator(call, "reception", timeout=30)  # the dialplan's fallback
    crashing_server.start()  # back while the caller talks
    await talk_and_hang_up(ami, call)

    card = await wait_card(
        sessions,
        call.linkedid,
        lambda card: card.ended_at is not None and card.recording_state != "pending",
    )
    told = await asterisk_record(sessions, call)
    assert card.id == opened.id
    assert (card.recording_path or "").startswith("fallback/")
    assert opened.recording_path != card.recording_path
    assert_card_tells_what_asterisk_did(sessions, card, told, Path(asterisk_sandbox.recordings_dir))
    assert "card_closed_from_cel" not in [event.kind for event in card.events]


async def test_call_waiting_in_a_queue_when_the_server_is_killed_is_closed_by_reconcile(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    crashing_server: AgiProcess,
    asterisk_sandbox: SandboxInfo,
) -> None:
    call = await ami.call(DID, CALLER)
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)  # GET DATA starts the prompt; keys before it are dropped
    await ami.press(call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    await wait_card(sessions, call.linkedid, lambda card: card.queue_entered_at is not None)
    crashing_server.kill()  # the caller waits in the queue
    await ami.wait_for_operator(call, "appointments", timeout=30)
    settings = load_settings(sandbox_ami_env(asterisk_sandbox))
    assert await alive_in_asterisk(settings, call, True)
    await talk_and_hang_up(ami, call)
    assert not await alive_in_asterisk(settings, call, False)
    told = await asterisk_record(sessions, call)
    with sessions() as session:
        left = session.scalar(select(Call).where(Call.linkedid == call.linkedid))
    assert left is not None and left.ended_at is None and left.status == "ringing"

    crashing_server.start()  # its reconcile timer finds the card left open
    card = await wait_card(sessions, call.linkedid, timeout=40)
    assert card.queue == "appointments"
    assert_card_tells_what_asterisk_did(sessions, card, told, Path(asterisk_sandbox.recordings_dir))
    assert "card_closed_from_cel" in [event.kind for event in card.events]


async def test_call_arriving_while_the_server_is_down_gets_a_whole_card_at_its_hangup(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    crashing_server: AgiProcess,
    asterisk_sandbox: SandboxInfo,
) -> None:
    crashing_server.kill()
    call = await ami.call(DID, CALLER)
    await ami.wait_for_operator(call, "reception", timeout=30)
    crashing_server.start()
    await talk_and_hang_up(ami, call)

    card = await wait_card(
        sessions,
        call.linkedid,
        lambda card: card.ended_at is not None and card.recording_state != "pending",
    )
    told = await asterisk_record(sessions, call)
    assert (card.queue, card.src_number, card.did) == ("reception", CALLER, DID)
    assert (card.recording_path or "").startswith("fallback/")
    assert card.queue_entered_at is not None
    assert abs(seconds(told.queue_entered_at, card.queue_entered_at)) <= 1
    assert_card_tells_what_asterisk_did(sessions, card, told, Path(asterisk_sandbox.recordings_dir))
    assert "card_created_late" in [event.kind for event in card.events]
    with sessions() as session:
        assert (
            len(session.scalars(select(Call.id).where(Call.linkedid == call.linkedid)).all()) == 1
        )
