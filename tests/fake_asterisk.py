"""A scripted channel that speaks FastAGI to our server the way Asterisk 22 does.

The channel model (header block, replies, the keys a caller presses, a hangup at a chosen
moment) is bench/agi_client.py's `Channel`, the one the load generator plays; this adds
the stream socket a test awaits, every command kept, and a caller who takes their time.
The real thing is tested on the sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bench.agi_client import Channel, split_command


@dataclass
class FakeChannel(Channel):
    """One call's channel as the AGI script sees it, played over a socket by a test."""

    uniqueid: str = "1763800000.1"
    commands: list[list[str]] | None = field(default_factory=list)
    get_data_delay: float = 0.0  # seconds the caller takes before each key (or timeout)
    at_menu: asyncio.Event | None = None  # set when the server asks the caller for a key
    key_when: asyncio.Event | None = None  # the caller answers a menu only once this is set

    async def run(self, host: str, port: int, timeout: float = 10.0) -> dict[str, str]:
        """Connect, send the headers, answer commands until the server closes; the variables."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for line in self.header_lines():
                writer.write(line)  # Asterisk writes each header line on its own
                await writer.drain()
            while True:
                raw = await asyncio.wait_for(reader.readline(), timeout)
                if not raw:
                    break
                words = split_command(raw.decode().rstrip("\n"))
                if words[:2] == ["GET", "DATA"]:
                    if self.at_menu is not None:
                        self.at_menu.set()
                    if self.key_when is not None:
                        await self.key_when.wait()
                    if self.get_data_delay:
                        await asyncio.sleep(self.get_data_delay)
                for answer in self.reply(words):
                    writer.write(answer.encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
        return self.variables
