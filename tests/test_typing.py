"""The packages type-check cleanly (mypy, setup.cfg's settings): a wrong type is a failing test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("callcards", "dialplan", "fastagi", "models", "pbx", "recordings", "webadmin", "bench")


def test_mypy_finds_no_errors(tmp_path: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), *PACKAGES],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
