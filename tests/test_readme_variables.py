"""The README's configuration table names every environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READ = re.compile(
    r"""(?:environ\.get|getenv|environ|env\.get|env)\s*[\(\[]\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SHELL = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")
#: The shell's and Python's own, set by the tests for a child process, not settings.
NOT_SETTINGS = {"PATH", "PYTHONPATH", "HOME"}


def variables_read() -> dict[str, Path]:
    """Each variable the Python code or the scripts read, with one file that reads it."""
    found: dict[str, Path] = {}
    folders = [
        "callcards",
        "fastagi",
        "dialplan",
        "webadmin",
        "models",
        "recordings",
        "pbx",
        "bench",
        "tests",
    ]
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for name in READ.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, path)
    for path in (REPO / "scripts").glob("*.sh"):
        for name in SHELL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, path)
    return {name: path for name, path in found.items() if name not in NOT_SETTINGS}


def test_the_readme_documents_every_variable_the_code_reads() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    read = variables_read()
    assert {
        "CALLCARDS_TRUSTED_PROXIES",
        "CALLCARDS_LOGIN_IP_FAILURES",
        "CALLCARDS_DEBIAN_MIRROR",
        "CALLCARDS_WEB_LISTEN",
        "DATABASE_URL",
    } <= set(read)
    missing = {
        name: str(path.relative_to(REPO))
        for name, path in read.items()
        if f"`{name}`" not in readme and f"{name}`" not in readme
    }
    assert not missing, f"read by the code, not in README.md: {missing}"


def test_the_development_switch_is_documented() -> None:
    # Read as a name in a tuple (webadmin/production.py), so the pattern above misses it.
    assert "CALLCARDS_DEVELOPMENT" in (REPO / "webadmin" / "production.py").read_text()
    assert "`CALLCARDS_DEVELOPMENT`" in (REPO / "README.md").read_text(encoding="utf-8")
