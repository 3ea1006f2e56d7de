"""Hostile peers on the AGI port: fuzzed bytes, thousands of idle sockets; calls go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastagi.protocol import AgiCall, AgiError, parse_reply_line, read_headers
from fastagi.server import FastAgiServer
from tests.fake_asterisk import FakeChannel
from tests.waiting import DEADLINE, eventually

HEADER_LINES = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from(
            [
                b"agi_network: yes",
                b"agi_uniqueid: 1.1",
                b"agi_arg_1: x",
                b"agi_callerid: \xd0\x98\xd0",
                b"",
                b"agi_extension:",
                b":::",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, database=None)
@given(lines=HEADER_LINES, end=st.sampled_from([b"", b"\n", b"\r\n", b"\n\n"]))
def test_any_header_bytes_give_headers_or_a_protocol_error(lines: list[bytes], end: bytes) -> None:
    async def read() -> dict[str, str]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"\n".join(lines) + end)
        reader.feed_eof()
        return await read_headers(reader, timeout=1.0)

    try:
        headers = asyncio.run(read())
    except AgiError:
        return
    assert all(name.startswith("agi_") for name in headers)
    assert all("\n" not in value and "\r" not in value for value in headers.values())


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(max_size=120))
def test_any_reply_line_parses_or_is_a_protocol_error(line: str) -> None:
    try:
        reply = parse_reply_line(line)
    except AgiError:
        return
    assert 100 <= reply.code <= 599


async def answer_route(call: AgiCall) -> None:
    """A route with no database: proves the server still serves calls."""
    await call.set_variable("CC_ACTION", "queue")


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    agi = FastAgiServer({"incoming": answer_route}, port=0, header_timeout=2.0, max_sessions=3000)
    await agi.start()
    yield agi
    await agi.stop(grace=1)


async def test_two_thousand_idle_sockets_do_not_stop_a_real_call(server: FastAgiServer) -> None:
    idle = []
    for _ in range(2000):  # never send a header (slow-loris)
        idle.append(await asyncio.open_connection("127.0.0.1", server.port))
    variables = await asyncio.wait_for(
        FakeChannel("incoming", uniqueid="busy.1").run("127.0.0.1", server.port), 5
    )
    assert variables["CC_ACTION"] == "queue"
    # The header timeout cuts every idle socket: each read ends once the server closes it.
    closed = sum(await asyncio.gather(*(closed_by_server(reader) for reader, _ in idle)))
    for _, writer in idle:
        writer.close()
    assert closed == 2000
    await eventually(lambda: server.active_sessions == 0, what="every idle session ending")


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the socket without a word (within the test's deadline)."""
    try:
        return await asyncio.wait_for(reader.read(1), DEADLINE) == b""
    except ConnectionResetError:
        return True


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.binary(min_size=1, max_size=2048))
async def test_random_bytes_never_stop_the_server(server: FastAgiServer, garbage: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(garbage)
    writer.write_eof()
    await asyncio.wait_for(reader.read(), 5)  # the server ends the session
    writer.close()
    variables = await FakeChannel("incoming", uniqueid="after.1").run("127.0.0.1", server.port)
    assert variables["CC_ACTION"] == "queue"
