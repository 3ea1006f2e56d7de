"""Every route of the site, HTML and API, under hostile input (issue 9, item 3): as each role,
on PostgreSQL and on SQLite, no answer is a 5xx and a refused request changes no table."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from sqlalchemy import Engine, select, update

from models import Call, CallPurpose, User
from models.routing import Did, FlowVersion, IvrMenu, Queue, Schedule
from tests.web.conftest import login
from tests.web.hostile_requests import (
    HostileRequest,
    form_field_names,
    requests_for,
    site_rules,
    snapshot,
)

VISITOR = "visitor"
#: Examples per route and method: the admin reaches every parser, the others mostly a 403.
EXAMPLES = {VISITOR: 1, "operator1": 2, "supervisor": 2, "admin": 4}
#: Path argument -> the rows whose ids a request may name (so forms of real rows are reached).
PATH_ROWS: dict[str, Any] = {
    "call_id": Call.id,
    "item_id": CallPurpose.id,
    "user_id": User.id,
    "version_id": FlowVersion.id,
    "did_id": Did.id,
    "schedule_id": Schedule.id,
    "menu_id": IvrMenu.id,
    "queue_id": Queue.id,
}


def known_ids(engine: Engine) -> dict[str, list[str]]:
    """A few real ids per path argument."""
    with engine.connect() as connection:
        return {
            name: [
                str(value) for value in connection.scalars(select(column).order_by(column).limit(3))
            ]
            for name, column in PATH_ROWS.items()
        }


class Staff:
    """Keeps one person signed in across hostile requests that may sign them out."""

    def __init__(self, client: FlaskClient, engine: Engine, login_name: str) -> None:
        self.client, self.engine, self.login_name = client, engine, login_name
        with engine.connect() as connection:
            self.row = dict(
                connection.execute(select(User.__table__).where(User.login == login_name))
                .one()
                ._mapping
            )

    def ensure_signed_in(self) -> None:
        """Sign in again (as the person was) when a request signed them out or changed them."""
        if self.client.get("/account").status_code == 200:
            return
        with self.engine.begin() as connection:
            connection.execute(update(User).where(User.id == self.row["id"]).values(**self.row))
        assert login(self.client, self.login_name).status_code == 302, self.login_name


def _answer(request: HostileRequest, client: FlaskClient) -> int:
    response = request.send(client)
    if response.mimetype != "text/event-stream":  # a live stream never ends by itself
        response.get_data()  # a streamed export runs to its end
    response.close()
    return int(response.status_code)


@pytest.mark.parametrize("role", [VISITOR, "operator1", "supervisor", "admin"])
def test_hostile_input_on_every_route_is_refused_clearly_and_changes_nothing(
    site_on_each_database: tuple[Flask, Engine], role: str
) -> None:
    app, engine = site_on_each_database
    client = app.test_client()
    staff = Staff(client, engine, role) if role != VISITOR else None
    known, fields = known_ids(engine), form_field_names()
    routes = site_rules(app)
    assert len(routes) >= 70  # every page and API route, not a sample
    for rule, method in routes:
        if staff is not None:
            staff.ensure_signed_in()
        _hostile_requests_to(
            client, engine, rule.endpoint, requests_for(rule, method, known, fields), EXAMPLES[role]
        )


def _hostile_requests_to(
    client: FlaskClient,
    engine: Engine,
    endpoint: str,
    requests: SearchStrategy[HostileRequest],
    examples: int,
) -> None:
    """Send generated requests to one route: none answers 5xx, a refused one changes nothing."""
    # A failed sign-in is written to the audit log on purpose (the lock-out counts it).
    skip = ("audit_log",) if endpoint == "auth.login" else ()
    last = {"tables": snapshot(engine, skip=skip)}

    @given(request=requests)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(request: HostileRequest) -> None:
        status = _answer(request, client)
        assert status < 500, (
            request.method,
            request.path,
            request.query,
            request.form,
            request.json,
            (request.raw or b"")[:40],
        )
        tables = snapshot(engine, skip=skip)
        if status >= 400:
            changed = {name for name in tables if tables[name] != last["tables"][name]}
            assert not changed, (status, changed, request)
        last["tables"] = tables

    check()
