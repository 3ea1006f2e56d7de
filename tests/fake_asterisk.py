"""A scripted channel that speaks FastAGI to our server the way Asterisk 22 does.

It sends the header block one line per write, splits each command line the way res_agi
does, and answers from a small channel model: variables, the keys a caller presses,
a hangup at a chosen moment. Used by route tests; the real thing is tested on the sandbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field


def split_agi_command(line: str) -> list[str]:
    """Split a command line as res_agi.c parse_args does: spaces, "quotes", backslash escapes."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = started = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
            started = True
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            started = True
        elif char == " " and not quoted:
            if started or current:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if started or current:
        words.append("".join(current))
    return words


@dataclass
class FakeChannel:
    """One call's channel as the AGI script sees it."""

    route: str
    uniqueid: str = "1763800000.1"
    linkedid: str | None = None
    extension: str = "74951234567"
    caller_id: str = "+79161234567"
    caller_name: str = "Иванов Иван"
    channel: str | None = None
    args: Sequence[str] = ()
    variables: dict[str, str] = field(default_factory=dict)
    keys: list[str | None] = field(default_factory=list)  # per GET DATA: digits or None (timeout)
    hang_up_at_get_data: int | None = None  # the nth GET DATA (0-based) sees the caller leave
    dead: bool = False  # a hangup handler: only dead-channel commands work
    get_data_delay: float = 0.0  # seconds the caller takes before each key (or timeout)
    commands: list[list[str]] = field(default_factory=list)

    def headers(self) -> list[str]:
        """The header block lines, in Asterisk's order."""
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
        ]
        lines += [f"agi_arg_{n}: {value}" for n, value in enumerate(self.args, start=1)]
        return lines

    def reply(self, words: list[str]) -> list[str]:
        """Asterisk's reply lines to one command."""
        name = " ".join(word.upper() for word in words[:3])
        if name.startswith("GET FULL VARIABLE"):
            value = self._expand(words[3])
            return [f"200 result=1 ({value})" if value is not None else "200 result=0"]
        if name.startswith("GET VARIABLE"):
            value = self.variables.get(words[2])
            return [f"200 result=1 ({value})" if value is not None else "200 result=0"]
        if name.startswith("SET VARIABLE"):
            self.variables[words[2]] = words[3]
            return ["200 result=1"]
        if name.startswith("VERBOSE") or name.startswith("NOOP"):
            return ["200 result=1"]
        if self.dead:
            return ["511 Command Not Permitted on a dead channel or intercept routine"]
        if name.startswith("GET DATA"):
            count = sum(1 for seen in self.commands if seen[:2] == ["GET", "DATA"]) - 1
            if self.hang_up_at_get_data is not None and count >= self.hang_up_at_get_data:
                return ["HANGUP", "200 result=-1"]
            key = self.keys.pop(0) if self.keys else None
            return ["200 result= (timeout)"] if key is None else [f"200 result={key}"]
        if name.startswith("STREAM FILE"):
            return ["200 result=0 endpos=8000"]
        if name.startswith("ANSWER"):
            return ["200 result=0"]
        return ["510 Invalid or unknown command"]

    def _expand(self, expression: str) -> str | None:
        if expression == "${CHANNEL(linkedid)}":
            return self.linkedid or self.uniqueid
        if expression.startswith("${") and expression.endswith("}"):
            return self.variables.get(expression[2:-1])
        return expression

    async def run(self, host: str, port: int, timeout: float = 10.0) -> dict[str, str]:
        """Connect, send the headers, answer commands until the server closes; the variables."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for line in self.headers():
                writer.write(line.encode() + b"\n")
                await writer.drain()
            writer.write(b"\n")
            await writer.drain()
            while True:
                raw = await asyncio.wait_for(reader.readline(), timeout)
                if not raw:
                    break
                words = split_agi_command(raw.decode().rstrip("\n"))
                self.commands.append(words)
                if words[:2] == ["GET", "DATA"] and self.get_data_delay:
                    await asyncio.sleep(self.get_data_delay)
                for line in self.reply(words):
                    writer.write(line.encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
        return self.variables
