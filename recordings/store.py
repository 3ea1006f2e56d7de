"""The recordings folder: file names chosen per call, and safe access to the files."""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")


class RecordingCheck(StrEnum):
    """What is on disk for a card's recording."""

    OK = "ok"
    MISSING = "missing"
    EMPTY = "empty"


def recording_name(started_at: datetime, uniqueid: str) -> str:
    """The file name (relative to the recordings folder) MixMonitor writes for a call."""
    safe_id = _UNSAFE.sub("_", uniqueid) or "call"
    return f"{started_at:%Y/%m/%d}/{safe_id}.wav"


@dataclass(frozen=True)
class RecordingStore:
    """The folder where Asterisk writes recordings, as this host sees it."""

    root: Path

    def path_of(self, relative: str) -> Path:
        """The file behind a card's recording_path; refuses anything that leaves the folder."""
        name = PurePosixPath(relative)
        if not relative or name.is_absolute() or ".." in name.parts or "\\" in relative:
            raise ValueError(f"not a recording name: {relative!r}")
        root = self.root.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"recording name leaves the recordings folder: {relative!r}")
        return path

    def check(self, relative: str | None) -> RecordingCheck:
        """Whether the recording exists and holds audio (a wav header alone is empty)."""
        if not relative:
            return RecordingCheck.MISSING
        try:
            path = self.path_of(relative)
            size = path.stat().st_size
        except (ValueError, OSError):
            return RecordingCheck.MISSING
        # A WAV file with nothing recorded is just its 44-byte header.
        return RecordingCheck.OK if size > 44 else RecordingCheck.EMPTY

    def seconds(self, relative: str | None) -> int:
        """How long a recording plays, in whole seconds (0 when missing or unreadable)."""
        if not relative:
            return 0
        try:
            with wave.open(str(self.path_of(relative)), "rb") as audio:
                return round(audio.getnframes() / audio.getframerate())
        except (ValueError, OSError, EOFError, ZeroDivisionError, wave.Error):
            return 0
