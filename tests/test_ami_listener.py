"""The AMI listener: Hold/Unhold events become hold changes on the call's card; it comes back
after Asterisk restarts, never stops the FastAGI server, and is off without an AMI secret.

Asterisk here is a scripted AMI peer on loopback (the protocol as Asterisk 22 speaks it);
the real Hold from a real phone is tests/test_hold_asterisk.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from panoramisk.message import Message

from callcards.config import load_settings
from fastagi.ami_listener import (
    LISTENED,
    AmiListener,
    HoldChange,
    QueueAnswer,
    ami_listener,
    hold_change,
    queue_answer,
    transfer_into_queue,
)
from fastagi.cards import Event
from fastagi.changes import CardChange, HoldChanged, TransferredAttended
from models import migrate
from tests.waiting import eventually

RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINKEDID = "1763900000.10"
SECRET = "s3cret"  # noqa: S105 (the scripted AMI's test login)


def hold_message(event: str = "Hold", **headers: str) -> Message:
    """An AMI event as panoramisk hands it over (case-insensitive headers)."""
    values = {
        "Event": event,
        "Privilege": "call,all",
        "Timestamp": "1763900042.250000",
        "Channel": "PJSIP/101-00000003",
        "Uniqueid": "1763900001.14",
        "Linkedid": LINKEDID,
        "MusicClass": "default",
    }
    values.update(headers)
    return Message({key: value for key, value in values.items() if value})


def test_a_hold_on_the_operator_s_channel_is_a_hold_on_the_call_s_card() -> None:
    change = hold_change(hold_message(), RECEIVED)
    assert change == HoldChange(
        LINKEDID,
        Event(
            "hold",
            datetime(2025, 11, 23, 12, 14, 2, 250000, tzinfo=UTC),
            {"channel": "PJSIP/101-00000003", "music_class": "default"},
            "1763900001.14",
        ),
    )


def test_an_unhold_is_taken_off_hold_at_asterisk_s_time() -> None:
    change = hold_change(hold_message("Unhold", MusicClass=""), RECEIVED)
    assert change is not None and change.event.kind == "unhold"
    assert change.event.data == {"channel": "PJSIP/101-00000003"}
    assert change.event.at.timestamp() == 1763900042.25


def test_without_asterisk_s_timestamp_the_time_it_arrived_counts() -> None:
    change = hold_change(hold_message(Timestamp=""), RECEIVED)
    assert change is not None and change.event.at == RECEIVED


def test_other_events_and_a_hold_with_no_linkedid_change_no_card() -> None:
    assert hold_change(hold_message("Newchannel"), RECEIVED) is None
    assert hold_change(hold_message("MusicOnHoldStart"), RECEIVED) is None
    assert hold_change(hold_message(Linkedid=""), RECEIVED) is None


#: What Asterisk 22 said when operator 101 (their call with the caller: PJSIP/101-00000000)
#: handed the caller over to 102, who had answered 101's call to the reception queue
#: (PJSIP/101-00000001), as heard in tests/test_softphone_browser.py (trimmed).
CONSULTATION = "1796647976.3"
AGENT_CONNECT = {
    "Event": "AgentConnect",
    "Queue": "reception",
    "Uniqueid": CONSULTATION,
    "Linkedid": CONSULTATION,
    "Channel": "PJSIP/101-00000001",
    "DestChannel": "PJSIP/102-00000002",
    "Interface": "PJSIP/102",
    "MemberName": "Иван Петров",
}
ATTENDED_TRANSFER = {
    "Event": "AttendedTransfer",
    "Timestamp": "1796647977.511813",
    "Result": "Success",
    "OrigTransfererChannel": "PJSIP/101-00000000",
    "OrigTransfererUniqueid": "1796647975.2",
    "OrigTransfererLinkedid": LINKEDID,
    "SecondTransfererChannel": "PJSIP/101-00000001",
    "SecondTransfererUniqueid": CONSULTATION,
    "SecondTransfererLinkedid": CONSULTATION,
    "TransfereeChannel": "Local/74951234567@from-trunk-00000000;2",
    "TransfereeUniqueid": "cc-test-2",
    "TransfereeLinkedid": LINKEDID,
    "TransferTargetChannel": "PJSIP/102-00000002",
    "TransferTargetUniqueid": "1796647976.4",
    "TransferTargetLinkedid": CONSULTATION,
    "DestType": "Link",
}
ANSWERS = {CONSULTATION: QueueAnswer("reception", "PJSIP/102")}


def test_an_attended_transfer_after_a_queue_answered_the_consultation_moves_the_card() -> None:
    assert queue_answer(Message(AGENT_CONNECT)) == (CONSULTATION, ANSWERS[CONSULTATION])
    moved = transfer_into_queue(Message(ATTENDED_TRANSFER), ANSWERS, RECEIVED)
    assert moved is not None
    assert moved.caller_channel == "Local/74951234567@from-trunk-00000000;2"
    assert moved.change == TransferredAttended(
        LINKEDID,
        to_queue="reception",
        extension="102",
        interface="PJSIP/102",
        at=datetime.fromtimestamp(1796647977.511813, UTC),
        channel_uniqueid="cc-test-2",
    )


def test_a_transfer_sent_on_the_consultation_finds_the_caller_as_the_target() -> None:
    # The phone sent the transfer on its second call: Asterisk's two halves change places.
    swapped = dict(ATTENDED_TRANSFER)
    for one, other in (("OrigTransferer", "SecondTransferer"), ("Transferee", "TransferTarget")):
        for field_name in ("Channel", "Uniqueid", "Linkedid"):
            swapped[one + field_name], swapped[other + field_name] = (
                ATTENDED_TRANSFER[other + field_name],
                ATTENDED_TRANSFER[one + field_name],
            )
    moved = transfer_into_queue(Message(swapped), ANSWERS, RECEIVED)
    assert moved is not None and moved.change.linkedid == LINKEDID
    assert moved.caller_channel == "Local/74951234567@from-trunk-00000000;2"


def test_other_transfers_change_no_card() -> None:
    failed = Message({**ATTENDED_TRANSFER, "Result": "Fail"})
    assert transfer_into_queue(failed, ANSWERS, RECEIVED) is None
    # A consultation with a colleague's extension: no queue answered it.
    assert transfer_into_queue(Message(ATTENDED_TRANSFER), {}, RECEIVED) is None
    nameless = Message({**ATTENDED_TRANSFER, "OrigTransfererLinkedid": ""})
    assert transfer_into_queue(nameless, ANSWERS, RECEIVED) is None
    assert transfer_into_queue(hold_message(), ANSWERS, RECEIVED) is None
    assert queue_answer(Message({**AGENT_CONNECT, "Queue": ""})) is None


@dataclass
class RecordedServices:
    """What the listener uses of AgiServices: the clock and the ordered card changes."""

    changes: list[tuple[str, CardChange[Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> datetime:
        return RECEIVED

    def change_card(self, linkedid: str, change: CardChange[Any]) -> None:
        self.changes.append((linkedid, change))
        self.changed.set()

    async def next_change(self) -> tuple[str, CardChange[Any]]:
        await asyncio.wait_for(self.changed.wait(), 5)
        self.changed.clear()
        return self.changes[-1]


class ScriptedAmi:
    """An AMI peer on loopback: greets, answers Login and Filter, sends what a test says."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.actions: list[dict[str, str]] = []
        self.sessions: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Asterisk stops: every session closes."""
        for writer in self.sessions:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def send(self, message: Message) -> None:
        """An event to the newest session."""
        lines = [f"{key}: {value}" for key, value in message.items()]
        self.sessions[-1].write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def answer(self, action: dict[str, str]) -> str:
        """What Asterisk answers to `action` (a test's peer answers more)."""
        ok = action["Action"] != "Login" or action.get("Secret") == self.secret
        reply = (
            "Response: Success\r\nMessage: Authentication accepted"
            if ok
            else "Response: Error\r\nMessage: Authentication failed"
        )
        return f"{reply}\r\nActionID: {action['ActionID']}\r\n\r\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while block := await reader.readuntil(b"\r\n\r\n"):
                action = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if line)
                self.actions.append(action)
                writer.write(self.answer(action).encode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def asterisk() -> AsyncIterator[ScriptedAmi]:
    ami = ScriptedAmi()
    await ami.start()
    yield ami
    await ami.stop()


def listener_for(port: int, services: RecordedServices, secret: str = SECRET) -> AmiListener:
    settings = replace(load_settings({}), ami_port=port, ami_secret=secret)
    return AmiListener(settings, services, retry_delays=(0.05,), timeout=2)  # type: ignore[arg-type]


async def test_holds_go_to_the_card_in_order_and_after_a_restart_too(asterisk: ScriptedAmi) -> None:
    services = RecordedServices()
    listener = listener_for(asterisk.port, services)
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        asterisk.send(hold_message())
        expected = hold_change(hold_message(), RECEIVED)
        assert expected is not None
        assert await services.next_change() == (LINKEDID, HoldChanged(LINKEDID, expected.event))
        asterisk.send(hold_message("Newchannel"))
        await asterisk.stop()  # Asterisk restarts
        await eventually(lambda: not listener.listening.is_set(), what="the listener noticing")
        assert not running.done()
        await asterisk.start(asterisk.port)
        await asyncio.wait_for(listener.listening.wait(), 5)
        asterisk.send(hold_message("Unhold"))
        linkedid, change = await services.next_change()
    finally:
        running.cancel()
    assert isinstance(change, HoldChanged)
    assert (linkedid, change.linkedid, change.event.kind) == (LINKEDID, LINKEDID, "unhold")
    assert len(services.changes) == 2  # the Newchannel changed nothing
    logins = [action for action in asterisk.actions if action["Action"] == "Login"]
    assert [login["Events"] for login in logins] == ["call,agent", "call,agent"]
    filters = [action["Filter"] for action in asterisk.actions if action["Action"] == "Filter"]
    assert filters == [f"Event: {name}" for name in LISTENED] * 2


async def test_an_attended_transfer_into_a_queue_moves_the_card_and_tells_the_dialplan(
    asterisk: ScriptedAmi,
) -> None:
    services = RecordedServices()
    listener = listener_for(asterisk.port, services)
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        asterisk.send(Message(AGENT_CONNECT))
        asterisk.send(Message(ATTENDED_TRANSFER))
        linkedid, change = await services.next_change()
        await eventually(
            lambda: any(action["Action"] == "Setvar" for action in asterisk.actions),
            what="the Setvar",
        )
    finally:
        running.cancel()
    assert isinstance(change, TransferredAttended)
    assert (linkedid, change.to_queue, change.extension) == (LINKEDID, "reception", "102")
    setvar = next(action for action in asterisk.actions if action["Action"] == "Setvar")
    assert (setvar["Channel"], setvar["Variable"], setvar["Value"]) == (
        "Local/74951234567@from-trunk-00000000;2",
        "CC_QUEUE",
        "reception",
    )


async def test_asterisk_not_there_yet_is_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    services = RecordedServices()
    listener = listener_for(port, services)
    running = asyncio.create_task(listener.run())
    try:
        with caplog.at_level(logging.WARNING, "fastagi.ami_listener"):
            await eventually(
                lambda: f"AMI at 127.0.0.1:{port}: unreachable" in caplog.text,
                what="the unreachable AMI logged",
            )
        assert not running.done()
        late = ScriptedAmi()
        await late.start(port)  # Asterisk starts after the FastAGI server
        await asyncio.wait_for(listener.listening.wait(), 5)
        late.send(hold_message())
        assert isinstance((await services.next_change())[1], HoldChanged)
        await late.stop()
    finally:
        running.cancel()


async def test_a_wrong_secret_is_logged_with_what_to_check(
    asterisk: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    listener = listener_for(asterisk.port, RecordedServices(), secret="wrong")
    running = asyncio.create_task(listener.run())
    with caplog.at_level(logging.WARNING, "fastagi.ami_listener"):
        await eventually(lambda: "Login refused" in caplog.text, what="the refusal logged")
    running.cancel()
    assert not listener.listening.is_set()
    assert (
        "Login refused: Authentication failed (check CALLCARDS_AMI_USER/SECRET against "
        "manager.conf)"
    ) in caplog.text


def test_without_an_ami_secret_there_is_no_listener(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "fastagi.ami_listener"):
        listener = ami_listener(load_settings({}), RecordedServices())  # type: ignore[arg-type]
    assert listener is None
    assert "AMI not configured (CALLCARDS_AMI_SECRET is empty)" in caplog.text


@pytest.mark.parametrize(
    ("ami_secret", "said"),
    [("", "AMI not configured"), ("s3cret", "unreachable ([Errno 111]")],
    ids=["ami-off", "ami-unreachable"],
)
def test_the_fastagi_server_serves_and_stops_whatever_ami_does(
    tmp_path: Path, ami_secret: str, said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    agi_port, ami_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CALLCARDS_JOURNAL_DIR": str(tmp_path / "journal"),
        "CALLCARDS_AMI_PORT": str(ami_port),
        "CALLCARDS_AMI_SECRET": ami_secret,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callcards.cli",
            "agi",
            "--listen",
            f"127.0.0.1:{agi_port}",
            "--grace",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert server.stdout is not None
    seen = []
    try:
        while line := server.stdout.readline().decode():  # until the listener has spoken
            seen.append(line)
            if said in line:
                break
        with socket.create_connection(("127.0.0.1", agi_port), timeout=5):
            pass  # FastAGI is served
    finally:
        server.send_signal(signal.SIGTERM)
        output = "".join(seen) + server.communicate(timeout=15)[0].decode()
    assert server.returncode == 0, output
    assert said in output and "ERROR fastagi.ami_listener" not in output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
