"""The operator sessions report against a scripted day whose every figure is counted by hand,
on PostgreSQL and on SQLite; the supervisor's scope."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.demo import seed_demo
from models import Queue, QueueMember, Role, User, migrate, queue_supervisors
from models.live import OperatorState
from models.session import make_engine, make_session_factory, transaction
from reports.period import Period
from reports.sessions import OperatorDay, own_day, sessions_report
from tests.conftest import demo_database, drop_database

MSK = ZoneInfo("Europe/Moscow")
DAY1, DAY2 = date(2026, 3, 10), date(2026, 3, 11)
#: The report's "now": day 2 at 02:00, while operator1's last interval is still open.
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=MSK).astimezone(UTC)
PERIOD = Period(
    datetime(2026, 3, 10, tzinfo=MSK).astimezone(UTC),
    datetime(2026, 3, 12, tzinfo=MSK).astimezone(UTC),
    MSK,
)


def at(clock: str, day: date = DAY1) -> datetime:
    """A Moscow wall-clock time ('HH:MM' or 'HH:MM:SS') on `day`, in UTC."""
    parts = [int(part) for part in clock.split(":")] + [0]
    local = datetime(day.year, day.month, day.day, parts[0], parts[1], parts[2], tzinfo=MSK)
    return local.astimezone(UTC)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database with the demo staff and queues, PostgreSQL then SQLite."""
    if request.param == "postgresql":
        name = f"callcards_sessions_{os.getpid()}"
        made = make_engine(demo_database(name))
        yield made
        made.dispose()
        drop_database(name)
        return
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('sessions')) / 'callcards.db'}"
    migrate.upgrade(url)
    made = make_engine(url)
    with transaction(make_session_factory(made)) as session:
        seed_demo(session)
    yield made
    made.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database; the intervals a test wrote are gone after it."""
    factory = make_session_factory(engine)
    yield factory
    with transaction(factory) as session:
        session.execute(delete(OperatorState))


def _user(session: Session, login: str) -> User:
    found = session.scalar(select(User).where(User.login == login))
    assert found is not None
    return found


def script_the_day(factory: sessionmaker[Session]) -> None:
    """Operator1's and operator2's day (Moscow time), as docs/metrics.md's figures see it."""
    with transaction(factory) as session:
        one, two = _user(session, "operator1").id, _user(session, "operator2").id

        def state(
            user: int,
            state: str,
            start: datetime,
            end: datetime | None,
            reason: str | None = None,
            call: str | None = None,
            gap: bool = False,
        ) -> None:
            session.add(
                OperatorState(
                    user_id=user,
                    interface=f"PJSIP/{100 + user}",
                    state=state,
                    reason=reason,
                    linkedid=call,
                    started_at=start,
                    ended_at=end,
                    gap=gap,
                )
            )

        def member(user: int, queue: str, start: datetime, end: datetime) -> None:
            session.add(
                OperatorState(
                    user_id=user,
                    interface=f"PJSIP/{100 + user}",
                    queue=queue,
                    state="logged_in",
                    started_at=start,
                    ended_at=end,
                )
            )

        # Operator1 is logged in to reception 09:00-18:00 and to appointments 08:30-12:00
        # and 13:00 until 01:00 the next night: 08:30 to midnight, then one hour.
        member(one, "reception", at("09:00"), at("18:00"))
        member(one, "appointments", at("08:30"), at("12:00"))
        member(one, "appointments", at("13:00"), at("01:00", DAY2))
        # Operator2 covers reception 10:00-14:00 and appointments 12:00-13:00 (touching
        # operator1's intervals there: one operator at a time, not two).
        member(two, "reception", at("10:00"), at("14:00"))
        member(two, "appointments", at("12:00"), at("13:00"))
        state(two, "ready", at("10:00"), at("14:00"))

        # A break begun the evening before the period: its 15 minutes inside count.
        state(one, "paused", at("23:00", date(2026, 3, 9)), at("00:15"), reason="break")
        state(one, "ready", at("08:30"), at("09:00"))
        # Call A rings 20 s, is answered, held a minute, ends at 09:10; wrap-up 2 minutes.
        state(one, "ringing", at("09:00:00"), at("09:00:20"), call="A")
        state(one, "talking", at("09:00:20"), at("09:05:20"), call="A")
        state(one, "hold", at("09:05:20"), at("09:06:20"), call="A")
        state(one, "talking", at("09:06:20"), at("09:10:00"), call="A")
        state(one, "wrapup", at("09:10"), at("09:12"), call="A")
        state(one, "ready", at("09:12"), at("09:30"))
        # Call B rings 15 s and is not answered: a missed ring.
        state(one, "ringing", at("09:30:00"), at("09:30:15"), call="B")
        state(one, "ready", at("09:30:15"), at("10:00"))
        # A break whose reason changes to lunch at 10:20: two intervals.
        state(one, "paused", at("10:00"), at("10:20"), reason="break")
        state(one, "paused", at("10:20"), at("11:00"), reason="lunch")
        state(one, "ready", at("11:00"), at("11:30"))
        # The listener loses Asterisk at 12:00 and is back at 12:10: 10 minutes unknown.
        state(one, "ready", at("11:30"), at("12:00"), gap=True)
        state(one, "ready", at("12:10"), at("19:00"))
        # A break over midnight, then ready, still open at the report's "now" (02:00).
        state(one, "paused", at("19:00"), at("00:30", DAY2), reason="break")
        state(one, "ready", at("00:30", DAY2), None)
        # A clock stepped back: an interval "ending" before it began counts nothing.
        state(two, "ready", at("15:00"), at("14:30"))


def test_the_scripted_day_matches_the_hand_count(sessions: sessionmaker[Session]) -> None:
    script_the_day(sessions)
    with sessions() as session:
        report = sessions_report(session, PERIOD, _user(session, "admin"), now=NOW)
    rows = {(row.name, row.day): row for row in report.operators}
    assert set(rows) == {
        ("Ольга Операторова", DAY1),
        ("Ольга Операторова", DAY2),
        ("Иван Петров", DAY1),
    }
    first = rows["Ольга Операторова", DAY1]
    # Logged in: 08:30 to midnight, the union of both queues' intervals (15.5 h).
    assert first.logged_in_sec == pytest.approx(15.5 * 3600)
    # Ready: 30 min + 18 min + 29:45 + 30 min + 30 min (the gap's interval) + 6:50 h.
    assert first.ready_sec == pytest.approx(1800 + 1080 + 1785 + 1800 + 1800 + 24600)
    assert first.ringing_sec == pytest.approx(35)
    assert first.talk_sec == pytest.approx(300 + 220)
    assert first.hold_sec == pytest.approx(60)
    assert first.wrapup_sec == pytest.approx(120)
    # Breaks: 15 min inside the period, 20 min before lunch, 5 h of the evening's break.
    assert first.pauses == {
        "break": pytest.approx(900 + 1200 + 18000),
        "lunch": pytest.approx(2400),
    }
    assert first.paused_sec == pytest.approx(22500)
    assert first.unknown_sec == pytest.approx(600)
    assert first.missed_rings == 1
    # (520 + 60 + 120) / (55800 − 22500) × 100
    assert first.occupancy == pytest.approx(700 / 33300 * 100)

    second = rows["Ольга Операторова", DAY2]
    assert second.logged_in_sec == pytest.approx(3600)
    assert second.pauses == {"break": pytest.approx(1800)}
    assert second.ready_sec == pytest.approx(5400)  # 00:30 to "now", 02:00
    assert second.missed_rings == 0 and second.unknown_sec == 0
    assert second.occupancy == 0

    other = rows["Иван Петров", DAY1]
    assert other.logged_in_sec == pytest.approx(4 * 3600)
    assert other.ready_sec == pytest.approx(4 * 3600)
    assert other.pauses == {} and other.occupancy == 0

    queues = {(row.queue, row.day): row for row in report.queues}
    assert set(queues) == {("reception", DAY1), ("appointments", DAY1), ("appointments", DAY2)}
    assert queues["reception", DAY1].staffed_sec == pytest.approx(9 * 3600 + 4 * 3600)
    assert queues["reception", DAY1].peak == 2
    assert queues["reception", DAY1].title == "Регистратура"
    assert queues["appointments", DAY1].staffed_sec == pytest.approx(3.5 * 3600 + 11 * 3600 + 3600)
    assert queues["appointments", DAY1].peak == 1
    assert queues["appointments", DAY2].staffed_sec == pytest.approx(3600)


def test_one_day_period_and_an_operators_own_day(sessions: sessionmaker[Session]) -> None:
    script_the_day(sessions)
    day2 = Period(PERIOD.start + timedelta(days=1), PERIOD.end, MSK)
    with sessions() as session:
        mine = own_day(session, _user(session, "operator1").id, day2, now=NOW)
        nobody = own_day(session, _user(session, "admin").id, day2, now=NOW)
    assert isinstance(mine, OperatorDay) and mine.day == DAY2
    assert mine.pauses == {"break": pytest.approx(1800)}
    assert nobody is None


def test_a_supervisor_sees_only_their_queues_operators(sessions: sessionmaker[Session]) -> None:
    script_the_day(sessions)
    with transaction(sessions) as session:
        reception = session.scalar(select(Queue).where(Queue.name == "reception"))
        two = _user(session, "operator2")
        session.execute(delete(QueueMember).where(QueueMember.user_id == two.id))
        session.add(QueueMember(user_id=two.id, queue_id=reception.id if reception else 0))
        watcher = User(login="watch-appointments", name="Смотрящий", role=Role.SUPERVISOR.value)
        watcher.set_password("watch-appointments")
        session.add(watcher)
        session.flush()
        appointments = session.scalar(select(Queue.id).where(Queue.name == "appointments"))
        session.execute(
            queue_supervisors.insert().values(user_id=watcher.id, queue_id=appointments)
        )
    try:
        with sessions() as session:
            report = sessions_report(session, PERIOD, _user(session, "watch-appointments"), now=NOW)
            operator_report = sessions_report(session, PERIOD, _user(session, "operator1"), now=NOW)
        assert {row.name for row in report.operators} == {"Ольга Операторова"}
        assert {row.queue for row in report.queues} == {"appointments"}
        assert operator_report.operators == [] and operator_report.queues == []
    finally:
        with transaction(sessions) as session:
            watcher_id = _user(session, "watch-appointments").id
            session.execute(
                queue_supervisors.delete().where(queue_supervisors.c.user_id == watcher_id)
            )
            session.execute(delete(User).where(User.id == watcher_id))
            two = _user(session, "operator2")
            session.execute(delete(QueueMember).where(QueueMember.user_id == two.id))
            for queue in session.scalars(select(Queue)):
                session.add(QueueMember(user_id=two.id, queue_id=queue.id))
