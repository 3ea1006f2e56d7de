"""The screen-pop on real calls: Asterisk's AgentCalled to the card shown in Chromium.

`callcards bench screenpop` runs tests/bench_screenpop.py under pytest (it reuses the live
browser test's fixtures: the sandbox Asterisk, `callcards agi` with its floor listener, the
site on the same PostgreSQL, Chromium), then writes the bench:screenpop block of
docs/benchmarks.md from the samples it left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import update_document
from bench.stats import percentile

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 300


def run_screenpop_bench(calls: int, output: Path, command: Sequence[str]) -> int:
    """Measure `calls` queue calls popped in the workspace; write the block."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "screenpop.json"
        env = {
            **os.environ,
            "CALLCARDS_BENCH_SCREENPOP_JSON": str(samples),
            "CALLCARDS_BENCH_SCREENPOP_CALLS": str(calls),
        }
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                str(REPO / "tests" / "bench_screenpop.py"),
            ],
            env=env,
            cwd=REPO,
            check=False,
        )
        if ran.returncode != 0 or not samples.exists():
            print("the screen-pop benchmark failed (see pytest's output above)", file=sys.stderr)
            return 1
        figures = json.loads(samples.read_text())
    update_document(
        output, {"screenpop": screenpop_block(figures, " ".join(command), started, load)}
    )
    return 0


def screenpop_block(figures: dict[str, Any], command: str, started: str, load: str) -> str:
    """The Markdown of one run's figures."""
    samples = figures["samples"]
    pop = [float(s["agent_called_to_pop_ms"]) for s in samples]
    event, page = (
        [float(s[key]) for s in samples if s.get(key) is not None]
        for key in ("agent_called_to_event_ms", "agent_called_to_page_ms")
    )
    pop_p95 = percentile(pop, 0.95)
    rows = [
        (
            "AgentCalled → the listener's RINGING event written (live_events.at)",
            f"{percentile(event, 0.5):.0f}",
            f"{percentile(event, 0.95):.0f}",
            f"{max(event, default=0.0):.0f}",
            "",
            "",
        ),
        (
            "AgentCalled → the RINGING event reached the page (EventSource)",
            f"{percentile(page, 0.5):.0f}",
            f"{percentile(page, 0.95):.0f}",
            f"{max(page, default=0.0):.0f}",
            "",
            "",
        ),
        (
            "AgentCalled → the card shown in the workspace (MutationObserver)",
            f"{percentile(pop, 0.5):.0f}",
            f"{pop_p95:.0f}",
            f"{max(pop):.0f}",
            f"≤ {TARGET_MS}",
            "**met**" if pop_p95 <= TARGET_MS else "**not met**",
        ),
    ]
    lines = [
        f"`{command}`, {started}, {figures['calls']} calls, load average {load}.",
        "",
        "| ms | median | p95 | max | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        f"The workspace asked for its card {figures['card_requests']} times in "
        f"{figures['calls']} calls: only when the stream said the phone rang or the "
        "operator's state changed, never on a timer.",
    ]
    return "\n".join(lines)
