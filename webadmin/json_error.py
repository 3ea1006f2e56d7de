"""The one JSON error shape of the site and the API: `{"error": {"code", "message", "fields"}}`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
    503: "timeout",
}


def json_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: dict[str, list[str]] | None = None,
) -> Response:
    """A JSON error response; `fields` names each bad input with its messages."""
    error: dict[str, Any] = {"code": code or CODES.get(status, "error"), "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify(error=error)
    response.status_code = status
    return response
