"""A null FastAGI server: the protocol and nothing else, the limit of this machine.

It reads the header block and sends, route by route, the very commands our server sends
for the same call (same count, same shape), reading each reply; no database, no routing.
Run as `python -m bench.null_server --listen 127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from callcards.config import split_host_port
from fastagi.protocol import escape_argument

#: What each route asks, in order: (command keywords, arguments) as our routes send them.
Script = list[tuple[str, tuple[str, ...]]]

#: The dialplan passes the linkedid, CC_ACTION and CC_CARD_ID as arguments (the card id
#: is the one the channel was told, so it is not set again).
_HANGUP_READS: Script = [
    ("GET FULL VARIABLE", ("${CDR(duration)}",)),
    ("GET VARIABLE", ("CC_RECORDING",)),
    ("GET VARIABLE", ("QUEUESTATUS",)),
    ("GET VARIABLE", ("DIALSTATUS",)),
    ("GET VARIABLE", ("CC_QUEUE_RETURNED",)),
    ("GET VARIABLE", ("CC_QUEUE_ENTERED",)),
    ("GET FULL VARIABLE", ("${CHANNEL(hangupsource)}",)),
    ("GET VARIABLE", ("HANGUPCAUSE",)),
    ("GET VARIABLE", ("ANSWEREDTIME",)),
    ("GET VARIABLE", ("MEMBERINTERFACE",)),
    ("GET VARIABLE", ("CC_QUEUE",)),
]


def _incoming(headers: dict[str, str]) -> Script:
    recording = f"{datetime.now(UTC):%Y/%m/%d}/{headers.get('agi_uniqueid', 'x')}.wav"
    return [  # the linkedid is the dialplan's first argument
        ("GET DATA", ("hello", "3000", "1")),
        (
            "EXEC",
            (
                "MSet",
                f"CC_CARD_ID=1,CC_QUEUE=appointments,CC_QUEUE_TIMEOUT=120,"
                f"CC_RECORDING={recording},CC_ACTION=queue",
            ),
        ),
    ]


def _answered(headers: dict[str, str]) -> Script:
    return [
        ("GET FULL VARIABLE", ("${CHANNEL(linkedid)}",)),
        ("GET VARIABLE", ("MEMBERINTERFACE",)),
        ("SET VARIABLE", ("CC_OPERATOR", "{member}")),  # the extension just read
    ]


SCRIPTS: dict[str, Callable[[dict[str, str]], Script]] = {
    "incoming": _incoming,
    "answered": _answered,
    "hangup": lambda headers: list(_HANGUP_READS),
}


class NullSession(asyncio.Protocol):
    """One AGI session: headers in, the route's commands out, one reply read per command."""

    def __init__(self) -> None:
        self.buffer = b""
        self.headers: dict[str, str] = {}
        self.in_headers = True
        self.script: Script = []
        self.sent: tuple[str, tuple[str, ...]] | None = None
        self.member = ""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            raw, _, self.buffer = self.buffer.partition(b"\n")
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if self.in_headers:
                self._header(line)
            elif line != "HANGUP" and not line.startswith("520-"):
                self._reply(line)

    def _header(self, line: str) -> None:
        if line:
            name, _, value = line.partition(": ")
            self.headers[name] = value
            return
        self.in_headers = False
        route = self.headers.get("agi_network_script", "").split("?")[0].split("/")[0]
        self.script = SCRIPTS.get(route, lambda headers: [])(self.headers)
        self._next()

    def _reply(self, line: str) -> None:
        keywords, _args = self.sent or ("", ())
        if keywords == "GET DATA" and "result=-1" in line:
            self.script = []  # the caller left in the menu: nothing more to ask
        if keywords == "GET VARIABLE" and _args == ("MEMBERINTERFACE",) and "(" in line:
            self.member = line[line.index("(") + 1 : line.rindex(")")].rpartition("/")[2]
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if not self.script:
            self.transport.close()
            return
        self.sent = self.script.pop(0)
        keywords, args = self.sent
        words = [arg.replace("{member}", self.member) for arg in args]
        line = " ".join([keywords, *map(escape_argument, words)])
        self.transport.write(line.encode() + b"\n")


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullSession, host, port, backlog=1024)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.null_server --listen HOST:PORT`."""
    parser = argparse.ArgumentParser(prog="python -m bench.null_server", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:4574")
    host, port = split_host_port(parser.parse_args(argv).listen, 4574)
    asyncio.run(serve(host, port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
