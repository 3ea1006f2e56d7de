"""`callcards bench sessions` at its smallest: it builds its intervals, times the report and
writes its block (the figures themselves are in docs/benchmarks.md, not asserted)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.sessions import run_sessions_bench

REPO = Path(__file__).resolve().parent.parent


def test_the_sessions_bench_writes_its_block(tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    shutil.copy(REPO / "docs" / "benchmarks.md", document)
    code = run_sessions_bench(
        2,
        7,
        1,
        document,
        ["callcards", "bench", "sessions", "--quick"],
        database=f"callcards_bench_sessions_test_{os.getpid()}",
    )
    assert code == 0
    text = document.read_text()
    block = text[text.index("<!-- bench:sessions -->") : text.index("<!-- /bench:sessions -->")]
    assert "the report, 31 days at the year's end" in block
    assert "one operator's own day" in block and "× one pass over the year" in block
