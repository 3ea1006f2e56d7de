"""Benchmark 1: our FastAGI server, a null server and a thread-per-connection server, under load.

Each server runs in its own process; the generator (bench.agi_load) in another, on the same
two cores. For every concurrency level the same generator runs against each server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from bench.agi_load import LoadResult
from bench.database import drop_database, prepare_call_database
from bench.processes import (
    PostgresCpuMeter,
    ServerProcess,
    bench_environment,
    cpu_seconds,
    free_port,
    python_module,
)
from models.session import make_engine

DATABASE = "callcards_bench_agi"
LEVELS = (10, 100, 200, 500)
#: Server names, in the order the tables show them.
OURS, NODB, THREADS, NULL = (
    "callcards agi",
    "callcards agi, no card writes",
    "thread per connection",
    "null server",
)


@dataclass
class CardCheck:
    """The cards of one run's calls: how many closed, how many as the calls ended, how late."""

    calls: int
    closed: int
    correct: int
    #: Seconds from the generator's last call end until every card was closed (an upper
    #: bound: the generator's exit and this check's first look are in it); None: never.
    late_sec: float | None


@dataclass
class LevelResult:
    """One server at one concurrency: the generator's figures and the CPU spent on them."""

    server: str
    load: LoadResult
    server_cpu_sec: float
    postgres_cpu_sec: float
    load_average: float = 0.0  # 1 minute, just before the run
    cards: CardCheck | None = None  # our server's cards, checked after the run

    def cpu_ms_per_call(self, seconds: float) -> float:
        """Server CPU milliseconds per lifecycle measured."""
        return seconds * 1000 / self.load.lifecycles if self.load.lifecycles else 0.0


@dataclass
class AgiBenchResult:
    """Every server at every level, and how the run was set up."""

    levels: list[int]
    duration: float
    warmup: float
    settings_refresh: str
    levels_run: list[LevelResult] = field(default_factory=list)

    def of(self, server: str, concurrency: int) -> LevelResult | None:
        """The result of `server` at `concurrency`, if it was run."""
        for result in self.levels_run:
            if result.server == server and result.load.concurrency == concurrency:
                return result
        return None


def run_generator(
    port: int,
    concurrency: int,
    *,
    duration: float,
    warmup: float,
    recordings: Path | None,
    max_calls: int | None = None,
    abandon_every: int = 10,
) -> LoadResult:
    """One run of bench.agi_load in its own process; its figures."""
    command = python_module(
        "bench.agi_load",
        "--port",
        str(port),
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--abandon-every",
        str(abandon_every),
    )
    if recordings is not None:
        command += ["--recordings", str(recordings)]
    if max_calls is not None:
        command += ["--max-calls", str(max_calls)]
    done = subprocess.run(
        command,
        env=bench_environment(),
        capture_output=True,
        text=True,
        timeout=duration + warmup + 300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    return LoadResult(**json.loads(done.stdout))


def _servers(url: str, work: Path, settings_refresh: str) -> list[ServerProcess]:
    env = bench_environment(
        DATABASE_URL=url,
        RECORDINGS_DIR=str(work / "recordings"),
        CALLCARDS_JOURNAL_DIR=str(work / "journal"),
        CALLCARDS_SETTINGS_REFRESH=settings_refresh,
    )
    servers = []
    for name, module, extra in (
        (OURS, "callcards.cli", ["agi", "--grace", "5"]),
        (NODB, "bench.nodb_server", []),
        (THREADS, "bench.thread_server", []),
        (NULL, "bench.null_server", []),
    ):
        port = free_port()
        args = [*extra, "--listen", f"127.0.0.1:{port}"]
        log = work / f"{module}.log"
        servers.append(ServerProcess(name, python_module(module, *args), port, log, env))
    return servers


def run_agi_bench(
    levels: Sequence[int] = LEVELS,
    *,
    duration: float = 15.0,
    warmup: float = 3.0,
    servers: Sequence[str] = (OURS, NODB, THREADS, NULL),
    settings_refresh: str = "5",
    max_calls: int | None = None,
    database: str = DATABASE,
    log: Callable[[str], None] = print,
) -> AgiBenchResult:
    """Run every server in `servers` at every level; drop the database afterwards."""
    # All servers are up at once and take turns at each level: the machine's other load
    # (other people's tests) then falls alike on each of them.
    result = AgiBenchResult(list(levels), duration, warmup, settings_refresh)
    work = Path(tempfile.mkdtemp(prefix="callcards-bench-agi-"))
    url = prepare_call_database(database)
    running = [server for server in _servers(url, work, settings_refresh) if server.name in servers]
    try:
        for server in running:
            server.start()
        for level in levels:
            for server in running:
                _wait_idle(running)
                one = os.getloadavg()[0]
                cpu = cpu_seconds(server.pid)
                with PostgresCpuMeter(database) as postgres:
                    load = run_generator(
                        server.port,
                        level,
                        duration=duration,
                        warmup=warmup,
                        recordings=work / "recordings",
                        max_calls=max_calls,
                    )
                # CPU over warm-up and window alike, scaled to the window's share of it.
                share = load.seconds / (load.seconds + (0 if max_calls else warmup))
                cards = check_cards(url, load) if server.name == OURS else None
                result.levels_run.append(
                    LevelResult(
                        server.name,
                        load,
                        round((cpu_seconds(server.pid) - cpu) * share, 2),
                        round(postgres.seconds * share, 2),
                        one,
                        cards,
                    )
                )
                log(
                    f"  {server.name:>29} @ {level:>3}: {load.lifecycles_per_sec:7.1f} calls/s"
                    f"  session p50/p99 {load.session_p50_ms:.1f}/{load.session_p99_ms:.1f} ms"
                    f"  command p50/p99 {load.command_p50_ms:.2f}/{load.command_p99_ms:.2f} ms"
                    f"  failed {load.failed}  load {one:.2f}"
                    + (
                        f"  cards {cards.closed}/{cards.calls} closed, {cards.correct} correct,"
                        f" last {cards.late_sec} s after the calls"
                        if cards
                        else ""
                    )
                )
    finally:
        for server in running:
            server.stop()
        drop_database(database)
        shutil.rmtree(work, ignore_errors=True)
    return result


_CARDS = text("""
SELECT count(*) FILTER (WHERE ended_at IS NOT NULL),
       count(*) FILTER (WHERE ended_at IS NOT NULL AND status = 'answered'
                               AND answered_at IS NOT NULL AND operator_id IS NOT NULL
                               AND queue IS NOT NULL),
       count(*) FILTER (WHERE ended_at IS NOT NULL AND status = 'abandoned')
FROM calls WHERE linkedid LIKE :prefix""")


def check_cards(url: str, load: LoadResult, limit: float = 30.0) -> CardCheck:
    """Wait for every call's card to be closed (at most `limit` s); how many are as the calls
    ended: an answered call answered, with its operator and queue; an abandoned one abandoned.
    """
    engine = make_engine(url)
    closed = correct = 0
    late: float | None = None
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with engine.connect() as db:
                closed, answered, abandoned = db.execute(_CARDS, {"prefix": f"{load.base}.%"}).one()
            correct = min(answered, load.calls - load.abandoned) + min(abandoned, load.abandoned)
            if closed >= load.calls:
                late = round(time.time() - load.ended_at, 2)
                break
            time.sleep(0.05)
    finally:
        engine.dispose()
    return CardCheck(load.calls, closed, correct, late)


def _wait_idle(servers: Sequence[ServerProcess], limit: float = 60.0) -> None:
    """Wait until no server spends CPU (an overloaded one may still be writing cards)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(server.pid) for server in servers)
        time.sleep(0.5)
        if sum(cpu_seconds(server.pid) for server in servers) - before < 0.05:
            return
