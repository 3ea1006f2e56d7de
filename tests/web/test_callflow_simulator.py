"""The simulator page tells what dialplan.simulate decides, for the published flow or the draft."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialplan import FlowSettings, simulate
from dialplan.explain import describe, parse_keys
from models.flow import draft_document, latest_version
from models.routing import IvrMenu, Schedule
from models.session import transaction
from tests.web.conftest import login

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as the demo administrator, in English."""
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    return client


def run(
    client: FlaskClient, did: str, day: str, at: str, keys: str, flow: str = "published"
) -> str:
    response = client.get(
        "/callflow/simulator",
        query_string={
            "did": did,
            "caller": "+79161234567",
            "day": day,
            "at": at,
            "timezone": "Europe/Moscow",
            "keys": keys,
            "flow": flow,
        },
    )
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


@pytest.mark.parametrize(
    ("did", "day", "at", "keys"),
    [
        ("74951234567", "2026-03-02", "10:00", "1"),  # a Monday, open: key 1
        ("84951234567", "2026-03-02", "10:00", "2"),  # the same DID written with 8
        ("74951234567", "2026-03-02", "10:00", ",9,"),  # silence, a wrong key, silence
        ("74951234567", "2026-03-07", "12:00", "1"),  # a Saturday: closed
        ("74951234567", "2026-03-02", "22:30", ""),  # after hours
        ("70000000000", "2026-03-02", "10:00", "1"),  # an unknown number
    ],
)
def test_the_page_shows_what_dialplan_simulate_decides(
    admin: FlaskClient, sessions: sessionmaker[Session], did: str, day: str, at: str, keys: str
) -> None:
    with sessions() as session:
        version = latest_version(session)
        assert version is not None
        settings = FlowSettings.from_document(version.document)
    moment = datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=MOSCOW)
    expected = simulate(settings, did, "+79161234567", moment, parse_keys(keys))
    page = run(admin, did, day, at, keys)
    for line in describe(expected):
        assert line in page
    if expected.decision.action == "queue":
        assert f'<b id="decision-queue">{expected.decision.queue}</b>' in page
    else:
        assert "The call is hung up" in page


def test_the_draft_can_be_tried_before_it_is_published(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == "main"))
        assert menu is not None
        menu.options = [{"digit": "1", "action": {"kind": "queue", "target": "reception"}}]
        draft = FlowSettings.from_document(draft_document(session))
    moment = datetime(2026, 3, 2, 10, 0, tzinfo=MOSCOW)
    assert simulate(draft, "74951234567", "", moment, ["1"]).decision.queue == "reception"
    assert '<b id="decision-queue">reception</b>' in run(
        admin, "74951234567", "2026-03-02", "10:00", "1", flow="draft"
    )
    assert '<b id="decision-queue">appointments</b>' in run(
        admin, "74951234567", "2026-03-02", "10:00", "1", flow="published"
    )


def test_bad_input_is_explained(admin: FlaskClient) -> None:
    response = admin.get(
        "/callflow/simulator",
        query_string={
            "did": "74951234567",
            "day": "2026-02-30",
            "at": "10:00",
            "timezone": "Europe/Moscow",
            "flow": "published",
        },
    )
    assert response.status_code == 400
    assert "Give a date like 2026-03-02 and a time like 09:30." in response.text
    response = admin.get(
        "/callflow/simulator",
        query_string={
            "did": "74951234567",
            "day": "2026-03-02",
            "at": "10:00",
            "timezone": "Nowhere/City",
            "flow": "published",
        },
    )
    assert "Unknown time zone" in response.text


def test_the_page_shows_where_the_call_goes_when_queues_cannot_answer(admin: FlaskClient) -> None:
    response = admin.get(
        "/callflow/simulator",
        query_string={
            "did": "74951234567",
            "day": "2026-03-02",
            "at": "10:00",
            "timezone": "Europe/Moscow",
            "keys": "1",
            "queues": "empty, timeout",
            "flow": "published",
        },
    )
    assert response.status_code == 200
    page = html.unescape(response.text)
    words = " ".join(re.sub(r"<[^>]+>", "", page).split())  # the text a person reads
    assert "Queue appointments — gives the call back: no operator could take the call" in words
    assert "Queue reception — gives the call back: the longest wait ran out" in words
    assert "The call is hung up after im-sorry" in words
    assert "queues: appointments > reception" in page


def test_an_unknown_queue_outcome_is_refused(admin: FlaskClient) -> None:
    response = admin.get(
        "/callflow/simulator",
        query_string={
            "did": "74951234567",
            "day": "2026-03-02",
            "at": "10:00",
            "timezone": "Europe/Moscow",
            "keys": "1",
            "queues": "busy",
            "flow": "published",
        },
    )
    assert response.status_code == 400
    assert "“busy” is not one of: answered, empty, timeout." in html.unescape(response.text)


def test_a_closed_day_with_voicemail_shows_the_greeting_and_the_message(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        clinic = session.scalar(select(Schedule).where(Schedule.name == "clinic"))
        assert clinic is not None
        clinic.closed_action = {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 45}
    page = run(admin, "74951234567", "2026-03-07", "12:00", "", flow="draft")
    decision = page.split('id="decision"', 1)[1].split("</p>", 1)[0]
    assert "The caller hears <code>vm-intro</code>, leaves a message of up to 45 s" in decision
    assert "closed: the caller leaves a message" in decision
    assert "Beep, record the caller's message (up to 45 s), hang up" in page
    assert "=> beep, record a message of up to 45 s, hang up [closed_hours_voicemail]" in page
