"""Whether a schedule is open at a moment.

Precedence: an override (until it expires) > an exception for the date > a holiday >
the weekly hours. Hours are wall-clock times in the schedule's zone, so "08:00-20:00"
stays 08:00-20:00 local across DST changes. A date with an exception or a holiday is
decided by that alone, all day long; on an ordinary date the weekly hours apply, plus a
range of the day before that ran past midnight (a weekly one, or an exception's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from dialplan.settings import Schedule, TimeRange

HoursReason = Literal[
    "override_open",
    "override_closed",
    "exception_closed",
    "exception_hours",
    "holiday",
    "weekly",
    "outside_weekly",
]


@dataclass(frozen=True)
class HoursCheck:
    """Open or closed, and which rule said so."""

    open: bool
    reason: HoursReason


def check_hours(schedule: Schedule, at: datetime) -> HoursCheck:
    """Whether the schedule is open at the moment `at` (which must carry a time zone)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"check_hours needs a time with a time zone, got {at.isoformat()}")
    override = schedule.override
    if override is not None and (override.until is None or at < override.until):
        return HoursCheck(
            override.state == "open",
            "override_open" if override.state == "open" else "override_closed",
        )
    local = at.astimezone(schedule.zone)
    today, now = local.date(), local.time()
    exception = schedule.exceptions.get(today)
    if exception is not None:
        if exception.closed:
            return HoursCheck(False, "exception_closed")
        return HoursCheck(_within_today(exception.ranges, now), "exception_hours")
    if any(holiday.date == today for holiday in schedule.holidays):
        return HoursCheck(False, "holiday")
    if _within_today(schedule.weekly[today.weekday()], now):
        return HoursCheck(True, "weekly")
    carried, from_exception = _ranges_of(schedule, today - timedelta(days=1))
    if any(r.crosses_midnight and now < r.end for r in carried):
        return HoursCheck(True, "exception_hours" if from_exception else "weekly")
    return HoursCheck(False, "outside_weekly")


def _within_today(ranges: tuple[TimeRange, ...], now: time) -> bool:
    """Whether `now` falls in a range, counting a midnight-crossing range up to midnight."""
    return any(r.start <= now and (r.crosses_midnight or now < r.end) for r in ranges)


def _ranges_of(schedule: Schedule, day: date) -> tuple[tuple[TimeRange, ...], bool]:
    """The hours a date keeps, and whether they come from an exception."""
    exception = schedule.exceptions.get(day)
    if exception is not None:
        return exception.ranges, True
    if any(holiday.date == day for holiday in schedule.holidays):
        return (), False
    return schedule.weekly[day.weekday()], False
