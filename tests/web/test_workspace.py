"""The operator's workspace: the card of the call on their phone pops up without a reload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallCategory, CallPurpose, utcnow
from tests.web.conftest import login, user_id
from webadmin.extensions import db


def _ringing(make_call: Callable[..., int], extension: str = "101", **fields: object) -> int:
    return make_call(operator=None, status="ringing", answered_at=None, ended_at=None,
                     duration_sec=None, talk_sec=None, recording_state="pending",
                     started_at=utcnow() - timedelta(seconds=20),
                     ringing_extension=extension, ringing_at=utcnow(), **fields)


def test_a_call_ringing_at_the_operators_extension_pops_up(
        client: FlaskClient, make_call: Callable[..., int],
        sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose).order_by(CallPurpose.position))
        assert purpose is not None
        purpose_id, purpose_name = purpose.id, purpose.name
    make_call(operator="operator2", src_number="+79161112233", purpose_id=purpose_id,
              notes="Спрашивала про анализы", started_at=utcnow() - timedelta(days=3))
    login(client, "operator1")
    assert client.get("/workspace/current").json == {"call_id": None}
    call_id = _ringing(make_call, src_number="+79161112233", did_source="Сайт клиники",
                       did_city="Казань", ivr_path="Главное меню > 2", queue="reception")
    popped = client.get("/workspace/current").json
    assert popped["call_id"] == call_id and popped["status"] == "ringing"
    html = popped["html"]
    for shown in ("+79161112233", "Сайт клиники", "Казань", "Главное меню &gt; 2", "reception",
                  purpose_name, "Спрашивала про анализы", 'id="card-form"'):
        assert shown in html, shown
    again = client.get(f"/workspace/current?have={call_id}").json
    assert again == {"call_id": call_id, "status": "ringing"}  # no HTML when nothing changed


def test_another_extension_or_a_stale_ring_does_not_pop_up(
        client: FlaskClient, make_call: Callable[..., int]) -> None:
    _ringing(make_call, extension="102")
    make_call(operator=None, status="ringing", answered_at=None, ended_at=None,
              ringing_extension="101", started_at=utcnow() - timedelta(hours=2))
    login(client, "operator1")
    assert client.get("/workspace/current").json == {"call_id": None}


def test_the_call_in_talk_stays_popped_until_it_ends(
        client: FlaskClient, make_call: Callable[..., int],
        sessions: sessionmaker[Session]) -> None:
    call_id = make_call(ended_at=None, started_at=utcnow() - timedelta(minutes=1),
                        answered_at=utcnow() - timedelta(seconds=40))
    login(client, "operator1")
    assert client.get("/workspace/current").json["call_id"] == call_id
    page = client.get("/")
    assert f'data-call-id="{call_id}"' in page.text
    with sessions() as session, session.begin():
        call = session.get(Call, call_id)
        assert call is not None
        call.ended_at = utcnow()
    assert client.get("/workspace/current").json == {"call_id": None}
    assert f'href="/calls/{call_id}"' in client.get("/").text  # now among cards to complete


def test_saving_from_the_workspace_comes_back_to_it(
        client: FlaskClient, make_call: Callable[..., int],
        sessions: sessionmaker[Session]) -> None:
    call_id = _ringing(make_call)
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose.id))
        category = session.scalar(select(CallCategory.id))
    login(client, "operator1")
    refused = client.post(f"/calls/{call_id}/card", data={"origin": "workspace", "notes": ""})
    assert refused.status_code == 400
    assert 'id="workspace"' in refused.text and 'class="field-error"' in refused.text
    saved = client.post(f"/calls/{call_id}/card", data={
        "origin": "workspace", "purpose": purpose, "category": category, "notes": "Запись"})
    assert saved.headers["Location"] == "/"
    with sessions() as session:
        assert session.get(Call, call_id).completed_at is not None  # type: ignore[union-attr]


def _history_of(web_engine: Engine, operator_id: int, cards: int) -> None:
    """`cards` ended calls the operator answered over the past weeks, as a year on the floor."""
    with web_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO calls (uniqueid, linkedid, queue, direction, status, started_at, "
            "answered_at, ended_at, operator_id, resolved_first_call, needs_callback, "
            "recording_state, updated_at) "
            "SELECT 'past.' || g, 'past.' || g, 'reception', 'inbound', 'answered', "
            "now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '5 s', "
            "now() - g * interval '1 minute' + interval '50 s', :operator, false, false, 'ok', "
            "now() FROM generate_series(1, :cards) AS g"), {"operator": operator_id,
                                                            "cards": cards})
        connection.execute(text("ANALYZE calls"))


def _plans_of_polls(app: Flask, client: FlaskClient) -> tuple[Any, list[str]]:
    """The answer of one poll, and PostgreSQL's plan of each query on calls it ran."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM calls" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        answer = client.get("/workspace/current").json
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in seen:
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    finally:
        raw.close()
    return answer, plans


def test_the_poll_reads_only_the_open_cards_not_the_operators_history(
        app: Flask, client: FlaskClient, make_call: Callable[..., int],
        sessions: sessionmaker[Session], web_engine: Engine) -> None:
    operator = user_id(sessions, "operator1")
    _history_of(web_engine, operator, 20_000)
    login(client, "operator1")
    answer, plans = _plans_of_polls(app, client)
    assert answer == {"call_id": None}
    [plan] = plans
    # The open cards only: no scan of the 20,000 the operator had, nor of the table.
    assert "ix_calls_open_operator" in plan, plan
    assert "ix_calls_operator_started" not in plan and "Seq Scan" not in plan, plan

    in_talk = make_call(ended_at=None, started_at=utcnow() - timedelta(minutes=1),
                        answered_at=utcnow() - timedelta(seconds=40))
    answer, plans = _plans_of_polls(app, client)
    assert answer is not None and answer["call_id"] == in_talk
    assert "ix_calls_open_operator" in plans[0] and "Seq Scan" not in plans[0], plans[0]
