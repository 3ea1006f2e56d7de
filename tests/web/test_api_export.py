"""The CSV export (streamed, Excel-ready) and the dictionaries over JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from models import CallCategory, CallPurpose, CallSubCategory, CallTag, User, call_tags
from models.session import transaction
from tests.waiting import wait_until
from tests.web.conftest import login
from webadmin.api import export, export_copy
from webadmin.api.payloads import PUBLISHED_COLUMNS
from webadmin.extensions import db

MSK = ZoneInfo("Europe/Moscow")


def _day(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=MSK)


@pytest.fixture
def period_cards(make_call: Callable[..., int], sessions: sessionmaker[Session]) -> list[int]:
    """Five completed cards from 2 to 6 March 2026 with Cyrillic text and tags, and two outside."""
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose).order_by(CallPurpose.position))
        category = session.scalar(select(CallCategory).order_by(CallCategory.position))
        tags = list(session.scalars(select(CallTag).order_by(CallTag.position)))
        assert purpose is not None and category is not None
        purpose_id, category_id = purpose.id, category.id
        sub_id = category.sub_categories[0].id
    inside = [
        make_call(
            started_at=_day(2 + n),
            notes=f"Записали на приём №{n}; «кавычки»",
            caller_name="Пётр Иванович",
            purpose_id=purpose_id,
            category_id=category_id,
            sub_category_id=sub_id,
            completed_at=_day(2 + n, 13),
        )
        for n in range(5)
    ]
    make_call(started_at=_day(1, 23))  # 1 March, the day before the period
    make_call(started_at=_day(7, 0))  # 7 March, the day after it
    with transaction(sessions) as session:
        for index, call_id in enumerate(inside):
            for tag in tags[: index % 3]:
                session.execute(call_tags.insert().values(call_id=call_id, tag_id=tag.id))
    return inside


def read_csv(body: bytes) -> list[list[str]]:
    """The export as Excel reads it."""
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def test_the_export_streams_every_card_of_the_period(
    client: FlaskClient,
    period_cards: list[int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "BATCH", 2)  # several batches: tags must follow their cards
    login(client, "admin")
    response = client.get("/api/export/calls.csv?from=2026-03-02&to=2026-03-06")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed  # a generator, written as rows come
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response.data)
    header, body = rows[0], rows[1:]
    assert header == [
        *PUBLISHED_COLUMNS,
        "operator_name",
        "purpose_name",
        "category_name",
        "sub_category_name",
        "tags",
    ]
    assert sorted(int(row[0]) for row in body) == sorted(period_cards)
    cards = {int(row[0]): dict(zip(header, row, strict=True)) for row in body}
    first = cards[period_cards[0]]
    assert first["notes"] == "Записали на приём №0; «кавычки»"  # Cyrillic and ';' survive
    assert first["operator_name"] == "Ольга Операторова"
    assert first["started_at"] == "2026-03-02T12:00:00+03:00"
    assert first["resolved_first_call"] == "0"
    with sessions() as session:
        names = list(session.scalars(select(CallTag.name).order_by(CallTag.position)))
    for index, call_id in enumerate(period_cards):
        assert cards[call_id]["tags"] == ", ".join(names[: index % 3])


def test_a_formula_in_a_note_does_not_run_in_excel(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    make_call(started_at=_day(3), notes='=HYPERLINK("http://evil")', src_number="+79160000000")
    login(client, "admin")
    rows = read_csv(client.get("/api/export/calls.csv?from=2026-03-03&to=2026-03-03").data)
    card = dict(zip(rows[0], rows[1], strict=True))
    assert card["notes"].startswith("'=") and card["src_number"] == "+79160000000"


def test_only_admins_export(client: FlaskClient) -> None:
    assert client.get("/api/export/calls.csv").status_code == 401
    login(client, "supervisor")
    assert client.get("/api/export/calls.csv").status_code == 403
    login(client, "admin")
    refused = client.get("/api/export/calls.csv?from=someday")
    assert refused.status_code == 400 and refused.json["error"]["code"] == "bad_filter"


def test_dictionaries_list_active_items_and_hidden_ones_for_admins(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        hidden = session.scalar(select(CallPurpose).order_by(CallPurpose.position.desc()))
        assert hidden is not None
        session.execute(update(CallPurpose).where(CallPurpose.id == hidden.id).values(active=False))
        hidden_id = hidden.id
    login(client, "operator1")
    purposes = client.get("/api/dictionaries/purposes").json["data"]
    assert hidden_id not in {item["id"] for item in purposes}
    assert [item["position"] for item in purposes] == sorted(item["position"] for item in purposes)
    assert client.get("/api/dictionaries/purposes?all=1").status_code == 403
    subcategories = client.get("/api/dictionaries/subcategories").json["data"]
    with sessions() as session:
        assert len(subcategories) == len(session.scalars(select(CallSubCategory)).all())
    assert all(isinstance(item["category_id"], int) for item in subcategories)
    login(client, "admin")
    everything = client.get("/api/dictionaries/purposes?all=1").json["data"]
    assert hidden_id in {item["id"] for item in everything}
    assert not next(item for item in everything if item["id"] == hidden_id)["active"]


def test_postgresql_writes_the_export_with_copy_a_row_at_a_time(
    app: Flask,
    client: FlaskClient,
    period_cards: list[int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A million cards take a few chunks of memory: rows reach the response as they come."""
    monkeypatch.setattr(export_copy, "CHUNK_BYTES", 1)  # a chunk per row
    monkeypatch.setattr(export_copy, "QUEUED_CHUNKS", 1)
    commands: list[str] = []
    backends: list[int] = []  # the export's own PostgreSQL backends, nobody else's
    written = export_copy.copy_sql

    def noted_copy_sql(stmt: Any, cursor: Any) -> str:
        backends.append(cursor.connection.get_backend_pid())
        commands.append(written(stmt, cursor))
        return commands[-1]

    monkeypatch.setattr(export_copy, "copy_sql", noted_copy_sql)
    login(client, "admin")
    response = client.get("/api/export/calls.csv", buffered=False)
    chunks = list(response.response)
    assert len(chunks) == 1 + 7  # the header, then each card as PostgreSQL sent it
    assert len(commands) == 1 and commands[0].startswith("COPY (SELECT")
    # A download closed half-way ends its COPY and gives no broken connection back to the pool.
    response = client.get("/api/export/calls.csv", buffered=False)
    rows = iter(response.response)
    next(rows), next(rows)
    response.close()
    assert len(backends) == 2
    # The cut COPY's backend goes away (its connection was closed, not pooled); the first
    # export's connection went back to the pool idle.
    wait_until(
        lambda: copying(sessions, backends[1]) is None, what="the cut export's backend closing"
    )
    assert copying(sessions, backends[0]) in {None, "idle"}
    assert len(read_csv(client.get("/api/export/calls.csv").data)) == 1 + 7


def copying(sessions: sessionmaker[Session], pid: int) -> str | None:
    """The state of one backend of this test's database (None once it has gone)."""
    with sessions() as session:
        return session.scalar(
            text(
                "SELECT state FROM pg_stat_activity WHERE pid = :pid "
                "AND datname = current_database()"
            ),
            {"pid": pid},
        )


def _python_export(filters: dict[str, str], user: Any) -> bytes:
    """The export as the row-by-row writer makes it (SQLite's path) for these filters."""
    parsed = export.CallFilters.from_args(filters)
    rows = export.export_rows(export.export_statement(parsed, user), export.display_timezone())
    return "".join(export.csv_lines(export.EXPORT_COLUMNS, rows)).encode()


AWKWARD_NOTES = [
    'Сказала: "перезвоните", потом; ушла',  # quotes and the delimiter
    "две строки\nвторая\r\nи третья",  # newlines inside a field
    "=1+2",
    "@SUM(A1)",
    "+7 (916) 123-45-67",
    "-5 минут",
    "- список",
    "\tотступ",
    "",
    "запятые, и ещё, запятые",
    "'уже в кавычке",
    "+٣٤٥ ١٢",
    "+7\u00a0916\u2003123",
    "-(495)\u3000x",
    "\rвозврат",  # Python's \d and \s
]


def test_the_copy_export_writes_the_same_bytes_as_the_row_writer(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        tags = list(session.scalars(select(CallTag).order_by(CallTag.position)))
        operator2 = session.scalar(select(User).where(User.login == "operator2"))
        assert operator2 is not None
    made = [
        make_call(
            started_at=_day(2 + n % 4, 9 + n).replace(microsecond=456830 * (n % 3)),
            notes=note,
            caller_name='Пётр "Петя" Иванов',
            queue="appointments" if n % 2 else None,
            operator="operator1" if n % 3 else "operator2",
            src_number=note if n == 4 else "+79161234567",
            completed_at=_day(2, 10) if n % 2 else None,
            needs_callback=bool(n % 2),
            recording_path=None,
            did="",
        )
        for n, note in enumerate(AWKWARD_NOTES)
    ]
    with transaction(sessions) as session:
        for index, call_id in enumerate(made):
            for tag in tags[: index % 3]:
                session.execute(call_tags.insert().values(call_id=call_id, tag_id=tag.id))
        session.execute(
            update(CallTag).where(CallTag.id == tags[0].id).values(name='=тег; с "кавычками"')
        )
    login(client, "admin")
    for query in (
        {},
        {"from": "2026-03-03", "to": "2026-03-04"},
        {"sort": "-talk"},
        {"sort": "operator"},
        {"q": "916"},
    ):
        copied = client.get("/api/export/calls.csv", query_string=query).data
        with app.test_request_context(), sessions() as session:
            admin = session.scalar(select(User).where(User.login == "admin"))
            assert copied == _python_export(query, admin), query
    assert copied.count(b"\r\n") > len(made)  # every row ends CRLF, as csv.writer ends them
    # The role scope is the list's: an operator's export holds only their cards.
    with app.test_request_context():
        stmt = export.export_statement(export.CallFilters(), operator2, in_sql=True)
        with app.app_context():
            body = b"".join(export_copy.copy_rows(db.engine, stmt, "Europe/Moscow"))
            expected = _python_export({}, operator2)
    assert expected.split(b"\r\n", 1)[1] == body
    ids = {int(row[0]) for row in read_csv(expected)[1:]}
    assert ids == {call_id for n, call_id in enumerate(made) if n % 3 == 0}
