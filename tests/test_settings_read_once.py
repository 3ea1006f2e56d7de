"""Every setting is read once, in callcards/config.py, and every one is in README's table."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The shipped packages; tests/ and bench/ are harnesses and may set up their own environment.
PACKAGES = ("callcards", "dialplan", "fastagi", "models", "pbx", "recordings", "reports",
            "webadmin")
ENVIRONMENT_READ = re.compile(r"\bos\.environ\b|\bgetenv\b|\benviron\s*\.\s*get\b|\benviron\[")
CONFIG = REPO / "callcards" / "config.py"


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def test_no_module_but_config_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _sources() if path != CONFIG
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ENVIRONMENT_READ.search(line)
    ]
    assert readers == [], "read it in callcards/config.py (Settings) instead:\n" + "\n".join(
        readers)


def test_the_scan_sees_the_reads_config_makes() -> None:
    # The pattern must match the way config.py itself reads, or the test above proves nothing.
    assert ENVIRONMENT_READ.search(CONFIG.read_text())


def test_every_variable_config_reads_is_in_the_readmes_table() -> None:
    names = set(re.findall(r'"((?:CALLCARDS|XDG|FLASK)_[A-Z_]+|[A-Z]+_(?:URL|DIR|KEY))"',
                           CONFIG.read_text()))
    readme = REPO.joinpath("README.md").read_text()
    documented = " ".join(row for row in readme.splitlines() if row.startswith("| `"))
    assert names, "the scan found no variable in config.py"
    missing = sorted(name for name in names if f"`{name}`" not in documented
                     and not (name.startswith("CALLCARDS_AMI_")
                              and f"`_{name.removeprefix('CALLCARDS_AMI_')}`" in documented))
    assert missing == []
