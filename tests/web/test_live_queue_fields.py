"""The queue form's live-floor fields: validated, in the published document, diffed, rolled back."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.flow import latest_version
from models.routing import Queue
from pbx.steps import ApplyResult
from tests.queue_forms import queue_form
from tests.web.conftest import asterisk_answers, login


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    return client


def _reception(sessions: sessionmaker[Session]) -> Queue:
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == "reception"))
        assert queue is not None
        session.expunge(queue)
        return queue


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("wrapup_hold_sec", "-1", "Number must be between 0 and 3600."),
        ("wrapup_hold_sec", "99999999999999999999", "Number must be between 0 and 3600."),
        ("missed_rings_pause", "101", "Number must be between 0 and 100."),
        ("max_wait_alert_sec", "0", "Number must be between 1 and 7200."),
        ("service_level_target_pct", "150", "Number must be between 0 and 100."),
        ("service_level_target_pct", "", "This field is required."),
    ],
)
def test_bad_floor_fields_are_refused_with_a_message(
    admin: FlaskClient, sessions: sessionmaker[Session], field: str, value: str, message: str
) -> None:
    queue = _reception(sessions)
    answer = admin.post(f"/callflow/queues/{queue.id}", data=queue_form(queue, **{field: value}))
    assert answer.status_code == 400
    assert message in answer.text
    assert getattr(_reception(sessions), field) == getattr(queue, field)


def test_floor_fields_are_saved_published_diffed_and_rolled_back(
    app: Flask,
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asterisk_answers(monkeypatch, app, ApplyResult(ok=True, changed=True))
    queue = _reception(sessions)
    with sessions() as session:
        first = latest_version(session)
        assert first is not None
        first_id = first.id
    saved = admin.post(
        f"/callflow/queues/{queue.id}",
        data=queue_form(
            queue,
            wrapup_hold_sec="45",
            missed_rings_pause="3",
            max_wait_alert_sec="90",
            service_level_target_pct="85",
        ),
    )
    assert saved.status_code == 302
    changed = _reception(sessions)
    assert (
        changed.wrapup_hold_sec,
        changed.missed_rings_pause,
        changed.max_wait_alert_sec,
        changed.service_level_target_pct,
    ) == (45, 3, 90, 85)
    overview = admin.get("/callflow/").text
    assert "wrap-up held until the card is done, s" in overview
    assert "service-level target, %" in overview
    assert admin.post("/callflow/publish", data={"comment": "floor"}).status_code == 302
    with sessions() as session:
        latest = latest_version(session)
        assert latest is not None
        setup = next(q for q in latest.document["queues"] if q["name"] == "reception")["setup"]
    assert setup["wrapup_hold_sec"] == 45 and setup["service_level_target_pct"] == 85
    admin.post(f"/callflow/versions/{first_id}/rollback", data={"version": str(first_id)})
    back = _reception(sessions)
    assert (back.wrapup_hold_sec, back.max_wait_alert_sec, back.service_level_target_pct) == (
        0,
        60,
        80,
    )


def test_a_form_posted_without_the_floor_fields_keeps_them(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    queue = _reception(sessions)
    with sessions() as session:
        stored = session.get(Queue, queue.id)
        assert stored is not None
        stored.max_wait_alert_sec = 45
        session.commit()
    older = {key: value for key, value in queue_form(queue).items() if "alert" not in key}
    assert admin.post(f"/callflow/queues/{queue.id}", data=older).status_code == 302
    assert _reception(sessions).max_wait_alert_sec == 45
