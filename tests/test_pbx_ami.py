"""The AMI client never hangs the site: refused, silent and vanishing Asterisks are errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pbx.ami import AmiClient, AmiError
from tests.agi_process import free_port

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


@pytest.fixture
def fake_ami() -> Iterator[Callable[[bytes, bool], int]]:
    """Start a loopback server that sends `greeting`, reads, and then (maybe) hangs up."""
    servers: list[socket.socket] = []
    stop = threading.Event()

    def start(greeting: bytes, hang_up_after_login: bool) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(greeting)
                connection.settimeout(0.2)
                received = b""
                while not stop.is_set():
                    try:
                        chunk = connection.recv(4096)
                    except TimeoutError:
                        continue
                    if not chunk:
                        return
                    received += chunk
                    if hang_up_after_login and b"Action: Login" in received:
                        return

        threading.Thread(target=serve, daemon=True).start()
        return int(server.getsockname()[1])

    yield start
    stop.set()
    for server in servers:
        server.close()


def test_nothing_listening_is_unreachable() -> None:
    port = free_port()

    with pytest.raises(AmiError, match=rf"AMI at 127.0.0.1:{port} is unreachable: .*refused"):
        AmiClient("127.0.0.1", port, "callcards", "x", timeout=2).connect()


def test_silent_asterisk_is_given_up_on_after_the_timeout(
    fake_ami: Callable[[bytes, bool], int],
) -> None:
    port = fake_ami(b"", False)
    started = time.monotonic()

    with pytest.raises(AmiError, match="no reply within 0.5 s"):
        AmiClient("127.0.0.1", port, "callcards", "x", timeout=0.5).connect()
    assert time.monotonic() - started < 3


def test_login_never_answered_is_given_up_on(fake_ami: Callable[[bytes, bool], int]) -> None:
    port = fake_ami(GREETING, False)

    with pytest.raises(AmiError, match="unreachable: no reply within 0.5 s"):
        AmiClient("127.0.0.1", port, "callcards", "x", timeout=0.5).connect()


def test_connection_closed_at_login_is_an_error(fake_ami: Callable[[bytes, bool], int]) -> None:
    port = fake_ami(GREETING, True)

    with pytest.raises(AmiError, match="Asterisk closed the connection"):
        AmiClient("127.0.0.1", port, "callcards", "x", timeout=2).connect()


def test_actions_need_a_connection() -> None:
    with pytest.raises(AmiError, match="not connected"):
        AmiClient("127.0.0.1", free_port(), "callcards", "x").action("Ping")
