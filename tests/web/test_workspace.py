"""The operator's workspace: the card of the call on their phone pops up without a reload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallCategory, CallPurpose, utcnow
from tests.web.conftest import login, user_id
from tests.web.query_plans import add_history, plans_of_request


def _ringing(make_call: Callable[..., int], extension: str = "101", **fields: object) -> int:
    return make_call(
        operator=None,
        status="ringing",
        answered_at=None,
        ended_at=None,
        duration_sec=None,
        talk_sec=None,
        recording_state="pending",
        started_at=utcnow() - timedelta(seconds=20),
        ringing_extension=extension,
        ringing_at=utcnow(),
        **fields,
    )


def test_a_call_ringing_at_the_operators_extension_pops_up(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose).order_by(CallPurpose.position))
        assert purpose is not None
        purpose_id, purpose_name = purpose.id, purpose.name
    make_call(
        operator="operator1",
        src_number="+79161112233",
        purpose_id=purpose_id,
        notes="Спрашивала про анализы",
        started_at=utcnow() - timedelta(days=3),
    )
    # Another operator's card is outside operator1's calls list, so outside the history too.
    make_call(
        operator="operator2",
        src_number="+79161112233",
        purpose_id=purpose_id,
        notes="Записалась к терапевту",
        started_at=utcnow() - timedelta(days=2),
    )
    login(client, "operator1")
    assert client.get("/workspace/current").json == {"call_id": None}
    call_id = _ringing(
        make_call,
        src_number="+79161112233",
        did_source="Сайт клиники",
        did_city="Казань",
        ivr_path="main > 2",
        queue="reception",
    )
    popped = client.get("/workspace/current").json
    assert popped["call_id"] == call_id and popped["status"] == "ringing"
    html = popped["html"]
    # The menu choice and the queue in words: what key 2 means, the queue's title.
    for shown in (
        "+79161112233",
        "Сайт клиники",
        "Казань",
        "2 — Результаты анализов",
        "Регистратура",
        purpose_name,
        "Спрашивала про анализы",
        'id="card-form"',
    ):
        assert shown in html, shown
    assert "Записалась к терапевту" not in html
    again = client.get(f"/workspace/current?have={call_id}").json
    assert again == {"call_id": call_id, "status": "ringing"}  # no HTML when nothing changed


def test_another_extension_or_a_stale_ring_does_not_pop_up(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    _ringing(make_call, extension="102")
    make_call(
        operator=None,
        status="ringing",
        answered_at=None,
        ended_at=None,
        ringing_extension="101",
        started_at=utcnow() - timedelta(hours=2),
    )
    login(client, "operator1")
    assert client.get("/workspace/current").json == {"call_id": None}


def test_the_call_in_talk_stays_popped_until_it_ends(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call(
        ended_at=None,
        started_at=utcnow() - timedelta(minutes=1),
        answered_at=utcnow() - timedelta(seconds=40),
    )
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
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = _ringing(make_call)
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose.id))
        category = session.scalar(select(CallCategory.id))
    login(client, "operator1")
    refused = client.post(f"/calls/{call_id}/card", data={"origin": "workspace", "notes": ""})
    assert refused.status_code == 400
    assert 'id="workspace"' in refused.text and 'class="field-error"' in refused.text
    saved = client.post(
        f"/calls/{call_id}/card",
        data={"origin": "workspace", "purpose": purpose, "category": category, "notes": "Запись"},
    )
    assert saved.headers["Location"] == "/"
    with sessions() as session:
        assert session.get(Call, call_id).completed_at is not None  # type: ignore[union-attr]


def test_the_poll_reads_only_the_open_cards_not_the_operators_history(
    app: Flask,
    client: FlaskClient,
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    web_engine: Engine,
) -> None:
    operator = user_id(sessions, "operator1")
    add_history(web_engine, operator, 20_000)
    login(client, "operator1")
    response, plans = plans_of_request(app, client, "/workspace/current")
    assert response.json == {"call_id": None}
    [plan] = plans
    # The open cards only: no scan of the 20,000 the operator had, nor of the table.
    assert "ix_calls_open_operator" in plan, plan
    assert "ix_calls_operator_started" not in plan and "Seq Scan" not in plan, plan

    in_talk = make_call(
        ended_at=None,
        started_at=utcnow() - timedelta(minutes=1),
        answered_at=utcnow() - timedelta(seconds=40),
    )
    response, plans = plans_of_request(app, client, "/workspace/current")
    assert response.json["call_id"] == in_talk
    assert "ix_calls_open_operator" in plans[0] and "Seq Scan" not in plans[0], plans[0]
