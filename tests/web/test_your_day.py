"""The workspace's "Your day": today's calls, talk, wrap-up, pauses and the pause targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from models.live import OperatorState
from models.session import transaction
from tests.web.conftest import login, make_settings, user_id
from webadmin import create_app
from webadmin.workspace import day as day_module

MSK = ZoneInfo("Europe/Moscow")
#: The box's "now": today at noon in the call centre's zone, so the day never crosses midnight.
NOON = datetime.now(MSK).replace(hour=12, minute=0, second=0, microsecond=0).astimezone(UTC)


@pytest.fixture(scope="module")
def targets_app(web_database_url: str, recordings_dir: Path) -> Flask:
    """The site with pause allowances: lunch 60 minutes, break 20."""
    settings = replace(
        make_settings(web_database_url, recordings_dir),
        pause_allowances=(("lunch", 60), ("break", 20)),
    )
    return create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def morning(
    sessions: sessionmaker[Session],
    make_call: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Operator1's morning: one answered call (5 min talk, 2 min wrap-up), lunch 30 min and a
    break of 25 min; yesterday's break does not count."""
    monkeypatch.setattr(day_module, "utcnow", lambda: NOON)
    one = user_id(sessions, "operator1")
    make_call(started_at=NOON - timedelta(hours=3))
    make_call(started_at=NOON - timedelta(days=1))
    with transaction(sessions) as session:
        for state, reason, start, minutes in (
            ("talking", None, NOON - timedelta(hours=3), 5),
            ("wrapup", None, NOON - timedelta(hours=3) + timedelta(minutes=5), 2),
            ("paused", "lunch", NOON - timedelta(hours=2), 30),
            ("paused", "break", NOON - timedelta(hours=1), 25),
            ("paused", "break", NOON - timedelta(days=1), 20),
        ):
            session.add(
                OperatorState(
                    user_id=one,
                    interface="PJSIP/101",
                    state=state,
                    reason=reason,
                    started_at=start,
                    ended_at=start + timedelta(minutes=minutes),
                )
            )
    yield
    with transaction(sessions) as session:
        session.execute(delete(OperatorState))


def _box(page: str) -> str:
    start = page.index('id="your-day"')
    return page[start : page.index("</section>", start)]


@pytest.mark.usefixtures("morning")
def test_the_operator_sees_their_day_and_time_left_of_each_target(targets_app: Flask) -> None:
    client = targets_app.test_client()
    login(client, "operator1")
    box = _box(client.get("/").text)
    assert "Ваш день" in box
    assert '<dd id="day-answered">1</dd>' in box
    assert '<dd id="day-talk">5:00</dd>' in box and '<dd id="day-wrapup">2:00</dd>' in box
    assert "Пауза: Обед" in box and "30:00" in box and "Пауза: Перерыв" in box
    # Lunch: 30 of 60 minutes left, the next target; the break is 5 minutes over its 20.
    assert "Обед: осталось 30:00 из 1:00:00" in box
    assert "Перерыв: можно 20:00, превышено на 5:00" in box
    assert box.index("(ваша ближайшая цель)") > box.index("Обед: осталось")


@pytest.mark.usefixtures("morning")
def test_the_box_speaks_english_when_chosen(targets_app: Flask) -> None:
    client = targets_app.test_client()
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/"})
    box = _box(client.get("/").text)
    assert "Your day" in box and "Calls answered" in box
    assert "Lunch: 30:00 left of 1:00:00" in box and "(your next target)" in box
    assert "Break: 20:00 allowed, over by 5:00" in box


def test_without_allowances_or_states_the_box_says_nothing_yet(client: FlaskClient) -> None:
    login(client, "operator1")
    box = _box(client.get("/").text)
    assert '<dd id="day-answered">0</dd>' in box and "пока не было" in box
    assert "day-targets" not in box
