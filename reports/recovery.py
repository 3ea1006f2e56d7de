"""Recovery of lost callers: per queue, operator and day, how many callers we lost, how many
tasks they made and how many were won back, how fast (docs/metrics.md, "Callbacks")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callbacks.rules import CardFacts, policy_for, task_number, task_reason
from callbacks.tasks import card_facts, published_flow
from models import Call, CallbackTask, Direction, Status, TaskOutcome, User
from models.visibility import rows_seen
from reports.period import Period

#: Recovered within these many hours (reached by us, or got through on their own).
WINDOWS_HOURS = (1, 4, 24)
_RECOVERED = (TaskOutcome.REACHED.value, TaskOutcome.GOT_THROUGH.value)
_LOST = (Status.MISSED.value, Status.ABANDONED.value, Status.CALLBACK_REQUESTED.value)


@dataclass
class RecoveryFigures:
    """One row: a queue, an operator (who worked the task; '' for none) and a day."""

    day: date | None
    queue: str
    operator: str
    lost_calls: int = 0
    tasks: int = 0
    anonymous: int = 0
    within: dict[int, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS_HOURS, 0))
    reached: int = 0
    got_through: int = 0
    unreachable: int = 0
    attempts_on_reached: int = 0
    first_attempt_sec: list[float] = field(default_factory=list)

    @property
    def median_first_attempt_sec(self) -> float | None:
        """Median time from the caller's loss to our first call back."""
        return median(self.first_attempt_sec) if self.first_attempt_sec else None

    @property
    def attempts_per_recovery(self) -> float | None:
        """Call backs made per caller we reached."""
        return self.attempts_on_reached / self.reached if self.reached else None

    def add(self, other: RecoveryFigures) -> None:
        """Fold another row into this one (the total)."""
        self.lost_calls += other.lost_calls
        self.tasks += other.tasks
        self.anonymous += other.anonymous
        for hours in WINDOWS_HOURS:
            self.within[hours] += other.within[hours]
        self.reached += other.reached
        self.got_through += other.got_through
        self.unreachable += other.unreachable
        self.attempts_on_reached += other.attempts_on_reached
        self.first_attempt_sec += other.first_attempt_sec


def recovery_figures(session: Session, period: Period, user: Any) -> list[RecoveryFigures]:
    """The rows of the period (callers lost in it), for what this user may read."""
    rows: dict[tuple[date, str, str], RecoveryFigures] = {}

    def row(day: date, queue: str, operator: str) -> RecoveryFigures:
        key = (day, queue, operator)
        if key not in rows:
            rows[key] = RecoveryFigures(day, queue, operator)
        return rows[key]

    names: dict[int, str] = {row[0]: row[1] for row in session.execute(select(User.id, User.name))}
    tasks = session.scalars(
        select(CallbackTask).where(
            CallbackTask.waiting_since >= period.start,
            CallbackTask.waiting_since < period.end,
            rows_seen(user, CallbackTask.queue, CallbackTask.taken_by_id),
        )
    )
    for task in tasks:
        worker = task.closed_by_id or task.taken_by_id
        figures = row(
            task.waiting_since.astimezone(period.tz).date(),
            task.queue,
            names.get(worker, "") if worker is not None else "",
        )
        figures.tasks += 1
        figures.lost_calls += task.lost_calls
        if task.first_attempt_at is not None:
            waited = (task.first_attempt_at - task.waiting_since).total_seconds()
            figures.first_attempt_sec.append(max(0.0, waited))
        if task.outcome == TaskOutcome.UNREACHABLE.value:
            figures.unreachable += 1
        if task.outcome in _RECOVERED and task.closed_at is not None:
            if task.outcome == TaskOutcome.REACHED.value:
                figures.reached += 1
                figures.attempts_on_reached += task.attempts
            else:
                figures.got_through += 1
            took = task.closed_at - task.waiting_since
            for hours in WINDOWS_HOURS:
                if took <= timedelta(hours=hours):
                    figures.within[hours] += 1
    for card in _anonymous_lost(session, period, user):
        row(card.started_at.astimezone(period.tz).date(), card.queue or "", "").anonymous += 1
    return [rows[key] for key in sorted(rows)]


def _anonymous_lost(session: Session, period: Period, user: Any) -> list[CardFacts]:
    """Lost cards of the period that would make a task but have no number to call."""
    flow = published_flow(session)
    cards = session.scalars(
        select(Call).where(
            Call.started_at >= period.start,
            Call.started_at < period.end,
            Call.direction == Direction.INBOUND.value,
            or_(Call.status.in_(_LOST), Call.needs_callback),
            rows_seen(user, Call.queue, Call.operator_id),
        )
    )
    found = []
    for card in cards:
        facts = card_facts(card)
        queue = card.queue or flow.default_queue
        if task_reason(facts, policy_for(flow, queue)) and task_number(facts) is None:
            found.append(facts)
    return found


def recovery_total(rows: Sequence[RecoveryFigures]) -> RecoveryFigures:
    """All rows together."""
    total = RecoveryFigures(None, "", "")
    for one in rows:
        total.add(one)
    return total
