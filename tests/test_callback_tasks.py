"""Callback tasks on PostgreSQL: the sweep makes each task once, one open task per number and
queue, closes it when the caller got through, survives a database outage; one operator of two
takes a task."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from callbacks.sweep import sweep_locked, sweep_once
from callbacks.tasks import record_outcome, take
from callcards.cli import main
from dialplan.settings import QueueCallbacks
from models import Call, CallbackCard, CallbackTask, Status, TaskOutcome, User, utcnow
from models.session import make_engine, make_session_factory
from tests.agi_process import AgiProcess, free_port

NUMBER = "79165550101"


def lost_card(
    sessions: sessionmaker[Session],
    *,
    number: str | None = NUMBER,
    status: Status = Status.MISSED,
    queue: str = "reception",
    ago: timedelta = timedelta(minutes=30),
    **more: object,
) -> int:
    """An ended inbound card, as the FastAGI server leaves it; its id."""
    started = utcnow() - ago
    with sessions.begin() as session:
        card = Call(
            uniqueid=uuid.uuid4().hex,
            linkedid=uuid.uuid4().hex,
            queue=queue,
            direction="inbound",
            status=status.value,
            started_at=started,
            queue_entered_at=started + timedelta(seconds=3),
            ended_at=started + timedelta(seconds=90),
            wait_sec=80,
            duration_sec=90,
            src_number=number,
            end_reason="queue_timeout" if status is Status.MISSED else None,
            **more,
        )
        session.add(card)
        session.flush()
        return card.id


def open_tasks(sessions: sessionmaker[Session]) -> list[CallbackTask]:
    with sessions() as session:
        return list(session.scalars(select(CallbackTask).where(CallbackTask.closed_at.is_(None))))


def test_a_second_sweep_makes_nothing_twice(sessions: sessionmaker[Session]) -> None:
    lost_card(sessions)
    lost_card(sessions, status=Status.ABANDONED, ago=timedelta(minutes=10))
    lost_card(sessions, number="anonymous")
    first = sweep_locked(sessions)
    assert first is not None
    assert (first.made, first.joined, first.anonymous) == (1, 1, 1)
    second = sweep_locked(sessions)
    assert second is not None and (second.made, second.joined) == (0, 0)
    [task] = open_tasks(sessions)
    assert (task.number, task.queue, task.lost_calls, task.reason) == (
        NUMBER,
        "reception",
        2,
        "missed",
    )
    assert task.next_attempt_at is not None


def test_one_open_task_per_number_and_queue(sessions: sessionmaker[Session]) -> None:
    lost_card(sessions)
    lost_card(sessions, queue="doctors")
    sweep_locked(sessions)
    assert sorted(t.queue for t in open_tasks(sessions)) == ["doctors", "reception"]
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(
            CallbackTask(
                queue="reception",
                number=NUMBER,
                reason="missed",
                waiting_since=utcnow(),
                last_call_at=utcnow(),
            )
        )


def test_the_task_closes_when_the_caller_gets_through(sessions: sessionmaker[Session]) -> None:
    lost_card(sessions)
    sweep_locked(sessions)
    lost_card(sessions, status=Status.ANSWERED, ago=timedelta(minutes=5))
    done = sweep_locked(sessions)
    assert done is not None and done.got_through == 1
    assert open_tasks(sessions) == []
    with sessions() as session:
        task = session.scalar(select(CallbackTask))
        assert task is not None and task.outcome == TaskOutcome.GOT_THROUGH.value
    # Calling again and getting lost again opens a new task.
    lost_card(sessions, ago=timedelta(minutes=1))
    sweep_locked(sessions)
    assert len(open_tasks(sessions)) == 1


def test_a_requested_callback_keeps_its_place(sessions: sessionmaker[Session]) -> None:
    lost_card(sessions, number="79165550102", ago=timedelta(minutes=20))
    lost_card(
        sessions,
        number="79165550103",
        status=Status.CALLBACK_REQUESTED,
        ago=timedelta(minutes=30),
        callback_number="84957770011",
    )
    sweep_locked(sessions)
    with sessions() as session:
        order = list(
            session.scalars(
                select(CallbackTask.number).order_by(
                    CallbackTask.priority, CallbackTask.waiting_since
                )
            )
        )
    assert order == ["84957770011", "79165550102"]


def test_database_outage_delays_tasks_and_loses_none(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    lost_card(sessions)
    away = make_session_factory(make_engine(database_url.replace("127.0.0.1:5432", "127.0.0.1:9")))
    with pytest.raises(OperationalError):
        sweep_locked(away)
    assert open_tasks(sessions) == []
    sweep_locked(sessions)
    sweep_locked(sessions)
    [task] = open_tasks(sessions)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CallbackCard)) == 1
    assert task.lost_calls == 1


def test_two_operators_take_one_task_and_exactly_one_gets_it(
    sessions: sessionmaker[Session],
) -> None:
    lost_card(sessions)
    sweep_locked(sessions)
    [task] = open_tasks(sessions)
    with sessions() as session:
        operators = list(
            session.scalars(select(User.id).where(User.role == "operator").order_by(User.id))
        )[:2]
    start = threading.Barrier(2)
    won: dict[int, bool] = {}

    def take_as(operator_id: int) -> None:
        with sessions.begin() as session:
            session.execute(select(CallbackTask.id).where(CallbackTask.id == task.id))
            start.wait()
            won[operator_id] = take(session, task.id, operator_id, utcnow())

    threads = [threading.Thread(target=take_as, args=(o,)) for o in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won.values()) == [False, True]
    [taken] = open_tasks(sessions)
    assert taken.taken_by_id == next(o for o, ok in won.items() if ok)


def test_no_answer_three_times_closes_the_task_unreachable(
    sessions: sessionmaker[Session],
) -> None:
    lost_card(sessions)
    sweep_locked(sessions)
    policy = QueueCallbacks(("+15m",), max_attempts=3)
    at = utcnow()
    for attempt in range(3):
        with sessions.begin() as session:
            task = session.scalars(select(CallbackTask)).one()
            after = record_outcome(
                session,
                task,
                TaskOutcome.NO_ANSWER,
                operator_id=None,
                at=at,
                policy=policy,
                hours=None,
            )
        if attempt < 2:
            assert after.next_attempt_at == at + timedelta(minutes=15)
    with sessions() as session:
        task = session.scalars(select(CallbackTask)).one()
        assert (task.attempts, task.outcome) == (3, "unreachable")
        assert len(task.tries) == 3


def test_sweep_reads_only_cards_of_the_window(sessions: sessionmaker[Session]) -> None:
    lost_card(sessions, ago=timedelta(days=8))
    with sessions.begin() as session:
        assert sweep_once(session, datetime.now().astimezone()).made == 0


def test_a_task_held_by_an_operator_who_left_goes_back_to_the_queue(
    sessions: sessionmaker[Session],
) -> None:
    lost_card(sessions)
    sweep_locked(sessions)
    [task] = open_tasks(sessions)
    with sessions.begin() as session:
        leaver = User(login=f"leaver{uuid.uuid4().hex[:6]}", name="Ушедший", role="operator")
        leaver.set_password("x" * 12)
        session.add(leaver)
        session.flush()
        assert take(session, task.id, leaver.id, utcnow())
        leaver.active = False
    done = sweep_locked(sessions)
    assert done is not None and done.released == 1
    [back] = open_tasks(sessions)
    assert back.taken_by_id is None


def test_the_command_sweeps_the_embedded_sqlite_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'callcards.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CALLCARDS_INSTANCE_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert main(["seed-demo"]) == 0
    local = make_session_factory(make_engine(url))
    lost_card(local)
    lost_card(local, status=Status.ABANDONED, ago=timedelta(minutes=5))
    capsys.readouterr()
    assert main(["callbacks"]) == 0
    assert "1 task(s) made, 1 card(s) joined" in capsys.readouterr().out
    assert main(["callbacks"]) == 0
    assert "0 task(s) made, 0 card(s) joined" in capsys.readouterr().out
    [task] = open_tasks(local)
    assert task.lost_calls == 2


def test_callcards_agi_sweeps_by_itself(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    server = AgiProcess(
        database_url,
        tmp_path,
        free_port(),
        tmp_path / "agi.log",
        extra_env={"CALLCARDS_CALLBACK_EVERY": "0.3"},
    )
    server.start()
    try:
        lost_card(sessions)
        deadline = time.monotonic() + 20
        while not open_tasks(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
    [task] = open_tasks(sessions)
    assert task.number == NUMBER
