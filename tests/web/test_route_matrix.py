"""Every route × every role: allowed, refused with 403, or sent to sign in (a visitor).

The table below is the contract; a new route fails `test_every_route_is_in_the_table` until
its row is added, so no page ships without a decision about who may open it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import CallbackTask, CallPurpose, utcnow
from models.routing import Did, FlowVersion, IvrMenu, Queue, Schedule
from tests.web.conftest import login, user_id, write_tone

VISITOR, OPERATOR, SUPERVISOR, ADMIN = "visitor", "operator", "supervisor", "admin"
ROLES = (VISITOR, OPERATOR, SUPERVISOR, ADMIN)
LOGINS = {OPERATOR: "operator1", SUPERVISOR: "supervisor", ADMIN: "admin"}
PUBLIC = frozenset(ROLES)
STAFF = frozenset({OPERATOR, SUPERVISOR, ADMIN})
ADMINS = frozenset({ADMIN})
REPORTERS = frozenset({SUPERVISOR, ADMIN})

#: endpoint -> the roles that may use it. Add a row for every new route (API routes too).
EXPECTED: dict[str, frozenset[str]] = {
    "auth.login": PUBLIC,
    "auth.set_locale": PUBLIC,
    "auth.logout": STAFF,
    "workspace.index": STAFF,
    "workspace.current": frozenset({OPERATOR, ADMIN}),
    "workspace.set_status": frozenset({OPERATOR, ADMIN}),
    "workspace.phone.credentials": frozenset({OPERATOR, ADMIN}),
    "calls.list": STAFF,
    "calls.mine": STAFF,
    "calls.card": STAFF,
    "calls.complete": frozenset({OPERATOR, ADMIN}),
    "recordings.recording": STAFF,
    "admin.dictionaries": ADMINS,
    "admin.dictionary_create": ADMINS,
    "admin.dictionary_rename": ADMINS,
    "admin.dictionary_move": ADMINS,
    "admin.dictionary_active": ADMINS,
    "admin.dictionary_delete": ADMINS,
    "admin.users": ADMINS,
    "admin.user_new": ADMINS,
    "admin.user_edit": ADMINS,
    "admin.user_password": ADMINS,
    "admin.user_phone_password": ADMINS,
    "admin.audit": ADMINS,
    "reports.index": REPORTERS,
    "reports.queues": REPORTERS,
    "reports.operators": REPORTERS,
    "reports.categories": REPORTERS,
    "reports.now": REPORTERS,
    "reports.sessions": REPORTERS,
    "api.list_calls": STAFF,
    "api.create_call": frozenset({OPERATOR, ADMIN}),
    "api.get_call": STAFF,
    "api.complete_call": frozenset({OPERATOR, ADMIN}),
    "api.call_recording": STAFF,
    "api.dictionary": STAFF,
    "api.export_calls": ADMINS,
    "api.openapi": PUBLIC,
    "account.index": STAFF,
    "account.create_token": STAFF,
    "account.revoke_token": STAFF,
    "callflow.index": ADMINS,
    "callflow.publish": ADMINS,
    "callflow.apply": ADMINS,
    "callflow.versions": ADMINS,
    "callflow.version": ADMINS,
    "callflow.rollback": ADMINS,
    "callflow.dids": ADMINS,
    "callflow.did_new": ADMINS,
    "callflow.did_edit": ADMINS,
    "callflow.did_delete": ADMINS,
    "callflow.hours": ADMINS,
    "callflow.hours_new": ADMINS,
    "callflow.hours_edit": ADMINS,
    "callflow.hours_delete": ADMINS,
    "callflow.menus": ADMINS,
    "callflow.menu_new": ADMINS,
    "callflow.menu_edit": ADMINS,
    "callflow.menu_delete": ADMINS,
    "callflow.queues": ADMINS,
    "callflow.queue_new": ADMINS,
    "callflow.queue_edit": ADMINS,
    "callflow.queue_default": ADMINS,
    "callflow.recording": ADMINS,
    "callflow.prompts": ADMINS,
    "callflow.prompt_upload": ADMINS,
    "callflow.prompt_audio": ADMINS,
    "callflow.prompt_delete": ADMINS,
    "callflow.simulator": ADMINS,
    "reports.recovery": REPORTERS,
    "callbacks.index": STAFF,
    "callbacks.task": STAFF,
    "callbacks.take_task": frozenset({OPERATOR, ADMIN}),
    "callbacks.call_task": frozenset({OPERATOR, ADMIN}),
    "callbacks.task_outcome": frozenset({OPERATOR, ADMIN}),
    "callbacks.dial": frozenset({OPERATOR, ADMIN}),
    "callbacks.assign_task": REPORTERS,
    "live.events": STAFF,
    "live.floor": STAFF,
    "live.figures": REPORTERS,
    "live.wallboard": REPORTERS,
    "live.act": REPORTERS,
    # Its own guard (an allowlist or a token, none set here): 404 for everyone, never a 500.
    "metrics": PUBLIC,
}
#: Extra cases beyond one request per endpoint: (name, method, url template, allowed roles).
EXTRA_CASES = [
    (
        "recording download",
        "GET",
        "/calls/{call_id}/recording?download=true",
        frozenset({SUPERVISOR, ADMIN}),
    ),
    ("queue report as CSV", "GET", "/reports/queues?format=csv", REPORTERS),
    ("operator sessions as CSV", "GET", "/reports/sessions?format=csv&table=queues", REPORTERS),
    (
        "API recording download",
        "GET",
        "/api/calls/{call_id}/recording?download=true",
        frozenset({SUPERVISOR, ADMIN}),
    ),
    ("API hidden dictionary items", "GET", "/api/dictionaries/purposes?all=1", ADMINS),
]
IGNORED = {"static"}


def test_every_route_is_in_the_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - IGNORED
    assert endpoints - set(EXPECTED) == set(), "add these routes to EXPECTED"
    assert set(EXPECTED) - endpoints == set(), "these routes no longer exist"


def _url_for_rule(app: Flask, endpoint: str, values: dict[str, object]) -> tuple[str, str]:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    methods = rule.methods or set()
    # A rule answers one method (the API's PUT has its own endpoint); prefer GET.
    method = next(name for name in ("GET", "POST", "PUT", "DELETE") if name in methods)
    with app.test_request_context():
        from flask import url_for

        arguments = {name: values[name] for name in rule.arguments}
        return method, url_for(endpoint, **arguments)


@pytest.fixture
def route_values(
    app: Flask, make_call: Callable[..., int], sessions: sessionmaker[Session], recordings_dir
) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Values for the URL parameters: a card every role can see (with a recording), etc."""
    recording = recordings_dir / "matrix" / "call.wav"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(b"RIFF" + b"\0" * 200)
    call_id = make_call(recording_path="matrix/call.wav")
    with sessions() as session:
        purpose_id = session.scalar(select(CallPurpose.id).order_by(CallPurpose.id.desc()))
        flow_ids = {
            name: session.scalar(select(column).order_by(column).limit(1))
            for name, column in (
                ("version_id", FlowVersion.id),
                ("did_id", Did.id),
                ("schedule_id", Schedule.id),
                ("menu_id", IvrMenu.id),
                ("queue_id", Queue.id),
            )
        }
    with sessions.begin() as session:
        task = CallbackTask(
            queue="reception",
            number="79160000001",
            reason="missed",
            waiting_since=utcnow(),
            last_call_at=utcnow(),
        )
        session.add(task)
        session.flush()
        task_id = task.id
    prompt = app.config["CALLCARDS_SETTINGS"].prompts_dir / "matrix.wav"
    prompt.parent.mkdir(parents=True, exist_ok=True)
    write_tone(prompt, seconds=0.2)
    return {
        "call_id": call_id,
        "kind": "purposes",
        "item_id": purpose_id,
        "user_id": user_id(sessions, "operator2"),
        "name": "matrix",
        "task_id": task_id,
        "act": "pause",
        **flow_ids,
    }


def _check(client: FlaskClient, role: str, allowed: bool, method: str, url: str) -> None:
    if role != VISITOR:
        assert login(client, LOGINS[role]).status_code == 302
    response = client.open(url, method=method)
    response.close()  # a recording is streamed from an open file
    location = response.headers.get("Location", "")
    sent_to_login = response.status_code == 302 and location.startswith("/login?next=")
    described = f"{role} {method} {url} -> {response.status_code} {location}"
    if allowed:
        assert response.status_code not in {401, 403, 405, 500}, described
        assert not sent_to_login, described
    elif role == VISITOR:
        # Pages send a visitor to sign in; JSON endpoints answer 401.
        assert sent_to_login or response.status_code == 401, described
    else:
        assert response.status_code == 403, described


@pytest.mark.parametrize(
    ("endpoint", "role"), [(endpoint, role) for endpoint in sorted(EXPECTED) for role in ROLES]
)
def test_route_allows_only_its_roles(
    app: Flask, client: FlaskClient, route_values: dict[str, object], endpoint: str, role: str
) -> None:
    method, url = _url_for_rule(app, endpoint, route_values)
    _check(client, role, role in EXPECTED[endpoint], method, url)


@pytest.mark.parametrize(
    ("name", "method", "template", "allowed", "role"),
    [(*case, role) for case in EXTRA_CASES for role in ROLES],
)
def test_extra_case_allows_only_its_roles(
    client: FlaskClient,
    route_values: dict[str, object],
    name: str,
    method: str,
    template: str,
    allowed: frozenset[str],
    role: str,
) -> None:
    _check(client, role, role in allowed, method, template.format(**route_values))
