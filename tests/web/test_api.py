"""The JSON API: the list and its filters, scoping, completing and logging cards, auth, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import (
    AuditEntry,
    Call,
    CallCategory,
    CallPurpose,
    CallTag,
    Queue,
    User,
    queue_supervisors,
    utcnow,
)
from models.session import transaction
from tests.web.conftest import login, user_id, write_tone
from webadmin.auth.identity import issue_api_token


def token_for(
    sessions: sessionmaker[Session], login_name: str, valid_for: timedelta = timedelta(days=1)
) -> dict[str, str]:
    """An Authorization header with a fresh personal token of this user."""
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.login == login_name))
        assert user is not None
        return {"Authorization": f"Bearer {issue_api_token(user, valid_for)}"}


def dictionary_ids(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """A purpose, a category with its first subcategory, another category's subcategory, a tag."""
    with sessions() as session:
        categories = list(session.scalars(select(CallCategory).order_by(CallCategory.position)))
        return {
            "purpose_id": session.scalar(select(CallPurpose.id).order_by(CallPurpose.position)),
            "category_id": categories[0].id,
            "sub_category_id": categories[0].sub_categories[0].id,
            "foreign_sub_category_id": categories[-1].sub_categories[0].id,
            "tag_ids": list(session.scalars(select(CallTag.id).order_by(CallTag.position)))[:2],
        }


def card_fields(ids: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A valid card body for PUT, with some fields changed."""
    body = {name: ids[name] for name in ("purpose_id", "category_id", "sub_category_id", "tag_ids")}
    body.update(
        notes="Записали на приём к терапевту", resolved_first_call=True, needs_callback=False
    )
    body.update(changes)
    return body


def error_of(response: Any) -> dict[str, Any]:
    """The API's error object, checking the shape on the way."""
    assert response.is_json, response.data[:200]
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


# -- the list -------------------------------------------------------------------------------


def test_the_list_filters_and_pages(client: FlaskClient, make_call: Callable[..., int]) -> None:
    now = utcnow()
    ids = [make_call(started_at=now - timedelta(minutes=n)) for n in range(5)]
    missed = make_call(operator=None, status="missed", answered_at=None, talk_sec=0)
    login(client, "admin")
    page = client.get("/api/calls?limit=2&page=2&status=answered").json
    assert page["pagination"] == {
        "page": 2,
        "limit": 2,
        "total": 5,
        "totalPages": 3,
        "totalExact": True,
        "hasNext": True,
    }
    assert [card["id"] for card in page["data"]] == ids[2:4]  # newest first
    only = client.get("/api/calls?status=missed").json["data"]
    assert [card["id"] for card in only] == [missed]


def test_a_long_list_gives_a_lower_bound_and_the_next_page(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CALLS_COUNT_CAP", 3)
    for _n in range(6):
        make_call()
    login(client, "admin")
    first = client.get("/api/calls?limit=2").json["pagination"]
    assert first == {
        "page": 1,
        "limit": 2,
        "total": 4,
        "totalPages": 2,
        "totalExact": False,
        "hasNext": True,
    }
    last = client.get("/api/calls?limit=2&page=3").json
    assert len(last["data"]) == 2
    assert last["pagination"] == {
        "page": 3,
        "limit": 2,
        "total": 6,
        "totalPages": 3,
        "totalExact": True,
        "hasNext": False,
    }


def test_a_card_in_json_uses_the_columns_of_calls(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    call_id = make_call(notes="Перенос визита")
    login(client, "admin")
    card = client.get(f"/api/calls/{call_id}").json
    assert card["id"] == call_id and card["notes"] == "Перенос визита"
    assert card["direction"] == "inbound" and card["status"] == "answered"
    moment = datetime.fromisoformat(card["started_at"])
    assert moment.utcoffset() is not None  # ISO 8601 with its offset
    assert {"linkedid", "talk_sec", "sub_category_id", "recording_path", "tag_ids"} <= set(card)


@pytest.mark.parametrize(
    ("args", "field"), [("status=lost", "status"), ("limit=0", "limit"), ("from=yesterday", "from")]
)
def test_a_bad_filter_is_a_400_naming_the_argument(
    client: FlaskClient, args: str, field: str
) -> None:
    login(client, "admin")
    response = client.get(f"/api/calls?{args}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "bad_filter" and list(error["fields"]) == [field]


def test_each_role_sees_its_own_scope(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    mine = make_call(operator="operator1", queue="reception")
    other = make_call(operator="operator2", queue="appointments")
    with transaction(sessions) as session:
        appointments = session.scalar(select(Queue.id).where(Queue.name == "appointments"))
        session.execute(
            queue_supervisors.delete().where(
                queue_supervisors.c.user_id == user_id(sessions, "supervisor"),
                queue_supervisors.c.queue_id == appointments,
            )
        )
    seen = {}
    for role in ("operator1", "supervisor", "admin"):
        seen[role] = {
            card["id"]
            for card in client.get("/api/calls", headers=token_for(sessions, role)).json["data"]
        }
    assert seen == {"operator1": {mine}, "supervisor": {mine}, "admin": {mine, other}}
    response = client.get(f"/api/calls/{other}", headers=token_for(sessions, "supervisor"))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"


def test_errors_are_json_in_one_shape(client: FlaskClient) -> None:
    response = client.get("/api/calls")
    assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    login(client, "admin")
    response = client.get("/api/calls/999999")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = client.put("/api/calls/999999", data="not json", content_type="application/json")
    assert response.status_code == 404
    assert client.get("/api/dictionaries/colours").status_code == 404


# -- completing a card ----------------------------------------------------------------------


def test_put_refuses_an_incomplete_card_with_the_forms_messages(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    ids = dictionary_ids(sessions)
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"})
    response = client.put(f"/api/calls/{call_id}", json={"notes": "  "})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["fields"] == {
        "purpose_id": ["Choose the purpose of the call."],
        "category_id": ["Choose a category."],
        "notes": ["Write a short summary of the call."],
    }
    wrong = client.put(
        f"/api/calls/{call_id}",
        json=card_fields(
            ids,
            sub_category_id=ids["foreign_sub_category_id"],
            needs_callback="yes",
            tag_ids=[999999],
        ),
    )
    assert error_of(wrong)["fields"] == {
        "sub_category_id": ["This subcategory belongs to another category."],
        "needs_callback": ["Expected true or false."],
        "tag_ids": ["'999999' is not a valid choice for this field."],
    }
    assert (
        client.put(
            f"/api/calls/{call_id}", data="[1, 2]", content_type="application/json"
        ).status_code
        == 400
    )
    with sessions() as session:
        assert session.get(Call, call_id).completed_at is None  # type: ignore[union-attr]


def test_put_completes_the_card_like_the_form(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    ids = dictionary_ids(sessions)
    login(client, "operator1")
    response = client.put(f"/api/calls/{call_id}", json=card_fields(ids))
    assert response.status_code == 200
    card = response.json
    assert card["completed_at"] is not None
    assert card["completed_by_id"] == user_id(sessions, "operator1")
    assert card["tag_ids"] == ids["tag_ids"] and card["resolved_first_call"] is True
    with sessions() as session:
        actions = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.call_id == call_id))
        )
    assert actions == ["card.complete"]
    again = client.put(f"/api/calls/{call_id}", json=card_fields(ids, needs_callback=True))
    assert again.json["completed_at"] == card["completed_at"]  # the first save ends the work


def test_supervisors_may_read_but_not_complete(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    login(client, "supervisor")
    assert client.get(f"/api/calls/{call_id}").status_code == 200
    response = client.put(f"/api/calls/{call_id}", json=card_fields(dictionary_ids(sessions)))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"


# -- logging a call by hand -----------------------------------------------------------------


def test_an_operator_logs_a_call_from_a_mobile(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    ids = dictionary_ids(sessions)
    login(client, "operator1")
    start = (utcnow() - timedelta(hours=1)).isoformat()
    end = (utcnow() - timedelta(minutes=55)).isoformat()
    response = client.post(
        "/api/calls",
        json={
            "direction": "inbound",
            "status": "answered",
            "started_at": start,
            "ended_at": end,
            "src_number": "+79161234567",
            "caller_name": "Анна",
            "queue": "reception",
            **card_fields(ids),
        },
    )
    assert response.status_code == 201
    card = response.json
    assert response.headers["Location"] == f"/api/calls/{card['id']}"
    assert card["operator_id"] == user_id(sessions, "operator1")
    assert card["duration_sec"] == 300 and card["talk_sec"] == 300
    assert card["answered_at"] == card["started_at"] and card["completed_at"] is not None
    assert card["linkedid"].startswith("manual-")
    assert client.get(response.headers["Location"]).json == card


def test_a_hand_logged_call_is_validated(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"})
    start = utcnow() - timedelta(hours=1)
    response = client.post(
        "/api/calls",
        json={
            "direction": "sideways",
            "status": "ringing",
            "queue": "nowhere",
            "operator_id": user_id(sessions, "operator2"),
        },
    )
    fields = error_of(response)["fields"]
    assert response.status_code == 422
    assert set(fields) == {"direction", "status", "started_at", "queue", "operator_id"}
    assert fields["operator_id"] == ["Operators log their own calls only."]
    backwards = client.post(
        "/api/calls",
        json={
            "direction": "outbound",
            "status": "missed",
            "started_at": start.isoformat(),
            "ended_at": (start - timedelta(minutes=1)).isoformat(),
            "answered_at": start.isoformat(),
        },
    )
    assert set(error_of(backwards)["fields"]) == {"ended_at", "answered_at", "dst_number"}
    incomplete = client.post(
        "/api/calls",
        json={
            "direction": "outbound",
            "status": "answered",
            "started_at": start.isoformat(),
            "dst_number": "+74950000000",
            "notes": "Звонок пациенту",
        },
    )
    assert set(error_of(incomplete)["fields"]) == {"purpose_id", "category_id"}
    with sessions() as session:
        assert session.scalar(select(Call.id)) is None  # nothing half-created


def test_an_admin_logs_a_call_for_an_operator_and_supervisors_may_not(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    body = {
        "direction": "outbound",
        "status": "busy",
        "dst_number": "+74950000000",
        "started_at": "2026-03-02T10:00:00",
        "operator_id": user_id(sessions, "operator2"),
    }
    response = client.post("/api/calls", json=body, headers=token_for(sessions, "admin"))
    assert response.status_code == 201
    assert response.json["operator_id"] == body["operator_id"]
    assert response.json["started_at"] == "2026-03-02T07:00:00+00:00"  # read in Moscow time
    refused = client.post("/api/calls", json=body, headers=token_for(sessions, "supervisor"))
    assert refused.status_code == 403


# -- signing in ---------------------------------------------------------------------------


def test_a_token_works_until_it_expires_or_is_revoked(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    bearer = token_for(sessions, "operator1")
    assert client.get("/api/calls", headers=bearer).status_code == 200
    wrong = client.get("/api/calls", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "unauthorized"
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.login == "operator1")
            .values(api_token_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.get("/api/calls", headers=bearer).status_code == 401
    bearer = token_for(sessions, "operator1")
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.login == "operator1")
            .values(api_token_hash=None, api_token_expires_at=None)
        )
    revoked = client.get("/api/calls", headers=bearer)
    assert revoked.status_code == 401 and error_of(revoked)["code"] == "unauthorized"


def _csrf_token(client: FlaskClient) -> str:
    page = client.get("/login").text
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def test_a_session_needs_the_csrf_header_and_a_token_does_not(
    csrf_app: Flask, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    body = card_fields(dictionary_ids(sessions))
    browser = csrf_app.test_client()
    token = _csrf_token(browser)
    assert (
        browser.post(
            "/login", data={"login": "operator1", "password": "operator1", "csrf_token": token}
        ).status_code
        == 302
    )
    refused = browser.put(f"/api/calls/{call_id}", json=body)
    assert refused.status_code == 400 and error_of(refused)["code"] == "csrf_missing"
    token = browser.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]
    allowed = browser.put(f"/api/calls/{call_id}", json=body, headers={"X-CSRFToken": token})
    assert allowed.status_code == 200
    program = csrf_app.test_client()
    assert (
        program.put(
            f"/api/calls/{call_id}", json=body, headers=token_for(sessions, "operator1")
        ).status_code
        == 200
    )


# -- recordings ------------------------------------------------------------------------------


def test_the_recording_streams_with_ranges_and_only_supervisors_download(
    client: FlaskClient,
    make_call: Callable[..., int],
    recordings_dir: Path,
    sessions: sessionmaker[Session],
) -> None:
    data = write_tone(recordings_dir / "api" / "call.wav").read_bytes()
    call_id = make_call(recording_path="api/call.wav")
    operator = token_for(sessions, "operator1")
    with client.get(
        f"/api/calls/{call_id}/recording", headers={**operator, "Range": "bytes=100-199"}
    ) as part:
        assert part.status_code == 206 and part.data == data[100:200]
    refused = client.get(f"/api/calls/{call_id}/recording?download=true", headers=operator)
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    with client.get(
        f"/api/calls/{call_id}/recording?download=true", headers=token_for(sessions, "supervisor")
    ) as download:
        assert (
            download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
        )
    with sessions() as session:
        actions = list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.call_id == call_id)
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["recording.download"]  # a seek in the middle is not a new listen
    missing = make_call(recording_path=None)
    response = client.get(f"/api/calls/{missing}/recording", headers=operator)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
