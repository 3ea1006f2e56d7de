"""Hostile requests for any route of the site: odd path values, query arguments, form fields
and JSON bodies (Hypothesis strategies), and a snapshot of every table to see what changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask_wtf import FlaskForm
from hypothesis import strategies as st
from sqlalchemy import (
    CompoundSelect,
    Engine,
    Select,
    Table,
    Text,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from werkzeug.routing import Rule
from wtforms import Form
from wtforms.fields import FieldList, FormField
from wtforms.fields.core import UnboundField

from models import Base
from webadmin.calls.queries import FILTER_ARGS

#: Numbers past 64 bits, zero, negatives, and the largest id a row can have.
BIG_NUMBERS = [
    str(2**63),
    str(2**64),
    str(2**63 - 1),
    "9" * 40,
    "-1",
    "0",
    "00",
    "-0",
    "1e3",
    "1.5",
    " 1",
    "+1",
]
#: Digits `str.isdigit()` accepts and `int()` refuses or reads as another number.
UNICODE_DIGITS = ["²", "１２", "١٢", "৩", "⑦", "𝟗", "12²"]
#: Dates at the calendar's edges, with and without an offset, and impossible ones.
EDGE_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00",
    "9999-12-31T23:59:59.999999",
    "1999-12-31",
    "2101-01-01",
    "2026-02-30",
    "2026-13-01",
    "24:00",
    "99:99",
    "2026-03-02T25:00",
    "-2026-01-01",
]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 100_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../../etc/passwd",
    "true",
    "null",
    "NaN",
    "inf",
    "1e309",
    "🙂",
    "\u202egnp.exe",
    "a\r\nb",
    "%",
    "%00",
    "[]",
    "{}",
]
HOSTILE_TEXT = st.one_of(
    st.sampled_from(BIG_NUMBERS + UNICODE_DIGITS + EDGE_DATES + ODD_TEXT), st.text(max_size=12)
)
#: Path values stay short (a URL of 100 KB is refused by servers before the site sees it).
PATH_TEXT = st.one_of(
    st.sampled_from(BIG_NUMBERS + UNICODE_DIGITS + EDGE_DATES + ODD_TEXT[:4]), st.text(max_size=8)
)

#: Argument names read outside the calls list's filters.
OTHER_ARGS = [
    "limit",
    "download",
    "all",
    "short",
    "format",
    "user",
    "action",
    "call",
    "have",
    "next",
    "kind",
    "id",
]
#: Form names read without a WTForms form.
OTHER_FIELDS = ["name", "direction", "active", "locale", "days", "next", "reason", "status"]
#: Keys of the API's card bodies (NewCard and CardFields).
JSON_NAMES = [
    "direction",
    "status",
    "started_at",
    "answered_at",
    "ended_at",
    "src_number",
    "dst_number",
    "did",
    "caller_name",
    "queue",
    "operator_id",
    "purpose_id",
    "category_id",
    "sub_category_id",
    "notes",
    "resolved_first_call",
    "needs_callback",
    "tag_ids",
]
#: Raw bodies no JSON reader should choke on.
RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"{",
    b"1" * 5000,
    b'{"notes": "\xff\xfe"}',
    b"",
    b"null",
    b"[]",
    b'{"purpose_id": 1e400}',
    b'{"operator_id": 9223372036854775808}',
]

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 0, 1, 2]),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_TEXT,
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def form_field_names() -> list[str]:
    """Every field name of every form of the site (list fields at rows 0 and 1)."""
    names: set[str] = set()

    def walk(form: type[Form], prefix: str) -> None:
        for name in dir(form):
            unbound = getattr(form, name, None)
            if not isinstance(unbound, UnboundField):
                continue
            if unbound.field_class is FieldList:
                inner = unbound.args[0]
                for row in (0, 1):
                    if inner.field_class is FormField:
                        walk(inner.args[0], f"{prefix}{name}-{row}-")
                    else:
                        names.add(f"{prefix}{name}-{row}")
            elif unbound.field_class is FormField:
                walk(unbound.args[0], f"{prefix}{name}-")
            else:
                names.add(prefix + name)

    def subclasses(cls: type[Any]) -> Iterator[type[Any]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for form in subclasses(FlaskForm):
        if form.__module__.startswith("webadmin."):
            walk(form, "")
    return sorted(names - {"csrf_token"})


@dataclass(frozen=True)
class HostileRequest:
    """One request: where, how, and what it carries."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    json: Any = None
    raw: bytes | None = None

    def send(self, client: Any) -> Any:
        """Send it with a Flask test client."""
        extra: dict[str, Any] = {}
        if self.form is not None:
            extra["data"] = self.form
        elif self.raw is not None:
            extra["data"] = self.raw
            extra["content_type"] = "application/json"
        elif self.json is not None:
            extra["json"] = self.json
        return client.open(self.path, method=self.method, query_string=self.query, **extra)


def _path_value(rule: Rule, name: str, known: dict[str, list[str]]) -> st.SearchStrategy[str]:
    converter = rule._converters[name]  # noqa: SLF001 (werkzeug keeps them only there)
    choices = list(known.get(name, []))
    if hasattr(converter, "items"):  # <any(a, b):kind>
        choices += sorted(converter.items)
    return st.one_of(st.sampled_from(choices), PATH_TEXT) if choices else PATH_TEXT


def _url(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for placeholder, name in _placeholders(rule.rule):
        # An empty segment would be another address; a space stands for "nothing".
        path = path.replace(placeholder, quote(values[name], safe="") or "%20", 1)
    return path


def _placeholders(rule: str) -> list[tuple[str, str]]:
    found, start = [], rule.find("<")
    while start >= 0:
        end = rule.index(">", start)
        text = rule[start : end + 1]
        found.append((text, text[1:-1].rsplit(":", 1)[-1]))
        start = rule.find("<", end)
    return found


def requests_for(
    rule: Rule, method: str, known: dict[str, list[str]], fields: list[str]
) -> st.SearchStrategy[HostileRequest]:
    """Hostile requests to one route and method."""
    paths = st.fixed_dictionaries(
        {name: _path_value(rule, name, known) for name in sorted(rule.arguments)}
    ).map(lambda values: _url(rule, values))
    query_names = st.sampled_from([*FILTER_ARGS, *OTHER_ARGS, *fields])
    queries = st.dictionaries(query_names, HOSTILE_TEXT, max_size=4)
    if method == "GET":
        return st.builds(HostileRequest, st.just(method), paths, queries)
    forms = st.dictionaries(
        st.sampled_from([*fields, *OTHER_FIELDS]), HOSTILE_TEXT, min_size=1, max_size=8
    )
    bodies = st.dictionaries(st.sampled_from(JSON_NAMES), JSON_VALUE, max_size=6)
    return st.one_of(
        st.builds(HostileRequest, st.just(method), paths, queries, form=forms),
        st.builds(HostileRequest, st.just(method), paths, queries, json=bodies | JSON_VALUE),
        st.builds(HostileRequest, st.just(method), paths, queries, raw=st.sampled_from(RAW_BODIES)),
    )


def site_rules(app: Flask) -> list[tuple[Rule, str]]:
    """(rule, method) for every route of the site but the static files; signing out last."""
    found = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    return sorted(
        found, key=lambda pair: (pair[0].endpoint == "auth.logout", pair[0].rule, pair[1])
    )


def snapshot(engine: Engine, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every table (rows in primary-key order)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # One round trip: PostgreSQL sums up each table itself (a snapshot follows every
            # request of the suite).
            found = {
                name: (count, digest or "")
                for name, count, digest in connection.execute(_postgresql_snapshot())
            }
        else:
            found = {}
            for table in Base.metadata.sorted_tables:
                rows = connection.execute(_in_key_order(table)).all()
                digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode())
                found[table.name] = (len(rows), digest.hexdigest())
    return {name: value for name, value in found.items() if name not in skip}


@cache
def _in_key_order(table: Table) -> Select[Any]:
    return select(table).order_by(*table.primary_key.columns)


@cache
def _postgresql_snapshot() -> CompoundSelect[Any]:
    parts = []
    for table in Base.metadata.sorted_tables:
        row = table.table_valued()
        order = [column for column in table.primary_key.columns]
        parts.append(
            select(
                literal(table.name),
                func.count(),
                func.md5(
                    func.string_agg(cast(row, Text), aggregate_order_by(literal("|"), *order))
                ),
            ).select_from(table)
        )
    return union_all(*parts)
