"""Recording retention per queue and the re-check of files, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from callcards.maintenance import apply_retention, recheck_recordings
from models import Call, Queue
from recordings import RecordingStore

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def add_card(
    session, store: RecordingStore, linkedid: str, queue: str, age_days: int, audio: bytes | None
) -> Call:
    ended = NOW - timedelta(days=age_days)
    card = Call(
        uniqueid=linkedid,
        linkedid=linkedid,
        queue=queue,
        started_at=ended,
        ended_at=ended,
        recording_path=f"2026/{linkedid}.wav",
        recording_url="/api/calls/x/recording",
    )
    session.add(card)
    if audio is not None:
        path = store.root / card.recording_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio)
    return card


def test_old_recordings_of_a_queue_with_retention_are_removed_and_unlinked(
    sessions, tmp_path
) -> None:
    store = RecordingStore(tmp_path)
    with sessions.begin() as session:
        session.execute(update(Queue).where(Queue.name == "appointments").values(retention_days=30))
        add_card(session, store, "old.1", "appointments", 45, b"x" * 1000)
        add_card(session, store, "new.1", "appointments", 5, b"x" * 1000)
        add_card(session, store, "keep.1", "reception", 400, b"x" * 1000)
    with sessions.begin() as session:
        dry = apply_retention(session, store, NOW, dry_run=True)
        assert dry.removed_files == ["2026/old.1.wav"] and (tmp_path / "2026/old.1.wav").exists()
    with sessions.begin() as session:
        report = apply_retention(session, store, NOW)
    with sessions() as session:
        cards = {card.linkedid: card for card in session.scalars(select(Call))}
        session.execute(update(Queue).values(retention_days=None))
        session.commit()
    assert report.bytes_freed == 1000 and report.lines()[-1].startswith("1 card(s), 1 file(s)")
    assert not (tmp_path / "2026/old.1.wav").exists()
    assert (tmp_path / "2026/new.1.wav").exists() and (tmp_path / "2026/keep.1.wav").exists()
    assert cards["old.1"].recording_path is None and cards["old.1"].recording_state == "expired"
    assert cards["new.1"].recording_path == "2026/new.1.wav"


def test_recheck_finds_files_that_arrived_or_vanished(sessions, tmp_path) -> None:
    store = RecordingStore(tmp_path)
    with sessions.begin() as session:
        add_card(session, store, "a.1", "appointments", 0, b"x" * 1000)
        add_card(session, store, "b.1", "appointments", 0, b"x" * 44)
        add_card(session, store, "c.1", "appointments", 0, None)
    with sessions.begin() as session:
        counts = recheck_recordings(session, store, NOW - timedelta(days=1))
    assert counts == {"ok": 1, "empty": 1, "missing": 1}
