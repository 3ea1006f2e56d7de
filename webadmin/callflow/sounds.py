"""Voice prompts: Asterisk's installed sounds, the admin's uploads, and their conversion."""

from __future__ import annotations

import re
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

#: Uploads are played in the flow as "callcards/<name>" (the prompts folder is Asterisk's
#: sounds/callcards).
PROMPT_PREFIX = "callcards/"
UPLOAD_FORMATS = ("wav", "mp3", "ogg")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CONVERT_TIMEOUT_SEC = 60
# Formats Asterisk plays from its sounds folder (file name = prompt + one of these).
SOUND_SUFFIXES = frozenset(
    {
        "gsm",
        "wav",
        "wav16",
        "ulaw",
        "alaw",
        "g722",
        "g729",
        "sln",
        "sln16",
        "siren7",
        "siren14",
        "ogg",
        "g719",
    }
)


class ConversionError(Exception):
    """An upload sox could not turn into a prompt; the message is for the admin."""


@dataclass(frozen=True)
class Prompt:
    """An uploaded prompt in the prompts folder."""

    name: str
    path: Path
    size: int
    seconds: float | None
    modified: datetime

    @property
    def sound(self) -> str:
        """The name the call flow plays it by."""
        return PROMPT_PREFIX + self.name


def prompt_name(text: str) -> str | None:
    """A safe file name for a prompt from what the admin typed (or the upload's name)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")[:64]
    return name if PROMPT_NAME.match(name) else None


def installed_sounds(folder: Path | None) -> list[str]:
    """Asterisk's installed sounds by the names the dialplan plays them ("hello", "digits/1")."""
    if folder is None or not folder.is_dir():
        return []
    # Listed once per change of the folder: every page with a prompt field offers them.
    return list(_sounds_in(folder, folder.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _sounds_in(folder: Path, _modified: int) -> tuple[str, ...]:
    names = set()
    for path in folder.rglob("*"):
        suffix = path.suffix.lstrip(".")
        if suffix in SOUND_SUFFIXES and path.is_file():
            names.add(path.relative_to(folder).with_suffix("").as_posix())
    return tuple(sorted(names))


def uploaded_prompts(folder: Path) -> list[Prompt]:
    """The prompts the admins uploaded, by name."""
    if not folder.is_dir():
        return []
    prompts = []
    for path in sorted(folder.glob("*.wav")):
        if not PROMPT_NAME.match(path.stem):
            continue
        stat = path.stat()
        prompts.append(
            Prompt(
                path.stem,
                path,
                stat.st_size,
                _seconds(path),
                datetime.fromtimestamp(stat.st_mtime, UTC),
            )
        )
    return prompts


def prompt_path(folder: Path, name: str) -> Path | None:
    """The file of an uploaded prompt, None for a name that is not one."""
    if not PROMPT_NAME.match(name):
        return None
    path = folder / f"{name}.wav"
    return path if path.is_file() else None


def _seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError, OSError, ZeroDivisionError):
        return None


def convert(source: Path, source_format: str, target: Path) -> None:
    """Write `source` as the 8 kHz mono 16-bit WAV Asterisk plays; ConversionError if sox can't."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: a call playing the old prompt never meets half a file.
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=".upload-", suffix=".wav", delete=False
    ) as handle:
        partial = Path(handle.name)
    command = [
        "sox",
        "--no-show-progress",
        "-t",
        source_format,
        str(source),
        "-G",
        "-r",
        "8000",
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        "-t",
        "wav",
        str(partial),
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_SEC, check=False
        )
    except FileNotFoundError:
        partial.unlink(missing_ok=True)
        raise ConversionError("sox is not installed on the server") from None
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        raise ConversionError("the conversion took too long") from None
    if result.returncode != 0 or _seconds(partial) is None:
        partial.unlink(missing_ok=True)
        detail = (result.stderr.strip().splitlines() or ["no audio"])[-1]
        raise ConversionError(detail.removeprefix("sox FAIL ").strip())
    partial.replace(target)
