"""`callcards seed-demo --week` on SQLite: every page a new user opens has something true."""

from __future__ import annotations

import array
import csv
import io
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings, load_settings
from callcards.demo import seed_demo
from callcards.demo_week import MARK, seed_demo_week
from models import AuditEntry, Call, CallEvent, User, migrate
from models.live import OperatorState
from models.session import make_engine, make_session_factory, transaction
from webadmin import create_app

TODAY = date(2026, 12, 7)  # a Monday: the week before it has five working days and a weekend
WEEK = {"from": "2026-11-30", "to": "2026-12-06"}


@dataclass
class Week:
    """The seeded demo: its settings, its database and how many calls were made."""

    settings: Settings
    sessions: sessionmaker[Session]
    made: int


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    folder = tmp_path_factory.mktemp("demo")
    settings = load_settings(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'callcards.sqlite3'}",
            "RECORDINGS_DIR": str(folder / "recordings"),
            "CALLCARDS_JOURNAL_DIR": str(folder / "journal"),
        }
    )
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        seed_demo(session)
    made = seed_demo_week(settings, today=TODAY)
    yield Week(settings, sessions, made)
    engine.dispose()


def cards(week: Week) -> list[Call]:
    with week.sessions() as session:
        return list(session.scalars(select(Call).where(Call.linkedid.like(f"{MARK}%"))))


def kinds_of_events(week: Week) -> set[str]:
    with week.sessions() as session:
        return set(session.scalars(select(CallEvent.kind).distinct()))


def test_the_week_has_every_kind_of_call(week: Week) -> None:
    made = cards(week)
    assert len(made) == week.made > 40
    ends = {(card.direction, card.status, card.end_reason) for card in made}
    assert {
        ("inbound", "answered", "caller_hangup"),
        ("inbound", "missed", "queue_timeout"),
        ("inbound", "abandoned", "caller_hangup_queue"),
        ("inbound", "abandoned", "caller_hangup_ivr"),
        ("inbound", "missed", "closed_hours"),
    } <= ends
    assert {card.direction for card in made} == {"inbound", "outbound"}
    assert {
        "transferred",
        "queue_overflow",
        "hold",
        "unhold",
        "message_left",
        "operator_rang",
        "ivr_key",
    } <= kinds_of_events(week)
    answered = [card for card in made if card.status == "answered"]
    assert any(card.hold_sec for card in answered)
    assert any(card.completed_at for card in answered)
    assert any(card.completed_at is None for card in answered)
    # Every card is closed: the week is over.
    assert all(card.ended_at is not None and card.status != "ringing" for card in made)


def test_every_card_of_the_week_started_in_its_last_seven_days(week: Week) -> None:
    days = {card.started_at.date() for card in cards(week)}
    assert min(days) >= date(2026, 11, 30) and max(days) <= date(2026, 12, 6)
    assert len(days) >= 6


def loudest(path: Path) -> int:
    with wave.open(str(path), "rb") as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (8000, 2, 1)
        samples = array.array("h", audio.readframes(audio.getnframes()))
    return max(abs(sample) for sample in samples)


def test_recordings_are_wav_files_with_sound(week: Week) -> None:
    recorded = [card for card in cards(week) if card.recording_state == "ok"]
    assert len(recorded) > 30
    for card in recorded[:10]:
        assert card.recording_path
        assert loudest(week.settings.recordings_dir / card.recording_path) > 3000
    # A message left after hours is the card's recording, as long as the caller spoke.
    message = next(card for card in recorded if card.end_reason == "closed_hours")
    with wave.open(str(week.settings.recordings_dir / message.recording_path), "rb") as audio:
        spoken = audio.getnframes() // 8000
    with week.sessions() as session:
        left = session.scalar(
            select(CallEvent).where(
                CallEvent.call_id == message.id, CallEvent.kind == "message_left"
            )
        )
        assert left is not None and int(left.data["seconds"]) == spoken


def test_seeding_again_adds_nothing(week: Week) -> None:
    before = len(cards(week))
    with week.sessions() as session:
        audit = session.scalar(select(func.count(AuditEntry.id)))
    with week.sessions() as session:
        states = session.scalar(select(func.count(OperatorState.id)))
    assert seed_demo_week(week.settings, today=TODAY) == 0
    assert len(cards(week)) == before
    with week.sessions() as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == audit
        assert session.scalar(select(func.count(OperatorState.id))) == states


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def signed_in(week: Week, login: str) -> Any:
    app = create_app(settings=week.settings)
    client = app.test_client()
    token = _CSRF.search(client.get("/login").get_data(as_text=True))
    assert token is not None
    answer = client.post(
        "/login", data={"login": login, "password": login, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302
    return client


def page(client: Any, url: str) -> str:
    """The page's visible text, tags removed."""
    answer = client.get(url)
    assert answer.status_code == 200, url
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)))


def table(client: Any, url: str) -> dict[str, dict[str, str]]:
    """A report's CSV download: rows by their first cell, cells by the header."""
    answer = client.get(url)
    assert answer.status_code == 200, url
    rows = list(
        csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    return {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row}


def test_the_calls_list_shows_the_week(week: Week) -> None:
    text = page(signed_in(week, "admin"), "/calls")
    assert f"{week.made} звонк" in text  # "найдено 64 звонка" (ngettext)
    newest = max(cards(week), key=lambda card: card.started_at)
    assert newest.src_number and newest.src_number in text


def test_a_transferred_card_names_both_operators(week: Week) -> None:
    with week.sessions() as session:
        card_id = session.scalar(
            select(CallEvent.call_id).where(CallEvent.kind == "transferred").limit(1)
        )
        names = set(session.scalars(select(User.name).where(User.extension.in_(["101", "102"]))))
    text = page(signed_in(week, "supervisor"), f"/calls/{card_id}")
    assert all(name in text for name in names)


def test_the_reports_agree_with_the_cards(week: Week) -> None:
    made = [card for card in cards(week) if card.direction == "inbound"]
    client = signed_in(week, "supervisor")
    query = f"from={WEEK['from']}&to={WEEK['to']}&format=csv"
    total = table(client, f"/reports/queues?{query}")["Все очереди"]
    assert int(total["Отвечено"]) == sum(card.status == "answered" for card in made) > 20
    assert int(total["Пропущено"]) == sum(card.end_reason == "queue_timeout" for card in made)
    assert int(total["Брошено"]) == sum(card.end_reason == "caller_hangup_queue" for card in made)
    assert int(total["В нерабочее время"]) == sum(
        card.end_reason == "closed_hours" for card in made
    )
    operators = table(client, f"/reports/operators?{query}")["Все операторы"]
    assert int(operators["Отвечено"]) == sum(
        card.status == "answered" and card.operator_id is not None for card in cards(week)
    )
    completed = sum(card.completed_at is not None for card in cards(week))
    assert int(operators["Карточек сохранено"]) == completed > 10
    categories = table(client, f"/reports/categories?{query}")["Все категории"]
    assert int(categories["Карточек"]) == completed


def test_the_sessions_report_agrees_with_the_cards(week: Week) -> None:
    answered = [
        card
        for card in cards(week)
        if card.status == "answered" and card.operator_id and card.answered_at and card.ended_at
    ]
    client = signed_in(week, "supervisor")
    query = f"from={WEEK['from']}&to={WEEK['to']}&format=csv&table=operators"
    total = table(client, f"/reports/sessions?{query}")["Все операторы"]

    def seconds(name: str) -> float:
        return float(total[name].replace(",", "."))

    talk = sum((card.ended_at - card.answered_at).total_seconds() for card in answered)  # type: ignore[operator]
    assert seconds("Разговор") + seconds("На удержании") == pytest.approx(talk, abs=1)
    assert seconds("На удержании") == pytest.approx(
        sum(card.hold_sec or 0 for card in answered), abs=len(answered)
    )
    assert seconds("Обработка") > 0 and seconds("Обед") >= 45 * 60
    # Logged in over the working days, 08:00-20:00, each operator (a little more when a
    # call ran past 20:00); ready fills the rest.
    days = {card.answered_at.date() for card in answered if card.answered_at.weekday() < 5}  # type: ignore[union-attr]
    assert seconds("В системе") >= 2 * len(days) * 12 * 3600
    assert seconds("Готов") + seconds("Разговор") + seconds("На удержании") + seconds(
        "Обработка"
    ) + seconds("На паузе") == pytest.approx(seconds("В системе"), abs=1)


def test_the_audit_log_shows_completed_cards_and_listened_recordings(week: Week) -> None:
    with week.sessions() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.at.desc())))
        completed = sum(entry.action == "card.complete" for entry in entries)
        assert completed == sum(card.completed_at is not None for card in cards(week))
        assert any(entry.action == "recording.listen" for entry in entries)
        # Each trace is stamped inside the week, after the call it is about.
        for entry in entries:
            card = session.get_one(Call, entry.call_id)
            assert card.ended_at is not None and entry.at > card.ended_at
    text = page(signed_in(week, "admin"), "/admin/audit")
    assert f"#{entries[0].call_id}" in text


def test_the_workspace_lists_the_operator_s_cards_to_complete(week: Week) -> None:
    with week.sessions() as session:
        operator = session.scalar(select(User).where(User.login == "operator1"))
        assert operator is not None
        waiting = [
            card
            for card in cards(week)
            if card.operator_id == operator.id
            and card.status == "answered"
            and card.completed_at is None
        ]
    assert waiting
    text = page(signed_in(week, "operator1"), "/")
    assert all(card.src_number and card.src_number in text for card in waiting)
