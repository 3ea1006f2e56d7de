"""The CSV export written by PostgreSQL itself (`COPY (...) TO STDOUT`), byte for byte the file
export.py writes row by row: the same select, scope and order, every cell formatted in SQL.

PostgreSQL hands the rows to psycopg2 in a thread of their own; they reach the response
through a short queue, so memory stays flat whatever the number of cards.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from models import Call, CallTag, call_tags


def _python_class(test: Callable[[str], bool]) -> str:
    """The characters a Python test accepts, as ranges for a PostgreSQL bracket expression."""
    chars = [code for code in range(sys.maxunicode + 1) if test(chr(code))]
    runs: list[list[int]] = []
    for code in chars:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in runs)


@cache
def _formula() -> str:
    """spreadsheet_safe() as one PostgreSQL regular expression: a formula's first character,
    or a sign not followed by a phone number; Python's \\d and \\s are str.isdecimal and
    str.isspace (worked out once, at the first export, not at every start)."""
    return f"^([=@\t\r]|[+-](?![{_python_class(str.isdecimal)}{_python_class(str.isspace)}().-]*$))"


#: Bytes gathered before a chunk goes to the response.
CHUNK_BYTES = 64 * 1024
#: Chunks waiting between the COPY thread and the response.
QUEUED_CHUNKS = 16
#: The longest a COPY of the export may run (its period is bounded, its client may be slow).
EXPORT_TIMEOUT_MS = 10 * 60 * 1000
_DONE = object()


def _iso_moment(column: Any) -> ColumnElement[Any]:
    """datetime.isoformat() in the session's zone: microseconds only when not zero."""
    return func.replace(func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'), ".000000", "")


def _safe_text(column: Any) -> ColumnElement[Any]:
    """spreadsheet_safe() in SQL; an empty text becomes NULL, which csv.writer writes bare."""
    return case(
        (column.regexp_match(_formula()), literal("'").concat(column)),
        else_=func.nullif(column, ""),
    )


def csv_cell(column: Any) -> ColumnElement[Any]:
    """One column as export.py's _cell() and csv.writer write it."""
    kind = column.type
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return _iso_moment(column)
    if isinstance(kind, Boolean):
        return cast(column, Integer)
    if isinstance(kind, String | Text):
        return _safe_text(column)
    return column


def _tag_names() -> Any:
    """The tags of each card by position, joined with ', ' (export.py's _tags)."""
    return func.string_agg(CallTag.name, aggregate_order_by(literal(", "), CallTag.position))


def with_tags(stmt: Select[Any], *, every_card: bool) -> Select[Any]:
    """The select with its cells formatted for CSV and the tags as the last column.

    every_card: the tags of all cards are grouped once and joined (a hash join, the fast way
    through a million cards); else one look-up per card through the tags' key, which is
    the fast way through a filtered few.
    """
    cells = [csv_cell(column) for column in stmt.selected_columns]
    if not every_card:
        names = (
            select(_tag_names())
            .join(call_tags, call_tags.c.tag_id == CallTag.id)
            .where(call_tags.c.call_id == Call.id)
            .scalar_subquery()
        )
        return stmt.with_only_columns(*cells, _safe_text(names))
    tags = (
        select(call_tags.c.call_id, _tag_names().label("names"))
        .join(CallTag, CallTag.id == call_tags.c.tag_id)
        .group_by(call_tags.c.call_id)
        .subquery("tags")
    )
    return stmt.with_only_columns(*cells, _safe_text(tags.c.names)).outerjoin(
        tags, tags.c.call_id == Call.id
    )


def copy_sql(stmt: Select[Any], cursor: Any) -> str:
    """The COPY command around a select, its parameters quoted by psycopg2."""
    compiled = stmt.compile(
        dialect=_postgresql_dialect(), compile_kwargs={"render_postcompile": True}
    )
    body = cursor.mogrify(str(compiled), compiled.params).decode()
    return f"COPY ({body}) TO STDOUT WITH (FORMAT csv, DELIMITER ';')"


def _postgresql_dialect() -> Any:
    from sqlalchemy.dialects.postgresql import psycopg2

    return psycopg2.dialect()


class _Rows:
    """A file psycopg2 writes COPY's rows to: one row per write, ended CRLF like csv.writer."""

    def __init__(self, out: queue.Queue[Any], cancelled: threading.Event) -> None:
        self.out, self.cancelled = out, cancelled
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, row: bytes) -> int:
        # libpq returns one data row per call (PQgetCopyData); it ends with "\n".
        self.parts.append(row[:-1] + b"\r\n")
        self.size += len(row) + 1
        if self.size >= CHUNK_BYTES:
            self.flush()
        return len(row)

    def flush(self) -> None:
        if self.parts:
            self.put(b"".join(self.parts))
            self.parts, self.size = [], 0

    def put(self, item: Any) -> None:
        while not self.cancelled.is_set():
            try:
                self.out.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise ConnectionAbortedError("the download was closed")


def copy_rows(engine: Any, stmt: Select[Any], zone: str) -> Iterator[bytes]:
    """The rows of `stmt` as CSV bytes, written by PostgreSQL, in chunks as they come."""
    out: queue.Queue[Any] = queue.Queue(maxsize=QUEUED_CHUNKS)
    cancelled = threading.Event()
    sink = _Rows(out, cancelled)
    connection = engine.raw_connection()

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                # Timestamps print in the call centre's zone with its offset, like isoformat().
                cursor.execute("SELECT set_config('TimeZone', %s, true)", (zone,))
                # A year of cards streams to a slow client for longer than a page may take.
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", (str(EXPORT_TIMEOUT_MS),)
                )
                cursor.copy_expert(copy_sql(stmt, cursor), sink)
            connection.rollback()
            sink.flush()
            sink.put(_DONE)
        except BaseException as error:  # noqa: BLE001 (handed to the response to raise)
            if not cancelled.is_set():
                sink.put(error)

    worker = threading.Thread(target=run, name="csv-export-copy", daemon=True)
    worker.start()
    finished = False
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
        finished = True
    finally:
        cancelled.set()
        worker.join()
        if finished:
            connection.close()
        else:
            connection.invalidate()  # a COPY cut short leaves nothing worth pooling
