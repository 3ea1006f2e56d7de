"""Schemathesis against /api/openapi.json, on PostgreSQL and SQLite: generated requests never
get a 5xx, answers match the document, data the document refuses is refused, data it accepts
is accepted, and a method an address does not take is a 405 with `Allow` (issue 9, item 3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from models import User
from webadmin.auth.identity import issue_api_token

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Operations whose every input the document can describe whole. Elsewhere a rule between
#: fields (times in order, a period after its start, the card form's dictionary) refuses
#: data the schema alone would let through, with a documented 400 or 422.
WHOLLY_DESCRIBED = {
    ("GET", "/api/calls/{call_id}"),
    ("GET", "/api/calls/{call_id}/recording"),
    ("GET", "/api/dictionaries/{kind}"),
    ("GET", "/api/openapi.json"),
}
CONFORMANCE = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture
def api_site(site_on_each_database: tuple[Flask, Engine]) -> Iterator[tuple[Flask, str]]:
    """The site on one database and a personal API token of the demo admin (every route)."""
    app, engine = site_on_each_database
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        token = issue_api_token(session.scalars(select(User).where(User.login == "admin")).one())
    yield app, token
    with factory.begin() as session:
        admin = session.scalars(select(User).where(User.login == "admin")).one()
        admin.api_token_hash = admin.api_token_expires_at = None


def _operations(app: Flask) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # calls list, create, one, complete, recording, dictionaries, export (the document itself
    # has no schema to generate from)
    assert len(operations) >= 7
    return operations


def _run(
    operation: Any,
    mode: GenerationMode,
    token: str,
    examples: int,
    checks: tuple[Callable[..., Any], ...],
) -> None:
    # Driven by hand: schemathesis's pytest plugin does not run under pytest 9.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        case.validate_response(response, checks=checks)

    check()


def test_generated_api_requests_never_fail_and_match_the_document(
    api_site: tuple[Flask, str],
) -> None:
    app, token = api_site
    for operation in _operations(app):
        described = (operation.method.upper(), operation.path) in WHOLLY_DESCRIBED
        checks = CONFORMANCE + ((positive_data_acceptance,) if described else ())
        _run(operation, GenerationMode.POSITIVE, token, 25, checks)


def test_data_the_document_refuses_is_refused_with_a_documented_4xx(
    api_site: tuple[Flask, str],
) -> None:
    app, token = api_site
    for operation in _operations(app):
        _run(
            operation,
            GenerationMode.NEGATIVE,
            token,
            25,
            (not_a_server_error, status_code_conformance, negative_data_rejection),
        )


def test_a_method_an_address_does_not_take_is_a_405_naming_those_it_does(
    api_site: tuple[Flask, str],
) -> None:
    app, token = api_site
    client = app.test_client()
    document: dict[str, Any] = client.get("/api/openapi.json").json or {}
    for path, item in document["paths"].items():
        url = path.replace("{call_id}", "1").replace("{kind}", "tags")
        documented = {method.upper() for method in item if method.upper() in METHODS}
        for method in set(METHODS) - documented:
            response = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 405, (method, url)
            allowed = {name.strip() for name in response.headers["Allow"].split(",")}
            assert allowed - {"HEAD", "OPTIONS"} == documented, (method, url, allowed)
            assert response.json["error"]["code"] == "method_not_allowed"


def test_every_answer_without_credentials_is_one_the_document_lists(
    api_site: tuple[Flask, str],
) -> None:
    app, _token = api_site
    client = app.test_client()
    document: dict[str, Any] = client.get("/api/openapi.json").json or {}
    for path, item in document["paths"].items():
        url = path.replace("{call_id}", "1").replace("{kind}", "tags")
        for method in {name.upper() for name in item} & set(METHODS):
            response = client.open(url, method=method, json={})
            assert str(response.status_code) in item[method.lower()]["responses"], (
                method,
                url,
                response.status_code,
            )
            if path != "/api/openapi.json":
                assert response.status_code in {400, 401}, (method, url)
