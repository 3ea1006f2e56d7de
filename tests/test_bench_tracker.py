"""`callcards bench tracker` runs end to end on a small stream and writes its block."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.tracker import run_tracker_bench, stream

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def test_the_tracker_bench_writes_events_per_second_for_each_way(tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    shutil.copy(DOCS, document)
    assert run_tracker_bench(10, document, ["callcards", "bench", "tracker", "--quick"]) == 0
    text = document.read_text()
    block = text.split("<!-- bench:tracker -->")[1].split("<!-- /bench:tracker -->")[0]
    assert f"{len(stream(10)):,} AMI events" in block
    for way in ("read only", "tracker", "one event a transaction", "batches of 20"):
        assert way in block
