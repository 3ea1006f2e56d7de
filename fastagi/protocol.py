"""The FastAGI wire: header block, command lines, replies and the HANGUP event."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qsl

from callcards import metrics

log = logging.getLogger(__name__)

#: Longest command line Asterisk reads, newline included.
MAX_LINE_BYTES = 8192
#: parse_args() in res_agi.c keeps MAX_ARGS - 1 = 127 words (command keywords included).
MAX_WORDS = 127
#: Values MSet takes as they are: Asterisk's application argument parsing gives
#: , " \\ ( ) [ ] { } | = and spaces at either end a meaning; none of them is here.
_PLAIN_VALUE = re.compile(r"[-A-Za-z0-9_./:+@]+")
#: Unanswered lines kept before the peer is taken for a flood.
_MAX_PENDING_LINES = 64
#: Unsent bytes past which a command waits for the peer to read (one line is under 8 KiB).
_WRITE_BUFFER_BYTES = 65536

#: Every AGI command of Asterisk 22, so command() can tell keywords from arguments.
AGI_COMMANDS = frozenset(
    {
        "ANSWER",
        "ASYNCAGI BREAK",
        "CHANNEL STATUS",
        "CONTROL STREAM FILE",
        "DATABASE DEL",
        "DATABASE DELTREE",
        "DATABASE GET",
        "DATABASE PUT",
        "EXEC",
        "GET DATA",
        "GET FULL VARIABLE",
        "GET OPTION",
        "GET VARIABLE",
        "GOSUB",
        "HANGUP",
        "NOOP",
        "RECEIVE CHAR",
        "RECEIVE TEXT",
        "RECORD FILE",
        "SAY ALPHA",
        "SAY DATE",
        "SAY DATETIME",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY PHONETIC",
        "SAY TIME",
        "SEND IMAGE",
        "SEND TEXT",
        "SET AUTOHANGUP",
        "SET CALLERID",
        "SET CONTEXT",
        "SET EXTENSION",
        "SET MUSIC",
        "SET PRIORITY",
        "SET VARIABLE",
        "SPEECH ACTIVATE GRAMMAR",
        "SPEECH CREATE",
        "SPEECH DEACTIVATE GRAMMAR",
        "SPEECH DESTROY",
        "SPEECH LOAD GRAMMAR",
        "SPEECH RECOGNIZE",
        "SPEECH SET",
        "SPEECH UNLOAD GRAMMAR",
        "STREAM FILE",
        "TDD MODE",
        "VERBOSE",
        "WAIT FOR DIGIT",
    }
)
#: Commands Asterisk still runs once the channel is dead; the rest get 511.
DEAD_CHANNEL_COMMANDS = frozenset(
    {
        "GET VARIABLE",
        "GET FULL VARIABLE",
        "SET VARIABLE",
        "VERBOSE",
        "EXEC",
        "NOOP",
        "DATABASE GET",
        "DATABASE PUT",
        "DATABASE DEL",
        "DATABASE DELTREE",
    }
)


class AgiError(Exception):
    """Anything that went wrong on a FastAGI session."""


class AgiHangup(AgiError):
    """The channel is gone: HANGUP seen, 511, or the peer closed the socket."""


class AgiCommandError(AgiError):
    """Asterisk refused a command: 510 (unknown) or 520 (bad syntax, with usage)."""

    def __init__(self, code: int, usage: str, command: str = "") -> None:
        super().__init__(f"{command or 'AGI'}: {code} {usage}".rstrip())
        self.code = code
        self.usage = usage


class AgiTimeout(AgiError):
    """No reply (or no header block) within the time allowed."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI."""


@dataclass(frozen=True)
class AgiReply:
    """One reply: '200 result=<v>[ (data)][ endpos=<n>]' or an error code."""

    code: int
    result: str
    data: str | None
    endpos: int | None
    text: str


@dataclass(frozen=True)
class GetDataResult:
    """What GET DATA collected."""

    digits: str
    timed_out: bool
    hungup: bool


_CODE = re.compile(r"(\d{3})(?:[ -]|$)")
# Greedy data so '(a (b) c)' keeps its inner parentheses; endpos only after the data.
_RESULT = re.compile(r"result=(\S*)(?: \((.*)\))?(?: endpos=(-?\d+))?")


def parse_reply_line(line: str) -> AgiReply:
    """Parse one reply line; raise AgiProtocolError when it is not one."""
    code_match = _CODE.match(line)
    if code_match is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    code = int(code_match.group(1))
    if code != 200:
        return AgiReply(code, "", None, None, line)
    result = _RESULT.fullmatch(line, 4)
    if result is None:
        raise AgiProtocolError(f"malformed 200 reply: {line[:80]!r}")
    endpos = int(result.group(3)) if result.group(3) is not None else None
    return AgiReply(code, result.group(1), result.group(2), endpos, line)


def escape_argument(value: str) -> str:
    """Quote one argument the way res_agi.c's parse_args() reads it back as one word."""
    # CR/LF would end the command line (command smuggling); NUL would cut it short in C.
    flat = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mset_argument(values: dict[str, str]) -> str | None:
    """`name=value,...` for EXEC MSet, or None when a value is not plain (or one is enough)."""
    if len(values) < 2 or not all(_PLAIN_VALUE.fullmatch(value) for value in values.values()):
        return None
    return ",".join(f"{name}={value}" for name, value in values.items())


async def read_headers(
    reader: asyncio.StreamReader, *, timeout: float, max_bytes: int = 16384
) -> dict[str, str]:
    """Read the agi_* header block up to its empty line."""
    headers: dict[str, str] = {}
    total = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await reader.readuntil(b"\n")
                total += len(raw)
                if total > max_bytes:
                    raise AgiProtocolError(f"header block over {max_bytes} bytes")
                # Asterisk sends caller names raw: a name cut mid UTF-8 character must not fail.
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line:
                    return headers
                name, sep, value = line.partition(": ")
                if not sep or not name.startswith("agi_"):
                    raise AgiProtocolError(f"not an AGI header line: {line[:80]!r}")
                if name in headers:
                    # Only a CR/LF smuggled into a caller name repeats a header: refuse it.
                    raise AgiProtocolError(f"header {name} sent twice")
                headers[name] = value
    except TimeoutError:
        raise AgiTimeout(f"header block not complete within {timeout} s") from None
    except asyncio.IncompleteReadError:
        raise AgiProtocolError("peer closed before the end of the header block") from None
    except asyncio.LimitOverrunError:
        raise AgiProtocolError("header line too long") from None


def _split_command(words: tuple[str, ...]) -> tuple[str, list[str]]:
    """Tell the command keywords (longest known prefix) from its arguments."""
    # The usual call names the command in one word ("GET VARIABLE"); no command's words
    # begin another's, so only a blank next word (joined into the keywords below) differs.
    if words and words[0] in AGI_COMMANDS and (len(words) == 1 or words[1].strip()):
        return words[0], list(words[1:])
    for count in (3, 2, 1):
        keywords = " ".join(" ".join(words[:count]).upper().split())
        if len(words) >= count and keywords in AGI_COMMANDS:
            return keywords, list(words[count:])
    raise ValueError(f"unknown AGI command: {' '.join(words[:3])!r}")


class AgiCall:
    """One FastAGI session: the headers plus the command channel."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
        *,
        peer: str = "",
        command_timeout: float = 30.0,
    ) -> None:
        self.headers = headers
        self.peer = peer
        script = headers.get("agi_network_script", "")
        path, _, query = script.partition("?")
        self.route = path.lstrip("/").split("/", 1)[0]
        self.query = dict(parse_qsl(query, keep_blank_values=True))
        self.args: list[str] = []
        while (arg := headers.get(f"agi_arg_{len(self.args) + 1}")) is not None:
            self.args.append(arg)
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout
        self._lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        # Reply lines not yet taken, and the future a command waiting for one sleeps on.
        self._lines: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None
        # One timer per session, not one per command: a command only moves the deadline;
        # the timer, when it fires, ends the command past it or sleeps on to the new one.
        self._deadline = 0.0
        self._busy = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_at = 0.0
        self._hungup = False
        self._failure: tuple[type[AgiError], str] | None = None
        self._reader_task = self._loop.create_task(self._read_lines())

    @property
    def uniqueid(self) -> str:
        """Asterisk's uniqueid of the channel, for logs."""
        return self.headers.get("agi_uniqueid", "?")

    @property
    def hungup(self) -> bool:
        """True once the channel is known dead (HANGUP seen, 511, peer gone or mark_dead())."""
        return self._hungup

    def mark_dead(self) -> None:
        """Treat the channel as dead from the start (AGI run from a hangup handler)."""
        self._hungup = True

    async def _read_lines(self) -> None:
        """Demultiplex incoming lines: HANGUP is an event, everything else a reply line."""
        failure: tuple[type[AgiError], str] = (AgiHangup, "peer closed the connection")
        readuntil = self._reader.readuntil
        lines = self._lines
        try:
            while True:
                raw = await readuntil(b"\n")
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line == "HANGUP":
                    # Sent at any moment, maybe twice (res_agi.c run_agi); never a reply.
                    self._hungup = True
                    continue
                if len(lines) >= _MAX_PENDING_LINES:
                    failure = (AgiProtocolError, "too many unsolicited lines")
                    break
                lines.append(line)
                self._wake()
        except asyncio.LimitOverrunError:
            failure = (AgiProtocolError, "reply line too long")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self._hungup = True
        except Exception:
            log.exception("AGI %s: reading replies failed", self.uniqueid)
            failure = (AgiProtocolError, "reading replies failed")
        self._fail(*failure)

    def _wake(self, exc: BaseException | None = None) -> None:
        """Wake the command waiting for a line (with exc raised in it, when given)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def _fail(self, kind: type[AgiError], message: str) -> None:
        """Make the session unusable; the first reason given sticks."""
        if self._failure is None:
            self._failure = (kind, message)
        self._wake()

    async def _next_line(self) -> str:
        while not self._lines:
            if self._failure is not None:
                raise self._failure[0](self._failure[1])
            if self._loop.time() >= self._deadline:
                raise TimeoutError
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._lines.popleft()

    def _arm(self, limit: float) -> None:
        """Give the command now sent until limit seconds from now."""
        self._deadline = deadline = self._loop.time() + limit
        self._busy = True
        if self._watchdog is None or self._watchdog_at > deadline:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watchdog_at = deadline
            self._watchdog = self._loop.call_at(deadline, self._on_watchdog)

    def _on_watchdog(self) -> None:
        self._watchdog = None
        if not self._busy:
            return  # no command in flight: the next one arms the timer again
        if self._loop.time() >= self._deadline:
            self._wake(TimeoutError())
        else:
            self._watchdog_at = self._deadline
            self._watchdog = self._loop.call_at(self._deadline, self._on_watchdog)

    async def _read_reply(self) -> AgiReply:
        """Read one reply, a multi-line 520 to its last line."""
        first = await self._next_line()
        if not first.startswith("520-"):
            return parse_reply_line(first)
        lines = [first]
        while not lines[-1].startswith("520 "):
            lines.append(await self._next_line())
        return AgiReply(520, "", None, None, "\n".join(lines))

    def _drop_stale_lines(self) -> None:
        """Drop lines no command asked for, so they are never taken as the next reply."""
        while self._lines:
            line = self._lines.popleft()
            log.warning("AGI %s: dropped unsolicited line %r", self.uniqueid, line[:80])

    async def _send(self, data: bytes) -> None:
        """Write one command line; wait for the socket only when the peer is not reading."""
        if self._writer.transport.is_closing():
            raise ConnectionResetError("connection lost")
        self._writer.write(data)
        if self._writer.transport.get_write_buffer_size() > _WRITE_BUFFER_BYTES:
            async with asyncio.timeout_at(self._deadline):
                await self._writer.drain()

    async def command(self, *words: str, timeout: float | None = None) -> AgiReply:
        """Send one command (arguments escaped) and return its 200 reply."""
        keywords, args = _split_command(words)
        line = " ".join([keywords, *map(escape_argument, args)]) if args else keywords
        data = line.encode("utf-8", errors="replace") + b"\n"
        if len(data) > MAX_LINE_BYTES:
            raise ValueError(f"{keywords}: command line of {len(data)} bytes over {MAX_LINE_BYTES}")
        if len(args) + keywords.count(" ") + 1 > MAX_WORDS:
            raise ValueError(f"{keywords}: more than {MAX_WORDS} words")
        async with self._lock:
            if self._failure is not None:
                raise self._failure[0](f"{keywords} not sent: {self._failure[1]}")
            if self._hungup and keywords not in DEAD_CHANNEL_COMMANDS:
                raise AgiHangup(f"{keywords} not sent: channel hung up")
            if self._lines:
                self._drop_stale_lines()
            limit = self._timeout if timeout is None else timeout
            sent = time.perf_counter()
            self._arm(limit)
            try:
                await self._send(data)
                reply = await self._read_reply()
                metrics.AGI_COMMAND.observe(time.perf_counter() - sent)
            except TimeoutError:
                # A late reply would pair with the next command: the session is over.
                self._abandon(AgiTimeout, f"no reply to {keywords} within {limit} s")
                raise AgiTimeout(f"no reply to {keywords} within {limit} s") from None
            except asyncio.CancelledError:
                self._abandon(AgiError, f"{keywords} was cancelled")
                raise
            except (ConnectionError, OSError):
                self._hungup = True
                self._abandon(AgiHangup, "connection lost")
                raise AgiHangup(f"{keywords}: connection lost") from None
            except AgiProtocolError as exc:
                self._abandon(AgiProtocolError, str(exc))
                raise
            finally:
                self._busy = False
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self._hungup = True
            raise AgiHangup(f"{keywords}: 511 channel is dead")
        if reply.code in (510, 520):
            usage = "\n".join(reply.text.split("\n")[1:-1]) or reply.text[4:]
            raise AgiCommandError(reply.code, usage, keywords)
        raise AgiProtocolError(f"{keywords}: unexpected reply {reply.text[:80]!r}")

    def _abandon(self, kind: type[AgiError], message: str) -> None:
        self._fail(kind, message)
        self._writer.close()

    async def get_variable(self, name: str) -> str | None:
        """Value of a channel variable, None when it is not set."""
        reply = await self.command("GET VARIABLE", name)
        return (reply.data or "") if reply.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        """Evaluate an expression such as '${CHANNEL(linkedid)}' on the channel."""
        reply = await self.command("GET FULL VARIABLE", expression)
        return (reply.data or "") if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (SET VARIABLE always answers 1)."""
        await self.command("SET VARIABLE", name, value)

    async def set_variables(self, values: dict[str, str]) -> None:
        """Set channel variables in order, in one round trip (EXEC MSet) when it is safe.

        Only values of plain characters go through MSet, which has no escaping to speak
        of (it strips quotes and splits on commas); any other value, an empty one, or an
        Asterisk without MSet gets one SET VARIABLE each, whose arguments are escaped.
        """
        pairs = mset_argument(values)
        if pairs is not None and (await self.command("EXEC", "MSet", pairs)).result != "-2":
            return
        for name, value in values.items():
            await self.set_variable(name, value)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> GetDataResult:
        """Play a prompt and collect up to max_digits DTMF digits."""
        reply = await self.command("GET DATA", prompt, str(timeout_ms), str(max_digits))
        if reply.result == "-1":
            # res_agi.c answers -1 both on hangup and on a missing prompt file.
            log.warning(
                "AGI %s: GET DATA %s gave -1 (hangup or missing prompt)", self.uniqueid, prompt
            )
            return GetDataResult("", timed_out=False, hungup=True)
        return GetDataResult(reply.result, timed_out=reply.data == "timeout", hungup=False)

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        """Play a file; return the escape digit pressed, if any."""
        reply = await self.command("STREAM FILE", prompt, escape_digits)
        if reply.result.startswith("-"):
            # Missing file or hangup; a dead channel shows on the next command (511/HANGUP).
            log.warning("AGI %s: STREAM FILE %s gave %s", self.uniqueid, prompt, reply.result)
            return None
        code = int(reply.result) if reply.result.isdigit() else 0
        return chr(code) if code > 0 else None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Say `digits` one by one; return the escape digit pressed, if any."""
        reply = await self.command("SAY DIGITS", digits, escape_digits)
        if reply.result.startswith("-"):
            log.warning("AGI %s: SAY DIGITS gave %s", self.uniqueid, reply.result)
            return None
        code = int(reply.result) if reply.result.isdigit() else 0
        return chr(code) if code > 0 else None

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write a line to the Asterisk console at a verbosity level."""
        await self.command("VERBOSE", message, str(level))

    async def answer(self) -> None:
        """Answer the channel."""
        reply = await self.command("ANSWER")
        if reply.result.startswith("-"):
            raise AgiHangup("ANSWER failed")

    async def close(self) -> None:
        """Stop reading and close the socket (ends the AGI() in the dialplan)."""
        self._fail(AgiHangup, "session closed")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._reader_task.cancel()
        self._writer.close()
        # wait() rather than await: a cancellation of our own caller must not be swallowed.
        await asyncio.wait([self._reader_task])
        # Nothing left to send, the transport closes in the next turn of the loop: the wait
        # then needs no timer (asyncio.timeout(None) arms none), one less per session.
        limit = 2.0 if self._writer.transport.get_write_buffer_size() else None
        try:
            async with asyncio.timeout(limit):
                await self._writer.wait_closed()
        except TimeoutError:
            self._writer.transport.abort()  # a peer that does not read must not hold us
        except (ConnectionError, OSError):
            pass
