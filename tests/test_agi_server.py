"""The FastAGI server against fake Asterisk clients on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from fastagi import server as server_module
from fastagi.protocol import AgiCall, AgiError
from fastagi.server import FastAgiServer, Route
from fastagi.variables import CC_ERROR
from tests.waiting import DEADLINE
from tests.waiting import eventually as wait_until


def accepting(port: int) -> bool:
    """Whether something listens on the loopback port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


ServerFactory = Callable[..., Awaitable[FastAgiServer]]


def header_block(script: str, uniqueid: str = "1795361204.1") -> list[bytes]:
    """The header lines Asterisk writes, one write each, the caller name cut mid UTF-8."""
    return [
        b"agi_network: yes\n",
        f"agi_network_script: {script}\n".encode(),
        b"agi_request: agi://127.0.0.1/" + script.encode() + b"\n",
        b"agi_channel: PJSIP/trunk-00000001\n",
        f"agi_uniqueid: {uniqueid}\n".encode(),
        b"agi_callerid: 0301234567\n",
        b"agi_calleridname: M\xc3\n",
        b"agi_accountcode: \n",
        b"agi_arg_1: support\n",
        b"\n",
    ]


class FakeAsterisk:
    """Asterisk's side of one FastAGI session: connects, sends headers, answers commands."""

    dialled: list[FakeAsterisk] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.dialled.append(self)

    @classmethod
    async def dial(
        cls, server: FastAgiServer, script: str | None = "incoming", uniqueid: str = "1795361204.1"
    ) -> FakeAsterisk:
        """Connect and, unless script is None, send the header block line by line."""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        asterisk = cls(reader, writer)
        if script is not None:
            lines = header_block(script, uniqueid)
            # One write per line, the script line even split mid-line.
            await asterisk.send(*lines[:1], lines[1][:12], lines[1][12:], *lines[2:])
        return asterisk

    async def send(self, *pieces: bytes) -> None:
        """Write each piece on its own."""
        for piece in pieces:
            self.writer.write(piece)
            await self.writer.drain()
            await asyncio.sleep(0.001)

    async def reply(self, line: str) -> None:
        """Answer the pending command."""
        await self.send((line + "\n").encode())

    async def expect(self) -> str:
        """The next command line the server sent."""
        raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), DEADLINE)
        return raw.decode().rstrip("\n")

    async def expect_eof(self, within: float = DEADLINE) -> None:
        """The server closed the socket."""
        try:
            data = await asyncio.wait_for(self.reader.read(), within)
        except ConnectionResetError:
            data = b""
        assert data == b""

    async def hang_up(self) -> None:
        """Close our end."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    """Start FastAgiServer instances on free ports; stop them after the test."""
    servers: list[FastAgiServer] = []

    async def start(routes: dict[str, Route], **options: Any) -> FastAgiServer:
        server = FastAgiServer(routes, port=0, **options)
        await server.start()
        servers.append(server)
        return server

    yield start
    while FakeAsterisk.dialled:
        await FakeAsterisk.dialled.pop().hang_up()
    for server in servers:
        await server.stop(grace=1.0)


async def test_route_gets_the_call_and_its_commands_are_answered(
    start_server: ServerFactory,
) -> None:
    seen: list[AgiCall] = []

    async def incoming(call: AgiCall) -> None:
        seen.append(call)
        linkedid = await call.get_full_variable("${CHANNEL(linkedid)}")
        await call.set_variable("CC_CARD_ID", f"card-{linkedid}")

    server = await start_server({"incoming": incoming})
    asterisk = await FakeAsterisk.dial(server, "incoming?lang=de")
    assert await asterisk.expect() == 'GET FULL VARIABLE "${CHANNEL(linkedid)}"'
    await asterisk.reply("200 result=1 (1795361204.1)")
    assert await asterisk.expect() == 'SET VARIABLE "CC_CARD_ID" "card-1795361204.1"'
    await asterisk.reply("200 result=1")
    await asterisk.expect_eof()
    call = seen[0]
    assert (call.route, call.query, call.args) == ("incoming", {"lang": "de"}, ["support"])
    assert call.headers["agi_calleridname"] == "M\ufffd"
    assert call.peer.startswith("127.0.0.1:")
    await wait_until(lambda: server.active_sessions == 0)


async def test_unknown_route_gets_a_verbose_line_and_is_closed(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server({})
    asterisk = await FakeAsterisk.dial(server, "nosuch")
    assert await asterisk.expect() == 'VERBOSE "callcards: unknown AGI route \'nosuch\'" "1"'
    await asterisk.reply("200 result=1")
    await asterisk.expect_eof()
    assert "unknown route 'nosuch'" in caplog.text


async def test_failing_route_reports_and_leaves_a_concurrent_call_alone(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def slow(call: AgiCall) -> None:
        await release.wait()
        await call.set_variable("CC_ACTION", "queue")

    async def broken(call: AgiCall) -> None:
        raise RuntimeError("database is down")

    server = await start_server({"slow": slow, "broken": broken})
    healthy = await FakeAsterisk.dial(server, "slow", uniqueid="100.1")
    failing = await FakeAsterisk.dial(server, "broken", uniqueid="100.2")
    assert await failing.expect() == 'VERBOSE "callcards: broken failed" "1"'
    await failing.reply("200 result=1")
    assert await failing.expect() == f'SET VARIABLE "{CC_ERROR}" "RuntimeError: database is down"'
    await failing.reply("200 result=1")
    await failing.expect_eof()
    assert "100.2" in caplog.text and "database is down" in caplog.text
    release.set()
    assert await healthy.expect() == 'SET VARIABLE "CC_ACTION" "queue"'
    await healthy.reply("200 result=1")
    await healthy.expect_eof()


async def test_failure_report_to_a_vanished_peer_is_ignored(start_server: ServerFactory) -> None:
    async def broken(call: AgiCall) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("late failure")

    server = await start_server({"broken": broken})
    asterisk = await FakeAsterisk.dial(server, "broken")
    await asterisk.hang_up()
    await wait_until(lambda: server.active_sessions == 0)
    again = await FakeAsterisk.dial(server, "broken")
    assert await again.expect() == 'VERBOSE "callcards: broken failed" "1"'


async def test_hangup_during_a_route_is_not_reported_as_failure(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def ivr(call: AgiCall) -> None:
        await call.stream_file("cc/welcome")
        await call.get_data("cc/menu", 3000, 1)

    server = await start_server({"ivr": ivr})
    asterisk = await FakeAsterisk.dial(server, "ivr")
    assert await asterisk.expect() == 'STREAM FILE "cc/welcome" ""'
    # Asterisk writes HANGUP right behind the reply of the command the hangup broke off.
    await asterisk.send(b"200 result=-1 endpos=0\nHANGUP\n")
    await asterisk.expect_eof()  # GET DATA and the failure reports were never sent
    assert "failed" not in caplog.text


async def test_command_timeout_ends_the_session(start_server: ServerFactory) -> None:
    async def incoming(call: AgiCall) -> None:
        await call.get_variable("CC_CARD_ID")

    server = await start_server({"incoming": incoming}, command_timeout=0.1)
    asterisk = await FakeAsterisk.dial(server)
    assert await asterisk.expect() == 'GET VARIABLE "CC_CARD_ID"'
    await asterisk.expect_eof()
    await wait_until(lambda: server.active_sessions == 0)


async def test_peer_outside_the_allowed_networks_is_closed_at_once(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[AgiCall] = []

    async def incoming(call: AgiCall) -> None:
        called.append(call)

    server = await start_server({"incoming": incoming}, allow=("10.0.0.0/8",))
    asterisk = await FakeAsterisk.dial(server, script=None)
    await asterisk.expect_eof()
    assert called == []
    assert "not in the allowed networks" in caplog.text


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.7", False),
        ("not-an-ip", False),
    ],
)
def test_allowlist_matches_addresses(address: str, allowed: bool) -> None:
    server = FastAgiServer({}, port=0)
    assert server._allowed(address) is allowed


async def test_peer_closing_before_the_header_end_ends_the_session(
    start_server: ServerFactory,
) -> None:
    server = await start_server({})
    asterisk = await FakeAsterisk.dial(server, script=None)
    await asterisk.send(b"agi_network: yes\n", b"agi_network_scr")
    await wait_until(lambda: server.active_sessions == 1)
    await asterisk.hang_up()
    await wait_until(lambda: server.active_sessions == 0)


async def test_slow_header_block_is_cut_off(start_server: ServerFactory) -> None:
    server = await start_server({}, header_timeout=0.2)
    asterisk = await FakeAsterisk.dial(server, script=None)
    for _ in range(3):
        await asterisk.send(b"agi_x: y\n")
        await asyncio.sleep(0.03)
    await asterisk.expect_eof()
    await wait_until(lambda: server.active_sessions == 0)


async def test_binary_garbage_is_closed_without_a_route(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[AgiCall] = []

    async def incoming(call: AgiCall) -> None:
        called.append(call)

    server = await start_server({"incoming": incoming})
    asterisk = await FakeAsterisk.dial(server, script=None)
    await asterisk.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\xff\xfe\n\n")
    await asterisk.expect_eof()
    assert called == []
    assert "bad session start" in caplog.text


async def test_connection_over_max_sessions_is_closed_at_once(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def slow(call: AgiCall) -> None:
        await release.wait()

    server = await start_server({"slow": slow}, max_sessions=1)
    first = await FakeAsterisk.dial(server, "slow")
    await wait_until(lambda: server.active_sessions == 1)
    second = await FakeAsterisk.dial(server, script=None)
    await second.expect_eof()
    assert "already 1 sessions" in caplog.text
    release.set()
    await first.expect_eof()


async def test_stop_waits_for_a_session_in_progress(start_server: ServerFactory) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(call: AgiCall) -> None:
        await release.wait()
        await call.set_variable("CC_ACTION", "queue")
        finished.append(call.route)

    server = await start_server({"slow": slow})
    serving = asyncio.create_task(server.serve_forever())
    asterisk = await FakeAsterisk.dial(server, "slow")
    await wait_until(lambda: server.active_sessions == 1)
    stopping = asyncio.create_task(server.stop(grace=DEADLINE))
    await wait_until(lambda: not accepting(server.port))  # stop() is under way
    assert not stopping.done()  # and waits for the session
    with pytest.raises(OSError):
        await FakeAsterisk.dial(server, script=None)  # no longer accepting
    release.set()
    assert await asterisk.expect() == 'SET VARIABLE "CC_ACTION" "queue"'
    await asterisk.reply("200 result=1")
    await asyncio.wait_for(stopping, DEADLINE)
    await asyncio.wait_for(serving, DEADLINE)
    assert finished == ["slow"]
    await asterisk.expect_eof()


async def test_stop_cancels_sessions_still_running_after_grace(start_server: ServerFactory) -> None:
    cancelled: list[bool] = []

    async def stuck(call: AgiCall) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    server = await start_server({"stuck": stuck})
    asterisk = await FakeAsterisk.dial(server, "stuck")
    await wait_until(lambda: server.active_sessions == 1)
    await asyncio.wait_for(server.stop(grace=0.1), DEADLINE)
    assert cancelled == [True]
    assert server.active_sessions == 0
    await asterisk.expect_eof()


async def test_route_errors_never_reach_the_event_loop(start_server: ServerFactory) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))

    async def broken(call: AgiCall) -> None:
        raise AgiError("protocol trouble")

    server = await start_server({"broken": broken})
    asterisk = await FakeAsterisk.dial(server, "broken")
    await asterisk.hang_up()
    await wait_until(lambda: server.active_sessions == 0)
    assert loop_errors == []


async def test_stop_closes_a_session_still_sending_headers(start_server: ServerFactory) -> None:
    server = await start_server({})
    asterisk = await FakeAsterisk.dial(server, script=None)
    await asterisk.send(b"agi_network: yes\n")
    await wait_until(lambda: server.active_sessions == 1)
    await asyncio.wait_for(server.stop(grace=0.1), DEADLINE)
    await asterisk.expect_eof()


async def test_a_connection_accepted_as_the_server_stops_is_closed_before_stop_returns(
    start_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    server = await start_server({})
    closing, closed = asyncio.Event(), asyncio.Event()
    real_close = server_module._close

    async def slow_close(writer: asyncio.StreamWriter) -> None:
        closing.set()
        await asyncio.sleep(0.2)  # a peer slow to take the close
        await real_close(writer)
        closed.set()

    monkeypatch.setattr(server_module, "_close", slow_close)
    server._stopping = True  # the moment between stop() starting and the socket closing
    asterisk = await FakeAsterisk.dial(server, script=None)
    await asyncio.wait_for(closing.wait(), DEADLINE)
    await asyncio.wait_for(server.stop(grace=0.1), DEADLINE)
    assert closed.is_set()  # nothing left for the loop's end to cancel
    await asterisk.expect_eof()
    assert loop_errors == []
