"""Servers under test as processes of their own, and the CPU time they and PostgreSQL spend."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from callcards.config import REPO_ROOT

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_environment(**extra: str) -> dict[str, str]:
    """The environment for a bench process: this one, bench/ importable, plus `extra`."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
        **extra,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and all its threads so far (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _postgres_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database` right now, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of every PostgreSQL backend connected to `database` right now."""
    return sum(_postgres_backends(database).values())


class PostgresCpuMeter:
    """CPU that PostgreSQL spends for one database over a while, backends coming and going."""

    # Backends are sampled every `every` seconds: one that ends between two samples loses at
    # most that much of its time; one that starts counts from zero.

    def __init__(self, database: str, every: float = 0.5) -> None:
        self.database = database
        self.every = every
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PostgresCpuMeter:
        self._first = _postgres_backends(self.database)
        self._last = dict(self._first)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._last.update(_postgres_backends(self.database))

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self._last.update(_postgres_backends(self.database))

    @property
    def seconds(self) -> float:
        """CPU seconds spent between enter and exit."""
        return sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())


class ServerProcess:
    """A server started with a command line, listening on a loopback port."""

    def __init__(
        self, name: str, command: list[str], port: int, log_path: Path, env: dict[str, str]
    ) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def pid(self) -> int:
        """The process id (the server must be running)."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until the port accepts connections."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} did not listen on port {self.port}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def python_module(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def samples_of_test(test: Path, samples_variable: str, env: dict[str, str]) -> Any | None:
    """Run a measuring test file under pytest; the JSON it left in $`samples_variable`
    (None when it failed: pytest's output says why)."""
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "samples.json"
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(test)],
            env={**os.environ, **env, samples_variable: str(samples)},
            cwd=REPO_ROOT,
            check=False,
        )
        if ran.returncode != 0 or not samples.exists():
            return None
        return json.loads(samples.read_text())
