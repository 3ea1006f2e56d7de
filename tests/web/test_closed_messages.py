"""A message left out of hours: a card of the default queue that its staff play and call back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from models import CallEvent, QueueMember, Status
from models.routing import Queue
from models.session import transaction
from tests.web.conftest import login, user_id, write_tone


@pytest.fixture
def message_card(
    make_call: Callable[..., int], recordings_dir: Path, sessions: sessionmaker[Session]
) -> int:
    """The card the FastAGI server leaves for a caller who spoke 3 s into reception's voicemail."""
    write_tone(recordings_dir / "2026" / "03" / "07" / "1700000500.7.wav")
    call_id = make_call(
        operator=None,
        queue="reception",
        status=Status.MISSED.value,
        end_reason="closed_hours",
        answered_at=None,
        talk_sec=0,
        wait_sec=None,
        ivr_path=None,
        needs_callback=True,
        recording_path="2026/03/07/1700000500.7.wav",
        recording_state="ok",
    )
    with transaction(sessions) as session:
        session.add(
            CallEvent(
                call_id=call_id,
                kind="message_left",
                data={"seconds": "3", "record_status": "HANGUP"},
            )
        )
    return call_id


def test_operators_of_the_queue_find_the_message_among_their_callbacks_and_play_it(
    client: FlaskClient, message_card: int
) -> None:
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"})
    listed = client.get("/calls", query_string={"needs_callback": "1"}).text
    assert f'href="/calls/{message_card}"' in listed
    card = client.get(f"/calls/{message_card}").text
    assert '<audio id="player"' in card
    assert "Left a message of 3 seconds" in card
    assert "outside business hours" in card
    with client.get(f"/calls/{message_card}/recording") as recording:
        assert recording.status_code == 200 and recording.mimetype in {"audio/wav", "audio/x-wav"}


def test_an_operator_of_other_queues_does_not_see_the_message(
    client: FlaskClient, message_card: int, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        reception = session.scalar(select(Queue.id).where(Queue.name == "reception"))
        session.execute(
            delete(QueueMember).where(
                QueueMember.queue_id == reception,
                QueueMember.user_id == user_id(sessions, "operator2"),
            )
        )
    login(client, "operator2")
    listed = client.get("/calls", query_string={"needs_callback": "1"}).text
    assert f'href="/calls/{message_card}"' not in listed
    assert client.get(f"/calls/{message_card}").status_code == 403


def test_supervisors_of_the_queue_play_the_message(client: FlaskClient, message_card: int) -> None:
    login(client, "supervisor")
    assert '<audio id="player"' in client.get(f"/calls/{message_card}").text
