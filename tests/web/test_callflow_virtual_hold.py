"""An admin sets a queue's callback offer (virtual hold): the form refuses what Asterisk could
not run, a version keeps it (diff, rollback), and the route simulator says it."""

from __future__ import annotations

import html
import wave
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.flow import draft_document, latest_version
from models.routing import Queue
from pbx.apply import ApplyResult
from tests.queue_forms import queue_form
from tests.web.conftest import asterisk_answers, login

OFFER = {
    "callback_after_sec": "60",
    "callback_key": "1",
    "callback_repeat_sec": "45",
    "callback_prompt": "callcards/callback-offer",
}


@pytest.fixture
def admin(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> Iterator[FlaskClient]:
    """The demo administrator, in English; Asterisk takes every apply (not what this is
    about); the offer's prompt uploaded."""
    asterisk_answers(monkeypatch, app, ApplyResult(ok=True, changed=True))
    prompt = app.config["CALLCARDS_SETTINGS"].prompts_dir / "callback-offer.wav"
    prompt.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(prompt), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 800)
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    yield client
    prompt.unlink()


def appointments(sessions: sessionmaker[Session]) -> Queue:
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == "appointments"))
        assert queue is not None
        return queue


def offer_in_draft(sessions: sessionmaker[Session]) -> object:
    with sessions() as session:
        queue = next(q for q in draft_document(session)["queues"] if q["name"] == "appointments")
    return queue.get("callback_offer")


def test_a_callback_offer_is_saved_published_diffed_simulated_and_rolled_back(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    queue = appointments(sessions)
    page = admin.get(f"/callflow/queues/{queue.id}").text
    assert "Offer a callback after waiting, seconds (0: never)" in page
    with sessions() as session:
        before = latest_version(session)
        assert before is not None
        before_id = before.id
    saved = admin.post(f"/callflow/queues/{queue.id}", data=queue_form(queue, **OFFER))
    assert saved.status_code == 302, saved.text
    assert offer_in_draft(sessions) == {
        "after_sec": 60,
        "key": "1",
        "repeat_sec": 45,
        "prompt": "callcards/callback-offer",
    }

    published = admin.post(
        "/callflow/publish", data={"comment": "virtual hold"}, follow_redirects=True
    ).text
    assert "callback offered after, s (0: never)" in published
    assert "callback offered again every, s" in published

    shown = html.unescape(
        admin.get(
            "/callflow/simulator",
            query_string={
                "did": "74951234567",
                "caller": "+79161234567",
                "day": "2026-03-02",
                "at": "10:00",
                "timezone": "Europe/Moscow",
                "keys": "1",
                "flow": "published",
            },
        ).text
    )
    assert "After 60 s the caller is offered a callback (press 1), again every 45 s." in shown
    assert "after 60 s the caller is offered a callback (press 1; again every 45 s)" in shown

    rolled = admin.post(f"/callflow/versions/{before_id}/rollback", data={"version": before_id})
    assert rolled.status_code == 302
    assert offer_in_draft(sessions) is None
    with sessions() as session:
        assert appointments(sessions).callback_offer is None
        newest = latest_version(session)
        assert newest is not None
        queues = newest.document["queues"]
    assert all("callback_offer" not in item for item in queues)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("callback_after_sec", "-1", "Number must be between 0 and 3600."),
        ("callback_after_sec", "999999", "Number must be between 0 and 3600."),
        ("callback_repeat_sec", "0", "Number must be between 10 and 3600."),
        ("callback_repeat_sec", "abc", "Not a valid integer value."),
        ("callback_key", "#", "Not a valid choice."),
        ("callback_key", "12", "Not a valid choice."),
        ("callback_prompt", "callcards/nope", "There is no sound “callcards/nope”"),
        ("callback_prompt", "a,b", "A sound name: Latin letters, digits and _ . / - only."),
    ],
)
def test_a_wrong_callback_offer_is_refused_with_a_clear_message(
    admin: FlaskClient, sessions: sessionmaker[Session], field: str, value: str, message: str
) -> None:
    queue = appointments(sessions)
    response = admin.post(
        f"/callflow/queues/{queue.id}", data=queue_form(queue, **{**OFFER, field: value})
    )
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert offer_in_draft(sessions) is None


def test_zero_turns_the_offer_off_and_a_form_without_the_fields_keeps_it(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    queue = appointments(sessions)
    assert admin.post(f"/callflow/queues/{queue.id}", data=queue_form(queue, **OFFER)).status_code
    assert (
        admin.post(
            f"/callflow/queues/{queue.id}", data=queue_form(queue, service_level_sec="25")
        ).status_code
        == 302
    )  # an older page: no callback fields
    assert offer_in_draft(sessions) == {
        "after_sec": 60,
        "key": "1",
        "repeat_sec": 45,
        "prompt": "callcards/callback-offer",
    }
    off = queue_form(queue, **{**OFFER, "callback_after_sec": "0"})
    assert admin.post(f"/callflow/queues/{queue.id}", data=off).status_code == 302
    assert offer_in_draft(sessions) is None
