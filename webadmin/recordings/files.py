"""Where a card's recording is on disk, found only from the card itself."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from models import Call, RecordingState, Status
from recordings import RecordingCheck, RecordingStore

#: The card page shows "pending" while the call is still going on.
PENDING = "pending"


def recording_store() -> RecordingStore:
    """The recordings folder named by RECORDINGS_DIR."""
    return RecordingStore(Path(current_app.config["RECORDINGS_DIR"]))


def recording_state(call: Call) -> str:
    """ok, missing, empty, pending while the call goes on; none or expired as the card says."""
    if call.recording_state in {RecordingState.NONE.value, RecordingState.EXPIRED.value}:
        return call.recording_state
    if call.status == Status.RINGING.value or (call.answered_at and call.ended_at is None):
        return PENDING
    return recording_store().check(call.recording_path).value


def recording_file(call: Call) -> Path | None:
    """The card's audio file, or None when it is missing or holds no audio."""
    if recording_store().check(call.recording_path) is not RecordingCheck.OK:
        return None
    return recording_store().path_of(call.recording_path or "")
