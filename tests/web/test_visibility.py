"""One visibility rule (models/visibility.py): a supervisor of one queue sees the same cards
in the calls list, on the card pages, in the history box, in the reports' totals and in the
export's rows, and an admin sees them all."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Queue, QueueMember, User, utcnow
from models.session import transaction
from tests.web.conftest import login
from webadmin.api.export import export_statement
from webadmin.calls.queries import CallFilters
from webadmin.extensions import db

NUMBER = "+79165550101"


@dataclass(frozen=True)
class Cards:
    """The cards of the test: who should see which."""

    overseen: frozenset[int]  # appointments' cards and operator1's outbound one
    other: frozenset[int]  # reception's card and operator2's outbound one
    latest: int  # the newest appointments card from NUMBER, whose history box is read
    earlier: frozenset[int]  # NUMBER's earlier inbound cards: appointments', reception's

    @property
    def every(self) -> frozenset[int]:
        return self.overseen | self.other


@pytest.fixture
def cards(sessions: sessionmaker[Session], make_call: Callable[..., int]) -> Cards:
    """The supervisor oversees appointments; operator1 serves it, operator2 reception."""
    with transaction(sessions) as session:
        queues = {queue.name: queue for queue in session.scalars(select(Queue))}
        staff = {user.login: user for user in session.scalars(select(User))}
        staff["supervisor"].supervised_queues = [queues["appointments"]]
        staff["operator1"].memberships = [QueueMember(queue=queues["appointments"], penalty=0)]
        staff["operator2"].memberships = [QueueMember(queue=queues["reception"], penalty=0)]
    start = utcnow() - timedelta(hours=3)

    def inbound(operator: str, queue: str, minutes: int) -> int:
        at = start + timedelta(minutes=minutes)
        return make_call(
            operator,
            queue=queue,
            src_number=NUMBER,
            started_at=at,
            queue_entered_at=at,
            answered_at=at + timedelta(seconds=15),
        )

    def outbound(operator: str, minutes: int) -> int:
        return make_call(
            operator,
            queue=None,
            direction="outbound",
            src_number="10" + operator[-1],
            dst_number=NUMBER,
            started_at=start + timedelta(minutes=minutes),
            wait_sec=0,
            did=None,
            ivr_path=None,
        )

    first, theirs = inbound("operator1", "appointments", 0), inbound("operator2", "reception", 10)
    own_outbound, their_outbound = outbound("operator1", 20), outbound("operator2", 30)
    latest = inbound("operator1", "appointments", 40)
    return Cards(
        frozenset({first, own_outbound, latest}),
        frozenset({theirs, their_outbound}),
        latest,
        frozenset({first, theirs}),
    )


def _listed(browser: FlaskClient) -> set[int]:
    response = browser.get("/api/calls?limit=200")
    assert response.status_code == 200
    return {card["id"] for card in response.json["data"]}


def _history(browser: FlaskClient, call_id: int) -> set[int]:
    page = browser.get(f"/calls/{call_id}").text
    box = page.split('<section class="history">')[1].split("</section>")[0]
    return {int(found) for found in re.findall(r'href="/calls/(\d+)"', box)}


def _offered_total(browser: FlaskClient) -> int:
    body = browser.get("/reports/queues?format=csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(body), delimiter=";"))
    total = dict(zip(table[0], table[-1], strict=True))
    return int(total["Предложено"])


def _exported(app: Flask, login_name: str) -> set[int]:
    """The cards the export's query gives this user (the rule it applies, row by row)."""
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.login == login_name))
        rows = db.session.execute(export_statement(CallFilters.from_args({}), user))
        return {row.id for row in rows}


def test_a_supervisor_sees_the_cards_of_their_queue_everywhere_and_no_other(
    client: FlaskClient, app: Flask, cards: Cards
) -> None:
    login(client, "supervisor")
    assert _listed(client) == cards.overseen
    for call_id in cards.overseen:
        assert client.get(f"/calls/{call_id}").status_code == 200
    for call_id in cards.other:
        assert client.get(f"/calls/{call_id}").status_code == 403
    # The history box: the caller's earlier cards, of those the list shows.
    assert _history(client, cards.latest) == cards.earlier & cards.overseen
    # The queue report's total: the two inbound cards of appointments, not reception's.
    assert _offered_total(client) == 2
    # The export is for admins; the rule its query applies is the same one.
    assert client.get("/api/export/calls.csv").status_code == 403
    assert _exported(app, "supervisor") == cards.overseen


def test_an_admin_sees_every_card_everywhere(client: FlaskClient, app: Flask, cards: Cards) -> None:
    login(client, "admin")
    assert _listed(client) == cards.every
    for call_id in cards.every:
        assert client.get(f"/calls/{call_id}").status_code == 200
    assert _history(client, cards.latest) == cards.earlier
    assert _offered_total(client) == 3
    exported = client.get("/api/export/calls.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig")), delimiter=";"))
    assert {int(row["id"]) for row in rows} == cards.every == _exported(app, "admin")
