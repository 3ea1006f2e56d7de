"""What a viewer's live pages show: the floor cut to their scope, and today's queue figures.

The floor comes from `live_floor` (written by the floor listener); today's offered,
answered, abandoned, answer rate, service level and ASA come from reports.figures exactly
as the queue report computes them, cached per scope and worked out again only when a
caller left a queue (a CALLER_LEFT event) or every FIGURES_SEC.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from live.bus import last_event_id
from live.floor import Floor
from models.live import LiveFloor, LiveWrapup
from models.routing import Queue
from models.visibility import LiveScope
from reports.figures import QueueFigures, queue_report
from reports.period import Period
from reports.rollup import day_bounds

#: Today's figures are worked out again at least this often (seconds).
FIGURES_SEC = 30.0


def viewer_floor(session: Session, scope: LiveScope) -> dict[str, Any]:
    """The floor now as the viewer may see it (JSON), with the event id it is as of."""
    row = session.get(LiveFloor, 1)
    floor = Floor.from_json(row.snapshot) if row is not None and row.snapshot else Floor()
    event_id = row.event_id if row is not None else last_event_id(session)
    callers = {
        queue: [caller.to_json() for caller in waiting]
        for queue, waiting in floor.callers.items()
        if scope.everything or queue in scope.queues
    }
    operators = [
        operator.to_json()
        for operator in floor.operators.values()
        if scope.sees_operator(operator.user_id, operator.queues)
    ]
    wrapups = [
        {
            "user_id": wrapup.user_id,
            "linkedid": wrapup.linkedid,
            "queue": wrapup.queue,
            "ends_at": wrapup.ends_at.isoformat(),
        }
        for wrapup in session.scalars(select(LiveWrapup).where(LiveWrapup.ended_at.is_(None)))
        if scope.sees(None, wrapup.user_id)
    ]
    return {
        "event_id": event_id,
        "ami_connected": bool(row.ami_connected) if row is not None else False,
        "callers": callers,
        "operators": operators,
        "wrapups": wrapups,
    }


def board_queues(session: Session, scope: LiveScope) -> list[Queue]:
    """The queues on the viewer's wallboard: every one for an admin, those overseen else."""
    queues = session.scalars(select(Queue).order_by(Queue.title, Queue.name))
    return [queue for queue in queues if scope.everything or queue.name in scope.queues]


def _figures(row: QueueFigures) -> dict[str, Any]:
    return {
        "offered": row.offered,
        "answered": row.answered,
        "abandoned": row.abandoned,
        "answer_rate": row.answer_rate,
        "service_level": row.service_level,
        "asa": row.asa,
    }


def today_figures(session: Session, user: Any, tz: tzinfo) -> dict[str, Any]:
    """Today's queue figures for this viewer: by queue name, and the total (each call once)."""
    start, end = day_bounds(datetime.now(tz).date(), tz)
    report = queue_report(session, Period(start, end, tz), user)
    return {
        "queues": {row.queue: _figures(row) for row in report.rows if row.queue is not None},
        "total": _figures(report.total),
    }


class FiguresCache:
    """Today's figures per scope, shared by every viewer of this process with that scope."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[Any, ...], tuple[float, int, dict[str, Any]]] = {}

    def get(
        self, session: Session, user: Any, scope: LiveScope, tz: tzinfo, marker: int
    ) -> dict[str, Any]:
        """The figures, computed again when a caller left since (`marker`) or they are old."""
        key = (scope.everything, scope.queues, scope.operator_ids, str(tz))
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[1] == marker and now - kept[0] < FIGURES_SEC:
            return kept[2]
        figures = today_figures(session, user, tz)
        with self._lock:
            self._kept[key] = (now, marker, figures)
        return figures
