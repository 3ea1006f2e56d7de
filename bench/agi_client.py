"""A lean FastAGI peer playing Asterisk's part: header lines, replies, DTMF, HANGUP lines.

`Channel` is the one model of an Asterisk channel as an AGI script sees it; the route
tests drive our server with it too (tests/fake_asterisk.py). The load generator plays it
on a bare asyncio Protocol so that it spends as little of the machine's two cores as it
can: the server under test needs them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from dialplan.demo import DEMO_DID

#: One word of a command line as res_agi.c parse_args reads it: quoted chunks, backslash
#: escapes and plain characters glued together, split on spaces.
_WORD = re.compile(r'(?:"(?:[^"\\]|\\.)*"|\\.|[^ "\\])+')
_UNQUOTE = re.compile(r'\\(.)|"')


def split_command(line: str) -> list[str]:
    """Split a command line into words as Asterisk does (spaces, "quotes", \\ escapes)."""
    return [_UNQUOTE.sub(lambda match: match.group(1) or "", word) for word in _WORD.findall(line)]


@dataclass
class Channel:
    """One call's channel as an AGI script sees it (variables, keys, a hangup moment)."""

    route: str
    uniqueid: str
    linkedid: str | None = None
    extension: str = DEMO_DID
    caller_id: str = "+79161234567"
    caller_name: str = "Иванов Иван"
    channel: str | None = None
    #: AGI(agi://host/route,arg1,...): agi_arg_1, ...; when empty, what the dialplan passes.
    args: Sequence[str] = ()
    #: A dialplan from before the routes took arguments (AGI(${CC_AGI}/incoming) alone).
    old_dialplan: bool = False
    #: Plain variables and dialplan functions by name, e.g. "CDR(duration)".
    variables: dict[str, str] = field(default_factory=dict)
    keys: list[str | None] = field(default_factory=list)  # per GET DATA: digits or None
    hang_up_at_get_data: int | None = None  # this GET DATA (0-based) sees the caller leave
    dead: bool = False  # a hangup handler: only dead-channel commands work
    get_data_seen: int = 0
    commands: list[list[str]] | None = None  # a list here keeps every command received

    def header_lines(self) -> list[bytes]:
        """The header block, one line per element, in Asterisk's order, ending empty."""
        lines = [
            "agi_network: yes",
            f"agi_network_script: {self.route}",
            f"agi_request: agi://127.0.0.1/{self.route}",
            f"agi_channel: {self.channel or f'Local/{self.extension}@from-trunk-00000001;2'}",
            "agi_language: en",
            "agi_type: Local",
            f"agi_uniqueid: {self.uniqueid}",
            "agi_version: 22.10.1",
            f"agi_callerid: {self.caller_id}",
            f"agi_calleridname: {self.caller_name}",
            "agi_callingpres: 0",
            "agi_callingani2: 0",
            "agi_callington: 0",
            "agi_callingtns: 0",
            f"agi_dnid: {self.extension}",
            "agi_rdnis: unknown",
            "agi_context: from-trunk",
            f"agi_extension: {self.extension}",
            "agi_priority: 3",
            "agi_enhanced: 0.0",
            "agi_accountcode: ",
            "agi_threadid: 140000000000000",
            *(f"agi_arg_{n}: {value}" for n, value in enumerate(self.passed_args(), start=1)),
            "",
        ]
        return [line.encode() + b"\n" for line in lines]

    def passed_args(self) -> list[str]:
        """The AGI arguments: those given, else what etc_asterisk/extensions.conf passes."""
        if self.args or self.old_dialplan:
            return list(self.args)
        linkedid = self.linkedid or self.uniqueid
        card_id = self.variables.get("CC_CARD_ID", "")
        if self.route == "incoming":
            return [linkedid, card_id]
        if self.route == "hangup":
            return [linkedid, self.variables.get("CC_ACTION", ""), card_id]
        return []

    def reply(self, words: list[str]) -> list[str]:
        """Asterisk's reply lines to one command (a HANGUP line may come first)."""
        if self.commands is not None:
            self.commands.append(words)
        name = " ".join(words[:3]).upper()
        if name.startswith("GET FULL VARIABLE"):
            value = self._expand(words[3]) if len(words) > 3 else None
            return [f"200 result=1 ({value})" if value is not None else "200 result=0"]
        if name.startswith("GET VARIABLE"):
            value = self.variables.get(words[2]) if len(words) > 2 else None
            return [f"200 result=1 ({value})" if value is not None else "200 result=0"]
        if name.startswith("SET VARIABLE"):
            self.variables[words[2]] = words[3]
            return ["200 result=1"]
        if name.startswith(("VERBOSE", "NOOP")):
            return ["200 result=1"]
        if name.startswith("EXEC") and len(words) > 2 and words[1].upper() == "MSET":
            # MSet(name=value,...), as pbx_builtin_setvar_multiple splits it.
            for pair in (words[2] if len(words) > 2 else "").split(","):
                variable, _, value = pair.partition("=")
                self.variables[variable.strip()] = value.strip()
            return ["200 result=0"]
        if self.dead:
            return ["511 Command Not Permitted on a dead channel or intercept routine"]
        if name.startswith("GET DATA"):
            seen, self.get_data_seen = self.get_data_seen, self.get_data_seen + 1
            if self.hang_up_at_get_data is not None and seen >= self.hang_up_at_get_data:
                self.dead = True
                return ["HANGUP", "200 result=-1"]
            key = self.keys.pop(0) if self.keys else None
            return ["200 result= (timeout)"] if key is None else [f"200 result={key}"]
        if name.startswith("STREAM FILE"):
            return ["200 result=0 endpos=8000"]
        if name.startswith("SAY DIGITS"):
            return ["200 result=0"]
        if name.startswith("ANSWER"):
            return ["200 result=0"]
        return ["510 Invalid or unknown command"]

    def _expand(self, expression: str) -> str | None:
        if expression == "${CHANNEL(linkedid)}":
            return self.linkedid or self.uniqueid
        if expression.startswith("${") and expression.endswith("}"):
            return self.variables.get(expression[2:-1])
        return expression


@dataclass
class Session:
    """What one AGI session took, seen from Asterisk's side (perf_counter seconds)."""

    route: str
    started: float
    ended: float = 0.0
    #: From our last write (header block or reply) to the server's next command line.
    command_latencies: list[float] = field(default_factory=list)
    commands: int = 0
    error: str | None = None

    @property
    def latency(self) -> float:
        """Connect to the server closing the socket."""
        return self.ended - self.started


class _Peer(asyncio.Protocol):
    """The socket side of one session."""

    def __init__(self, channel: Channel, session: Session, done: asyncio.Future[None]) -> None:
        self.channel = channel
        self.session = session
        self.done = done
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        for line in self.channel.header_lines():
            transport.write(line)  # Asterisk writes each header line on its own
        self.sent_at = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            raw, _, self.buffer = self.buffer.partition(b"\n")
            self.session.command_latencies.append(time.perf_counter() - self.sent_at)
            self.session.commands += 1
            words = split_command(raw.decode("utf-8", errors="replace").rstrip("\r"))
            assert self.transport is not None
            for line in self.channel.reply(words):
                self.transport.write(line.encode() + b"\n")
            self.sent_at = time.perf_counter()

    def eof_received(self) -> bool:
        return False  # close our side too: the AGI is over

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.ended = time.perf_counter()
        if exc is not None and self.session.error is None:
            self.session.error = f"{type(exc).__name__}: {exc}"
        if not self.done.done():
            self.done.set_result(None)


async def run_session(channel: Channel, host: str, port: int, timeout: float = 30.0) -> Session:
    """Play one AGI session to its end; the session's timings (error set on failure)."""
    loop = asyncio.get_running_loop()
    session = Session(channel.route, time.perf_counter())
    done: asyncio.Future[None] = loop.create_future()
    transport: asyncio.Transport | None = None
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(
                lambda: _Peer(channel, session, done), host, port
            )
            await done
    except (OSError, TimeoutError) as error:
        session.error = f"{type(error).__name__}: {error}"
        session.ended = time.perf_counter()
        if transport is not None:
            transport.abort()
    return session
