"""The workspace's "Your day": the signed-in operator's calls, talk, wrap-up and pauses today,
and the time left of each pause allowance (CALLCARDS_PAUSE_ALLOWANCES)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from models import Call, Status, utcnow
from reports.period import Period
from reports.sessions import own_day
from webadmin.calls.queries import display_timezone
from webadmin.extensions import db
from webadmin.labels import pause_reason, pause_reason_or_none


@dataclass(frozen=True)
class Allowance:
    """A pause target: the minutes allowed today for a reason, and what is left of them."""

    reason: str
    allowed_sec: float
    used_sec: float

    @property
    def left_sec(self) -> float:
        """Seconds still allowed today (0 once used up)."""
        return max(0.0, self.allowed_sec - self.used_sec)

    @property
    def over_sec(self) -> float:
        """Seconds taken beyond the allowance."""
        return max(0.0, self.used_sec - self.allowed_sec)

    @property
    def words(self) -> str:
        """The reason in the reader's language."""
        return pause_reason(self.reason)


@dataclass(frozen=True)
class YourDay:
    """One operator's figures since their midnight (docs/metrics.md, "your day")."""

    answered: int
    talk_sec: float
    wrapup_sec: float
    pauses: list[tuple[str, float]]  # (the reason in the reader's words, seconds)
    allowances: list[Allowance]

    @property
    def next_target(self) -> Allowance | None:
        """The allowance that runs out first among those not used up."""
        open_ones = [item for item in self.allowances if item.left_sec > 0]
        return min(open_ones, key=lambda item: item.left_sec) if open_ones else None


def your_day(user: Any) -> YourDay:
    """Today (the call centre's day) for `user`, read now."""
    tz = display_timezone()
    now = utcnow()
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(), tzinfo=tz)
    period = Period(start, datetime.combine(today + timedelta(days=1), time(), tzinfo=tz), tz)
    answered = db.session.scalar(
        select(func.count()).where(
            Call.operator_id == user.id,
            Call.status == Status.ANSWERED.value,
            Call.started_at >= period.start,
            Call.started_at < period.end,
        )
    )
    day = own_day(db.session, user.id, period, now)
    used = day.pauses if day is not None else {}
    settings = current_app.config["CALLCARDS_SETTINGS"]
    return YourDay(
        answered=int(answered or 0),
        talk_sec=day.talk_sec if day is not None else 0.0,
        wrapup_sec=day.wrapup_sec if day is not None else 0.0,
        pauses=[
            (pause_reason_or_none(reason), seconds) for reason, seconds in sorted(used.items())
        ],
        allowances=[
            Allowance(reason, minutes * 60.0, used.get(reason, 0.0))
            for reason, minutes in settings.pause_allowances
        ],
    )
