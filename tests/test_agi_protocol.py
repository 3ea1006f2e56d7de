"""The FastAGI wire against a fake Asterisk that writes the way res_agi.c does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastagi.protocol import (
    AgiCall,
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    AgiReply,
    AgiTimeout,
    GetDataResult,
    escape_argument,
    parse_reply_line,
    read_headers,
)

HEADERS = {
    "agi_network": "yes",
    "agi_network_script": "incoming?lang=de&test=",
    "agi_uniqueid": "1795361204.1",
    "agi_callerid": "0301234567",
    "agi_arg_1": "support",
    "agi_arg_2": "two words",
}


def asterisk_split(line: str) -> list[str]:
    """Split a command line into words as parse_args() in res_agi.c does."""
    words: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                words.append([])
                whitespace = False
            continue
        if char in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            words.append([])
            whitespace = False
        words[-1].append(char)
        escaped = False
    return ["".join(word) for word in words]


class FakeAsterisk:
    """Asterisk's end of the socket: reads command lines, writes replies in fragments."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, *pieces: bytes) -> None:
        """Write each piece on its own, letting the other side read in between."""
        for piece in pieces:
            self.writer.write(piece)
            await self.writer.drain()
            await asyncio.sleep(0.002)

    async def reply(self, *lines: str) -> None:
        """Write each line in two writes, split mid-line."""
        for line in lines:
            data = (line + "\n").encode()
            await self.send(data[: len(data) // 2], data[len(data) // 2 :])

    async def expect(self) -> str:
        """The next command line the server sent."""
        raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), 2.0)
        return raw.decode().rstrip("\n")

    async def expect_nothing(self, wait: float = 0.05) -> None:
        """Nothing was sent."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.reader.readuntil(b"\n"), wait)

    async def expect_eof(self) -> None:
        """The server closed the socket."""
        assert await asyncio.wait_for(self.reader.read(), 2.0) == b""


@pytest.fixture
async def wire() -> AsyncIterator[tuple[AgiCall, FakeAsterisk]]:
    """An AgiCall on one end of a socket pair, a FakeAsterisk on the other."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    peer_reader, peer_writer = await asyncio.open_connection(sock=theirs)
    call = AgiCall(reader, writer, dict(HEADERS), peer="test", command_timeout=1.0)
    yield call, FakeAsterisk(peer_reader, peer_writer)
    await call.close()
    peer_writer.close()
    with contextlib.suppress(ConnectionError):
        await peer_writer.wait_closed()


def feed_later(
    reader: asyncio.StreamReader, *pieces: bytes, pause: float = 0.002, eof: bool = False
) -> asyncio.Task[None]:
    """Feed a StreamReader piece by piece, as one write per line arrives."""

    async def run() -> None:
        for piece in pieces:
            reader.feed_data(piece)
            await asyncio.sleep(pause)
        if eof:
            reader.feed_eof()

    return asyncio.get_running_loop().create_task(run())


# --- reply lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=1 (1795361204.1)", AgiReply(200, "1", "1795361204.1", None, "")),
        ("200 result=1 (a (b) c)", AgiReply(200, "1", "a (b) c", None, "")),
        ("200 result=1 (with spaces)", AgiReply(200, "1", "with spaces", None, "")),
        ("200 result=0", AgiReply(200, "0", None, None, "")),
        ("200 result=0 endpos=12345", AgiReply(200, "0", None, 12345, "")),
        ("200 result=-1 endpos=0", AgiReply(200, "-1", None, 0, "")),
        ("200 result= (timeout)", AgiReply(200, "", "timeout", None, "")),
        ("200 result=12 (timeout)", AgiReply(200, "12", "timeout", None, "")),
        ("200 result=1 (dtmf) endpos=800", AgiReply(200, "1", "dtmf", 800, "")),
        ("200 result=1 ()", AgiReply(200, "1", "", None, "")),
        ("510 Invalid or unknown command", AgiReply(510, "", None, None, "")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AgiReply(511, "", None, None, ""),
        ),
    ],
)
def test_reply_line_parses_result_data_and_endpos(line: str, expected: AgiReply) -> None:
    reply = parse_reply_line(line)
    assert (reply.code, reply.result, reply.data, reply.endpos) == (
        expected.code,
        expected.result,
        expected.data,
        expected.endpos,
    )
    assert reply.text == line


@pytest.mark.parametrize("line", ["", "HELLO", "20 result=1", "200 noresult", "200 result=1 (x"])
def test_garbage_reply_line_is_a_protocol_error(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply_line(line)


# --- escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("", '""'),
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("two\r\nlines", '"two  lines"'),
    ],
)
def test_escape_argument_quotes_and_flattens(value: str, escaped: str) -> None:
    assert escape_argument(value) == escaped


@settings(database=None)  # no .hypothesis/ folder in the repo
@given(st.text())
def test_escaped_argument_splits_back_into_the_one_original_value(value: str) -> None:
    escaped = escape_argument(value)
    assert "\r" not in escaped and "\n" not in escaped
    flat = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    assert asterisk_split(f"SET VARIABLE X {escaped}") == ["SET", "VARIABLE", "X", flat]


async def test_caller_name_cannot_smuggle_a_second_command(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    setting = asyncio.create_task(call.set_variable("CC_NAME", 'x"\nEXEC System "rm'))
    line = await asterisk.expect()
    assert asterisk_split(line) == ["SET", "VARIABLE", "CC_NAME", 'x" EXEC System "rm']
    await asterisk.reply("200 result=1")
    await setting
    await asterisk.expect_nothing()


# --- header block --------------------------------------------------------------------------


async def test_headers_arrive_fragmented_and_decode_a_cut_utf8_name() -> None:
    reader = asyncio.StreamReader()
    name = "Jürgen Mü".encode()[:-1]  # Asterisk cut the name inside the bytes of 'ü'
    feeding = feed_later(
        reader,
        b"agi_network: yes\n",
        b"agi_network_script: incom",
        b"ing?x=1\n",
        b"agi_calleridname: " + name + b"\n",
        b"agi_accountcode: \n",
        b"agi_callerid: unkn",
        b"own\r\n",
        b"\n",
        b"HANGUP\n",  # belongs to the session, must stay unread
    )
    headers = await read_headers(reader, timeout=1.0)
    await feeding
    assert headers == {
        "agi_network": "yes",
        "agi_network_script": "incoming?x=1",
        "agi_calleridname": "Jürgen M\ufffd",
        "agi_accountcode": "",
        "agi_callerid": "unknown",
    }
    assert await reader.readuntil(b"\n") == b"HANGUP\n"


async def test_peer_closing_before_the_empty_line_ends_header_reading() -> None:
    reader = asyncio.StreamReader()
    feed_later(reader, b"agi_network: yes\n", b"agi_uniq", eof=True)
    with pytest.raises(AgiProtocolError, match="closed"):
        await asyncio.wait_for(read_headers(reader, timeout=5.0), 1.0)


async def test_slow_header_block_times_out() -> None:
    reader = asyncio.StreamReader()
    feeding = feed_later(reader, *[b"agi_x%d: y\n" % n for n in range(100)], pause=0.05)
    with pytest.raises(AgiTimeout):
        await read_headers(reader, timeout=0.2)
    feeding.cancel()


@pytest.mark.parametrize(
    "block",
    [
        b"".join(b"agi_arg_%d: %s\n" % (n, b"x" * 100) for n in range(200)) + b"\n",
        b"agi_calleridname: " + b"x" * 70000,
    ],
)
async def test_oversized_header_block_is_refused(block: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(block)
    with pytest.raises(AgiProtocolError):
        await read_headers(reader, timeout=1.0)


@pytest.mark.parametrize(
    "block",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
        b"agi_network yes\n\n",
        b"agi_uniqueid: 1\nagi_calleridname: x\nagi_uniqueid: 2\n\n",  # LF smuggled into a name
        b"agi_uniqueid: 1\nagi_calleridname: x\nEXEC System\n\n",
    ],
)
async def test_non_agi_header_block_is_refused(block: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(block)
    with pytest.raises(AgiProtocolError):
        await read_headers(reader, timeout=1.0)


# --- the call ------------------------------------------------------------------------------


async def test_call_exposes_route_query_args_and_peer(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, _ = wire
    assert call.route == "incoming"
    assert call.query == {"lang": "de", "test": ""}
    assert call.args == ["support", "two words"]
    assert call.peer == "test"
    assert call.headers["agi_uniqueid"] == "1795361204.1"
    assert not call.hungup


async def test_get_variable_returns_value_or_none(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.get_variable("CC_CARD_ID"))
    assert await asterisk.expect() == 'GET VARIABLE "CC_CARD_ID"'
    await asterisk.reply("200 result=1 (42)")
    assert await task == "42"
    task = asyncio.create_task(call.get_full_variable("${CHANNEL(linkedid)}"))
    assert await asterisk.expect() == 'GET FULL VARIABLE "${CHANNEL(linkedid)}"'
    await asterisk.reply("200 result=1 (a (b) c)")
    assert await task == "a (b) c"
    task = asyncio.create_task(call.get_variable("UNSET"))
    await asterisk.expect()
    await asterisk.reply("200 result=0")
    assert await task is None


async def test_plain_values_are_set_in_one_round_trip(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    task = asyncio.create_task(
        call.set_variables(
            {
                "CC_CARD_ID": "42",
                "CC_RECORDING": "2026/11/24/1795361204.1.wav",
                "CC_ACTION": "queue",
            }
        )
    )
    assert await asterisk.expect() == (
        'EXEC "MSet" "CC_CARD_ID=42,CC_RECORDING=2026/11/24/1795361204.1.wav,CC_ACTION=queue"'
    )
    await asterisk.reply("200 result=0")
    await task


@pytest.mark.parametrize(
    "odd", ["a,b", 'say "hi"', "back\\slash", "two words", "", "x)(y", "${SHELL(id)}", "k=v"]
)
async def test_a_value_mset_would_misread_is_set_on_its_own_escaped(
    wire: tuple[AgiCall, FakeAsterisk], odd: str
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.set_variables({"CC_QUEUE": odd, "CC_ACTION": "queue"}))
    await answer_set_variables(asterisk, [("CC_QUEUE", odd), ("CC_ACTION", "queue")])
    await task


async def test_an_asterisk_without_mset_gets_one_set_variable_each(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.set_variables({"CC_QUEUE": "support", "CC_ACTION": "queue"}))
    assert (await asterisk.expect()).startswith('EXEC "MSet"')
    await asterisk.reply("200 result=-2")  # res_agi: no such application
    await answer_set_variables(asterisk, [("CC_QUEUE", "support"), ("CC_ACTION", "queue")])
    await task


async def answer_set_variables(asterisk: FakeAsterisk, expected: list[tuple[str, str]]) -> None:
    """Expect one SET VARIABLE per (name, value), in order, and answer each."""
    for name, value in expected:
        assert asterisk_split(await asterisk.expect()) == ["SET", "VARIABLE", name, value]
        await asterisk.reply("200 result=1")


async def test_hangup_without_pending_command_blocks_live_only_commands(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    await asterisk.send(b"HAN", b"GUP\n")
    await asyncio.sleep(0.01)
    assert call.hungup
    with pytest.raises(AgiHangup):
        await call.stream_file("welcome")
    with pytest.raises(AgiHangup):
        await call.get_data("menu", 3000, 1)
    task = asyncio.create_task(call.get_variable("DIALSTATUS"))
    assert await asterisk.expect() == 'GET VARIABLE "DIALSTATUS"'  # STREAM FILE never sent
    await asterisk.reply("200 result=1 (BUSY)")
    assert await task == "BUSY"
    putting = asyncio.create_task(call.command("DATABASE PUT", "cc", "k", "v"))
    assert await asterisk.expect() == 'DATABASE PUT "cc" "k" "v"'
    await asterisk.reply("200 result=1")
    await putting


async def test_hangup_twice_between_command_and_reply_is_not_the_reply(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.stream_file("welcome", "12"))
    assert await asterisk.expect() == 'STREAM FILE "welcome" "12"'
    await asterisk.reply("HANGUP", "HANGUP", "200 result=50 endpos=8000")
    assert await task == "2"
    assert call.hungup
    task = asyncio.create_task(call.set_variable("CC_X", "1"))
    assert await asterisk.expect() == 'SET VARIABLE "CC_X" "1"'
    await asterisk.reply("200 result=1")
    await task


async def test_511_raises_hangup_and_marks_the_channel_dead(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.answer())
    await asterisk.expect()
    await asterisk.reply("511 Command Not Permitted on a dead channel or intercept routine")
    with pytest.raises(AgiHangup):
        await task
    assert call.hungup


async def test_510_raises_command_error_and_keeps_replies_in_step(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    noop = asyncio.create_task(call.command("NOOP"))
    await asterisk.expect()
    await asterisk.reply("510 Invalid or unknown command")
    with pytest.raises(AgiCommandError) as error:
        await noop
    assert error.value.code == 510
    task = asyncio.create_task(call.get_variable("X"))
    await asterisk.expect()
    await asterisk.reply("200 result=1 (next)")
    assert await task == "next"


async def test_multiline_520_is_read_to_its_end(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    getting = asyncio.create_task(call.get_data("menu", 5000, 1))
    await asterisk.expect()
    await asterisk.reply(
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
        "HANGUP",
        "     Stream the given file, and receive DTMF data.",
        "520 End of proper usage.",
    )
    with pytest.raises(AgiCommandError) as error:
        await getting
    assert error.value.code == 520
    assert "Usage: GET DATA" in error.value.usage
    assert "Stream the given file" in error.value.usage
    task = asyncio.create_task(call.get_variable("X"))
    await asterisk.expect()
    await asterisk.reply("200 result=1 (in step)")
    assert await task == "in step"


async def test_one_line_520_is_a_command_error(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    verbose = asyncio.create_task(call.verbose("x"))
    await asterisk.expect()
    await asterisk.reply("520 Invalid command syntax.  Proper usage not available.")
    with pytest.raises(AgiCommandError, match="not available"):
        await verbose
    task = asyncio.create_task(call.get_variable("X"))
    await asterisk.expect()
    await asterisk.reply("200 result=0")
    assert await task is None


async def test_no_reply_in_time_raises_timeout_and_closes_the_session(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    with pytest.raises(AgiTimeout):
        await call.command("NOOP", timeout=0.05)
    assert await asterisk.expect() == "NOOP"
    # A late reply could pair with the next command, so nothing more is sent.
    with pytest.raises(AgiTimeout):
        await call.get_variable("X")
    await asterisk.expect_eof()


async def test_each_command_keeps_its_own_time_limit(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    """The session's one timer follows each command's limit: shorter or longer than the last."""
    call, asterisk = wire
    slow = asyncio.create_task(call.command("NOOP", timeout=5.0))
    assert await asterisk.expect() == "NOOP"
    await asyncio.sleep(0.1)  # well past the next command's limit, well within this one's
    await asterisk.reply("200 result=0")
    assert (await slow).result == "0"
    # A shorter limit than the one the session's timer was set for still ends the command.
    with pytest.raises(AgiTimeout, match="within 0.05 s"):
        await call.command("NOOP", timeout=0.05)
    assert await asterisk.expect() == "NOOP"
    await asterisk.expect_eof()


async def test_a_reply_slower_than_the_last_limit_but_within_its_own_arrives(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    quick = asyncio.create_task(call.command("NOOP", timeout=0.05))
    assert await asterisk.expect() == "NOOP"
    await asterisk.reply("200 result=0")
    await quick
    slow = asyncio.create_task(call.get_variable("X"))  # the session's limit: 1 s
    assert await asterisk.expect() == 'GET VARIABLE "X"'
    await asyncio.sleep(0.2)  # the first command's timer fires meanwhile
    await asterisk.reply("200 result=1 (late but in time)")
    assert await slow == "late but in time"


@pytest.mark.parametrize(
    ("words", "line"),
    [
        (("SET VARIABLE", "A", "b c"), 'SET VARIABLE "A" "b c"'),
        (("set", "variable", "A", "b"), 'SET VARIABLE "A" "b"'),
        (("GET FULL VARIABLE", "${X}"), 'GET FULL VARIABLE "${X}"'),
        (("get  full", "variable", "${X}"), 'GET FULL VARIABLE "${X}"'),
        (("EXEC", "MSet", "A=1"), 'EXEC "MSet" "A=1"'),
        (("NOOP",), "NOOP"),
    ],
)
async def test_command_keywords_are_told_from_arguments(
    wire: tuple[AgiCall, FakeAsterisk], words: tuple[str, ...], line: str
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.command(*words))
    assert await asterisk.expect() == line
    await asterisk.reply("200 result=1")
    await task


async def test_peer_closing_mid_command_raises_hangup(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.get_variable("X"))
    await asterisk.expect()
    await asterisk.send(b"200 res")
    asterisk.writer.close()
    with pytest.raises(AgiHangup):
        await task
    assert call.hungup
    with pytest.raises(AgiHangup):
        await call.set_variable("CC_X", "1")


async def test_get_data_results(
    wire: tuple[AgiCall, FakeAsterisk], caplog: pytest.LogCaptureFixture
) -> None:
    call, asterisk = wire
    cases = [
        ("200 result=123", GetDataResult("123", timed_out=False, hungup=False)),
        ("200 result=1 (timeout)", GetDataResult("1", timed_out=True, hungup=False)),
        ("200 result= (timeout)", GetDataResult("", timed_out=True, hungup=False)),
        ("200 result=-1", GetDataResult("", timed_out=False, hungup=True)),
    ]
    for reply, expected in cases:
        task = asyncio.create_task(call.get_data("cc/menu", 5000, 3))
        assert await asterisk.expect() == 'GET DATA "cc/menu" "5000" "3"'
        await asterisk.reply(reply)
        assert await task == expected
    assert "cc/menu" in caplog.text


@pytest.mark.parametrize(
    ("reply", "digit"),
    [
        ("200 result=0 endpos=16000", None),
        ("200 result=35 endpos=100", "#"),
        ("200 result=-1 endpos=0", None),
    ],
)
async def test_stream_file_returns_the_digit_pressed(
    wire: tuple[AgiCall, FakeAsterisk], reply: str, digit: str | None
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.stream_file("cc/closed"))
    assert await asterisk.expect() == 'STREAM FILE "cc/closed" ""'
    await asterisk.reply(reply)
    assert await task == digit


async def test_commands_run_one_at_a_time(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    first = asyncio.create_task(call.get_variable("A"))
    second = asyncio.create_task(call.get_variable("B"))
    assert await asterisk.expect() == 'GET VARIABLE "A"'
    await asterisk.expect_nothing()
    await asterisk.reply("200 result=1 (a)")
    assert await asterisk.expect() == 'GET VARIABLE "B"'
    await asterisk.reply("200 result=1 (b)")
    assert (await first, await second) == ("a", "b")


async def test_unsolicited_line_is_never_taken_as_a_reply(
    wire: tuple[AgiCall, FakeAsterisk], caplog: pytest.LogCaptureFixture
) -> None:
    call, asterisk = wire
    await asterisk.reply("200 result=1 (stale)")
    await asyncio.sleep(0.01)
    task = asyncio.create_task(call.get_variable("X"))
    await asterisk.expect()
    await asterisk.reply("200 result=1 (fresh)")
    assert await task == "fresh"
    assert "stale" in caplog.text


async def test_mark_dead_lets_only_dead_channel_commands_through(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    call.mark_dead()
    with pytest.raises(AgiHangup):
        await call.answer()
    task = asyncio.create_task(call.verbose("still here", 3))
    assert await asterisk.expect() == 'VERBOSE "still here" "3"'
    await asterisk.reply("200 result=1")
    await task


@pytest.mark.parametrize(
    "words",
    [
        ("SET VARIABLE", "X", "y" * 8200),
        ("EXEC", "Log", *["a"] * 126),
        ("RUN", "x"),
        ("SET", "x"),
    ],
)
async def test_invalid_command_is_refused_before_sending(
    wire: tuple[AgiCall, FakeAsterisk], words: tuple[str, ...]
) -> None:
    call, asterisk = wire
    with pytest.raises(ValueError):
        await call.command(*words)
    await asterisk.expect_nothing()


async def test_command_keywords_may_be_given_word_by_word(
    wire: tuple[AgiCall, FakeAsterisk],
) -> None:
    call, asterisk = wire
    task = asyncio.create_task(call.command("get", "full", "variable", "${X}"))
    assert await asterisk.expect() == 'GET FULL VARIABLE "${X}"'
    await asterisk.reply("200 result=1 (x)")
    assert (await task).data == "x"


async def test_clean_session_logs_no_warning(
    wire: tuple[AgiCall, FakeAsterisk], caplog: pytest.LogCaptureFixture
) -> None:
    call, asterisk = wire
    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(call.command("NOOP"))
        await asterisk.expect()
        await asterisk.reply("200 result=0")
        await task
    assert caplog.records == []


async def test_closed_call_refuses_commands(wire: tuple[AgiCall, FakeAsterisk]) -> None:
    call, asterisk = wire
    await call.close()
    with pytest.raises(AgiHangup):
        await call.set_variable("CC_X", "1")
    await asterisk.expect_eof()
