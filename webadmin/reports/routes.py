"""The report pages: queues, operator efficiency, categories; each also as a CSV download."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from babel.numbers import get_decimal_symbol
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from reports import figures
from reports.period import Period
from reports.recovery import recovery_figures, recovery_total
from webadmin.callflow.apply import site_pbx
from webadmin.calls.queries import FilterError, display_timezone
from webadmin.extensions import db
from webadmin.inputs import FIRST_YEAR, LAST_YEAR, MAX_PERIOD_DAYS, whole_number
from webadmin.permissions import require
from webadmin.reports.now import operators_now
from webadmin.reports.period import report_period
from webadmin.reports.spreadsheet import csv_lines, csv_response
from webadmin.reports.tables import (
    COUNT,
    PERCENT,
    SECONDS,
    Table,
    category_table,
    operator_table,
    purpose_table,
    queue_table,
    recovery_table,
)
from webadmin.templating import seconds

bp = Blueprint("reports", __name__, url_prefix="/reports")

MAX_SHORT_ABANDON_SEC = 600


def _figure(value: Any, kind: str) -> str:
    """A figure as the page shows it: durations as m:ss, percentages to one decimal."""
    if value is None:
        return "—"
    if kind == PERCENT:
        return format_decimal(value, format="0.0")
    if kind == SECONDS:
        return seconds(round(value))
    if kind == COUNT:
        return format_decimal(value, format="#,##0")
    return str(value)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "figure": _figure,
        "max_period_days": MAX_PERIOD_DAYS,
        "first_day_allowed": f"{FIRST_YEAR}-01-01",
        "last_day_allowed": f"{LAST_YEAR}-12-31",
    }


def _cell(value: Any, kind: str, decimal: str) -> Any:
    # Excel in a decimal-comma locale reads "12.5" as a date; write numbers the locale's way.
    if isinstance(value, float) and kind in (PERCENT, SECONDS):
        return f"{value:.1f}".replace(".", decimal)
    return "" if value is None else value


def _download(table: Table, name: str, period: Period) -> Response:
    decimal = get_decimal_symbol(str(get_locale()))
    kinds = [column.kind for column in table.columns]
    records = (
        [_cell(value, kind, decimal) for value, kind in zip(record, kinds, strict=True)]
        for record in table.records()
    )
    filename = f"{name}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    return csv_response(list(csv_lines(table.header(), records)), filename)


def _period() -> tuple[Period | None, dict[str, str]]:
    tz = display_timezone()
    try:
        return report_period(request.args, tz, datetime.now(tz).date()), {}
    except FilterError as error:
        return None, error.errors


def _short_abandon_sec(errors: dict[str, str]) -> int:
    default = int(current_app.config.get("REPORTS_SHORT_ABANDON_SEC", figures.SHORT_ABANDON_SEC))
    raw = request.args.get("short", "").strip()
    if not raw:
        return default
    value = whole_number(raw, 0, MAX_SHORT_ABANDON_SEC)
    if value is None:
        errors["short"] = _(
            "Expected a whole number from %(low)d to %(high)d.", low=0, high=MAX_SHORT_ABANDON_SEC
        )
        return default
    return value


def _repeat_days() -> int:
    """The first-call resolution window in days (Settings.fcr_repeat_days)."""
    return int(current_app.config["CALLCARDS_SETTINGS"].fcr_repeat_days)


def _refused(template: str, errors: dict[str, str], **context: Any) -> tuple[str, int]:
    return render_template(
        template, errors=errors, period=None, table=None, charts={}, **context
    ), 400


def _wants_csv() -> bool:
    return request.args.get("format", "").lower() == "csv"


@bp.get("/")
@require("reports.view")
def index() -> Response:
    """The reports start with the queues."""
    return redirect(url_for("reports.queues"))


@bp.get("/now")
@require("reports.view")
def now() -> str:
    """Operators now: ready for queue calls, or on a break (why, since when)."""
    rows, error = operators_now()
    return render_template("reports/now.html", rows=rows, error=error, ami=site_pbx() is not None)


@bp.get("/queues")
@require("reports.view")
def queues() -> Response | str | tuple[str, int]:
    """Offered, answered, missed, abandoned calls, service level and ASA per queue."""
    period, errors = _period()
    short = _short_abandon_sec(errors)
    if period is None or errors:
        return _refused("reports/queues.html", errors, short=short)
    report = figures.queue_report(db.session, period, current_user, short)
    rows = [
        row if row.queue is not None else replace(row, title=_("Before any queue"))
        for row in report.rows
    ]
    table = queue_table(rows, replace(report.total, title=_("All queues")), short)
    if _wants_csv():
        return _download(table, "queues", period)
    queued = [row for row in rows if row.queue is not None]
    charts = {
        "queues": {
            "type": "bar",
            "stacked": True,
            "labels": [row.title for row in queued],
            "datasets": [
                {
                    "label": _("Answered calls"),
                    "stack": "offered",
                    "data": [row.answered for row in queued],
                },
                {"label": _("Missed"), "data": [row.missed for row in queued], "stack": "offered"},
                {
                    "label": _("Abandoned, not short"),
                    "stack": "offered",
                    "data": [row.abandoned - row.short_abandoned for row in queued],
                },
                {
                    "label": _("Short abandons"),
                    "stack": "offered",
                    "data": [row.short_abandoned for row in queued],
                },
                {
                    "label": _("Callback requested"),
                    "stack": "offered",
                    "data": [row.callback_requested for row in queued],
                },
                {
                    "label": _("Closed hours"),
                    "data": [row.closed for row in queued],
                    "stack": "apart",
                },
                {"label": _("Refused"), "data": [row.refused for row in queued], "stack": "apart"},
            ],
        }
    }
    return render_template(
        "reports/queues.html", errors={}, period=period, table=table, charts=charts, short=short
    )


@bp.get("/operators")
@require("reports.view")
def operators() -> Response | str | tuple[str, int]:
    """Answered and missed calls, talk, hold, after-call work, AHT and purposes per operator."""
    period, errors = _period()
    if period is None:
        return _refused("reports/operators.html", errors, purposes=None)
    days = _repeat_days()
    rows = figures.operator_figures(db.session, period, current_user, _("No purpose yet"), days)
    total = figures.operator_total(rows, _("All operators"))
    purposes = sorted(total.purposes, key=lambda name: -total.purposes[name])
    if _wants_csv():
        return _download(operator_table(rows, total, purposes, days), "operators", period)
    charts = {
        "operators": {
            "type": "bar",
            "stacked": False,
            "labels": [row.name for row in rows],
            "datasets": [
                {"label": _("Answered calls"), "data": [row.answered for row in rows]},
                {"label": _("Missed"), "data": [row.missed for row in rows]},
            ],
        },
        "purposes": {
            "type": "bar",
            "stacked": True,
            "horizontal": True,
            "labels": [row.name for row in rows],
            "datasets": [
                {
                    "label": name,
                    "stack": "purposes",
                    "data": [row.purposes.get(name, 0) for row in rows],
                }
                for name in purposes
            ],
        },
    }
    return render_template(
        "reports/operators.html",
        errors={},
        period=period,
        table=operator_table(rows, total, repeat_days=days),
        charts=charts,
        purposes=purpose_table(rows, purposes),
    )


@bp.get("/categories")
@require("reports.view")
def categories() -> Response | str | tuple[str, int]:
    """Cards and the needs-callback share per category, and their weekly dynamics."""
    period, errors = _period()
    if period is None:
        return _refused("reports/categories.html", errors, weeks=[])
    days = _repeat_days()
    rows = figures.category_figures(db.session, period, current_user, days)
    weeks = figures.period_weeks(period)
    table = category_table(rows, figures.category_total(rows, _("All categories")), weeks, days)
    if _wants_csv():
        return _download(table, "categories", period)
    charts = {
        "categories": {
            "type": "bar",
            "stacked": False,
            "labels": [row.name for row in rows],
            "datasets": [
                {"label": _("Cards"), "data": [row.cards for row in rows]},
                {"label": _("Needs a callback"), "data": [row.needs_callback for row in rows]},
            ],
        },
        # A line needs a few weeks to show a trend; a week or two read better as bars.
        "weeks": {
            "type": "line" if len(weeks) > 2 else "bar",
            "stacked": False,
            "labels": weeks,
            "datasets": [
                {"label": row.name, "data": [row.weeks.get(week, 0) for week in weeks]}
                for row in rows
            ],
        },
    }
    return render_template(
        "reports/categories.html", errors={}, period=period, table=table, charts=charts, weeks=weeks
    )


@bp.get("/recovery")
@require("reports.view")
def recovery() -> Response | str | tuple[str, int]:
    """Lost callers and how many were won back, per queue, operator and day."""
    period, errors = _period()
    if period is None:
        return _refused("reports/recovery.html", errors)
    rows = recovery_figures(db.session(), period, current_user)
    table = recovery_table(rows, recovery_total(rows))
    if _wants_csv():
        return _download(table, "recovery", period)
    return render_template(
        "reports/recovery.html", errors={}, period=period, table=table, charts={}
    )
