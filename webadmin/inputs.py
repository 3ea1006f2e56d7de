"""Every value a person or a client sends, read in one place: ids, whole numbers, flags,
dates, periods and JSON bodies, each with the bounds the database and the clock can hold."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType
from werkzeug.routing import BaseConverter

from webadmin.permissions import wants_json

#: The largest id a BIGINT column (and SQLite's INTEGER) can hold.
MAX_ID = 2**63 - 1
#: Pages past this one are refused: offsets stay far inside 64 bits for any page size.
MAX_PAGE = 1_000_000_000
#: Dates outside these years are typing mistakes in a call centre, and at the calendar's
#: edges (year 1, 9999) a time zone shift overflows Python's datetime.
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: The longest period a report or the CSV export covers, in days.
MAX_PERIOD_DAYS = 366
#: JSON bodies: nesting and size a card never needs (deeper nesting hit RecursionError).
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 1_000_000

_ASCII_DIGITS = re.compile(r"[0-9]+")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class InputError(ValueError):
    """A value that cannot be read; the message tells the person what to send instead."""


def whole_number(raw: str | None, low: int = 1, high: int = MAX_ID) -> int | None:
    """ASCII digits read as a number in low..high; None when missing, wrong or out of range.

    `str.isdigit()` accepts "²" and "١", which `int()` refuses or reads as another number.
    """
    text = (raw or "").strip()
    if not _ASCII_DIGITS.fullmatch(text) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def is_record_id(value: Any) -> bool:
    """True for a JSON number that can be a row's id (1 to 2^63-1; not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def record_id(raw: str | None) -> int | None:
    """A query or form value as a row's id, None when it cannot be one."""
    return whole_number(raw, 1, MAX_ID)


def page_number(raw: str | None) -> int | None:
    """A `page` argument: 1 when missing, None when it is not a page number."""
    return 1 if not (raw or "").strip() else whole_number(raw, 1, MAX_PAGE)


def flag(raw: str | None) -> bool | None:
    """yes/no, 1/0, true/false, on/off as a bool; False when missing, None when unknown."""
    text = (raw or "").strip().lower()
    if not text:
        return False
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    return None


def years_message() -> str:
    """What a date must look like, with the years it may fall in."""
    return _(
        "Expected a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM) in the years %(first)d to %(last)d.",
        first=FIRST_YEAR,
        last=LAST_YEAR,
    )


def moment(raw: str, tz: tzinfo, *, end: bool = False) -> datetime:
    """A day (YYYY-MM-DD) or an ISO 8601 moment as an aware UTC time; InputError if not one.

    A day alone means the whole day: as an `end` it is the next day's midnight. A moment
    without an offset is read in `tz` (the call centre's zone).
    """
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            _check_year(day.year)
            parsed = datetime.combine(day + timedelta(days=1) if end else day, time())
        else:
            parsed = datetime.fromisoformat(text)
            _check_year(parsed.year)
    except ValueError as error:
        raise InputError(years_message()) from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(year)


def within_years(day: date) -> bool:
    """True for a date (or a moment) in the years FIRST_YEAR to LAST_YEAR."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def period_message() -> str:
    """Why a period was refused: it is longer than the longest one served."""
    return _("Choose a period of at most %(days)d days.", days=MAX_PERIOD_DAYS)


def period_too_long(start: datetime, end: datetime) -> bool:
    """True when a report or export period is longer than MAX_PERIOD_DAYS (a day of slack
    for a daylight-saving shift inside the period)."""
    return end - start > timedelta(days=MAX_PERIOD_DAYS, hours=1)


class RecordIdConverter(BaseConverter):
    """`<int:...>` in every route: ASCII digits from 1 to 2^63-1, anything else is a 404."""

    regex = r"[1-9][0-9]{0,18}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = record_id(value)
        if number is None:
            # Not ValidationError: Werkzeug would then answer a 405 when the address takes
            # another method, as if the row existed.
            raise NotFound()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with bounds on what it reads: a body too big, too deep or not JSON is a
    ValueError, which `request.get_json` turns into a 400 (or None when silent)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if len(s) > JSON_MAX_BYTES:
            raise ValueError(f"a JSON body of more than {JSON_MAX_BYTES} bytes")
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as error:
            raise ValueError("JSON nested too deeply") from error
        if json_depth(value) > JSON_MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {JSON_MAX_DEPTH} levels")
        return value


def requested_page(raw: str | None) -> int:
    """The `page` a list was asked for; a clear 400 when it is not a page number."""
    page = page_number(raw)
    if page is None:
        raise BadRequest(
            description=_("Expected a page number from %(low)d to %(high)d.", low=1, high=MAX_PAGE)
        )
    return page


def flag_argument(name: str, raw: str | None) -> bool:
    """A yes/no query argument (`?download=true`); a clear 400 for any other value."""
    value = flag(raw)
    if value is None:
        raise BadRequest(
            description=_("%(name)s: expected yes or no (1 or 0, true or false).", name=name)
        )
    return value


def refuse_json_outside_api() -> None:
    """Pages take forms; a JSON body sent to one is a 415, not a form read from JSON.

    Flask-WTF would build the form from any JSON body, and a body that is not an object of
    strings broke every form of the site.
    """
    if request.is_json and request.method not in SAFE_METHODS and not wants_json():
        raise UnsupportedMediaType(
            description=_("This page takes a form, not JSON; the JSON API is under /api.")
        )
