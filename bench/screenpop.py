"""The screen-pop on real calls: Asterisk's AgentCalled to the card shown in Chromium.

`callcards bench screenpop` runs tests/bench_screenpop.py under pytest (it reuses the live
browser test's fixtures: the sandbox Asterisk, `callcards agi` with its floor listener, the
site on the same PostgreSQL, Chromium), then writes the bench:screenpop block of
docs/benchmarks.md from the samples it left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.softphone import latency_table, run_pytest_bench

TARGET_MS = 300


def run_screenpop_bench(calls: int, output: Path, command: Sequence[str]) -> int:
    """Measure `calls` queue calls popped in the workspace; write the block."""
    return run_pytest_bench("screenpop", "screen-pop", calls, output, command, screenpop_block)


def screenpop_block(figures: dict[str, Any], command: str, started: str, load: str) -> str:
    """The Markdown of one run's figures."""
    samples = figures["samples"]
    pop = [float(s["agent_called_to_pop_ms"]) for s in samples]
    event, page = (
        [float(s[key]) for s in samples if s.get(key) is not None]
        for key in ("agent_called_to_event_ms", "agent_called_to_page_ms")
    )
    lines = latency_table(
        f"`{command}`, {started}, {figures['calls']} calls, load average {load}.",
        [
            ("AgentCalled → the listener's RINGING event written (live_events.at)", event, None),
            ("AgentCalled → the RINGING event reached the page (EventSource)", page, None),
            ("AgentCalled → the card shown in the workspace (MutationObserver)", pop, TARGET_MS),
        ],
    )
    lines += [
        "",
        f"The workspace asked for its card {figures['card_requests']} times in "
        f"{figures['calls']} calls: only when the stream said the phone rang or the "
        "operator's state changed, never on a timer.",
    ]
    return "\n".join(lines)
