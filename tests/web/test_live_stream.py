"""The live stream (/live/events): what each viewer is sent, resuming, signing out, bad ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from live.bus import EventKind
from models import StaffSession, User
from models.live import LiveFloor
from models.routing import Queue
from models.session import make_session_factory, transaction
from tests.live_events import empty_floor, published  # noqa: F401 (a fixture)
from tests.web.conftest import ANY_DATABASE_CONFIG, login, make_settings, user_id
from webadmin import create_app
from webadmin.live import stream

pytestmark = [pytest.mark.usefixtures("empty_floor")]


@pytest.fixture(autouse=True)
def _quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sign-in is checked again at each wake, so a test need not wait CHECK_SEC.
    monkeypatch.setattr(stream, "CHECK_SEC", 0.0)


def _oversee_reception_only(sessions: sessionmaker[Session]) -> None:
    """The supervisor oversees reception; operator2 serves appointments only."""
    with transaction(sessions) as session:
        supervisor = session.scalar(select(User).where(User.login == "supervisor"))
        operator2 = session.scalar(select(User).where(User.login == "operator2"))
        assert supervisor is not None and operator2 is not None
        supervisor.supervised_queues = list(
            session.scalars(select(Queue).where(Queue.name == "reception"))
        )
        operator2.memberships = [m for m in operator2.memberships if m.queue.name != "reception"]


def read(response: Any, until: int) -> list[tuple[str, int | None, Any]]:
    """The stream's messages (event, id, data) up to the first that carries id `until`."""
    messages: list[tuple[str, int | None, Any]] = []
    text = ""
    for chunk in response.response:
        text += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in text:
            block, text = text.split("\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(": ")
                fields[name] = value
            event_id = int(fields["id"]) if "id" in fields else None
            data = json.loads(fields["data"]) if "data" in fields else None
            messages.append((fields.get("event", "heartbeat"), event_id, data))
            if event_id is not None and event_id >= until or fields.get("event") == "signed_out":
                return messages
    return messages


def _stream(client: FlaskClient, after: int | str | None = 0) -> Any:
    headers = {} if after is None else {"Last-Event-ID": str(after)}
    return client.get("/live/events", headers=headers, buffered=False)


def _floor_events(sessions: sessionmaker[Session]) -> dict[str, int]:
    operator1, operator2 = user_id(sessions, "operator1"), user_id(sessions, "operator2")
    return {
        "joined_reception": published(
            sessions,
            EventKind.CALLER_JOINED,
            {"linkedid": "r.1", "number": "+7911", "joined_at": "2026-12-07T10:00:00+00:00"},
            queue="reception",
        ),
        "joined_appointments": published(
            sessions,
            EventKind.CALLER_JOINED,
            {"linkedid": "a.1", "number": "+7922", "joined_at": "2026-12-07T10:00:00+00:00"},
            queue="appointments",
        ),
        "ringing_operator1": published(
            sessions,
            EventKind.RINGING,
            {"linkedid": "r.1", "number": "+7911"},
            queue="reception",
            user_id=operator1,
        ),
        "ringing_operator2": published(
            sessions,
            EventKind.RINGING,
            {"linkedid": "a.1", "number": "+7922"},
            queue="appointments",
            user_id=operator2,
        ),
        "ami": published(sessions, EventKind.AMI, {"connected": True}),
    }


def _seen(client: FlaskClient, last: int) -> set[int]:
    response = _stream(client)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    messages = read(response, last)
    response.close()
    return {event_id for kind, event_id, _ in messages if kind != "heartbeat" and event_id}


def test_each_viewer_is_sent_only_the_events_of_their_scope(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    _oversee_reception_only(sessions)
    ids = _floor_events(sessions)
    last = ids["ami"]
    everyone = {ids["ami"]}

    admin = app.test_client()
    login(admin, "admin")
    assert _seen(admin, last) == set(ids.values())

    supervisor = app.test_client()
    login(supervisor, "supervisor")
    assert _seen(supervisor, last) == {ids["joined_reception"], ids["ringing_operator1"]} | everyone

    operator = app.test_client()
    login(operator, "operator1")
    assert _seen(operator, last) == {ids["ringing_operator1"]} | everyone

    other = app.test_client()
    login(other, "operator2")
    assert _seen(other, last) == {ids["ringing_operator2"]} | everyone


def test_a_stream_resumes_after_its_last_event_id(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    first = published(sessions, EventKind.AMI, {"connected": False})
    second = published(sessions, EventKind.AMI, {"connected": True})
    response = _stream(client, first)
    messages = read(response, second)
    response.close()
    assert messages[0][0] == "heartbeat"  # the `retry:` line comes first
    assert [(kind, event_id) for kind, event_id, _ in messages[1:]] == [("ami", second)]
    assert messages[1][2]["data"] == {"connected": True}


def test_a_fresh_stream_starts_with_the_floor_it_may_see(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    _oversee_reception_only(sessions)
    event = published(sessions, EventKind.FLOOR, {})
    floor = {
        "callers": {
            "reception": [
                {"linkedid": "r.9", "number": "+7933", "joined_at": "2026-12-07T10:00:00+00:00"}
            ],
            "appointments": [
                {"linkedid": "a.9", "number": "+7944", "joined_at": "2026-12-07T10:00:00+00:00"}
            ],
        },
        "operators": {
            "PJSIP/101": {
                "interface": "PJSIP/101",
                "user_id": user_id(sessions, "operator1"),
                "name": "Ольга",
                "state": "paused",
                "since": "2026-12-07T09:00:00+00:00",
                "reason": "lunch",
                "queues": ["reception"],
            },
            "PJSIP/102": {
                "interface": "PJSIP/102",
                "user_id": user_id(sessions, "operator2"),
                "name": "Иван",
                "state": "ready",
                "since": "2026-12-07T09:00:00+00:00",
                "queues": ["appointments"],
            },
        },
        "ami_connected": True,
        "event_id": event,
    }
    with transaction(sessions) as session:
        session.add(LiveFloor(id=1, event_id=event, snapshot=floor, ami_connected=True))
    login(client, "supervisor")
    response = _stream(client, None)
    messages = read(response, event)
    response.close()
    kind, event_id, picture = messages[-1]
    assert (kind, event_id) == ("snapshot", event)
    assert list(picture["callers"]) == ["reception"]
    assert [(o["name"], o["state"], o["reason"]) for o in picture["operators"]] == [
        ("Ольга", "paused", "lunch")
    ]


@pytest.mark.parametrize("bad", ["abc", "-1", "9223372036854775808", "1" * 40, "1.5"])
def test_a_bad_last_event_id_is_refused_clearly(client: FlaskClient, bad: str) -> None:
    login(client, "operator1")
    response = _stream(client, bad)
    assert response.status_code == 400
    assert "Last-Event-ID" in response.text


def test_signing_out_ends_the_stream(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    login(client, "operator1")
    start = published(sessions, EventKind.AMI, {"connected": True})
    response = _stream(client, start)
    # Signed out in another tab: the session row goes.
    with transaction(sessions) as session:
        session.execute(
            delete(StaffSession).where(StaffSession.user_id == user_id(sessions, "operator1"))
        )
    published(sessions, EventKind.AMI, {"connected": False})
    messages = read(response, 2**63)
    response.close()
    assert messages[-1][0] == "signed_out"


def test_visitors_get_no_stream(client: FlaskClient) -> None:
    assert client.get("/live/events").status_code in (302, 401)


def test_the_embedded_sqlite_demo_streams_by_polling(
    sqlite_engine: Engine, recordings_dir: Path
) -> None:
    app = create_app(
        make_settings(sqlite_engine.url.render_as_string(hide_password=False), recordings_dir),
        test_config=ANY_DATABASE_CONFIG,
    )
    sessions = make_session_factory(sqlite_engine)
    client = app.test_client()
    login(client, "admin")
    start = published(sessions, EventKind.AMI, {"connected": True})
    response = _stream(client, start)
    last = published(sessions, EventKind.AMI, {"connected": False})
    messages = read(response, last)
    response.close()
    app.extensions["live_hub"].stop()
    assert [(kind, event_id) for kind, event_id, _ in messages if kind == "ami"] == [("ami", last)]
