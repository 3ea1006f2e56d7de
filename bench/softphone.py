"""The browser phone's figures: ring to the page, answer to two-way audio, an idle tab.

`callcards bench softphone` runs tests/bench_softphone.py under pytest (it reuses the
browser tests' sandbox, site and Chromium fixtures), then writes the bench:softphone block
of docs/benchmarks.md from the samples it left.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import samples_of_test
from bench.report import update_document
from bench.stats import percentile

REPO = Path(__file__).resolve().parents[1]
RING_TARGET_MS, AUDIO_TARGET_MS = 300, 500


def run_softphone_bench(calls: int, output: Path, command: Sequence[str]) -> int:
    """Measure `calls` browser-answered queue calls and an idle tab; write the block."""
    return run_pytest_bench(
        "softphone", "the browser phone", calls, output, command, softphone_block
    )


def run_pytest_bench(
    name: str,
    what: str,
    calls: int,
    output: Path,
    command: Sequence[str],
    block: Callable[[dict[str, Any], str, str, str], str],
) -> int:
    """Run tests/bench_`name`.py under pytest for `calls` calls (it reads
    $CALLCARDS_BENCH_`NAME`_CALLS and writes its figures as JSON to
    $CALLCARDS_BENCH_`NAME`_JSON), then write the bench:`name` block made by `block`."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    prefix = f"CALLCARDS_BENCH_{name.upper()}"
    figures = samples_of_test(
        REPO / "tests" / f"bench_{name}.py", f"{prefix}_JSON", {f"{prefix}_CALLS": str(calls)}
    )
    if figures is None:
        print(f"the {what} benchmark failed (see pytest's output above)", file=sys.stderr)
        return 1
    update_document(output, {name: block(figures, " ".join(command), started, load)})
    return 0


def softphone_block(figures: dict[str, Any], command: str, started: str, load: str) -> str:
    """The Markdown of one run's figures."""
    ring = [float(value) for value in figures["ring_ms"]]
    audio = [float(value) for value in figures["answer_to_audio_ms"] if value is not None]
    missing = len(figures["answer_to_audio_ms"]) - len(audio)
    lines = latency_table(
        f"`{command}`, {started}, {figures['calls']} calls, load average {load}.",
        [
            (
                "Queue() rings PJSIP/101 (AMI AgentCalled) → the page's ring event",
                ring,
                RING_TARGET_MS,
            ),
            (
                "click on Answer → audio both ways (caller's sound played out, ours sent)",
                audio,
                AUDIO_TARGET_MS,
            ),
        ],
    )
    if missing:
        lines.append(f"\n{missing} call(s) had no two-way audio within 10 s.")
    lines += [
        "",
        f"One registered, idle tab over {figures['idle_sec']} s: its renderer's main "
        f"thread busy {figures['idle_main_thread_cpu_pct']:.2f} % of the time (CDP "
        f"TaskDuration), JS heap {figures['idle_js_heap_mb']:.1f} MB; the whole headless "
        f"Chromium (browser, zygote, GPU, network, renderer processes) "
        f"{figures['browser_rss_mb']:.0f} MB resident (RSS summed over its processes, so "
        "pages they share count more than once: an upper bound).",
    ]
    return "\n".join(lines)


def latency_table(
    heading: str, rows: Sequence[tuple[str, Sequence[float], float | None]]
) -> list[str]:
    """`heading`, then a table of milliseconds: per row its median, p95, max and, when it
    has a target, the target and whether the p95 met it."""
    lines = [heading, "", "| ms | median | p95 | max | target | |", "|---|---|---|---|---|---|"]
    for what, values, target in rows:
        p95 = percentile(values, 0.95)
        verdict = "" if target is None else "**met**" if p95 <= target else "**not met**"
        cells = [
            what,
            f"{percentile(values, 0.5):.0f}",
            f"{p95:.0f}",
            f"{max(values, default=0.0):.0f}",
            "" if target is None else f"≤ {target:g}",
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
