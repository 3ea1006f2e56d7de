"""The generated include files: one writer at a time, replaced in one rename."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from callcards.config import Settings


@contextlib.contextmanager
def locked(live: Path) -> Iterator[None]:
    """One apply of `live` at a time on this host (several site workers may apply at once)."""
    with open(live.with_name(f".{live.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str, *, like: Path) -> None:
    """Replace `path` by `text` in one rename (Asterisk never reads half a file)."""
    mode = like.stat().st_mode & 0o777 if like.exists() else 0o644
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes 0600; Asterisk may run as another user than the site.
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def require_include(live: Path, parent: str) -> None:
    """ValueError unless `parent` beside `live` includes it (else nothing would read it)."""
    including = live.with_name(parent)
    directive = f'#include "{live.name}"'
    text = including.read_text() if including.exists() else ""
    if not any(line.strip() == directive for line in text.splitlines()):
        raise ValueError(f"{including} does not include the generated file: add {directive}")


def include_path(settings: Settings, name: str) -> Path:
    """The generated file `name` in Asterisk's config folder; ValueError when it is not set."""
    if settings.asterisk_etc_dir is None:
        raise ValueError(
            "CALLCARDS_ASTERISK_ETC is not set: the site does not know Asterisk's config folder"
        )
    if not settings.asterisk_etc_dir.is_dir():
        raise ValueError(f"Asterisk's config folder {settings.asterisk_etc_dir} does not exist")
    return settings.asterisk_etc_dir / name
