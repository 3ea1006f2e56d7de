"""Scheduled upkeep of recordings: retention per queue, and re-checking files against cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Call, Queue, RecordingState
from recordings import RecordingStore


@dataclass
class RetentionReport:
    """What a retention run removed (or would remove, on a dry run)."""

    removed_files: list[str] = field(default_factory=list)
    unlinked_cards: list[int] = field(default_factory=list)
    bytes_freed: int = 0

    def lines(self) -> list[str]:
        """A human summary, one line per card, then the totals."""
        return [
            *(
                f"card {card}: {path}"
                for card, path in zip(self.unlinked_cards, self.removed_files, strict=False)
            ),
            f"{len(self.unlinked_cards)} card(s), {len(self.removed_files)} file(s), "
            f"{self.bytes_freed / 1_048_576:.1f} MiB",
        ]


def apply_retention(
    session: Session, store: RecordingStore, now: datetime, *, dry_run: bool = False
) -> RetentionReport:
    """Delete recordings older than their queue's retention_days and unlink them from cards."""
    report = RetentionReport()
    queues = session.scalars(select(Queue).where(Queue.retention_days.is_not(None)))
    for queue in queues:
        cutoff = now - timedelta(days=queue.retention_days or 0)
        cards = session.scalars(
            select(Call).where(
                Call.queue == queue.name,
                Call.ended_at < cutoff,
                Call.recording_path.is_not(None),
            )
        )
        for card in cards:
            path_text = card.recording_path or ""
            try:
                path = store.path_of(path_text)
                size = path.stat().st_size if path.exists() else 0
            except ValueError:
                path, size = None, 0
            report.removed_files.append(path_text)
            report.unlinked_cards.append(card.id)
            report.bytes_freed += size
            if dry_run:
                continue
            if path is not None:
                path.unlink(missing_ok=True)
            card.recording_path = None
            card.recording_url = None
            card.recording_state = RecordingState.EXPIRED.value
    return report


def recheck_recordings(session: Session, store: RecordingStore, since: datetime) -> dict[str, int]:
    """Look at the files of cards ended since `since` again; return how many are in each state."""
    counts: dict[str, int] = {}
    cards = session.scalars(
        select(Call).where(Call.ended_at >= since, Call.recording_path.is_not(None))
    )
    for card in cards:
        state = RecordingState(store.check(card.recording_path).value).value
        card.recording_state = state
        counts[state] = counts.get(state, 0) + 1
    return counts
