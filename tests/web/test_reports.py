"""Report figures equal METRICS.md's definitions worked out by hand over the same cards.

A few dozen hand-made cards (short abandons, refusals, closed hours, callbacks, a card saved
during the call, time-zone edges) go into PostgreSQL and into SQLite; every figure the SQL
aggregates produce is compared with a plain-Python reading of METRICS.md over the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callcards.cli import main
from models import (
    Base,
    Call,
    CallCategory,
    CallEvent,
    CallPurpose,
    Queue,
    QueueMember,
    ReportDay,
    User,
    queue_supervisors,
    utcnow,
)
from models.session import make_engine, make_session_factory, transaction
from reports.figures import (
    category_figures,
    category_total,
    iso_week,
    operator_figures,
    operator_total,
    queue_report,
)
from reports.period import Period
from reports.rollup import coverage, day_bounds, roll_up, roll_up_day, settled

MSK = ZoneInfo("Europe/Moscow")
FIRST_DAY = date(2026, 3, 2)  # a Monday: ISO week 2026-W10; the period runs 14 days
PERIOD = Period(
    datetime.combine(FIRST_DAY, time(), MSK).astimezone(UTC),
    datetime.combine(FIRST_DAY + timedelta(days=14), time(), MSK).astimezone(UTC),
    MSK,
)
SERVICE_LEVEL = {"reception": 20, "appointments": 30}  # appointments' T differs on purpose
SHORT = 5
NO_PURPOSE = "no purpose"
ANSWERED, ABANDONED, MISSED, RINGING = "answered", "abandoned", "missed", "ringing"
ANONYMOUS = "anonymous"
#: Callers who call more than once (first-call resolution, measured, over 7 days).
AGAIN_SAME_DAY, BEFORE_AND_TEN_DAYS_ON = "+79160000100", "+79160000200"
NEARLY_A_WEEK, LATER_OUTSIDE = "+79160000300", "+79160000500"


@dataclass(frozen=True)
class Row:
    """One card as the test thinks of it (times in seconds, day from FIRST_DAY)."""

    queue: str | None
    status: str
    operator: str | None = None
    end_reason: str | None = None
    day: int = 0
    at: time | None = None  # local time of day; else 09:00 plus a minute per row
    wait: int | None = None  # queue entry to answer (answered) or to hang-up (unanswered)
    queued: bool = True  # entered a queue (queue_entered_at set)
    talk: int = 0
    hold: int = 0
    after_call: int | None = None  # hang-up to card saved; None: card not saved
    category: int | None = None
    purpose: int | None = None
    callback: bool = False
    direction: str = "inbound"
    rang: tuple[str, ...] = ()  # operators whose phone rang (operator_rang events)
    resolved: bool = False  # the operator marked the card resolved at first call
    caller: str = ""  # the caller's number: "" a number of its own, ANONYMOUS none


ROWS = [
    # reception, T = 20 s
    Row(
        "reception",
        ANSWERED,
        "operator1",
        "caller_hangup",
        0,
        wait=10,
        talk=120,
        after_call=30,
        category=0,
        purpose=0,
        rang=("operator2", "operator1"),
        resolved=True,
        caller=AGAIN_SAME_DAY,
    ),
    Row(
        "reception",
        ANSWERED,
        "operator1",
        "operator_hangup",
        1,
        wait=25,
        talk=300,
        hold=20,
        after_call=60,
        category=1,
        purpose=1,
        callback=True,
        caller=BEFORE_AND_TEN_DAYS_ON,
    ),
    Row("reception", ANSWERED, "operator2", "caller_hangup", 2, wait=20, talk=60, caller=ANONYMOUS),
    Row(
        "reception",
        ABANDONED,
        None,
        "caller_hangup_queue",
        0,
        wait=3,
        rang=("operator1",),
        caller=AGAIN_SAME_DAY,
    ),  # three minutes after the first: called again
    Row(
        "reception", ABANDONED, None, "caller_hangup_queue", 8, wait=5, caller=NEARLY_A_WEEK
    ),  # 6 days 23 h 53 min after the first: called again
    Row("reception", ABANDONED, None, "caller_hangup_queue", 3, wait=40),
    Row(
        "reception",
        MISSED,
        None,
        "queue_timeout",
        4,
        wait=120,
        rang=("operator1", "operator1", "operator2"),
    ),
    Row("reception", MISSED, None, "no_operator_left", 9, wait=45),  # LEAVEEMPTY: missed
    Row("reception", MISSED, None, "no_operator", 2, wait=0),  # JOINEMPTY: refused
    Row("reception", MISSED, None, "queue_full", 10, wait=0),
    # a message left while closed: the default queue's to call back, closed, not offered
    Row("reception", MISSED, None, "closed_hours", 6, at=time(22, 15), queued=False, callback=True),
    # appointments, T = 30 s
    Row(
        "appointments",
        ANSWERED,
        "operator2",
        "caller_hangup",
        1,
        wait=28,
        talk=200,
        hold=10,
        after_call=15,
        category=0,
        purpose=0,
        callback=True,
        resolved=True,
        caller=NEARLY_A_WEEK,
    ),
    Row(
        "appointments",
        ANSWERED,
        "operator1",
        "caller_hangup",
        7,
        at=time(1, 0),
        wait=35,
        talk=90,
        after_call=-20,
        category=2,
        purpose=2,
    ),  # saved during the call
    Row("appointments", ABANDONED, None, "caller_hangup_queue", 9, wait=2),
    Row(
        "appointments", MISSED, None, "queue_timeout", 11, wait=120, caller=BEFORE_AND_TEN_DAYS_ON
    ),  # ten days on: not again within 7
    Row(
        "appointments",
        ANSWERED,
        "operator2",
        "caller_hangup",
        12,
        wait=5,
        talk=45,
        after_call=400,
        category=1,
        purpose=0,
        resolved=True,
        caller=LATER_OUTSIDE,
    ),
    # before any queue
    Row(None, MISSED, None, "closed_hours", 0, at=time(0, 30), queued=False),
    Row(None, MISSED, None, "closed_hours", 13, at=time(23, 50), queued=False),
    Row(None, ABANDONED, None, "caller_hangup_ivr", 6, queued=False),
    # an operator's outbound calls
    Row(
        None,
        ANSWERED,
        "operator1",
        "answered",
        3,
        queued=False,
        talk=100,
        after_call=10,
        category=2,
        purpose=3,
        direction="outbound",
        resolved=True,
    ),  # not a caller's call
    Row(None, MISSED, "operator2", "no_answer", 4, queued=False, direction="outbound"),
    # outside the period, or still going on
    Row(
        "reception",
        ANSWERED,
        "operator2",
        "caller_hangup",
        -1,
        at=time(23, 30),
        wait=1,
        talk=10,
        after_call=5,
        category=0,
        purpose=0,
        rang=("operator2",),
        resolved=True,
        caller=BEFORE_AND_TEN_DAYS_ON,
    ),  # a call before: not a repeat of the later ones
    Row(
        "reception",
        ANSWERED,
        "operator1",
        "caller_hangup",
        14,
        wait=1,
        talk=10,
        category=1,
        purpose=1,
        caller=LATER_OUTSIDE,
    ),  # after the period, still a repeat
    Row("reception", RINGING, None, None, 5, wait=None, rang=("operator1",)),
]


def started_at(index: int, row: Row) -> datetime:
    """When the row's call started (UTC)."""
    local = row.at or time(9, index)
    return datetime.combine(FIRST_DAY + timedelta(days=row.day), local, MSK).astimezone(UTC)


def in_period(row: Row, index: int) -> bool:
    """The oracle's period test."""
    return PERIOD.start <= started_at(index, row) < PERIOD.end


# -- the oracle: METRICS.md in plain Python --------------------------------------------------


def share(part: float, whole: float) -> float | None:
    return part * 100 / whole if whole else None


def expected_queue(rows: list[tuple[int, Row]], queue: str | None) -> dict[str, Any]:
    """METRICS.md's queue figures for one queue, by hand."""
    mine = [
        row
        for index, row in rows
        if row.queue == queue and row.direction == "inbound" and in_period(row, index)
    ]
    closed = [row for row in mine if row.end_reason == "closed_hours"]
    refused = [row for row in mine if row.end_reason in ("queue_full", "no_operator")]
    offered = [
        row
        for row in mine
        if row.queued
        and row.status in (ANSWERED, ABANDONED, MISSED)
        and row not in closed
        and row not in refused
    ]
    answered = [row for row in offered if row.status == ANSWERED]
    abandoned = [row for row in offered if row.status == ABANDONED]
    short = [row for row in abandoned if (row.wait or 0) <= SHORT]
    target = SERVICE_LEVEL.get(queue or "", 20)
    within = [row for row in answered if (row.wait or 0) <= target]
    return {
        "offered": len(offered),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandoned": len(short),
        "missed": len([row for row in offered if row.status == MISSED]),
        "closed": len(closed),
        "refused": len(refused),
        "answer_rate": share(len(answered), len(offered)),
        "abandon_rate": share(len(abandoned) - len(short), len(offered) - len(short)),
        "service_level": share(len(within), len(offered) - len(short)),
        "asa": sum(row.wait or 0 for row in answered) / len(answered) if answered else None,
    }


def expected_operator(rows: list[tuple[int, Row]], login: str) -> dict[str, Any]:
    """METRICS.md's operator figures, by hand."""
    seen = [row for index, row in rows if in_period(row, index)]
    handled = [row for row in seen if row.operator == login and row.status == ANSWERED]
    saved = [row for row in handled if row.after_call is not None]
    after = sum(max(row.after_call or 0, 0) for row in saved)
    missed = [
        row for row in seen if login in row.rang and row.operator != login and row.status != RINGING
    ]
    purposes: dict[str, int] = {}
    for row in handled:
        name = f"purpose {row.purpose}" if row.purpose is not None else NO_PURPOSE
        purposes[name] = purposes.get(name, 0) + 1
    talk, hold = sum(row.talk for row in handled), sum(row.hold for row in handled)
    return {
        "answered": len(handled),
        "missed": len(missed),
        "talk_sec": talk,
        "hold_sec": hold,
        "talk_avg": talk / len(handled) if handled else None,
        "after_call_avg": after / len(saved) if saved else None,
        "aht": (talk + hold + after) / len(handled) if handled else None,
        "purposes": purposes,
    }


def _number(index: int, row: Row) -> str | None:
    """The card's src_number."""
    if row.caller == ANONYMOUS:
        return None
    return row.caller or f"+7916000{index:04d}"


def expected_first_call(
    rows: list[tuple[int, Row]], key: Callable[[Row], Any], days: int = 7
) -> dict[Any, dict[str, float | None]]:
    """METRICS.md's first-call resolution, declared and measured, per `key`, by hand."""
    found: dict[Any, dict[str, int]] = {}
    for index, row in rows:
        if (
            row.direction != "inbound"
            or row.status != ANSWERED
            or key(row) is None
            or not in_period(row, index)
        ):
            continue
        counts = found.setdefault(
            key(row), {"answered": 0, "declared": 0, "known": 0, "not_again": 0}
        )
        counts["answered"] += 1
        counts["declared"] += int(row.resolved)
        number = _number(index, row)
        if number is None:
            continue
        counts["known"] += 1
        start = started_at(index, row)
        again = [
            other
            for other_index, other in rows
            if other.direction == "inbound"
            and _number(other_index, other) == number
            and start < started_at(other_index, other) <= start + timedelta(days=days)
        ]
        counts["not_again"] += int(not again)
    return {
        name: {
            "declared": share(counts["declared"], counts["answered"]),
            "measured": share(counts["not_again"], counts["known"]),
        }
        for name, counts in found.items()
    }


def expected_categories(rows: list[tuple[int, Row]]) -> dict[str, dict[str, Any]]:
    """Cards, callbacks and weekly counts per category, by hand (weeks in Moscow time)."""
    found: dict[str, dict[str, Any]] = {}
    for index, row in rows:
        if row.category is None or not in_period(row, index):
            continue
        entry = found.setdefault(
            f"category {row.category}", {"cards": 0, "needs_callback": 0, "weeks": {}}
        )
        entry["cards"] += 1
        entry["needs_callback"] += int(row.callback)
        week = iso_week(started_at(index, row).astimezone(MSK).date())
        entry["weeks"][week] = entry["weeks"].get(week, 0) + 1
    return found


# -- the same cards in PostgreSQL and in SQLite ---------------------------------------------


def insert_rows(session: Session, rows: list[Row]) -> None:
    """Store the rows as cards, with the dictionaries named 'purpose N' / 'category N'."""
    users = {user.login: user for user in session.scalars(select(User))}
    purposes = [CallPurpose(name=f"purpose {n}", position=n) for n in range(4)]
    categories = [CallCategory(name=f"category {n}", position=n) for n in range(3)]
    session.add_all(purposes + categories)
    session.flush()
    for index, row in enumerate(rows):
        start = started_at(index, row)
        entered = start + timedelta(seconds=7) if row.queued else None
        answered = ended = None
        if row.status == ANSWERED:
            answered = (entered or start) + timedelta(seconds=row.wait or 0)
            ended = answered + timedelta(seconds=row.talk + row.hold)
        elif row.status != RINGING:
            ended = (entered or start) + timedelta(seconds=row.wait or 10)
        call = Call(
            uniqueid=f"test-{index}",
            linkedid=f"test-{index}",
            queue=row.queue,
            direction=row.direction,
            status=row.status,
            started_at=start,
            answered_at=answered,
            ended_at=ended,
            queue_entered_at=entered,
            wait_sec=row.wait,
            talk_sec=row.talk,
            hold_sec=row.hold,
            end_reason=row.end_reason,
            src_number=_number(index, row),
            resolved_first_call=row.resolved,
            operator_id=users[row.operator].id if row.operator else None,
            completed_at=(
                ended + timedelta(seconds=row.after_call)
                if ended and row.after_call is not None
                else None
            ),
            purpose_id=purposes[row.purpose].id if row.purpose is not None else None,
            category_id=categories[row.category].id if row.category is not None else None,
            needs_callback=row.callback,
        )
        call.events = [
            CallEvent(
                at=start,
                kind="operator_rang",
                data={"extension": users[login].extension, "channel": "x"},
            )
            for login in row.rang
        ]
        session.add(call)


@pytest.fixture
def postgresql_cards(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """The rows in the site's PostgreSQL test database, appointments' T set to 30 s.

    The cards and dictionaries go back to the seed by conftest; the queues table is ours to undo.
    """
    with transaction(sessions) as session:
        before = {
            name: seconds
            for name, seconds in session.execute(select(Queue.name, Queue.service_level_sec))
        }
        for name, seconds in SERVICE_LEVEL.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )
        insert_rows(session, ROWS)
    yield sessions
    with transaction(sessions) as session:
        for name, seconds in before.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )


def sqlite_cards(
    path: Path, fill: Callable[[Session], None] | None = None
) -> sessionmaker[Session]:
    """The rows (or what `fill` adds) in a fresh SQLite file with the same staff and queues."""
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)  # tests only; the site itself migrates
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        queues = [
            Queue(name=name, title=name.title(), service_level_sec=seconds)
            for name, seconds in SERVICE_LEVEL.items()
        ]
        staff = [
            User(login=login, name=name, role=role, extension=extension, password_hash="-")
            for login, name, role, extension in (
                ("admin", "Анна Админова", "admin", None),
                ("supervisor", "Сергей Супервайзеров", "supervisor", None),
                ("operator1", "Ольга Операторова", "operator", "101"),
                ("operator2", "Иван Петров", "operator", "102"),
            )
        ]
        session.add_all(queues + staff)
        session.flush()
        staff[1].supervised_queues = list(queues)
        for operator in staff[2:]:
            operator.memberships = [QueueMember(queue=queue) for queue in queues]
        if fill is None:
            insert_rows(session, ROWS)
        else:
            fill(session)
    return factory


@pytest.fixture(params=["postgresql", "sqlite"])
def cards(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    """The same cards on either database the site runs on."""
    if request.param == "sqlite":
        return sqlite_cards(tmp_path / "reports.sqlite")
    return request.getfixturevalue("postgresql_cards")


def staff(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    assert user is not None
    return user


INDEXED = list(enumerate(ROWS))


def test_queue_figures_follow_the_definitions(cards: sessionmaker[Session]) -> None:
    with cards() as session:
        rows = {
            row.queue: row
            for row in queue_report(session, PERIOD, staff(session, "admin"), SHORT).rows
        }
    assert set(rows) == {"reception", "appointments", None}
    for queue, row in rows.items():
        expected = expected_queue(INDEXED, queue)
        got = {name: getattr(row, name) for name in expected}
        assert got == pytest.approx(expected), queue
    # The same worked out once more with pencil and paper.
    reception, appointments = rows["reception"], rows["appointments"]
    assert (
        reception.offered,
        reception.answered,
        reception.abandoned,
        reception.short_abandoned,
        reception.missed,
        reception.refused,
    ) == (8, 3, 3, 2, 2, 2)
    assert reception.service_level == pytest.approx(100 * 2 / 6)  # waits 10 and 20 ≤ 20
    assert reception.abandon_rate == pytest.approx(100 * 1 / 6)
    assert reception.asa == pytest.approx((10 + 25 + 20) / 3)
    assert appointments.service_level == pytest.approx(100 * 2 / 4)  # its T is 30 s
    assert appointments.service_level_sec == 30
    assert rows[None].closed == 2 and rows[None].offered == 0
    assert reception.closed == 1


def test_short_abandon_threshold_is_a_parameter(cards: sessionmaker[Session]) -> None:
    with cards() as session:
        rows = {
            row.queue: row
            for row in queue_report(
                session, PERIOD, staff(session, "admin"), short_abandon_sec=3
            ).rows
        }
    assert rows["reception"].short_abandoned == 1  # the 5-second abandon is no longer short
    assert rows["appointments"].short_abandoned == 1


def test_operator_figures_follow_the_definitions(cards: sessionmaker[Session]) -> None:
    with cards() as session:
        rows = {
            row.name: row
            for row in operator_figures(session, PERIOD, staff(session, "admin"), NO_PURPOSE)
        }
    names = {"operator1": "Ольга Операторова", "operator2": "Иван Петров"}
    assert set(rows) == set(names.values())
    for login, name in names.items():
        expected = expected_operator(INDEXED, login)
        assert rows[name].purposes == expected.pop("purposes"), login
        got = {key: getattr(rows[name], key) for key in expected}
        assert got == pytest.approx(expected), login
    olga = rows["Ольга Операторова"]
    assert (olga.answered, olga.missed) == (4, 2)  # a call that rang her twice is one miss
    assert olga.after_call_avg == pytest.approx((30 + 60 + 0 + 10) / 4)
    assert olga.aht == pytest.approx((610 + 20 + 100) / 4)


def test_category_figures_and_weeks_follow_the_definitions(cards: sessionmaker[Session]) -> None:
    with cards() as session:
        rows = category_figures(session, PERIOD, staff(session, "admin"))
    expected = expected_categories(INDEXED)
    assert [row.name for row in rows] == ["category 0", "category 1", "category 2"]
    for row in rows:
        wanted = expected[row.name]
        assert (row.cards, row.needs_callback) == (wanted["cards"], wanted["needs_callback"])
        assert row.callback_share == pytest.approx(share(wanted["needs_callback"], wanted["cards"]))
        assert {week: n for week, n in row.weeks.items() if n} == wanted["weeks"]
        assert set(row.weeks) == {"2026-W10", "2026-W11"}
    # 01:00 on Monday 9 March in Moscow is still Sunday in UTC: the week is the local one.
    assert rows[2].weeks == {"2026-W10": 1, "2026-W11": 1}


def _rates(row: Any) -> dict[str, float | None]:
    return {"declared": row.first_call.declared_rate, "measured": row.first_call.measured_rate}


def _rounded(rates: dict[Any, dict[str, float | None]]) -> dict[Any, dict[str, float | None]]:
    return {
        key: {name: None if value is None else round(value, 6) for name, value in values.items()}
        for key, values in rates.items()
    }


def test_first_call_resolution_declared_and_measured_per_operator_and_category(
    cards: sessionmaker[Session],
) -> None:
    with cards() as session:
        admin = staff(session, "admin")
        operators = operator_figures(session, PERIOD, admin, NO_PURPOSE)
        categories = category_figures(session, PERIOD, admin)
    names = {"Ольга Операторова": "operator1", "Иван Петров": "operator2"}
    expected = expected_first_call(INDEXED, lambda row: row.operator)
    assert _rounded({names[row.name]: _rates(row) for row in operators}) == _rounded(expected)
    expected = expected_first_call(
        INDEXED, lambda row: None if row.category is None else f"category {row.category}"
    )
    assert _rounded({row.name: _rates(row) for row in categories}) == _rounded(expected)
    # By hand. Olga answered three calls from callers: one marked resolved; the first caller
    # called again three minutes later, the other two not within 7 days (one ten days on).
    by_name = {row.name: row for row in operators}
    assert _rates(by_name["Ольга Операторова"]) == pytest.approx(
        {"declared": 100 / 3, "measured": 200 / 3}
    )
    # Ivan: two of three marked; of the two known numbers (one caller was anonymous) both
    # called again, one 6 days 23 h on, one after the period: measured 0 %.
    assert _rates(by_name["Иван Петров"]) == pytest.approx({"declared": 200 / 3, "measured": 0})
    total = operator_total(operators, "all")
    assert _rates(total) == pytest.approx({"declared": 50.0, "measured": 40.0})
    # Categories: five calls from callers (the outbound card of category 2 is not one).
    assert _rates(category_total(categories, "all")) == pytest.approx(
        {"declared": 60.0, "measured": 40.0}
    )


def test_the_first_call_window_is_a_parameter(cards: sessionmaker[Session]) -> None:
    with cards() as session:
        rows = {
            row.name: row
            for row in operator_figures(
                session, PERIOD, staff(session, "admin"), NO_PURPOSE, repeat_days=11
            )
        }
    # Eleven days: Olga's caller of ten days on counts as calling again.
    assert rows["Ольга Операторова"].first_call.measured_rate == pytest.approx(100 / 3)
    assert rows["Иван Петров"].first_call.measured_rate == 0


def stop_supervising(factory: sessionmaker[Session], queue: str) -> None:
    """The test supervisor no longer oversees this queue."""
    with transaction(factory) as session:
        supervisor = staff(session, "supervisor")
        queue_id = session.scalar(select(Queue.id).where(Queue.name == queue))
        session.execute(
            queue_supervisors.delete().where(
                queue_supervisors.c.user_id == supervisor.id,
                queue_supervisors.c.queue_id == queue_id,
            )
        )


def test_a_supervisor_sees_only_the_queues_they_oversee(cards: sessionmaker[Session]) -> None:
    stop_supervising(cards, "appointments")
    with cards() as session:
        supervisor = staff(session, "supervisor")
        queues = {row.queue: row for row in queue_report(session, PERIOD, supervisor, SHORT).rows}
        operators = {
            row.name: row for row in operator_figures(session, PERIOD, supervisor, NO_PURPOSE)
        }
        categories = {row.name: row for row in category_figures(session, PERIOD, supervisor)}
    assert set(queues) == {"reception"}
    assert queues["reception"].offered == expected_queue(INDEXED, "reception")["offered"]
    # Outbound calls count for the operators who serve the supervisor's queues.
    visible = [
        (index, row)
        for index, row in INDEXED
        if row.queue == "reception" or (row.queue is None and row.operator)
    ]
    for login, name in (("operator1", "Ольга Операторова"), ("operator2", "Иван Петров")):
        expected = expected_operator(visible, login)
        assert operators[name].answered == expected["answered"]
        assert operators[name].talk_sec == expected["talk_sec"]
    assert categories["category 0"].cards == expected_categories(visible)["category 0"]["cards"]


# -- the daily roll-ups give the figures of the cards ---------------------------------------


def comparable(figures: Any) -> Any:
    """Report rows as plain data, sums of fractional seconds to the microsecond."""
    if isinstance(figures, list | tuple):
        return [comparable(item) for item in figures]
    if isinstance(figures, dict):
        return {key: comparable(value) for key, value in figures.items()}
    if isinstance(figures, float):
        return round(figures, 6)
    if hasattr(figures, "__dataclass_fields__"):
        return comparable(asdict(figures))
    return figures


def rolled_up_figures(factory: sessionmaker[Session], login: str) -> Any:
    """The figures as the site reads them: roll-ups where fresh, the cards elsewhere."""
    with factory() as session:
        return every_figure(session, login)


def every_figure(session: Session, login: str) -> Any:
    """All three reports (the queues with two short-abandon thresholds) for one user."""
    user = staff(session, login)
    return comparable(
        [
            queue_report(session, PERIOD, user, SHORT),
            queue_report(session, PERIOD, user, short_abandon_sec=3),
            operator_figures(session, PERIOD, user, NO_PURPOSE),
            category_figures(session, PERIOD, user),
        ]
    )


def from_the_cards(factory: sessionmaker[Session], login: str) -> Any:
    """The figures with the roll-ups set aside (every day stale, for one transaction)."""
    with factory() as session:
        session.execute(update(ReportDay).values(stale=True))
        figures = every_figure(session, login)
        session.rollback()
    return figures


def stale_days(factory: sessionmaker[Session]) -> set[int]:
    with factory() as session:
        return {
            (day - FIRST_DAY).days
            for day in session.scalars(select(ReportDay.day).where(ReportDay.stale.is_(True)))
        }


def test_daily_rollups_give_the_figures_of_the_cards_through_edits_and_late_cards(
    cards: sessionmaker[Session],
) -> None:
    logins = ("admin", "supervisor")
    expected = {login: from_the_cards(cards, login) for login in logins}
    # Days 5, 6, 11 and 12 stay unrolled: the period mixes roll-ups and cards.
    for offset in (-1, 0, 1, 2, 3, 4, 7, 8, 9, 10, 13, 14):
        roll_up_day(cards, FIRST_DAY + timedelta(days=offset), MSK)
    with cards() as session:
        assert coverage(session, PERIOD, staff(session, "admin"), [SHORT]).days
    for login in logins:
        assert rolled_up_figures(cards, login) == expected[login], login
    assert stale_days(cards) == set()

    with transaction(cards) as session:
        users = {user.login: user for user in session.scalars(select(User))}
        answered = session.scalar(select(Call).where(Call.linkedid == "test-1"))  # day 1
        assert answered is not None
        answered.wait_sec, answered.completed_at = 3, answered.completed_at + timedelta(hours=1)
        moved = session.scalar(select(Call).where(Call.linkedid == "test-4"))  # day 8
        assert moved is not None
        moved.started_at += timedelta(days=1)  # to day 9, both days change
        late = datetime.combine(FIRST_DAY + timedelta(days=2), time(15), MSK)  # a CEL-rebuilt card
        session.add(
            Call(
                uniqueid="late",
                linkedid="late",
                queue="appointments",
                direction="inbound",
                status=ABANDONED,
                started_at=late,
                queue_entered_at=late,
                ended_at=late + timedelta(seconds=4),
                end_reason="caller_hangup_queue",
                category_id=answered.category_id,
            )
        )
        session.add(
            CallEvent(
                call_id=session.scalar(select(Call.id).where(Call.linkedid == "test-5")),
                at=utcnow(),  # day 3
                kind="operator_rang",
                data={"extension": users["operator2"].extension},
            )
        )
    assert stale_days(cards) == {1, 2, 3, 8, 9}
    for login in logins:
        now = from_the_cards(cards, login)
        assert now != expected[login]  # the changes show in the figures
        assert rolled_up_figures(cards, login) == now, login

    rolled = roll_up(cards, MSK, FIRST_DAY + timedelta(days=15))
    assert rolled == 5 + 4  # the stale days and the four never rolled up
    assert stale_days(cards) == set()
    for login in logins:
        assert rolled_up_figures(cards, login) == from_the_cards(cards, login), login


def test_a_recent_day_is_not_rolled_up(cards: sessionmaker[Session]) -> None:
    yesterday = datetime.now(MSK).date() - timedelta(days=1)
    with pytest.raises(ValueError, match="too recent"):
        roll_up_day(cards, yesterday, MSK)


def test_a_rollup_made_in_another_time_zone_is_not_read(cards: sessionmaker[Session]) -> None:
    expected = from_the_cards(cards, "admin")
    for offset in range(14):
        roll_up_day(cards, FIRST_DAY + timedelta(days=offset), ZoneInfo("Asia/Yekaterinburg"))
    with cards() as session:
        assert coverage(session, PERIOD, staff(session, "admin")).days == []
    assert rolled_up_figures(cards, "admin") == expected


def test_the_nightly_command_rolls_up_every_past_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = sqlite_cards(tmp_path / "nightly.sqlite")
    expected = from_the_cards(factory, "admin")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'nightly.sqlite'}")
    monkeypatch.setenv("CALLCARDS_TIMEZONE", "Europe/Moscow")
    assert main(["reports", "rollup"]) == 0
    first = FIRST_DAY - timedelta(days=1)  # the earliest card's day
    # Every day from it that has been over for two days (the call path's cards are newer).
    days = (datetime.now(MSK).date() - first).days
    days -= sum(
        not settled(day_bounds(datetime.now(MSK).date() - timedelta(days=back), MSK)[1])
        for back in range(1, 5)
    )
    assert capsys.readouterr().out.strip() == f"{days} day(s) rolled up"
    with factory() as session:
        assert coverage(session, PERIOD, staff(session, "admin")).stretches == []
    assert rolled_up_figures(factory, "admin") == expected
    assert main(["reports", "rollup"]) == 0
    assert capsys.readouterr().out.strip() == "0 day(s) rolled up"
