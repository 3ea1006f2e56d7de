"""Reading a report's period from the page's `from`/`to`: the last 7 days by default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta, tzinfo

from reports.period import Period
from webadmin.calls.queries import CallFilters, FilterError
from webadmin.inputs import period_message, period_too_long

DEFAULT_DAYS = 7


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
