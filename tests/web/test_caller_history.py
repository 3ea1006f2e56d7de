""" "Earlier calls from this number" follows the calls list's visibility rule, whoever looks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient

from models import utcnow
from tests.web.conftest import login

NUMBER = "+79167770011"


def _history_ids(page: str) -> set[int]:
    """The cards the page's history box links to."""
    box = page.split('<section class="history">')[1].split("</section>")[0]
    return {int(found) for found in re.findall(r'href="/calls/(\d+)"', box)}


def _listed_ids(browser: FlaskClient, exclude: int) -> set[int]:
    """The cards the same user finds in the calls list by the number."""
    response = browser.get(f"/api/calls?q={NUMBER[1:]}&limit=200")
    assert response.status_code == 200
    return {card["id"] for card in response.json["data"]} - {exclude}


def test_a_hand_logged_card_shows_an_operator_only_the_earlier_cards_of_their_list(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    earlier = utcnow() - timedelta(hours=2)
    theirs = make_call(
        "operator2", src_number=NUMBER, started_at=earlier, notes="Summary written by operator2"
    )
    own = make_call(
        "operator1",
        src_number=NUMBER,
        started_at=earlier + timedelta(minutes=5),
        notes="Summary written by operator1",
    )
    callback = make_call(
        None,
        src_number=NUMBER,
        started_at=earlier + timedelta(minutes=10),
        status="missed",
        answered_at=None,
        talk_sec=0,
        needs_callback=True,
        notes="Left a message for any operator of the queue",
    )
    login(client, "operator1")
    started = (utcnow() - timedelta(minutes=1)).isoformat()
    logged = client.post(
        "/api/calls",
        json={
            "direction": "inbound",
            "status": "answered",
            "src_number": NUMBER,
            "started_at": started,
        },
    )
    assert logged.status_code == 201
    hand_card = logged.json["id"]

    page = client.get(f"/calls/{hand_card}")
    assert page.status_code == 200
    assert "Summary written by operator1" in page.text
    assert "Left a message for any operator of the queue" in page.text
    assert "Summary written by operator2" not in page.text
    assert _history_ids(page.text) == {own, callback}
    assert _history_ids(page.text) == _listed_ids(client, exclude=hand_card)
    assert client.get(f"/calls/{theirs}").status_code == 403

    admin = client.application.test_client()
    login(admin, "admin")
    seen_by_admin = admin.get(f"/calls/{hand_card}")
    assert "Summary written by operator2" in seen_by_admin.text
    assert _history_ids(seen_by_admin.text) == {theirs, own, callback}


def test_the_workspace_pop_shows_the_same_history_as_the_card(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    earlier = utcnow() - timedelta(hours=1)
    make_call(
        "operator2", src_number=NUMBER, started_at=earlier, notes="Summary written by operator2"
    )
    own = make_call(
        "operator1",
        src_number=NUMBER,
        started_at=earlier + timedelta(minutes=1),
        notes="Summary written by operator1",
    )
    ringing = make_call(
        None,
        src_number=NUMBER,
        status="ringing",
        answered_at=None,
        ended_at=None,
        talk_sec=0,
        ringing_extension="101",
        started_at=utcnow() - timedelta(seconds=5),
    )
    login(client, "operator1")
    popped = client.get("/workspace/current")
    assert popped.status_code == 200 and popped.json["call_id"] == ringing
    assert "Summary written by operator2" not in popped.json["html"]
    assert _history_ids(popped.json["html"]) == {own}
