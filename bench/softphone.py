"""The browser phone's figures: ring to the page, answer to two-way audio, an idle tab.

`callcards bench softphone` runs tests/bench_softphone.py under pytest (it reuses the
browser tests' sandbox, site and Chromium fixtures), then writes the bench:softphone block
of docs/benchmarks.md from the samples it left.
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
RING_TARGET_MS, AUDIO_TARGET_MS = 300, 500


def run_softphone_bench(calls: int, output: Path, command: Sequence[str]) -> int:
    """Measure `calls` browser-answered queue calls and an idle tab; write the block."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    figures = samples_of_test(
        REPO / "tests" / "bench_softphone.py",
        "CALLCARDS_BENCH_SOFTPHONE_JSON",
        {"CALLCARDS_BENCH_SOFTPHONE_CALLS": str(calls)},
    )
    if figures is None:
        print("the browser phone benchmark failed (see pytest's output above)", file=sys.stderr)
        return 1
    update_document(
        output, {"softphone": softphone_block(figures, " ".join(command), started, load)}
    )
    return 0


def softphone_block(figures: dict[str, Any], command: str, started: str, load: str) -> str:
    """The Markdown of one run's figures."""
    ring = [float(value) for value in figures["ring_ms"]]
    audio = [float(value) for value in figures["answer_to_audio_ms"] if value is not None]
    missing = len(figures["answer_to_audio_ms"]) - len(audio)
    ring_p95, audio_p95 = percentile(ring, 0.95), percentile(audio, 0.95)
    rows = [
        (
            "Queue() rings PJSIP/101 (AMI AgentCalled) → the page's ring event",
            f"{percentile(ring, 0.5):.0f}",
            f"{ring_p95:.0f}",
            f"{max(ring):.0f}",
            f"≤ {RING_TARGET_MS}",
            "**met**" if ring_p95 <= RING_TARGET_MS else "**not met**",
        ),
        (
            "click on Answer → audio both ways (caller's sound played out, ours sent)",
            f"{percentile(audio, 0.5):.0f}",
            f"{audio_p95:.0f}",
            f"{max(audio):.0f}",
            f"≤ {AUDIO_TARGET_MS}",
            "**met**" if audio_p95 <= AUDIO_TARGET_MS else "**not met**",
        ),
    ]
    lines = [
        f"`{command}`, {started}, {figures['calls']} calls, load average {load}.",
        "",
        "| ms | median | p95 | max | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
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
