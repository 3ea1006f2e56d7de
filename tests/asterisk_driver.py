"""Drive test calls through the sandbox Asterisk over AMI (panoramisk's Manager)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from callcards import sandbox
from callcards.sandbox import SandboxInfo

Event: TypeAlias = Message
Predicate: TypeAlias = Callable[[Event], bool]


def start_sandbox_for_tests(
    *,
    agi_address: str = "127.0.0.1:4573",
    database_url: str | None = None,
    recordings_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> SandboxInfo:
    """Start the sandbox for a test session on a free AMI port.

    Never a skip: scripts/test.sh builds the sandbox, so one that cannot run is a failure.
    """
    missing = _why_sandbox_cannot_run(cache_dir)
    if missing:
        pytest.fail(f"the Asterisk sandbox cannot run: {missing} (run scripts/test.sh)")
    return sandbox.up(
        agi_address=agi_address,
        ami_port=free_port(),
        recordings_dir=recordings_dir,
        cache_dir=cache_dir,
        database_url=database_url,
        sip_port=free_udp_port(),
        ws_port=free_port(),
    )


def _why_sandbox_cannot_run(cache_dir: Path | None) -> str | None:
    """What this machine lacks for the sandbox, or None."""
    if os.geteuid() != 0:
        return "it needs root (chroot)"
    root = (cache_dir or sandbox.default_cache_dir()) / "asterisk-root"
    if not (root / "usr/sbin/asterisk").is_file() and shutil.which("debootstrap") is None:
        return f"{root} is not built and debootstrap is not installed"
    return None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_udp_port() -> int:
    """A UDP port on loopback that nothing is bound to right now (the sandbox's SIP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TestCall:
    """One call placed through a Local channel pair.

    `channel_id` is the ;1 half: the caller's "phone" (PlayDTMF and the
    caller's hangup go there). `dialplan_id` is the ;2 half: it runs our
    dialplan, so it is the card's channel (agi_uniqueid). Asterisk gives both
    halves the ;1 half's uniqueid as linkedid, so the card key (linkedid) is
    `channel_id`.
    """

    __test__ = False  # not a pytest test class

    channel_id: str
    dialplan_id: str
    exten: str
    caller_id: str
    context: str
    # Index into the driver's event log when the call was placed.
    since: int
    # Where wait_for_agi() continues, so a second GET DATA is a new match.
    agi_cursor: int = 0
    originate: asyncio.Future[Any] | None = field(default=None, repr=False)

    @property
    def linkedid(self) -> str:
        """The call's linkedid (the card key): the uniqueid of the originated ;1 half."""
        return self.channel_id


class AsteriskDriver:
    """An AMI session that places test calls and waits for their events."""

    def __init__(
        self, host: str, port: int, user: str, secret: str, *, timeout: float = 15.0
    ) -> None:
        self.host, self.port, self.user, self.secret = host, port, user, secret
        self.timeout = timeout
        self.events: list[Event] = []
        self._new_event = asyncio.Event()
        self._last_call_since = 0
        self._manager: _Manager | None = None

    @classmethod
    def for_sandbox(cls, info: SandboxInfo, *, timeout: float = 15.0) -> AsteriskDriver:
        """A driver for the running sandbox."""
        return cls(info.ami_host, info.ami_port, info.ami_user, info.ami_secret, timeout=timeout)

    async def __aenter__(self) -> AsteriskDriver:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and log in; every event from then on is kept in `events`."""
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[None] = loop.create_future()

        def on_connect(_manager: Manager) -> None:
            if not connected.done():
                connected.set_result(None)

        # No keep-alive pings: a test session is short, and a Ping's reply is noise.
        manager = _Manager(
            host=self.host, port=self.port, loop=loop, ping_delay=3600, on_connect=on_connect
        )
        manager.register_event("*", self._on_event)
        self._manager = manager
        manager.connect()
        await asyncio.wait_for(connected, self.timeout)
        # The login is ours (not panoramisk's), so a wrong secret is an error here.
        reply = await self.action(
            {"Action": "Login", "Username": self.user, "Secret": self.secret, "Events": "on"}
        )
        if reply.response != "Success":
            raise AssertionError(f"AMI login as {self.user} failed: {reply.message}")

    async def close(self) -> None:
        """Log off and close the connection."""
        if self._manager is None:
            return
        manager, self._manager = self._manager, None
        manager.closing = True
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(manager.send_action({"Action": "Logoff"}), 2)
        manager.close()

    def _on_event(self, _manager: Manager, event: Event) -> None:
        """Keep every event; wake the waiters."""
        self.events.append(event)
        self._new_event.set()
        self._new_event = asyncio.Event()

    async def action(
        self, action: dict[str, str], timeout: float | None = None, *, as_list: bool = False
    ) -> Any:
        """Send an AMI action and return its response (as_list: the response and its events)."""
        if self._manager is None:
            raise RuntimeError("not connected")
        # Say whether a list follows: panoramisk's guess reads a missing "Async"
        # key for any reply ending "successfully queued" (PlayDTMF) and the
        # KeyError kills the connection (panoramisk 1.4, actions.py Action.multi).
        future = self._manager.send_action(action, as_list=as_list)
        return await asyncio.wait_for(future, timeout or self.timeout)

    async def wait_for(
        self, predicate: Predicate, *, since: int = 0, timeout: float | None = None
    ) -> tuple[int, Event]:
        """The first event from index `since` on that matches; (its index, it)."""
        deadline = asyncio.get_running_loop().time() + (timeout or self.timeout)
        start = since
        while True:
            # No await between the scan and taking the Event: nothing can slip in.
            new_event = self._new_event
            for index in range(start, len(self.events)):
                if predicate(self.events[index]):
                    return index, self.events[index]
            start = len(self.events)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no matching AMI event within {timeout or self.timeout} s")
            try:
                await asyncio.wait_for(new_event.wait(), remaining)
            except TimeoutError:
                continue

    async def call(
        self, did: str, caller_id: str, context: str = "from-trunk", *, caller_name: str = ""
    ) -> TestCall:
        """Place a call from `caller_id` to `did`; returns once the dialplan half exists."""
        return await self._originate(did, caller_id, context, caller_name, timeout_ms=None)

    async def outbound(
        self, extension: str, number: str, *, context: str = "from-operators", ring_sec: int = 60
    ) -> TestCall:
        """An operator at `extension` dials `number` (as their phone would, into from-operators)."""
        return await self._originate(
            number, extension, context, f"Operator {extension}", timeout_ms=ring_sec * 1000
        )

    async def _originate(
        self, exten: str, caller_id: str, context: str, caller_name: str, timeout_ms: int | None
    ) -> TestCall:
        """Originate Local/<exten>@<context> with Wait on the ;1 half."""
        if self._manager is None:
            raise RuntimeError("not connected")
        token = uuid.uuid4().hex[:12]
        call = TestCall(
            channel_id=f"cc-test-{token}-1",
            dialplan_id=f"cc-test-{token}-2",
            exten=exten,
            caller_id=caller_id,
            context=context,
            since=len(self.events),
        )
        call.agi_cursor = call.since
        self._last_call_since = call.since
        action = {
            "Action": "Originate",
            "Channel": f"Local/{exten}@{context}",
            "CallerID": f'"{caller_name}" <{caller_id}>' if caller_name else caller_id,
            "Application": "Wait",
            "Data": "120",
            "Async": "true",
            "ChannelId": call.channel_id,
            "OtherChannelId": call.dialplan_id,
        }
        if timeout_ms is not None:
            action["Timeout"] = str(timeout_ms)
        # Async Originate answers twice: "queued" now, OriginateResponse once
        # the ;1 half is answered or fails. Don't wait for the second here.
        call.originate = self._manager.send_action(action)
        created = asyncio.ensure_future(
            self.wait_for(
                lambda e: e.event == "Newchannel" and e.uniqueid == call.dialplan_id,
                since=call.since,
            )
        )
        await asyncio.wait({created, call.originate}, return_when=asyncio.FIRST_COMPLETED)
        if call.originate.done() and not _originated(call.originate.result()):
            # A failed Originate is still a call (busy, unanswered outbound) when
            # the dialplan half ran; only without its Newchannel did nothing start.
            try:
                await asyncio.wait_for(created, 2)
            except TimeoutError:
                raise AssertionError(
                    f"Originate of Local/{exten}@{context} failed: {call.originate.result()}"
                ) from None
        await created
        return call

    async def wait_for_agi(
        self, call: TestCall, command_prefix: str = "GET DATA", timeout: float = 15
    ) -> Event:
        """The next AGIExecStart of a `command_prefix` command on the dialplan half."""
        prefix = command_prefix.upper()
        index, event = await self.wait_for(
            lambda e: (
                e.event == "AGIExecStart"
                and e.uniqueid == call.dialplan_id
                and str(e.command).upper().startswith(prefix)
            ),
            since=call.agi_cursor,
            timeout=timeout,
        )
        call.agi_cursor = index + 1
        return event

    async def press(self, call: TestCall, digits: str, duration_ms: int = 120) -> None:
        """The caller presses `digits` (sent from the ;1 half into the dialplan half)."""
        for digit in digits:
            reply = await self.action(
                {
                    "Action": "PlayDTMF",
                    "Channel": call.channel_id,
                    "Digit": digit,
                    "Duration": str(duration_ms),
                }
            )
            _expect_success(reply, f"PlayDTMF {digit}")

    async def hangup(self, call: TestCall) -> None:
        """The caller hangs up (the ;1 half, as a phone would)."""
        reply = await self.action({"Action": "Hangup", "Channel": call.channel_id, "Cause": "16"})
        _expect_success(reply, "Hangup")

    async def speak(self, call: TestCall, sound: str) -> None:
        """The caller says `sound` (an Asterisk sound name) into the call, then hangs up.

        The caller's half leaves its Wait for the sandbox's [cc-test-caller], which plays
        the sound into the call and hangs up, as a caller leaving a message does.
        """
        reply = await self.action(
            {
                "Action": "Redirect",
                "Channel": call.channel_id,
                "Context": "cc-test-caller",
                "Exten": sound,
                "Priority": "1",
            }
        )
        _expect_success(reply, f"Redirect to {sound}@cc-test-caller")

    async def talk(self, call: TestCall, sound: str) -> None:
        """The caller says `sound` into the call and stays on the line (cc-test-caller-talks)."""
        reply = await self.action(
            {
                "Action": "Redirect",
                "Channel": call.channel_id,
                "Context": "cc-test-caller-talks",
                "Exten": sound,
                "Priority": "1",
            }
        )
        _expect_success(reply, f"Redirect to {sound}@cc-test-caller-talks")

    async def wait_for_application(
        self, call: TestCall, application: str, timeout: float = 15
    ) -> Event:
        """The dialplan half starting a dialplan application (Newexten), e.g. Record."""
        _, event = await self.wait_for(
            lambda e: (
                e.event == "Newexten"
                and e.uniqueid == call.dialplan_id
                and e.application == application
            ),
            since=call.since,
            timeout=timeout,
        )
        return event

    async def wait_hungup(self, call: TestCall, timeout: float = 15) -> Event:
        """The Hangup event of the dialplan half (its hangup handler has run by then)."""
        _, event = await self.wait_for(
            lambda e: e.event == "Hangup" and e.uniqueid == call.dialplan_id,
            since=call.since,
            timeout=timeout,
        )
        return event

    async def wait_for_queue_join(
        self, queue: str, timeout: float = 15, call: TestCall | None = None
    ) -> Event:
        """QueueCallerJoin of `queue` (by `call`, or by anyone since the last call placed)."""
        since = call.since if call else self._last_call_since
        _, event = await self.wait_for(
            lambda e: (
                e.event == "QueueCallerJoin"
                and e.queue == queue
                and (call is None or e.uniqueid == call.dialplan_id)
            ),
            since=since,
            timeout=timeout,
        )
        return event

    async def wait_for_operator(
        self, call: TestCall, queue: str | None = None, timeout: float = 15
    ) -> Event:
        """AgentConnect of `call` (in `queue`), once the operator is in the bridge.

        The operator's channel is the event's DestChannel. A transfer sent
        between AgentConnect and the bridge fails ("Transfer invalid").
        """
        _, connect = await self.wait_for(
            lambda e: (
                e.event == "AgentConnect"
                and e.uniqueid == call.dialplan_id
                and (queue is None or e.queue == queue)
            ),
            since=call.since,
            timeout=timeout,
        )
        await self.wait_for(
            lambda e: e.event == "BridgeEnter" and e.channel == connect.destchannel,
            since=call.since,
            timeout=timeout,
        )
        return connect

    async def operator_blind_transfer(
        self, operator_channel: str, exten: str, context: str = "cc-transfer"
    ) -> None:
        """The operator blind-transfers the caller to `exten` (a queue name).

        A phone's REFER lands in TRANSFER_CONTEXT (cc-transfer, set by
        [cc-operator-connected]); AMI BlindTransfer ignores that variable and
        uses the operator's own context unless Context is given, so it is given.
        """
        reply = await self.action(
            {
                "Action": "BlindTransfer",
                "Channel": operator_channel,
                "Context": context,
                "Exten": exten,
            }
        )
        _expect_success(reply, "BlindTransfer")

    async def operator_hangup(self, operator_channel: str) -> None:
        """The operator hangs up (their channel, e.g. AgentConnect's DestChannel)."""
        reply = await self.action({"Action": "Hangup", "Channel": operator_channel, "Cause": "16"})
        _expect_success(reply, "Hangup")

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None:
        """Pause or unpause a member (as the staff site does)."""
        reply = await self.action(
            {
                "Action": "QueuePause",
                "Queue": queue,
                "Interface": interface,
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )
        _expect_success(reply, "QueuePause")

    async def set_global(self, name: str, value: str) -> None:
        """Set a dialplan global (Setvar without a channel)."""
        reply = await self.action({"Action": "Setvar", "Variable": name, "Value": value})
        _expect_success(reply, f"Setvar {name}")

    async def get_var(self, call: TestCall, name: str) -> str:
        """A variable or function of the dialplan half (while it is alive)."""
        reply = await self.action(
            {"Action": "Getvar", "Channel": call.dialplan_id, "Variable": name}
        )
        _expect_success(reply, f"Getvar {name}")
        return str(reply.value)

    async def redirect(self, call: TestCall, context: str, exten: str, priority: int = 1) -> None:
        """Send the caller's dialplan half elsewhere (the staff site's transfer)."""
        reply = await self.action(
            {
                "Action": "Redirect",
                "Channel": call.dialplan_id,
                "Context": context,
                "Exten": exten,
                "Priority": str(priority),
            }
        )
        _expect_success(reply, "Redirect")

    async def command(self, cli: str) -> str:
        """An Asterisk CLI command over AMI; its output."""
        reply = await self.action({"Action": "Command", "Command": cli})
        _expect_success(reply, f"Command {cli!r}")
        output = reply.get("Output", "")
        return "\n".join(output) if isinstance(output, list) else str(output)

    def events_of(self, call: TestCall) -> list[Event]:
        """Every event about either half of `call` (for assertions and debugging)."""
        ids = {call.channel_id, call.dialplan_id}
        return [e for e in self.events[call.since :] if e.uniqueid in ids]


class _Manager(Manager):
    """panoramisk's Manager without its reconnect loop once we close."""

    closing = False

    def connection_lost(self, exc: Exception | None) -> None:
        """Reconnect only while the driver is open."""
        if not self.closing:
            super().connection_lost(exc)


def _originated(replies: Any) -> bool:
    """Whether an async Originate's replies end in a successful OriginateResponse."""
    last = replies[-1] if isinstance(replies, list) else replies
    return bool(last.response == "Success")


def _expect_success(reply: Any, what: str) -> None:
    """Raise with Asterisk's message when an action failed."""
    first = reply[0] if isinstance(reply, list) else reply
    if first.response != "Success":
        raise AssertionError(f"AMI {what} failed: {first.message}")


def restart_sandbox(info: SandboxInfo) -> None:
    """Restart the sandbox Asterisk (a server restart: its sockets close) and keep the test
    session's SandboxInfo describing the Asterisk that runs (later tests read its pid)."""
    object.__setattr__(info, "pid", sandbox.restart())
