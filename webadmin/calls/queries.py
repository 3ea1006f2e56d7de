"""The calls list as data: filters parsed from a query string, the scoped select, sorting, pages.

The pages and the JSON API share these, so a filter means the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import aliased, selectinload

from callcards.config import DEFAULT_TIMEZONE
from models import (
    Call,
    CallCategory,
    CallPurpose,
    CallSubCategory,
    CallTag,
    Direction,
    QueueMember,
    Status,
    User,
    call_tags,
)
from models.routing import Queue
from webadmin.inputs import MAX_ID, MAX_PAGE, InputError, flag, moment, whole_number
from webadmin.permissions import ADMIN, OPERATOR, SUPERVISOR, account_of, calls_scope

#: Query-string names the filters are read from (pages and API alike).
FILTER_ARGS = (
    "from",
    "to",
    "operator",
    "status",
    "direction",
    "queue",
    "purpose",
    "category",
    "subcategory",
    "tag",
    "q",
    "needs_callback",
    "incomplete",
    "sort",
    "page",
    "per_page",
)
SORT_KEYS = (
    "started_at",
    "duration",
    "wait",
    "talk",
    "status",
    "queue",
    "number",
    "operator",
    "completed_at",
)
DEFAULT_SORT = "-started_at"
MAX_PER_PAGE = 200


class FilterError(ValueError):
    """Some filter values could not be understood; `errors` maps each argument to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class CallFilters:
    """What the user asked the calls list for; every field optional."""

    period_from: datetime | None = None  # inclusive, UTC
    period_to: datetime | None = None  # exclusive, UTC
    operator_id: int | None = None
    status: str | None = None
    direction: str | None = None
    queue: str | None = None
    purpose_id: int | None = None
    category_id: int | None = None
    sub_category_id: int | None = None
    tag_id: int | None = None
    q: str | None = None  # digits of a phone number
    needs_callback: bool | None = None
    incomplete: bool = False
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 50
    args: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], *, tz: tzinfo | None = None, per_page: int = 50
    ) -> CallFilters:
        """Parse request arguments; raise FilterError naming every bad one."""
        return _Parser(args, tz or display_timezone()).parse(per_page)

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The arguments that reproduce these filters, with some changed (for links)."""
        merged = {**self.args, **{key: str(value) for key, value in changes.items()}}
        return {key: value for key, value in merged.items() if value not in ("", "None")}


def display_timezone() -> tzinfo:
    """The call centre's time zone: dates in filters and on pages are read in it."""
    if has_app_context():
        return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE))
    return ZoneInfo(DEFAULT_TIMEZONE)


class _Parser:
    """Reads CallFilters out of a mapping, collecting a message per bad argument."""

    def __init__(self, args: Mapping[str, str], tz: tzinfo) -> None:
        self.args = {key: str(args.get(key, "")).strip() for key in FILTER_ARGS if args.get(key)}
        self.tz = tz
        self.errors: dict[str, str] = {}

    def parse(self, per_page: int) -> CallFilters:
        values: dict[str, Any] = {
            "period_from": self._moment("from", end=False),
            "period_to": self._moment("to", end=True),
            "operator_id": self._integer("operator"),
            "status": self._choice("status", [member.value for member in Status]),
            "direction": self._choice("direction", [member.value for member in Direction]),
            "queue": self.args.get("queue") or None,
            "purpose_id": self._integer("purpose"),
            "category_id": self._integer("category"),
            "sub_category_id": self._integer("subcategory"),
            "tag_id": self._integer("tag"),
            "q": self._digits("q"),
            "needs_callback": self._flag("needs_callback"),
            "incomplete": bool(self._flag("incomplete")),
            "sort": self._sort(),
            "page": self._integer("page", minimum=1, maximum=MAX_PAGE) or 1,
            "per_page": self._integer("per_page", minimum=1, maximum=MAX_PER_PAGE) or per_page,
        }
        start, end = values["period_from"], values["period_to"]
        if start is not None and end is not None and start >= end:
            self.errors["to"] = _("The end of the period must be after its start.")
        if self.errors:
            raise FilterError(self.errors)
        return CallFilters(**values, args=self.args)

    def _integer(self, name: str, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
        raw = self.args.get(name)
        if not raw:
            return None
        value = whole_number(raw, minimum, maximum)
        if value is None:
            self.errors[name] = (
                _("Expected a whole number from %(low)d to %(high)d.", low=minimum, high=maximum)
                if maximum != MAX_ID
                else _("Expected an id (a whole number).")
            )
        return value

    def _choice(self, name: str, allowed: list[str]) -> str | None:
        raw = self.args.get(name)
        if raw and raw not in allowed:
            self.errors[name] = _("Expected one of: %(values)s.", values=", ".join(allowed))
            return None
        return raw or None

    def _flag(self, name: str) -> bool | None:
        raw = self.args.get(name)
        if not raw:
            return None
        value = flag(raw)
        if value is None:
            self.errors[name] = _("Expected yes or no (1 or 0).")
        return value

    def _digits(self, name: str) -> str | None:
        raw = self.args.get(name)
        if not raw:
            return None
        digits = re.sub(r"\D", "", raw)
        if not digits:
            self.errors[name] = _("Enter some digits of the phone number.")
            return None
        return digits

    def _sort(self) -> str:
        raw = self.args.get("sort") or DEFAULT_SORT
        if raw.removeprefix("-") not in SORT_KEYS:
            self.errors["sort"] = _("Expected one of: %(values)s.", values=", ".join(SORT_KEYS))
            return DEFAULT_SORT
        return raw

    def _moment(self, name: str, *, end: bool) -> datetime | None:
        raw = self.args.get(name)
        if not raw:
            return None
        try:
            return moment(raw, self.tz, end=end)
        except InputError as error:
            self.errors[name] = str(error)
            return None


def incomplete_clause() -> ColumnElement[bool]:
    """Cards that wait for the operator: a conversation took place, the card is not saved."""
    return and_(Call.status == Status.ANSWERED.value, Call.completed_at.is_(None))


def _conditions(filters: CallFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.period_from is not None:
        conditions.append(Call.started_at >= filters.period_from)
    if filters.period_to is not None:
        conditions.append(Call.started_at < filters.period_to)
    simple = {
        Call.operator_id: filters.operator_id,
        Call.status: filters.status,
        Call.direction: filters.direction,
        Call.queue: filters.queue,
        Call.purpose_id: filters.purpose_id,
        Call.category_id: filters.category_id,
        Call.sub_category_id: filters.sub_category_id,
        Call.needs_callback: filters.needs_callback,
    }
    conditions.extend(column == value for column, value in simple.items() if value is not None)
    if filters.tag_id is not None:
        conditions.append(
            Call.id.in_(select(call_tags.c.call_id).where(call_tags.c.tag_id == filters.tag_id))
        )
    if filters.q:
        pattern = f"%{filters.q}%"
        conditions.append(or_(Call.src_number.like(pattern), Call.dst_number.like(pattern)))
    if filters.incomplete:
        conditions.append(incomplete_clause())
    return conditions


def sorted_calls(stmt: Select[Any], sort: str) -> Select[Any]:
    """Order a `select(Call)` by a SORT_KEYS name (a leading '-' means descending)."""
    key = sort.removeprefix("-")
    descending = sort.startswith("-")
    if key == "operator":
        operator = aliased(User)
        stmt = stmt.outerjoin(operator, Call.operator_id == operator.id)
        column: Any = operator.name
    else:
        column = {
            "started_at": Call.started_at,
            "duration": Call.duration_sec,
            "wait": Call.wait_sec,
            "talk": Call.talk_sec,
            "status": Call.status,
            "queue": Call.queue,
            "number": Call.src_number,
            "completed_at": Call.completed_at,
        }[key]
    ordered = column.desc().nulls_last() if descending else column.asc().nulls_last()
    return stmt.order_by(ordered, Call.id.desc())


def filtered_calls(filters: CallFilters, user: Any) -> Select[tuple[Call]]:
    """The cards this user may see that match the filters, sorted, with their labels loaded."""
    stmt = calls_scope(select(Call), user).where(*_conditions(filters))
    stmt = stmt.options(
        selectinload(Call.operator),
        selectinload(Call.purpose),
        selectinload(Call.category),
        selectinload(Call.sub_category),
        selectinload(Call.tags),
    )
    return sorted_calls(stmt, filters.sort)


@dataclass(frozen=True)
class FilterOptions:
    """What the filter form offers this user: operators, queues and every dictionary item."""

    operators: list[User]
    queues: list[str]
    purposes: list[CallPurpose]
    categories: list[CallCategory]
    sub_categories: list[CallSubCategory]
    tags: list[CallTag]


def filter_options(session: Any, user: Any) -> FilterOptions:
    """The choices for the filter form, limited to what the user's scope can contain."""
    account = account_of(user)
    operators_stmt = select(User).where(User.role == OPERATOR).order_by(User.name)
    queues_stmt = select(Queue.name).order_by(Queue.name)
    if account is not None and account.role == SUPERVISOR:
        names = [queue.name for queue in account.supervised_queues]
        queues_stmt = queues_stmt.where(Queue.name.in_(names))
        served = {queue.id for queue in account.supervised_queues}
        operators_stmt = operators_stmt.where(
            User.memberships.any(QueueMember.queue_id.in_(served))
        )
    elif account is None or account.role != ADMIN:
        operators_stmt = operators_stmt.where(User.id == (account.id if account else -1))
    return FilterOptions(
        operators=list(session.scalars(operators_stmt)),
        queues=list(session.scalars(queues_stmt)),
        purposes=list(session.scalars(select(CallPurpose).order_by(CallPurpose.position))),
        categories=list(session.scalars(select(CallCategory).order_by(CallCategory.position))),
        sub_categories=list(
            session.scalars(
                select(CallSubCategory).order_by(
                    CallSubCategory.category_id, CallSubCategory.position
                )
            )
        ),
        tags=list(session.scalars(select(CallTag).order_by(CallTag.position))),
    )


def caller_history(session: Any, call: Call, user: Any, limit: int = 10) -> list[Call]:
    """The caller's earlier cards this user may see, newest first: what they called about before.

    The calls list's rule applies (`calls_scope`): a number typed on a card logged by hand
    shows an operator only the cards they could find in their own list.
    """
    if not call.src_number:
        return []
    stmt = (
        calls_scope(select(Call), user)
        .where(
            Call.src_number == call.src_number,
            Call.id != call.id,
            Call.started_at <= call.started_at,
        )
        .options(
            selectinload(Call.purpose), selectinload(Call.category), selectinload(Call.operator)
        )
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
