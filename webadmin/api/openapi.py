"""The API described in OpenAPI 3.1, served at /api/openapi.json (a test keeps it true)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from models import Direction, Status
from webadmin.api.export import EXPORT_COLUMNS
from webadmin.calls.paging import COUNT_CAP
from webadmin.calls.queries import MAX_PER_PAGE, SORT_KEYS
from webadmin.inputs import FIRST_YEAR, JSON_MAX_DEPTH, LAST_YEAR, MAX_ID, MAX_PAGE, MAX_PERIOD_DAYS

_STATUSES = [member.value for member in Status]
_DIRECTIONS = [member.value for member in Direction]


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "A filter or argument that cannot be understood (`fields` names it)",
        401: "Not signed in (no session, bad or expired token)",
        403: "The role does not allow it",
        404: "No such card",
        422: "Validation failed; `fields` names each bad field",
        503: "The database stopped the request after its time limit; narrow it",
    }
    return {str(status): _json("Error", words[status]) for status in statuses}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    # An empty argument is one not given (an HTML form sends its empty fields); say so.
    given = schema or {"type": "string"}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"anyOf": [given, {"const": ""}]},
    }


#: A row id as the site reads it: 1 to 2^63-1 (anything else in a path is a 404).
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": _ID_SCHEMA}
#: A day or a moment (ISO 8601) in the years the site accepts.
_YEAR = "(20[0-9][0-9]|2100)"  # FIRST_YEAR to LAST_YEAR (a test holds them together)
_DAY_OR_MOMENT = {
    "type": "string",
    "pattern": (
        f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$"
    ),
}
#: The changes a cookie-signed request makes need the CSRF token (a Bearer token does not).
_CSRF = {
    "400": {
        "description": "A body that is not a JSON object (or nests deeper than "
        f"{JSON_MAX_DEPTH} levels); or signed in by the session cookie "
        "(or not at all) without the X-CSRFToken header (CSRF): "
        "refused before anything is read",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
}
_TIME = _nullable("string", format="date-time")
_ID = _nullable("integer")

CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A call card under the column names of `calls`; times in ISO 8601 with offset.",
    "required": ["id", "uniqueid", "linkedid", "direction", "status", "started_at", "tag_ids"],
    "properties": {
        "id": {"type": "integer"},
        "uniqueid": {"type": "string"},
        "linkedid": {"type": "string"},
        "queue": _nullable("string"),
        "direction": {"enum": _DIRECTIONS},
        "status": {"enum": _STATUSES},
        "started_at": {"type": "string", "format": "date-time"},
        "answered_at": _TIME,
        "ended_at": _TIME,
        "duration_sec": _ID,
        "talk_sec": _ID,
        "hold_sec": _ID,
        "src_number": _nullable("string"),
        "dst_number": _nullable("string"),
        "did": _nullable("string"),
        "operator_id": _ID,
        "purpose_id": _ID,
        "category_id": _ID,
        "sub_category_id": _ID,
        "recording_path": _nullable("string"),
        "recording_url": _nullable("string"),
        "resolved_first_call": {"type": "boolean"},
        "needs_callback": {"type": "boolean"},
        "notes": _nullable("string"),
        "caller_name": _nullable("string"),
        "did_source": _nullable("string"),
        "did_city": _nullable("string"),
        "end_reason": _nullable("string"),
        "ivr_path": _nullable("string"),
        "queue_entered_at": _TIME,
        "wait_sec": _ID,
        "recording_state": {"type": "string"},
        "completed_at": _TIME,
        "completed_by_id": _ID,
        "tag_ids": {"type": "array", "items": {"type": "integer"}},
    },
}
CARD_FIELDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The card form's fields; validated exactly as the page's form.",
    "properties": {
        "purpose_id": _ID_SCHEMA,
        "category_id": _ID_SCHEMA,
        "sub_category_id": {**_ID_SCHEMA, "type": ["integer", "null"]},
        "notes": {"type": "string", "minLength": 1, "maxLength": 4000},
        "resolved_first_call": {"type": "boolean"},
        "needs_callback": {"type": "boolean"},
        "tag_ids": {"type": "array", "items": _ID_SCHEMA},
    },
    "required": ["purpose_id", "category_id", "notes"],
}
NEW_CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A call logged by hand. With the card fields it is completed at once. "
    "Operators log their own calls (operator_id is theirs).",
    "required": ["direction", "status", "started_at"],
    "properties": {
        "direction": {"enum": _DIRECTIONS},
        "status": {"enum": [status for status in _STATUSES if status != "ringing"]},
        "started_at": {**_DAY_OR_MOMENT, "description": "not in the future"},
        "answered_at": _DAY_OR_MOMENT,
        "ended_at": _DAY_OR_MOMENT,
        "src_number": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": r"\S",
            "description": "needed for inbound calls",
        },
        "dst_number": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": r"\S",
            "description": "needed for outbound calls",
        },
        "did": {"type": "string", "maxLength": 32},
        "caller_name": {"type": "string", "maxLength": 128},
        "queue": {"type": "string", "maxLength": 64, "description": "a queue's name"},
        "operator_id": {**_ID_SCHEMA, "description": "admins only; operators log their own"},
        **CARD_FIELDS_SCHEMA["properties"],
    },
}
SCHEMAS: dict[str, Any] = {
    "Card": CARD_SCHEMA,
    "CardFields": CARD_FIELDS_SCHEMA,
    "NewCard": NEW_CARD_SCHEMA,
    "CardList": {
        "type": "object",
        "required": ["data", "pagination"],
        "properties": {
            "data": {"type": "array", "items": _ref("Card")},
            "pagination": {
                "type": "object",
                "required": ["page", "limit", "total", "totalPages", "totalExact", "hasNext"],
                "properties": {
                    "page": {"type": "integer"},
                    "limit": {"type": "integer"},
                    "total": {
                        "type": "integer",
                        "description": (
                            "The matching cards; when totalExact is false, at least this many "
                            f"(counting stops {COUNT_CAP:,} cards past the page's start)"
                        ),
                    },
                    "totalPages": {
                        "type": "integer",
                        "description": "at least this many when totalExact is false",
                    },
                    "totalExact": {"type": "boolean"},
                    "hasNext": {"type": "boolean", "description": "a card comes after this page"},
                },
            },
        },
    },
    "DictionaryList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "position", "active"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "position": {"type": "integer"},
                        "active": {"type": "boolean"},
                        "category_id": {"type": "integer", "description": "subcategories only"},
                    },
                },
            }
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
    },
}

_FILTERS = [
    _query(
        "from",
        "First day (YYYY-MM-DD, the call centre's zone) or moment (ISO 8601), "
        f"in the years {FIRST_YEAR} to {LAST_YEAR}",
        **_DAY_OR_MOMENT,
    ),
    _query(
        "to",
        "Last day, included (YYYY-MM-DD) or moment, excluded (ISO 8601); after `from`",
        **_DAY_OR_MOMENT,
    ),
    _query("operator", "Operator id", **_ID_SCHEMA),
    _query("status", "Card status", enum=_STATUSES),
    _query("direction", "Direction", enum=_DIRECTIONS),
    _query("queue", "Queue name"),
    _query("purpose", "Purpose id", **_ID_SCHEMA),
    _query("category", "Category id", **_ID_SCHEMA),
    _query("subcategory", "Subcategory id", **_ID_SCHEMA),
    _query("tag", "Tag id", **_ID_SCHEMA),
    _query(
        "q",
        "Digits of the caller's or dialled number (other characters are ignored)",
        type="string",
        pattern="[0-9]",
    ),
    _query("needs_callback", "1 or 0", enum=["1", "0", "true", "false"]),
    _query(
        "incomplete", "1: answered calls whose card is not saved", enum=["1", "0", "true", "false"]
    ),
    _query(
        "sort",
        "A key, '-' first for descending",
        enum=[*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)],
    ),
]

PATHS: dict[str, Any] = {
    "/api/calls": {
        "get": {
            "summary": "The cards the user may see, filtered and a page at a time",
            "parameters": [
                *_FILTERS,
                _query("page", "Page number", type="integer", minimum=1, maximum=MAX_PAGE),
                _query("limit", "Cards per page", type="integer", minimum=1, maximum=MAX_PER_PAGE),
            ],
            "responses": {"200": _json("CardList", "A page of cards"), **_errors(400, 401, 403)},
        },
        "post": {
            "summary": "Log a call by hand (operators and admins)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("NewCard")}},
            },
            "responses": {
                "201": _json("Card", "The new card (Location: its URL)"),
                **_errors(400, 401, 403, 422),
                **_CSRF,
            },
        },
    },
    "/api/calls/{call_id}": {
        "parameters": [_CALL_ID],
        "get": {
            "summary": "One card",
            "responses": {"200": _json("Card", "The card"), **_errors(401, 403, 404)},
        },
        "put": {
            "summary": "Complete or edit a card, with the card form's rules",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("CardFields")}},
            },
            "responses": {
                "200": _json("Card", "The saved card"),
                **_errors(400, 401, 403, 404, 422),
                **_CSRF,
            },
        },
    },
    "/api/calls/{call_id}/recording": {
        "parameters": [_CALL_ID],
        "get": {
            "summary": "The card's recording; supports Range; each listen is audited",
            "parameters": [
                _query(
                    "download",
                    "true: as an attachment (supervisors, admins); any other value is a 400",
                    enum=["true", "false", "1", "0", "yes", "no", "on", "off"],
                )
            ],
            "responses": {
                "200": {
                    "description": "The audio",
                    "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "206": {"description": "The requested byte range"},
                **_errors(400, 401, 403, 404),
            },
        },
    },
    "/api/dictionaries/{kind}": {
        "parameters": [
            {
                "name": "kind",
                "in": "path",
                "required": True,
                "schema": {"enum": ["purposes", "categories", "subcategories", "tags"]},
            }
        ],
        "get": {
            "summary": "The active items of a dictionary, in order",
            "parameters": [
                _query(
                    "all",
                    "1: hidden items too (admins only); any other value than yes or no is a 400",
                    enum=["1", "0", "true", "false", "yes", "no", "on", "off"],
                )
            ],
            "responses": {
                "200": _json("DictionaryList", "The items"),
                **_errors(400, 401, 403),
                "404": _json("Error", "No such dictionary"),
            },
        },
    },
    "/api/export/calls.csv": {
        "get": {
            "summary": "Every card of the period as CSV (admins); UTF-8 with BOM, ';'-separated",
            "description": f"The period is at most {MAX_PERIOD_DAYS} days; without `from` it is "
            f"the {MAX_PERIOD_DAYS} days before `to` (or before now).",
            "parameters": _FILTERS,
            "responses": {
                "200": {
                    "description": "Columns: " + ", ".join(EXPORT_COLUMNS),
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **_errors(400, 401, 403, 503),
            },
        },
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
            },
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "callcards API",
        "version": "1",
        "description": "Call cards as JSON. Sign in with the session cookie (unsafe "
        "methods then need the X-CSRFToken header) or send "
        "`Authorization: Bearer <token>` with a personal token from "
        "/account; such a request is the token's alone (the cookie is "
        "ignored, a bad token answers 401). "
        'Errors: {"error": {"code", "message"}}. '
        f"Ids run from 1 to 2^63-1, dates from {FIRST_YEAR} to "
        f"{LAST_YEAR}; a JSON body is at most {JSON_MAX_DEPTH} levels deep; "
        "an empty query argument is the same as one not given. "
        "A method an address does not take is a 405 with `Allow`.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerToken": []}, {"sessionCookie": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer"},
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
        },
    },
}


def openapi() -> Response:
    """The OpenAPI document (public: it describes the API, it holds no data)."""
    return jsonify(DOCUMENT)
