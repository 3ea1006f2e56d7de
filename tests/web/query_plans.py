"""PostgreSQL's plans of the queries a request runs, and a history to make them honest."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text

from webadmin.extensions import db


def add_history(web_engine: Engine, operator_id: int, cards: int) -> None:
    """`cards` ended calls the operator answered over the past weeks, then fresh statistics:
    with a handful of cards any plan is cheap, and the planner reads them all."""
    with web_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO calls (uniqueid, linkedid, queue, direction, status, started_at, "
                "answered_at, ended_at, operator_id, resolved_first_call, needs_callback, "
                "recording_state, updated_at) "
                "SELECT 'past.' || :operator || '.' || g, 'past.' || :operator || '.' || g, "
                "'reception', 'inbound', 'answered', "
                "now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '5 "
                "s', "
                "now() - g * interval '1 minute' + interval '50 s', :operator, false, "
                "g % 25 = 0, 'ok', now() FROM generate_series(1, :cards) AS g"
            ),
            {"operator": operator_id, "cards": cards},
        )
        connection.execute(text("ANALYZE calls"))


def plans_of_request(
    app: Flask, client: FlaskClient, path: str, headers: dict[str, str] | None = None
) -> tuple[Any, list[str]]:
    """The response to GET `path`, and PostgreSQL's plan of each query on calls it ran."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM calls" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = client.get(path, headers=headers or {})
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in seen:
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    finally:
        raw.close()
    return response, plans
