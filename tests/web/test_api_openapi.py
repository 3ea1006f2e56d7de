"""The OpenAPI document describes exactly the /api routes, and real answers fit its schemas."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session, sessionmaker

from tests.web.conftest import login
from tests.web.test_api import card_fields, dictionary_ids
from webadmin.inputs import FIRST_YEAR, LAST_YEAR, MAX_ID, MAX_PAGE, MAX_PERIOD_DAYS

METHODS = {"get", "post", "put", "patch", "delete"}
_PARAMETER = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")  # <int:call_id>, <any(a, b):kind>


def app_operations(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every /api rule of the app."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = _PARAMETER.sub(r"{\1}", rule.rule)
            found |= {
                (path, method.lower())
                for method in rule.methods or set()
                if method.lower() in METHODS
            }
    return found


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, method) for every operation the document describes."""
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def validator(document: dict[str, Any], schema: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for one component, resolving the document's $refs."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:callcards:openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:callcards:openapi#/components/schemas/{schema}"}, registry=registry
    )


def test_the_document_describes_every_api_route_and_nothing_else(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200  # public: it describes the API, holds no data
    document = response.json
    assert document["openapi"].startswith("3.1")
    assert document_operations(document) == app_operations(app)
    for path, item in document["paths"].items():
        named = set(re.findall(r"{(\w+)}", path))
        for method in set(item) & METHODS:
            declared = {
                parameter["name"]
                for parameter in item.get("parameters", []) + item[method].get("parameters", [])
                if parameter["in"] == "path"
            }
            assert declared == named, (path, method)
            assert item[method]["responses"], (path, method)


def test_every_schema_is_valid_json_schema(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").json
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises, naming the fault


def test_real_answers_fit_the_schemas(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    document = client.get("/api/openapi.json").json
    check = {name: validator(document, name) for name in document["components"]["schemas"]}
    check["Error"].validate(client.get("/api/calls").json)
    make_call(operator=None, status="missed", answered_at=None, talk_sec=0)
    call_id = make_call()
    login(client, "operator1")
    check["CardList"].validate(client.get("/api/calls").json)
    check["Card"].validate(client.get(f"/api/calls/{call_id}").json)
    body = card_fields(dictionary_ids(sessions))
    check["CardFields"].validate(body)
    check["Card"].validate(client.put(f"/api/calls/{call_id}", json=body).json)
    check["Error"].validate(client.put(f"/api/calls/{call_id}", json={}).json)
    new = {
        "direction": "outbound",
        "status": "answered",
        "dst_number": "+74950000000",
        "started_at": "2026-03-02T10:00:00+03:00",
        **body,
    }
    check["NewCard"].validate(new)
    check["Card"].validate(client.post("/api/calls", json=new).json)
    check["DictionaryList"].validate(client.get("/api/dictionaries/subcategories").json)
    check["Error"].validate(client.get("/api/export/calls.csv").json)


def test_the_document_states_the_bounds_the_site_applies(client: FlaskClient) -> None:
    """Ids 1 to 2^63-1, dates in the years taken, yes/no flags, a 404 for an unknown
    dictionary and the CSRF 400 of a cookie-signed change (issue 9, item 3)."""
    document = client.get("/api/openapi.json").json
    paths = document["paths"]
    call_id = paths["/api/calls/{call_id}"]["parameters"][0]["schema"]
    assert (call_id["minimum"], call_id["maximum"]) == (1, MAX_ID)
    filters = {
        parameter["name"]: parameter["schema"]["anyOf"][0]  # [1]: "" means not given
        for parameter in paths["/api/calls"]["get"]["parameters"]
    }
    for name in ("operator", "purpose", "category", "subcategory", "tag"):
        assert (filters[name]["minimum"], filters[name]["maximum"]) == (1, MAX_ID), name
    assert filters["page"]["maximum"] == MAX_PAGE
    day = re.compile(filters["from"]["pattern"])
    assert day.search(f"{FIRST_YEAR}-01-01") and day.search(f"{LAST_YEAR}-12-31T23:59+14:00")
    assert not day.search(f"{FIRST_YEAR - 1}-12-31") and not day.search(f"{LAST_YEAR + 1}-01-01")
    assert not re.search(filters["q"]["pattern"], "no digits")
    download = paths["/api/calls/{call_id}/recording"]["get"]
    assert (
        "400" in download["responses"]
        and "maybe" not in download["parameters"][0]["schema"]["anyOf"][0]["enum"]
    )
    assert "404" in paths["/api/dictionaries/{kind}"]["get"]["responses"]
    assert "CSRF" in paths["/api/calls"]["post"]["responses"]["400"]["description"]
    assert "CSRF" in paths["/api/calls/{call_id}"]["put"]["responses"]["400"]["description"]
    assert str(MAX_PERIOD_DAYS) in paths["/api/export/calls.csv"]["get"]["description"]
