"""The site under gunicorn as production runs it (gunicorn.conf.py), and raw live streams.

Shared by the live tests (tests/web/test_live_gunicorn.py) and `callcards bench live`.
A stream here is a plain socket that sent `GET /live/events` with an API token: it can be
read, dropped, or left unread on purpose.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import ServerProcess, bench_environment, free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")


def gunicorn_site(
    database_url: str, log_path: Path, metrics_dir: Path, workers: int = 2, streams: int = 128
) -> ServerProcess:
    """The site as `gunicorn -c gunicorn.conf.py` serves it, on a free loopback port."""
    port = free_port()
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = bench_environment(
        DATABASE_URL=database_url,
        SECRET_KEY="live-bench-" + "x" * 24,
        CALLCARDS_LIVE_STREAMS=str(streams),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        CALLCARDS_METRICS_ALLOW="127.0.0.1/32",
    )
    command = [str(GUNICORN), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
    return ServerProcess("site", [*command, "-w", str(workers)], port, log_path, env)


def get(port: int, path: str, token: str | None = None, timeout: float = 10.0) -> int:
    """GET a page; its status (read to the end)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http, loopback)
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def wait_answering(port: int, seconds: float = 30.0) -> None:
    """Wait until the site answers its sign-in page."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if get(port, "/login", timeout=2.0) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the site on port {port} did not answer")


@dataclass
class Stream:
    """One live stream as a raw socket."""

    sock: socket.socket
    status: int
    buffer: str = ""
    ids: list[int] = field(default_factory=list)

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def read_until(self, event_id: int, seconds: float = 20.0) -> bool:
        """Read until an event (or heartbeat) with id >= `event_id`; False at the timeout."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(seen >= event_id for seen in self.ids):
                return True
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return False
            if not chunk:
                return False
            self.buffer += chunk.decode(errors="replace")
            while "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                self.ids.extend(int(m) for m in re.findall(r"^id: (\d+)$", block, re.M))
        return any(seen >= event_id for seen in self.ids)

    def close(self) -> None:
        self.sock.close()


def open_stream(port: int, token: str, after: int | None = None, read: bool = True) -> Stream:
    """Open /live/events; with `read`, wait for the status line (else send and leave it)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
    headers = [
        "GET /live/events HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Bearer {token}",
        "Accept: text/event-stream",
    ]
    if after is not None:
        headers.append(f"Last-Event-ID: {after}")
    sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    if not read:
        return Stream(sock, 0)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0
    body = rest.partition(b"\r\n\r\n")[2].decode(errors="replace")
    stream = Stream(sock, status, buffer=body)
    # What came with the headers (retry:, a heartbeat) is parsed at the next read.
    return stream


def stream_workers(port: int) -> dict[int, int]:
    """Client port -> the pid of the worker process serving that connection (ss -tnp)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[int, int] = {}
    for line in listing.splitlines():
        match = re.search(r":(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)", line)
        if match:
            found[int(match.group(1))] = int(match.group(2))
    return found


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's worker processes."""
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
