"""Every card of a period as one CSV file, streamed so a million cards take constant memory.

On PostgreSQL the rows are written by the database (export_copy.py: COPY, ten times the rate);
on SQLite they go through Python a batch at a time. Both write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from itertools import chain
from typing import Any

from flask import request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased
from werkzeug.wrappers import Response

from models import (
    Call,
    CallCategory,
    CallPurpose,
    CallSubCategory,
    CallTag,
    User,
    call_tags,
    utcnow,
)
from webadmin.api.errors import api_error
from webadmin.api.export_copy import copy_rows, with_tags
from webadmin.api.payloads import PUBLISHED_COLUMNS
from webadmin.calls.queries import CallFilters, FilterError, display_timezone, filtered_calls
from webadmin.extensions import db
from webadmin.inputs import MAX_PERIOD_DAYS, period_message, period_too_long
from webadmin.permissions import require
from webadmin.reports.spreadsheet import BOM, csv_line, csv_lines, csv_response

#: The published columns, then the names behind their ids.
EXPORT_COLUMNS = (
    *PUBLISHED_COLUMNS,
    "operator_name",
    "purpose_name",
    "category_name",
    "sub_category_name",
    "tags",
)
#: Rows fetched per round trip (a server-side cursor on PostgreSQL).
BATCH = 1000


def export_statement(filters: CallFilters, user: Any, *, in_sql: bool = False) -> Select[Any]:
    """The calls list's select for these filters, as flat rows with the names joined in.

    in_sql: every cell already formatted as the CSV writes it, and the tags as the last column
    (for PostgreSQL's COPY).
    """
    operator = aliased(User)
    stmt = (
        filtered_calls(filters, user)
        .with_only_columns(
            *(getattr(Call, name) for name in PUBLISHED_COLUMNS),
            operator.name,
            CallPurpose.name,
            CallCategory.name,
            CallSubCategory.name,
        )
        .outerjoin(operator, operator.id == Call.operator_id)
        .outerjoin(CallPurpose, CallPurpose.id == Call.purpose_id)
        .outerjoin(CallCategory, CallCategory.id == Call.category_id)
        .outerjoin(CallSubCategory, CallSubCategory.id == Call.sub_category_id)
    )
    if not in_sql:
        return stmt
    narrowed = set(filters.args) - {"sort", "page", "per_page"}
    return with_tags(stmt, every_card=not narrowed)


def bounded_period(filters: CallFilters) -> CallFilters:
    """The export's period: at most MAX_PERIOD_DAYS, ending at `to` (now when not given);
    FilterError when the asked period is longer."""
    end = filters.period_to or utcnow()
    start = filters.period_from or end - timedelta(days=MAX_PERIOD_DAYS)
    if period_too_long(start, end):
        raise FilterError({"to": period_message()})
    # `to` stays open when not given (a card logged by hand may start a little ahead of
    # now); the args stay as they were: they decide the query's shape (every_card).
    return replace(filters, period_from=start)


def _tags(call_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for call_id, name in db.session.execute(
        select(call_tags.c.call_id, CallTag.name)
        .join(CallTag, CallTag.id == call_tags.c.tag_id)
        .where(call_tags.c.call_id.in_(call_ids))
        .order_by(call_tags.c.call_id, CallTag.position)
    ):
        found.setdefault(call_id, []).append(name)
    return found


def _cell(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()  # the call centre's time, with its offset
    if isinstance(value, bool):
        return int(value)
    return value


def export_rows(stmt: Select[Any], tz: tzinfo) -> Iterator[list[Any]]:
    """The rows of the export, a batch at a time; nothing but one batch is held in memory."""
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    for batch in result.partitions():
        tags = _tags([row[0] for row in batch])
        for row in batch:
            yield [*(_cell(value, tz) for value in row), ", ".join(tags.get(row[0], []))]


@require("export.calls")
def export_calls() -> Response:
    """`GET /api/export/calls.csv?from=&to=`: the cards (filtered like the list) as CSV, over
    at most MAX_PERIOD_DAYS (the last ones when no period is given)."""
    try:
        filters = bounded_period(CallFilters.from_args(request.args))
    except FilterError as error:
        return api_error(
            400,
            _("Some filters could not be understood."),
            code="bad_filter",
            fields={name: [message] for name, message in error.errors.items()},
        )
    if db.engine.dialect.name == "postgresql":
        stmt = export_statement(filters, current_user, in_sql=True)
        zone = getattr(display_timezone(), "key", None) or "UTC"
        lines = chain([(BOM + csv_line(EXPORT_COLUMNS)).encode()], copy_rows(db.engine, stmt, zone))
        # Flask types stream_with_context for text; bytes stream the same way.
        return csv_response(stream_with_context(lines), "calls.csv")  # type: ignore[arg-type]
    stmt = export_statement(filters, current_user)
    rows = csv_lines(EXPORT_COLUMNS, export_rows(stmt, display_timezone()))
    return csv_response(stream_with_context(rows), "calls.csv")
