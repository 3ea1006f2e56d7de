"""Runs `callcards agi` as its own process, as production does, so tests can stop and start it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AgiProcess:
    """One `callcards agi` server process on a fixed loopback port."""

    def __init__(
        self,
        database_url: str,
        recordings_dir: Path,
        port: int,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self._log_path = log_path
        self._env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "RECORDINGS_DIR": str(recordings_dir),
            "CALLCARDS_SETTINGS_REFRESH": "0",
            "CALLCARDS_JOURNAL_DIR": str(log_path.parent / f"journal-{port}"),
            # Tests empty the cards table, not Asterisk's CEL: a reconcile would rebuild
            # earlier tests' calls under later ones. A test of reconcile turns it on.
            "CALLCARDS_RECONCILE_EVERY": "0",
            # Likewise the callback sweep and dialler: the callbacks tests sweep when they mean to.
            "CALLCARDS_CALLBACK_EVERY": "0",
            "CALLCARDS_CALLBACK_DIAL_EVERY": "0",
            **(extra_env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running:
            return
        self._log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callcards.cli",
                "agi",
                "--listen",
                self.address,
                "--grace",
                "5",
            ],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"callcards agi exited; see {self._log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"callcards agi did not listen on {self.address}")

    def terminate(self) -> None:
        """Send SIGTERM and return at once (stop() waits)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """The exit code, once the process has ended."""
        assert self._process is not None
        return self._process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no calls finished, no journal flushed; wait for the end."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as an init system would; kill if it does not end in time."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
