"""The period a report covers: whole days in the call centre's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo


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
