"""The sandbox Asterisk runs etc_asterisk/ cleanly, and the dialplan keeps calls alive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg2
import pytest

from callcards import sandbox
from callcards.sandbox import SandboxInfo
from tests.asterisk_driver import (
    AsteriskDriver,
    Event,
    TestCall,
    free_port,
)

pytestmark = pytest.mark.asterisk

DEMO_DID = "74951234567"
CALLER = "79161234567"
OPERATORS = [f"Local/{ext}@cc-test-operators/n" for ext in sandbox.TEST_OPERATORS]


@pytest.fixture
async def ami(asterisk_sandbox: SandboxInfo) -> AsyncIterator[AsteriskDriver]:
    """An AMI driver with the FastAGI server unreachable (the dialplan's fallback)."""
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        # Nothing listens on a fresh free port: AGI() fails at once (connection refused).
        await driver.set_global("CC_AGI", f"agi://127.0.0.1:{free_port()}")
        try:
            yield driver
        finally:
            await driver.set_global("CC_AGI", f"agi://{asterisk_sandbox.agi_address}")
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
            await driver.set_global("CC_TEST_TALK_TIME", "600")


async def _var_set(ami: AsteriskDriver, call: TestCall, name: str, timeout: float = 15) -> str:
    """The value the dialplan half of `call` next sets `name` to (a VarSet event)."""
    _, event = await ami.wait_for(
        lambda e: e.event == "VarSet" and e.uniqueid == call.dialplan_id and e.variable == name,
        since=call.since,
        timeout=timeout,
    )
    return str(event.value)


def _var_sets(ami: AsteriskDriver, call: TestCall, name: str) -> list[str]:
    """Every value the dialplan half of `call` set `name` to, so far."""
    return [
        str(e.value)
        for e in ami.events_of(call)
        if e.event == "VarSet" and e.uniqueid == call.dialplan_id and e.variable == name
    ]


async def _operator_greeted(ami: AsteriskDriver, connect: Event) -> None:
    """Until the answering test operator has played its greeting (it then Waits)."""
    operator_dialplan_half = connect.destchannel[:-1] + "2"
    await ami.wait_for(
        lambda e: (
            e.event == "Newexten"
            and e.channel == operator_dialplan_half
            and e.application == "Wait"
        )
    )


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq wants it (no "+driver")."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+')[0]}://{rest}"


def _wait_for_file(path_glob: str, root: Path, timeout: float = 10) -> Path:
    """The recording matching `path_glob`, once MixMonitor has written audio into it.

    MixMonitor closes the file in its own thread after the hangup and sends no
    event for it, so this polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = sorted(root.glob(path_glob))
        if found and found[0].stat().st_size > 44:  # 44: a WAV header and no audio
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no recording with audio at {root}/{path_glob}: {found}")
        time.sleep(0.1)


def test_sandbox_boots_without_errors_and_loads_the_call_modules(
    asterisk_sandbox: SandboxInfo,
) -> None:
    # The logger thread writes "Asterisk Ready." a moment after the CLI says fully booted.
    deadline = time.monotonic() + 10
    while True:
        full_log = (asterisk_sandbox.log_dir / "full.log").read_text().splitlines()
        ready = next((i for i, line in enumerate(full_log) if "Asterisk Ready." in line), None)
        if ready is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ready is not None, "no 'Asterisk Ready.' in full.log"
    assert [line for line in full_log[:ready] if " ERROR[" in line] == []
    modules = ["chan_pjsip", "app_queue", "res_agi", "app_mixmonitor", "cdr_pgsql", "cel_pgsql"]
    for module in modules:
        assert "Running" in sandbox.cli(f"module show like {module}.so"), module
    assert "Logging:                    Enabled" in sandbox.cli("cdr show status")
    assert "CEL Logging: Enabled" in sandbox.cli("cel show status")


def test_status_reports_the_running_sandbox(asterisk_sandbox: SandboxInfo) -> None:
    status = sandbox.status()
    assert status["running"] is True
    assert status["pid"] == asterisk_sandbox.pid
    assert status["ami_port"] == asterisk_sandbox.ami_port
    assert status["recordings_dir_in_asterisk"] == "/srv/callcards-sandbox/recordings"
    assert "Asterisk 22." in status["version"]


@pytest.mark.parametrize("queue", ["reception", "appointments"])
def test_queues_have_the_test_operators_as_local_members(
    asterisk_sandbox: SandboxInfo, queue: str
) -> None:
    shown = sandbox.cli(f"queue show {queue}")
    assert "'rrmemory' strategy" in shown
    for member in OPERATORS:
        assert member in shown
    assert "PJSIP/" not in shown


async def test_both_local_halves_carry_the_originated_uniqueid_as_linkedid(
    ami: AsteriskDriver,
) -> None:
    call = await ami.call(DEMO_DID, CALLER)
    _, first = await ami.wait_for(
        lambda e: e.event == "Newchannel" and e.uniqueid == call.channel_id, since=call.since
    )
    _, second = await ami.wait_for(
        lambda e: e.event == "Newchannel" and e.uniqueid == call.dialplan_id, since=call.since
    )
    await ami.hangup(call)
    await ami.wait_hungup(call)
    assert first.channel.endswith(";1") and second.channel.endswith(";2")
    assert first.linkedid == second.linkedid == call.linkedid == call.channel_id


async def test_caller_keys_reach_the_get_data_of_a_fastagi_script(ami: AsteriskDriver) -> None:
    replies: list[str] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A stand-in `incoming` route: ask for 3 digits, then hang up the call."""
        headers = []
        while line := (await reader.readline()).decode().strip():
            headers.append(line)
        if "agi_network_script: incoming" not in headers:
            writer.close()  # the hangup handler's `hangup` route
            return
        for command in ("GET DATA beep 5000 3", "SET VARIABLE CC_ACTION hangup"):
            writer.write(f"{command}\n".encode())
            replies.append((await reader.readline()).decode().strip())
        writer.close()

    server = await asyncio.start_server(script, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await ami.set_global("CC_AGI", f"agi://127.0.0.1:{port}")
    async with server:
        call = await ami.call(DEMO_DID, CALLER)
        started = await ami.wait_for_agi(call, "GET DATA")
        await ami.press(call, "42#")
        await ami.wait_hungup(call)

    assert started.linkedid == call.linkedid
    assert replies == ["200 result=42", "200 result=1"]


async def test_fastagi_down_call_still_reaches_default_queue_operator_and_is_recorded(
    ami: AsteriskDriver, asterisk_sandbox: SandboxInfo
) -> None:
    call = await ami.call(DEMO_DID, CALLER)

    assert await _var_set(ami, call, "AGISTATUS") == "FAILURE"
    joined = await ami.wait_for_queue_join("reception", call=call)
    connect = await ami.wait_for_operator(call, queue="reception")
    await _operator_greeted(ami, connect)
    await ami.hangup(call)
    await ami.wait_hungup(call)

    assert joined.queue == "reception"
    assert connect.interface in OPERATORS
    recording = _wait_for_file(
        f"fallback/*/*/*/{call.dialplan_id}.wav", asterisk_sandbox.recordings_dir
    )
    assert recording.read_bytes()[:4] == b"RIFF"
    assert _var_sets(ami, call, "CC_RECORDING")[-1] == str(
        recording.relative_to(asterisk_sandbox.recordings_dir)
    )


async def test_operator_hangup_returns_from_queue_and_caller_hangup_does_not(
    ami: AsteriskDriver,
) -> None:
    await ami.set_global("CC_TEST_TALK_TIME", "1")
    by_operator = await ami.call(DEMO_DID, CALLER)
    await ami.wait_hungup(by_operator, timeout=30)
    await ami.set_global("CC_TEST_TALK_TIME", "600")
    by_caller = await ami.call(DEMO_DID, CALLER)
    await ami.wait_for_operator(by_caller)
    await ami.hangup(by_caller)
    await ami.wait_hungup(by_caller)

    # Queue() option c: both end with QUEUESTATUS=CONTINUE; only the operator's
    # hangup lets the dialplan go on to set CC_QUEUE_RETURNED.
    assert _var_sets(ami, by_operator, "QUEUESTATUS") == ["CONTINUE"]
    assert _var_sets(ami, by_operator, "CC_QUEUE_RETURNED") == ["1"]
    assert _var_sets(ami, by_caller, "CC_QUEUE_RETURNED") == []
    # A caller an operator talked to is never sent on to the queue's overflow.
    assert _var_sets(ami, by_operator, "CC_OVERFLOWS") == []


async def test_caller_hangup_while_operators_ring_abandons_the_queue(
    ami: AsteriskDriver,
) -> None:
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")
    call = await ami.call(DEMO_DID, CALLER)
    await ami.wait_for(
        lambda e: e.event == "AgentCalled" and e.uniqueid == call.dialplan_id, since=call.since
    )
    await ami.hangup(call)
    await ami.wait_hungup(call)
    _, abandoned = await ami.wait_for(
        lambda e: e.event == "QueueCallerAbandon" and e.uniqueid == call.dialplan_id,
        since=call.since,
    )

    assert abandoned.queue == "reception"
    assert _var_sets(ami, call, "CC_QUEUE_ENTERED") == ["1"]
    assert _var_sets(ami, call, "QUEUESTATUS") == []
    assert _var_sets(ami, call, "CC_QUEUE_RETURNED") == []


async def test_all_operators_paused_makes_queue_return_joinempty(ami: AsteriskDriver) -> None:
    for member in OPERATORS:
        await ami.queue_pause("reception", member, True)
    try:
        call = await ami.call(DEMO_DID, CALLER)
        await ami.wait_hungup(call)
    finally:
        for member in OPERATORS:
            await ami.queue_pause("reception", member, False)

    assert _var_sets(ami, call, "QUEUESTATUS") == ["JOINEMPTY"]
    assert _var_sets(ami, call, "CC_QUEUE_RETURNED") == ["1"]
    # The overflow step asked the (stopped) server once; the default queue had just
    # given the caller back, so the dialplan hung up rather than queue them there again.
    assert _var_sets(ami, call, "CC_OVERFLOWS") == ["1"]
    assert _var_sets(ami, call, "CC_ACTION") == [""]


async def test_outbound_call_to_a_busy_number_ends_with_dialstatus_busy(
    ami: AsteriskDriver,
) -> None:
    call = await ami.outbound("101", "84951112237")  # last digit 7: the test PSTN is busy
    await ami.wait_hungup(call)

    assert _var_sets(ami, call, "DIALSTATUS")[-1] == "BUSY"
    assert _var_sets(ami, call, "CC_DIAL_RETURNED") == ["1"]


async def test_calls_are_written_to_the_migrated_cdr_and_cel_tables(
    ami: AsteriskDriver, database_url: str
) -> None:
    call = await ami.call(DEMO_DID, CALLER)
    await ami.wait_for_operator(call)
    await ami.hangup(call)
    await ami.wait_hungup(call)

    # cdr_pgsql/cel_pgsql write from their own threads, with no AMI event.
    deadline = time.monotonic() + 10
    while True:
        with psycopg2.connect(_libpq(database_url)) as db, db.cursor() as cursor:
            cursor.execute(
                "SELECT dcontext, lastapp, disposition FROM asterisk_cdr WHERE linkedid = %s",
                (call.linkedid,),
            )
            cdrs = cursor.fetchall()
            cursor.execute(
                "SELECT DISTINCT eventtype FROM asterisk_cel WHERE linkedid = %s",
                (call.linkedid,),
            )
            cel_events = {row[0] for row in cursor.fetchall()}
        db.close()
        if "LINKEDID_END" in cel_events or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)

    assert ("cc-queue", "Queue", "ANSWERED") in cdrs
    assert {"CHAN_START", "ANSWER", "BRIDGE_ENTER", "HANGUP", "LINKEDID_END"} <= cel_events
