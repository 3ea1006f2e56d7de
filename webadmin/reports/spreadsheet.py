"""CSV files Excel opens as they are: UTF-8 with a BOM, `;` between fields."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from werkzeug.wrappers import Response

#: Excel reads a file as UTF-8 only when it starts with this mark (else Cyrillic is garbled).
BOM = "\ufeff"
#: Excel in a Russian (or any decimal-comma) locale splits columns on `;`, not `,`.
DELIMITER = ";"
_NUMBER_LIKE = re.compile(r"[+-][\d\s().-]*")


def spreadsheet_safe(value: object) -> object:
    """A text cell Excel will not run as a formula (caller names and notes come from outside)."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "=@\t\r" or (value[0] in "+-" and not _NUMBER_LIKE.fullmatch(value)):
        # OWASP's CSV-injection advice; a phone number such as +79161234567 stays as it is.
        return "'" + value
    return value


def csv_line(values: Sequence[object]) -> str:
    """One CSV record, `;`-separated, CRLF-terminated."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n").writerow(
        [spreadsheet_safe(value) for value in values]
    )
    return buffer.getvalue()


def csv_lines(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The BOM and header, then one record per row, as the rows come."""
    yield BOM + csv_line(header)
    for row in rows:
        yield csv_line(row)


def csv_response(lines: Iterable[str], filename: str) -> Response:
    """A download of these lines (streamed when `lines` is a generator)."""
    response = Response(lines, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
