"""Every setting is read once, in callcards/config.py, and every one is in README's table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from callcards.config import load_settings
from webadmin import create_app
from webadmin.calls.queries import display_timezone

REPO = Path(__file__).resolve().parent.parent
#: The shipped packages; tests/ and bench/ are harnesses and may set up their own environment.
PACKAGES = (
    "callcards",
    "dialplan",
    "fastagi",
    "models",
    "pbx",
    "recordings",
    "reports",
    "webadmin",
)
ENVIRONMENT_READ = re.compile(r"\bos\.environ\b|\bgetenv\b|\benviron\s*\.\s*get\b|\benviron\[")
CONFIG = REPO / "callcards" / "config.py"


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def test_no_module_but_config_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _sources()
        if path != CONFIG
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ENVIRONMENT_READ.search(line)
    ]
    assert readers == [], "read it in callcards/config.py (Settings) instead:\n" + "\n".join(
        readers
    )


def test_the_scan_sees_the_reads_config_makes() -> None:
    # The pattern must match the way config.py itself reads, or the test above proves nothing.
    assert ENVIRONMENT_READ.search(CONFIG.read_text())


def test_every_variable_config_reads_is_in_the_readmes_table() -> None:
    names = set(
        re.findall(
            r'"((?:CALLCARDS|XDG|FLASK)_[A-Z_]+|[A-Z]+_(?:URL|DIR|KEY))"', CONFIG.read_text()
        )
    )
    readme = REPO.joinpath("README.md").read_text()
    documented = " ".join(row for row in readme.splitlines() if row.startswith("| `"))
    assert names, "the scan found no variable in config.py"
    missing = sorted(
        name
        for name in names
        if f"`{name}`" not in documented
        and not (
            name.startswith("CALLCARDS_AMI_")
            and f"`_{name.removeprefix('CALLCARDS_AMI_')}`" in documented
        )
    )
    assert missing == []


def test_the_call_centres_zone_defaults_to_moscow_once_and_the_site_reads_it(
    tmp_path: Path,
) -> None:
    assert load_settings({}).timezone == "Europe/Moscow"
    settings = replace(
        load_settings({"CALLCARDS_TIMEZONE": "Asia/Yekaterinburg"}),
        database_url=f"sqlite:///{tmp_path / 'zone.sqlite3'}",
    )
    app = create_app(settings, {"TESTING": True})
    with app.app_context():
        assert display_timezone() == ZoneInfo("Asia/Yekaterinburg")
    assert display_timezone() == ZoneInfo("Europe/Moscow")  # outside a site: the default


def test_a_zone_that_is_not_one_stops_the_command_with_a_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "callcards.cli", "db", "current"],
        cwd=REPO,
        env={**os.environ, "CALLCARDS_TIMEZONE": "Mars/Olympus"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "CALLCARDS_TIMEZONE='Mars/Olympus' is not a time zone" in done.stderr
    assert "Traceback" not in done.stderr
