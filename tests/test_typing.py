"""The packages type-check cleanly (mypy, setup.cfg's settings): a wrong type is a failing test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = (
    "callcards",
    "dialplan",
    "fastagi",
    "live",
    "models",
    "pbx",
    "recordings",
    "reports",
    "callbacks",
    "webadmin",
    "bench",
)


def test_mypy_finds_no_errors(tmp_path: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), *PACKAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


#: Checked with `mypy --strict` too (setup.cfg spells the same flags out for these modules).
STRICT = ("dialplan", "fastagi", "live", "models", "pbx")


def test_the_call_path_and_data_packages_pass_mypy_strict(tmp_path: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), *STRICT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_tree_is_formatted_and_linted_with_ruff() -> None:
    """`ruff format` leaves nothing to change and `ruff check` finds nothing (ruff.toml)."""
    for command in (["format", "--check", "."], ["check", "."]):
        checked = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
