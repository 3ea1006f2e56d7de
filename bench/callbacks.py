"""Callbacks' figures: click to the operator's phone ringing, and what the sweep costs calls.

`callcards bench callbacks` runs tests/bench_callbacks.py under pytest (it reuses the
sandbox fixtures), then writes the bench:callbacks block of docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import samples_of_test
from bench.report import update_document
from bench.stats import percentile

REPO = Path(__file__).resolve().parents[1]
RING_TARGET_MS = 500


def run_callbacks_bench(clicks: int, output: Path, command: Sequence[str]) -> int:
    """Measure `clicks` click-to-calls and the sessions with and without the sweep."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    figures = samples_of_test(
        REPO / "tests" / "bench_callbacks.py",
        "CALLCARDS_BENCH_CALLBACKS_JSON",
        {"CALLCARDS_BENCH_CALLBACKS_CLICKS": str(clicks)},
    )
    if figures is None:
        print("the callbacks benchmark failed (see pytest's output above)", file=sys.stderr)
        return 1
    update_document(
        output, {"callbacks": callbacks_block(figures, " ".join(command), started, load)}
    )
    return 0


def callbacks_block(figures: dict[str, Any], command: str, started: str, load: str) -> str:
    """The Markdown of one run's figures."""
    ring = [float(value) for value in figures["ring_ms"]]
    ring_p95 = percentile(ring, 0.95)
    verdict = "**met**" if ring_p95 <= RING_TARGET_MS else "**not met**"
    lines = [
        f"Run {started}, load average {load} before: `{command}`.",
        "",
        "| step | samples | p50 ms | p95 ms | max ms | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| click-to-call POST → the operator's phone rings (Asterisk's Newexten Ringing) "
        f"| {len(ring)} | {percentile(ring, 0.5):.0f} | {ring_p95:.0f} | {max(ring):.0f} "
        f"| ≤ {RING_TARGET_MS} p95 | {verdict} |",
        "",
        "AGI sessions of a `callcards agi` that sweeps callbacks every 0.2 s over 5,000 lost "
        "cards of the window, against one that never sweeps (same database, same run; "
        "ratio = with / without):",
        "",
        "| route | without: p50 / p95 ms | with: p50 / p95 ms | p50 ratio | p95 ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for route in ("incoming", "hangup"):
        without = [float(v) for v in figures["without"][route]]
        with_sweep = [float(v) for v in figures["with"][route]]
        p50a, p95a = percentile(without, 0.5), percentile(without, 0.95)
        p50b, p95b = percentile(with_sweep, 0.5), percentile(with_sweep, 0.95)
        lines.append(
            f"| `{route}` | {p50a:.1f} / {p95a:.1f} | {p50b:.1f} / {p95b:.1f} "
            f"| {p50b / p50a:.2f} | {p95b / p95a:.2f} |"
        )
    lines += [
        "",
        "The sweep runs in a thread off the event loop with its own database connection; "
        "the caller's sessions share the machine's two cores and the database with it.",
    ]
    return "\n".join(lines)
