"""SQL expressions the reports need that PostgreSQL and SQLite spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Date, Float, Integer, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[float]):  # noqa: N801 (used like a SQL function)
    """`end - start` in seconds, as a float (NULL when either is NULL)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between)
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps timestamps as text; julianday() reads them as days, a float whose rounding
    # error would make an abandon of exactly 5 s last 5.00001 s, hence the rounding to 1 ms.
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


class local_week_start(FunctionElement[Any]):  # noqa: N801 (used like a SQL function)
    """The Monday that starts the ISO week of a UTC timestamp, in the call centre's zone.

    Arguments: the timestamp, the zone name (PostgreSQL), its UTC offset in minutes (SQLite,
    which has no zone database; the offset at the period's start stands for the whole period).
    PostgreSQL returns a date, SQLite the date's ISO text.
    """

    type = Date()
    inherit_cache = True
    name = "local_week_start"


def week_start(column: Any, zone: str, offset_minutes: int) -> local_week_start:
    """`local_week_start` over a column, with the zone as bound literals."""
    return local_week_start(column, literal(zone), literal(f"{offset_minutes:+d} minutes"))


@compiles(local_week_start, "postgresql")
def _week_start_postgresql(element: local_week_start, compiler: SQLCompiler, **kw: Any) -> str:
    column, zone, _offset = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(date_trunc('week', timezone({zone}, {column})) AS DATE)"


@compiles(local_week_start)
def _week_start_sqlite(element: local_week_start, compiler: SQLCompiler, **kw: Any) -> str:
    column, _zone, offset = (compiler.process(clause, **kw) for clause in element.clauses)
    # 'weekday 0' moves forward to Sunday (or stays on it); six days back is that week's Monday.
    return f"date({column}, {offset}, 'weekday 0', '-6 days')"


class ceil_seconds(FunctionElement[int]):  # noqa: N801 (used like a SQL function)
    """A number of seconds rounded up to a whole second (SQLite has no ceil() of its own)."""

    type = Integer()
    inherit_cache = True
    name = "ceil_seconds"


@compiles(ceil_seconds, "postgresql")
def _ceil_postgresql(element: ceil_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(CEIL({value}) AS INTEGER)"


@compiles(ceil_seconds)
def _ceil_sqlite(element: ceil_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # CAST truncates towards zero: one more when something was cut off a positive number.
    (value,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(CASE WHEN ({value}) > CAST(({value}) AS INTEGER) "
        f"THEN CAST(({value}) AS INTEGER) + 1 ELSE CAST(({value}) AS INTEGER) END)"
    )


class within_days(FunctionElement[bool]):  # noqa: N801 (used like a SQL function)
    """True when the second timestamp is no more than `days` days after the first."""

    type = Boolean()
    inherit_cache = True
    name = "within_days"


@compiles(within_days, "postgresql")
def _within_days_postgresql(element: within_days, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({later} <= {earlier} + make_interval(days => CAST({days} AS INTEGER)))"


@compiles(within_days)
def _within_days_sqlite(element: within_days, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({later}) <= julianday({earlier}) + {days})"


class later_of(FunctionElement[Any]):  # noqa: N801 (used like a SQL function)
    """The larger of two values of one type (timestamps or numbers): GREATEST / max()."""

    inherit_cache = True
    name = "later_of"


class earlier_of(FunctionElement[Any]):  # noqa: N801 (used like a SQL function)
    """The smaller of two values of one type (timestamps or numbers): LEAST / min()."""

    inherit_cache = True
    name = "earlier_of"


@compiles(later_of, "postgresql")
def _later_of_postgresql(element: later_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(later_of)
def _later_of_sqlite(element: later_of, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's max() with several arguments is the scalar one; its timestamps are ISO text
    # of one width, so text order is time order.
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(earlier_of, "postgresql")
def _earlier_of_postgresql(element: earlier_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(earlier_of)
def _earlier_of_sqlite(element: earlier_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class seconds_after(FunctionElement[Any]):  # noqa: N801 (used like a SQL function)
    """A timestamp moved `seconds` (a whole number written into the SQL) later."""

    inherit_cache = True
    name = "seconds_after"


@compiles(seconds_after, "postgresql")
def _seconds_after_postgresql(element: seconds_after, compiler: SQLCompiler, **kw: Any) -> str:
    column, seconds = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({column} + make_interval(secs => {seconds}))"


@compiles(seconds_after)
def _seconds_after_sqlite(element: seconds_after, compiler: SQLCompiler, **kw: Any) -> str:
    # The stored text's own format (microseconds), so text comparison stays time order.
    column, seconds = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m-%d %H:%M:%f000', {column}, '+' || ({seconds}) || ' seconds')"
