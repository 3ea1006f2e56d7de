"""The operator's workspace: the card of the call on their phone pops up without a reload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallCategory, CallPurpose, utcnow
from tests.web.conftest import login


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
                       did_city="Казань", ivr_path="main > 2", queue="reception")
    popped = client.get("/workspace/current").json
    assert popped["call_id"] == call_id and popped["status"] == "ringing"
    html = popped["html"]
    # The menu choice and the queue in words: what key 2 means, the queue's title.
    for shown in ("+79161112233", "Сайт клиники", "Казань", "2 — Результаты анализов",
                  "Регистратура",
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
