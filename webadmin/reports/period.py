"""The period a report covers: whole days in the call centre's zone, the last 7 by default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from webadmin.calls.queries import CallFilters, FilterError
from webadmin.inputs import period_message, period_too_long

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Period:
    """Whole days in the call centre's zone: `start` inclusive, `end` exclusive, both UTC."""

    start: datetime
    end: datetime
    tz: tzinfo

    @property
    def first_day(self) -> date:
        """The first day of the period, in the call centre's zone."""
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        """The last day of the period (inclusive), in the call centre's zone."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()


def report_period(args: Mapping[str, str], tz: tzinfo, today: date) -> Period:
    """`from`/`to` read like the calls list's (the same parser); raise FilterError when bad
    or longer than MAX_PERIOD_DAYS."""
    chosen = {
        "from": args.get("from") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "to": args.get("to") or today.isoformat(),
    }
    filters = CallFilters.from_args(chosen, tz=tz)
    assert filters.period_from is not None and filters.period_to is not None
    if period_too_long(filters.period_from, filters.period_to):
        raise FilterError({"to": period_message()})
    return Period(filters.period_from, filters.period_to, tz)
