"""First-call resolution from the daily roll-ups is that of the cards, and never stale.

The hand-made cards of test_reports.py, on PostgreSQL and SQLite: the days whose repeat
calls are all rolled up are read from `report_first_call_days`, the rest from the cards, and
both give METRICS.md's figures worked out by hand (the oracle of test_reports.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Call, FirstCallDay, ReportDay
from models.session import transaction
from reports.figures import category_figures, operator_figures
from reports.rollup import first_call_coverage, roll_up, roll_up_day
from tests.web import test_reports
from tests.web.test_reports import (
    ANSWERED,
    BEFORE_AND_TEN_DAYS_ON,
    FIRST_DAY,
    INDEXED,
    MSK,
    NO_PURPOSE,
    PERIOD,
    _rounded,
    comparable,
    expected_first_call,
    staff,
    stale_days,
    stop_supervising,
)

# The same cards on PostgreSQL and on SQLite (test_reports.py's fixtures).
cards = test_reports.cards
postgresql_cards = test_reports.postgresql_cards

OPERATORS = {"Ольга Операторова": "operator1", "Иван Петров": "operator2"}


def roll_up_every_day(factory: sessionmaker[Session], repeat_days: int = 7) -> None:
    """Roll up the period's days and a week after it, as the nightly command would."""
    for offset in range(-1, 21):
        roll_up_day(factory, FIRST_DAY + timedelta(days=offset), MSK, repeat_days)


def first_call_figures(session: Session, login: str, repeat_days: int = 7) -> Any:
    """FCR per operator and per category, as plain data."""
    user = staff(session, login)
    return comparable(
        [
            {
                row.name: row.first_call
                for row in operator_figures(session, PERIOD, user, NO_PURPOSE, repeat_days)
            },
            {
                row.name: row.first_call
                for row in category_figures(session, PERIOD, user, repeat_days)
            },
        ]
    )


def fcr_from_the_cards(factory: sessionmaker[Session], login: str, repeat_days: int = 7) -> Any:
    """The figures with every roll-up set aside (each day stale, for one transaction)."""
    with factory() as session:
        session.execute(update(ReportDay).values(stale=True))
        figures = first_call_figures(session, login, repeat_days)
        session.rollback()
    return figures


def rolled_fcr_days(factory: sessionmaker[Session], login: str, repeat_days: int = 7) -> set[int]:
    """The period's days (from FIRST_DAY) whose FCR the roll-ups give."""
    with factory() as session:
        cover = first_call_coverage(session, PERIOD, staff(session, login), repeat_days)
    return {
        (first - FIRST_DAY).days + offset
        for first, last in cover.days
        for offset in range((last - first).days + 1)
    }


def rates(figures: Any) -> dict[str, dict[str, float | None]]:
    """Per operator login, the declared and measured rates."""
    operators = figures[0]
    return {
        OPERATORS[name]: {
            "declared": (100 * row["declared"] / row["answered"]) if row["answered"] else None,
            "measured": (100 * row["not_again"] / row["known"]) if row["known"] else None,
        }
        for name, row in operators.items()
    }


def test_fcr_from_the_rollups_is_that_of_the_cards_over_rolled_and_raw_days(
    cards: sessionmaker[Session],
) -> None:
    expected = fcr_from_the_cards(cards, "admin")
    roll_up_every_day(cards)
    # Days 0..12 have the eight days after them rolled up; day 13 does not: read raw.
    assert rolled_fcr_days(cards, "admin") == set(range(13))
    with cards() as session:
        assert session.scalar(select(func.count()).select_from(FirstCallDay)) > 0
        rolled = first_call_figures(session, "admin")
    assert rolled == expected
    assert _rounded(rates(rolled)) == _rounded(
        expected_first_call(INDEXED, lambda row: row.operator)
    )


def test_a_repeat_call_written_late_into_a_rolled_day_changes_fcr_at_once(
    cards: sessionmaker[Session],
) -> None:
    roll_up_every_day(cards)
    with cards() as session:
        before = first_call_figures(session, "admin")
    # Olga's day-1 caller next calls ten days on: not again within 7 days.
    assert rates(before)["operator1"]["measured"] == pytest.approx(200 / 3)
    # A repeat call two days later, rebuilt from CEL into a rolled-up day by hand.
    late = datetime.combine(FIRST_DAY + timedelta(days=3), time(8), MSK).astimezone(UTC)
    with transaction(cards) as session:
        session.add(
            Call(
                uniqueid="late-repeat",
                linkedid="late-repeat",
                queue="reception",
                direction="inbound",
                status=ANSWERED,
                started_at=late,
                src_number=BEFORE_AND_TEN_DAYS_ON,
            )
        )
    assert stale_days(cards) == {3}
    # Day 3's own FCR and every day whose week reaches it are read from the cards now.
    assert rolled_fcr_days(cards, "admin") == set(range(4, 13))
    with cards() as session:
        after = first_call_figures(session, "admin")
    assert rates(after)["operator1"]["measured"] == pytest.approx(100 / 3)
    assert after == fcr_from_the_cards(cards, "admin")
    # Rolled up again, the day's neighbours are recounted: roll-ups again, the same figures.
    roll_up_day(cards, FIRST_DAY + timedelta(days=3), MSK)
    assert rolled_fcr_days(cards, "admin") == set(range(13))
    with cards() as session:
        assert first_call_figures(session, "admin") == after


def test_another_repeat_window_reads_the_cards(cards: sessionmaker[Session]) -> None:
    roll_up_every_day(cards)
    assert rolled_fcr_days(cards, "admin", repeat_days=11) == set()
    with cards() as session:
        eleven = first_call_figures(session, "admin", repeat_days=11)
    # Eleven days: Olga's caller of ten days on counts as calling again.
    assert rates(eleven)["operator1"]["measured"] == pytest.approx(100 / 3)
    assert eleven == fcr_from_the_cards(cards, "admin", repeat_days=11)
    # The nightly command under an eleven-day window: no day to roll up, but every day's
    # FCR recounted with it; the roll-ups serve it now, not the seven-day one.
    assert roll_up(cards, MSK, FIRST_DAY + timedelta(days=21), repeat_days=11) == 0
    assert rolled_fcr_days(cards, "admin", repeat_days=11) == set(range(9))
    assert rolled_fcr_days(cards, "admin", repeat_days=7) == set()
    with cards() as session:
        assert first_call_figures(session, "admin", repeat_days=11) == eleven


def test_a_supervisor_sees_only_their_queues_fcr_from_the_rollups_as_from_the_cards(
    cards: sessionmaker[Session],
) -> None:
    stop_supervising(cards, "appointments")
    expected = fcr_from_the_cards(cards, "supervisor")
    assert expected != fcr_from_the_cards(cards, "admin")  # the scope shows in the figures
    roll_up_every_day(cards)
    assert rolled_fcr_days(cards, "supervisor") == set(range(13))
    with cards() as session:
        assert first_call_figures(session, "supervisor") == expected
    # Ivan's calls the supervisor sees: the anonymous caller's in reception only.
    assert rates(expected)["operator2"] == {"declared": 0.0, "measured": None}
    # An operator reads no report: nothing from the roll-ups, nothing from the cards.
    assert rolled_fcr_days(cards, "operator1") == set()
