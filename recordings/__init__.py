"""Recordings: how files are named, where they live, and whether a card's file is there."""

from __future__ import annotations

from recordings.store import RecordingCheck, RecordingStore, recording_name

__all__ = ["RecordingCheck", "RecordingStore", "recording_name"]
