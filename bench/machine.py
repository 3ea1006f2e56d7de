"""What the benchmarks ran on: CPU, memory, PostgreSQL, Python, the load at the time."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from models.session import make_engine


@dataclass(frozen=True)
class Machine:
    """The host a run measured, as the report prints it."""

    cpus: int
    cpu_model: str
    memory_gb: float
    postgresql: str
    python: str
    kernel: str
    started: str

    def lines(self) -> list[str]:
        """The machine as Markdown list items."""
        return [
            f"- CPU: {self.cpus} × {self.cpu_model}",
            f"- memory: {self.memory_gb:.1f} GB",
            f"- PostgreSQL: {self.postgresql}",
            f"- Python: {self.python}",
            f"- kernel: {self.kernel}",
            f"- run started: {self.started}",
        ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def postgresql_version(url: str) -> str:
    """The server's version string, short."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            version = str(connection.scalar(text("SHOW server_version")))
    finally:
        engine.dispose()
    return version


def describe(database_url: str) -> Machine:
    """The machine this process runs on, and the PostgreSQL at `database_url`."""
    return Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory_gb=_memory_gb(),
        postgresql=postgresql_version(database_url),
        python=sys.version.split()[0],
        kernel=platform.release(),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
