"""The FastAGI load generator: full call lifecycles, N calls in flight, timed client-side.

A lifecycle is what the dialplan does for one inbound call: `incoming` (the caller picks
a menu option with DTMF), `answered` (an operator picks up), `hangup` (the hangup handler,
on a dead channel). Every `abandon_every`-th caller hangs up in the menu instead: Asterisk
writes a HANGUP line, GET DATA answers -1, and only `hangup` follows.

Run as its own process (`python -m bench.agi_load --port ...`, JSON on stdout), so the
server under test and the generator are two processes sharing the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.agi_client import Channel, Session, run_session
from bench.stats import percentile

#: The menu keys callers press, in turn (1: appointments, 2 and 3: reception).
MENU_KEYS = ("1", "2", "3")
OPERATORS = ("PJSIP/101", "PJSIP/102")
#: Bytes written where MixMonitor would record, so the hangup finds a recording.
_WAV = b"RIFF" + bytes(252)


@dataclass
class Lifecycle:
    """One call's sessions, and whether the server told the dialplan what it should."""

    started: float
    ended: float = 0.0
    sessions: list[Session] = field(default_factory=list)
    error: str | None = None


@dataclass
class LoadResult:
    """The figures of one run against one server at one concurrency."""

    concurrency: int
    seconds: float
    lifecycles: int
    sessions: int
    commands: int
    failed: int
    lifecycles_per_sec: float
    session_p50_ms: float
    session_p99_ms: float
    command_p50_ms: float
    command_p99_ms: float
    generator_cpu_sec: float
    errors: list[str] = field(default_factory=list)
    #: The `incoming` sessions' p99 alone: the caller's silence before the menu.
    incoming_p99_ms: float = 0.0
    #: Every call played (warm-up included), how many of them hung up in the menu, the
    #: linkedids' prefix and the wall-clock time the last one ended: the card check's.
    calls: int = 0
    abandoned: int = 0
    base: str = ""
    ended_at: float = 0.0


class Recordings:
    """Writes the file MixMonitor would, so the hangup route finds a recording."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._made: set[Path] = set()

    def write(self, relative: str | None) -> None:
        """Create the recording `relative` (a path the server chose) with some audio."""
        if self.folder is None or not relative:
            return
        path = self.folder / relative
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        path.write_bytes(_WAV)


def incoming_channel(number: int, base: str) -> Channel:
    """The `incoming` channel of call `number`: a caller from a pool of 20,000, a menu key."""
    caller = f"+7916{(number * 7919) % 20000:07d}"
    return Channel(
        "incoming", f"{base}.{number}", caller_id=caller, keys=[MENU_KEYS[number % len(MENU_KEYS)]]
    )


async def lifecycle(
    number: int, base: str, host: str, port: int, recordings: Recordings, abandon_every: int
) -> Lifecycle:
    """Play one call: incoming (menu key), answered, hangup; or incoming abandoned, hangup."""
    life = Lifecycle(time.perf_counter())
    incoming = incoming_channel(number, base)
    abandons = abandon_every > 0 and number % abandon_every == abandon_every - 1
    if abandons:
        incoming.hang_up_at_get_data = 0
    first = await run_session(incoming, host, port)
    life.sessions.append(first)
    answered_vars: dict[str, str] = {}
    if first.error is None and not abandons:
        if incoming.variables.get("CC_ACTION") != "queue":
            life.error = f"incoming: CC_ACTION={incoming.variables.get('CC_ACTION')!r}"
        recordings.write(incoming.variables.get("CC_RECORDING"))
        member = OPERATORS[number % len(OPERATORS)]
        answered = Channel(
            "answered",
            incoming.uniqueid,
            caller_id=incoming.caller_id,
            variables={**incoming.variables, "MEMBERINTERFACE": member},
        )
        second = await run_session(answered, host, port)
        life.sessions.append(second)
        if second.error is None and answered.variables.get("CC_OPERATOR") != member[-3:]:
            life.error = f"answered: CC_OPERATOR={answered.variables.get('CC_OPERATOR')!r}"
        answered_vars = {**answered.variables, "CC_QUEUE_ENTERED": "1"}
    hangup = Channel(
        "hangup",
        incoming.uniqueid,
        caller_id=incoming.caller_id,
        dead=True,
        variables={
            **answered_vars,
            "HANGUPCAUSE": "16",
            "CDR(duration)": "95",
            "CHANNEL(hangupsource)": "PJSIP/trunk-00000001",
        },
    )
    life.sessions.append(await run_session(hangup, host, port))
    life.ended = time.perf_counter()
    failures = [session.error for session in life.sessions if session.error]
    life.error = life.error or (f"{life.sessions[-1].route}: {failures[0]}" if failures else None)
    return life


async def run_load(
    host: str,
    port: int,
    *,
    concurrency: int,
    duration: float,
    warmup: float = 2.0,
    recordings: Path | None = None,
    abandon_every: int = 10,
    max_calls: int | None = None,
) -> LoadResult:
    """Keep `concurrency` calls in flight for warmup + duration seconds; figures of the window."""
    # With max_calls the run stops after that many calls instead, and every call is measured.
    base = f"{int(time.time())}{os.getpid() % 1000:03d}"
    numbers = itertools.count()
    files = Recordings(recordings)
    done: list[Lifecycle] = []
    cpu_before = time.process_time()
    start = time.perf_counter()
    window_start = start + (0.0 if max_calls else warmup)
    stop_at = window_start + duration

    async def worker(index: int) -> None:
        # Spread the first calls over the warm-up, not one burst of SYNs.
        await asyncio.sleep(min(warmup / 2, 1.0) * index / max(concurrency, 1))
        while time.perf_counter() < stop_at:
            number = next(numbers)
            if max_calls is not None and number >= max_calls:
                return
            done.append(await lifecycle(number, base, host, port, files, abandon_every))

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    end = time.perf_counter() if max_calls else stop_at
    measured = [life for life in done if window_start <= life.ended <= end]
    sessions = [session for life in measured for session in life.sessions]
    good = [session for session in sessions if session.error is None]
    commands = [latency for session in good for latency in session.command_latencies]
    seconds = max(end - window_start, 1e-9)
    errors = sorted({life.error for life in measured if life.error})
    incoming = [session.latency for session in good if session.route == "incoming"]
    played = len(done)
    return LoadResult(
        concurrency=concurrency,
        seconds=round(seconds, 3),
        lifecycles=len(measured),
        sessions=len(sessions),
        commands=len(commands),
        failed=sum(1 for life in measured if life.error),
        lifecycles_per_sec=round(sum(1 for life in measured if not life.error) / seconds, 1),
        session_p50_ms=round(percentile([s.latency for s in good], 0.50) * 1000, 3),
        session_p99_ms=round(percentile([s.latency for s in good], 0.99) * 1000, 3),
        command_p50_ms=round(percentile(commands, 0.50) * 1000, 3),
        command_p99_ms=round(percentile(commands, 0.99) * 1000, 3),
        generator_cpu_sec=round(time.process_time() - cpu_before, 2),
        errors=errors[:5],
        incoming_p99_ms=round(percentile(incoming, 0.99) * 1000, 3),
        calls=played,
        abandoned=sum(
            1
            for number in range(played)
            if abandon_every > 0 and number % abandon_every == abandon_every - 1
        ),
        base=base,
        ended_at=time.time(),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.agi_load`: one run, its LoadResult as JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.agi_load", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--max-calls", type=int, help="stop after this many calls")
    parser.add_argument("--recordings", type=Path, help="where MixMonitor's files go")
    parser.add_argument(
        "--abandon-every",
        type=int,
        default=10,
        help="every Nth caller hangs up in the menu (0: none)",
    )
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_load(
            args.host,
            args.port,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            recordings=args.recordings,
            abandon_every=args.abandon_every,
            max_calls=args.max_calls,
        )
    )
    json.dump(asdict(result), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
