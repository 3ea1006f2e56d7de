"""Reports → Operator sessions: each operator's day and each queue's staffing, from the
operators' state intervals (reports/sessions.py); each table also as a CSV download."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from reports.sessions import OperatorDay, QueueStaffing, operator_total, sessions_report
from webadmin.extensions import db
from webadmin.labels import pause_reason_or_none
from webadmin.permissions import require
from webadmin.reports.routes import _download, _period, _refused, _wants_csv, bp
from webadmin.reports.tables import COUNT, PERCENT, SECONDS, TEXT, Column, Table

TEMPLATE = "reports/sessions.html"


def _pause(reason: str) -> Callable[[OperatorDay], float]:
    return lambda row: row.pauses.get(reason, 0.0)


def operator_days_table(
    rows: Sequence[OperatorDay], total: OperatorDay, reasons: Sequence[str]
) -> Table:
    """One row per operator and day: time in each state, pauses by reason, occupancy."""
    return Table(
        [
            Column(_("Operator"), TEXT, lambda row: row.name),
            Column(_("Day"), TEXT, lambda row: row.day.isoformat() if row.day else None),
            Column(
                _("Logged in"),
                SECONDS,
                lambda row: row.logged_in_sec,
                _(
                    "Time logged in to at least one queue: the union of the operator's "
                    "queue memberships, each moment once."
                ),
            ),
            Column(
                _("Ready"),
                SECONDS,
                lambda row: row.ready_sec,
                _("Time waiting for a call, not paused."),
            ),
            Column(
                _("Ringing"),
                SECONDS,
                lambda row: row.ringing_sec,
                _("Time a call rang at the operator's phone."),
            ),
            Column(
                _("Talk"),
                SECONDS,
                lambda row: row.talk_sec,
                _("Time talking on a call, hold apart."),
            ),
            Column(
                _("On hold"),
                SECONDS,
                lambda row: row.hold_sec,
                _("Time with a caller on hold."),
            ),
            Column(
                _("Wrap-up"),
                SECONDS,
                lambda row: row.wrapup_sec,
                _("Time after a call, held out of the queues to complete the card."),
            ),
            Column(
                _("Paused"),
                SECONDS,
                lambda row: row.paused_sec,
                _(
                    "Time on a break, whatever the reason (each reason in its own column; a "
                    "pause whose reason changed counts under each reason for its part)."
                ),
            ),
            *[Column(pause_reason_or_none(reason), SECONDS, _pause(reason)) for reason in reasons],
            Column(
                _("Occupancy, %"),
                PERCENT,
                lambda row: row.occupancy,
                _("(talk + hold + wrap-up) / (logged in − paused) × 100"),
            ),
            Column(
                _("Missed rings"),
                COUNT,
                lambda row: row.missed_rings,
                _(
                    "Rings at the operator's phone that did not become talking on that call "
                    "(a call that rang them twice counts twice)."
                ),
            ),
            Column(
                _("Time unknown"),
                SECONDS,
                lambda row: row.unknown_sec,
                _(
                    "From the moment the site lost contact with Asterisk to the operator's "
                    "next known state: counted in no figure above."
                ),
            ),
        ],
        rows,
        total,
    )


def queue_days_table(rows: Sequence[QueueStaffing]) -> Table:
    """One row per queue and day: staffed time and the peak of operators logged in."""
    return Table(
        [
            Column(_("Queue"), TEXT, lambda row: row.title),
            Column(_("Day"), TEXT, lambda row: row.day.isoformat()),
            Column(
                _("Staffed"),
                SECONDS,
                lambda row: row.staffed_sec,
                _("The sum of every operator's time logged in to the queue."),
            ),
            Column(
                _("Most logged in at once"),
                COUNT,
                lambda row: row.peak,
                _("The largest number of operators logged in to the queue at one moment."),
            ),
        ],
        rows,
    )


@bp.get("/sessions")
@require("reports.view")
def sessions() -> Response | str | tuple[str, int]:
    """Per operator and day: logged in, ready, talk, hold, wrap-up, pauses, occupancy;
    per queue and day: staffed time."""
    which = request.args.get("table", "operators")
    if which not in ("operators", "queues"):
        raise BadRequest(description=_("Choose the table to download: operators or queues."))
    period, errors = _period()
    if period is None:
        return _refused(TEMPLATE, errors, queues=None)
    report = sessions_report(db.session, period, current_user)
    reasons = sorted({reason for row in report.operators for reason in row.pauses})
    operators = operator_days_table(
        report.operators, operator_total(report.operators, _("All operators")), reasons
    )
    queues = queue_days_table(report.queues)
    if _wants_csv():
        if which == "queues":
            return _download(queues, "queue-staffing", period)
        return _download(operators, "operator-sessions", period)
    names = sorted({row.name for row in report.operators})
    charts = {
        "sessions": {
            "type": "bar",
            "stacked": True,
            "horizontal": True,
            "labels": names,
            "datasets": [
                {
                    "label": label,
                    "stack": "day",
                    "data": [
                        round(
                            sum(value(row) for row in report.operators if row.name == name) / 3600,
                            2,
                        )
                        for name in names
                    ],
                }
                for label, value in (
                    (_("Talk"), lambda row: row.talk_sec),
                    (_("On hold"), lambda row: row.hold_sec),
                    (_("Wrap-up"), lambda row: row.wrapup_sec),
                    (_("Ready"), lambda row: row.ready_sec),
                    (_("Paused"), lambda row: row.paused_sec),
                )
            ],
        }
    }
    return render_template(
        TEMPLATE, errors={}, period=period, table=operators, queues=queues, charts=charts
    )


__all__ = ["operator_days_table", "queue_days_table", "sessions"]
