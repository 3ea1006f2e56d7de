"""Pages of the calls list with a capped count, so a million cards are not counted for a total.

The total is counted up to `cap` cards past the start of the page asked for: below that it
is exact, above it the page says "more than N" and still offers the next page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, literal, select

from models import Call

#: Cards counted past the page's start before the total is shown as "more than" (40 pages of
#: 50). A count reads every card it counts, and a filter no index serves (a supervisor's missed
#: calls) reads the table until the cap: on a year of a million cards 10,000 cost 200-400 ms.
COUNT_CAP = 2_000


@dataclass(frozen=True)
class CallsPage:
    """One page of cards and what is known of the whole: `total` is a lower bound unless exact."""

    items: list[Call]
    page: int
    per_page: int
    total: int
    exact: bool

    @property
    def pages(self) -> int:
        """The number of pages (at least this many when the total is not exact)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """True past the first page."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """True when some card comes after this page."""
        return not self.exact or self.page < self.pages

    @property
    def prev_num(self) -> int:
        """The previous page's number."""
        return self.page - 1

    @property
    def next_num(self) -> int:
        """The next page's number."""
        return self.page + 1


def count_at_most(session: Any, stmt: Select[Any], limit: int) -> int:
    """How many rows `stmt` gives, counting no further than `limit`."""
    # maintain_column_froms: with no filter, `SELECT 1 LIMIT n` would have no FROM at all.
    rows = (
        stmt.with_only_columns(literal(1), maintain_column_froms=True)
        .order_by(None)
        .limit(limit)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(rows)) or 0)


def paginate_parts(
    parts: Sequence[Select[tuple[Call]]], page: int, per_page: int, cap: int | None = None
) -> CallsPage:
    """One page over several sorted selects shown one after the other (a page past the end is
    empty, not an error)."""
    from webadmin.extensions import db

    cap = current_app.config.get("CALLS_COUNT_CAP", COUNT_CAP) if cap is None else cap
    skip = (page - 1) * per_page
    limit = skip + cap + 1
    items: list[Call] = []
    total = 0
    for stmt in parts:
        wanted = per_page - len(items)
        found: list[Call] = []
        if wanted:
            found = list(db.session.scalars(stmt.offset(skip).limit(wanted)))
            items.extend(found)
        if (skip and not found) or len(found) == wanted:
            counted = count_at_most(db.session, stmt, limit - total)
        else:
            # A short page that reached the last row: the count needs no query of its own.
            counted = skip + len(found)
        skip = max(0, skip - counted)
        total += counted
        if total >= limit:
            break
    return CallsPage(items, page, per_page, min(total, limit), total < limit)


def paginate_calls(stmt: Select[tuple[Call]], page: int, per_page: int) -> CallsPage:
    """One page of a `filtered_calls` select."""
    return paginate_parts([stmt], page, per_page)
