"""Daily roll-ups of the cards for the reports: per local day, queue and operator, sums and counts.

Every report figure (METRICS.md) is a sum or a count, so a period's figure is the sum of its
days' rows, exactly. Thresholds chosen at report time (the short-abandon N, each queue's
service-level T) are kept apart as counts per whole second of wait (`report_wait_days`).

A day is rolled up once it has been over for two days (reports/rollup.py);
`report_days` says which days are, and database triggers mark a day stale as soon as any
card of it (or an event the reports read: ringing, answered, an overflow, a transfer) is
written, edited or deleted: the card
store, the site, the journal's replay, reconcile and hand-written SQL alike. A stale day is
read from the cards themselves until it is rolled up again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import DDL, Boolean, Date, Float, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

#: A day is rolled up only once it has been over this long (by the database's clock), so a
#: card started more recently cannot be in a rolled-up day and its writes (the call path's)
#: skip the triggers in their WHEN clause. Reports read these last days from the cards.
SETTLED_DAYS = 2
#: Waits are counted per second up to this; longer ones share the bucket WAIT_CAP_SEC + 1.
#: Thresholds above it (none the forms allow: T ≤ 3600 s, N ≤ 600 s) are read from the cards.
WAIT_CAP_SEC = 3600


class ReportDay(Base):
    """A local day of the call centre and whether its roll-up rows are up to date."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(unique=True)  # local midnight, UTC
    ends_at: Mapped[datetime]
    stale: Mapped[bool] = mapped_column(Boolean, default=True)
    refreshed_at: Mapped[datetime | None]
    # First-call resolution rows (FirstCallDay) of this day: the window they were counted
    # with and when. They are exact while this day and the fcr_span_days(window) days after it
    # are fresh and none of those was rolled up after them (reports/rollup.py).
    fcr_repeat_days: Mapped[int | None] = mapped_column(Integer)
    fcr_at: Mapped[datetime | None]


class _DayRow:
    """What every roll-up row has: its own id, the local day and the queue of its cards."""

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    queue: Mapped[str | None] = mapped_column(String(64))


class QueueDay(_DayRow, Base):
    """Inbound calls of a day per queue (queue report): legs, or each call once."""

    __tablename__ = "report_queue_days"

    # False: each call once, by the queue it ended in, from the caller's view across every
    # queue it entered (the report's total, and the queue rows start from it). True: what the
    # queue rows add, each queue a call entered counting it: a moved call's earlier legs, and
    # its last leg in place of the caller's view (those counts taken away, so a row may hold
    # negative counts); only moved calls have such rows.
    leg: Mapped[bool] = mapped_column(Boolean, default=False)

    # A card without a queue belongs to its operator's queues (calls_scope): kept for those only.
    queueless_operator_id: Mapped[int | None] = mapped_column(Integer)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    answered_wait_sec: Mapped[int] = mapped_column(Integer, default=0)
    # Offered calls that left with the callback key and a number (virtual hold).
    callback_requested: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WaitDay(_DayRow, Base):
    """Offered calls of a day answered (wait) or abandoned (queue entry to hang-up, rounded
    up) after `seconds`: the service level and short abandons for any T and N."""

    __tablename__ = "report_wait_days"

    leg: Mapped[bool] = mapped_column(Boolean, default=False)  # as QueueDay.leg

    queueless_operator_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # answered / abandoned
    seconds: Mapped[int | None] = mapped_column(Integer)  # None: never short (no times)
    calls: Mapped[int] = mapped_column(Integer)


class OperatorDay(_DayRow, Base):
    """An operator's cards of a day per queue and purpose (efficiency report)."""

    __tablename__ = "report_operator_days"

    operator_id: Mapped[int] = mapped_column(Integer)
    purpose_id: Mapped[int | None] = mapped_column(Integer)
    cards: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    talk_sec: Mapped[int] = mapped_column(Integer)
    hold_sec: Mapped[int] = mapped_column(Integer)
    after_call_sec: Mapped[float] = mapped_column(Float)
    saved: Mapped[int] = mapped_column(Integer)


class RangDay(_DayRow, Base):
    """Closed calls of a day that rang at an extension and were not answered there, each call
    once per extension."""

    __tablename__ = "report_rang_days"

    operator_id: Mapped[int | None] = mapped_column(Integer)  # who answered, if anyone
    extension: Mapped[str | None] = mapped_column(String(32))
    calls: Mapped[int] = mapped_column(Integer)


class CategoryDay(_DayRow, Base):
    """Cards of a day per category (category report and its weeks)."""

    __tablename__ = "report_category_days"

    queueless_operator_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    cards: Mapped[int] = mapped_column(Integer)
    needs_callback: Mapped[int] = mapped_column(Integer)


class FirstCallDay(_DayRow, Base):
    """Answered inbound calls of a day per queue and operator (category NULL) or per queue and
    category (operator NULL), and how many were resolved at first call, declared and measured
    (the number did not call again within the day's `ReportDay.fcr_repeat_days`)."""

    __tablename__ = "report_first_call_days"

    queueless_operator_id: Mapped[int | None] = mapped_column(Integer)  # as CategoryDay's
    operator_id: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    declared: Mapped[int] = mapped_column(Integer)
    known: Mapped[int] = mapped_column(Integer)
    not_again: Mapped[int] = mapped_column(Integer)


def fcr_span_days(repeat_days: int) -> int:
    """How many days after a day its first-call rows read: a repeat call up to `repeat_days`
    days after the day's last moment, and one day more for a clock change in between."""
    return repeat_days + 1


ROLLUP_TABLES = (QueueDay, WaitDay, OperatorDay, RangDay, CategoryDay, FirstCallDay)

# -- the triggers that mark a day stale --------------------------------------------------------
# Migrations run these (0007 with the columns and kinds it watched, 0008 with today's); create_all
# (tests) gets today's through the events below. A later change to them needs a migration.

#: The columns of a card the roll-ups read: writes that change none of them (the recording's
#: state, the extension ringing now) leave the day fresh and cost the call path nothing.
REPORTED_COLUMNS_0007 = (
    "started_at",
    "queue",
    "direction",
    "status",
    "end_reason",
    "queue_entered_at",
    "ended_at",
    "wait_sec",
    "talk_sec",
    "hold_sec",
    "operator_id",
    "purpose_id",
    "category_id",
    "completed_at",
    "needs_callback",
)
REPORTED_COLUMNS_0008 = (*REPORTED_COLUMNS_0007, "answered_at")
#: 0014: first-call resolution reads the caller's number and the operator's "resolved" mark.
REPORTED_COLUMNS = (*REPORTED_COLUMNS_0008, "src_number", "resolved_first_call")
#: The timeline events the roll-ups read: ringing (operators' missed calls), and the moves
#: between queues with the answers around them (each queue a call entered, its legs).
REPORTED_EVENTS_0007 = ("operator_rang",)
REPORTED_EVENTS = (*REPORTED_EVENTS_0007, "queue_overflow", "transferred", "answered")

_SETTLED = f"now() - interval '{SETTLED_DAYS} days'"


def _kinds(row: str, kinds: tuple[str, ...]) -> str:
    return f"{row}.kind IN ({', '.join(repr(kind) for kind in kinds)})"


def postgresql_triggers(columns: tuple[str, ...], kinds: tuple[str, ...]) -> tuple[str, ...]:
    """PostgreSQL's triggers for cards' `columns` and events of `kinds`.

    One function marks the day holding a moment (PL/pgSQL: each connection plans its UPDATE
    once); the triggers call it for cards old enough to be in a rolled-up day.
    """
    old = ", ".join(f"OLD.{name}" for name in columns)
    new = ", ".join(f"NEW.{name}" for name in columns)
    return (
        """CREATE OR REPLACE FUNCTION report_day_changed(moment timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_days SET stale = true
  WHERE starts_at = (SELECT max(starts_at) FROM report_days WHERE starts_at <= moment)
    AND ends_at > moment;
END $$""",
        """CREATE OR REPLACE FUNCTION report_days_card_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM report_day_changed(OLD.started_at); END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.started_at <> OLD.started_at) THEN
    PERFORM report_day_changed(NEW.started_at);
  END IF;
  RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION report_days_event_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND {_kinds("OLD", kinds)} THEN
    PERFORM report_day_changed(started_at) FROM calls
    WHERE id = OLD.call_id AND started_at < {_SETTLED};
  END IF;
  IF TG_OP <> 'DELETE' AND {_kinds("NEW", kinds)} THEN
    PERFORM report_day_changed(started_at) FROM calls
    WHERE id = NEW.call_id AND started_at < {_SETTLED};
  END IF;
  RETURN NULL;
END $$""",
        # TRUNCATE fires no row trigger: every day is stale after it.
        """CREATE OR REPLACE FUNCTION report_days_all_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_days SET stale = true;
  RETURN NULL;
END $$""",
        f"""CREATE TRIGGER report_days_calls AFTER INSERT ON calls
FOR EACH ROW WHEN (NEW.started_at < {_SETTLED})
EXECUTE FUNCTION report_days_card_changed()""",
        f"""CREATE TRIGGER report_days_calls_delete AFTER DELETE ON calls
FOR EACH ROW WHEN (OLD.started_at < {_SETTLED})
EXECUTE FUNCTION report_days_card_changed()""",
        f"""CREATE TRIGGER report_days_calls_update AFTER UPDATE ON calls
FOR EACH ROW WHEN ((OLD.started_at < {_SETTLED} OR NEW.started_at < {_SETTLED})
                   AND ({old}) IS DISTINCT FROM ({new}))
EXECUTE FUNCTION report_days_card_changed()""",
        f"""CREATE TRIGGER report_days_call_events AFTER INSERT ON call_events
FOR EACH ROW WHEN ({_kinds("NEW", kinds)}) EXECUTE FUNCTION report_days_event_changed()""",
        """CREATE TRIGGER report_days_call_events_change AFTER UPDATE OR DELETE ON call_events
FOR EACH ROW EXECUTE FUNCTION report_days_event_changed()""",
        """CREATE TRIGGER report_days_calls_truncated AFTER TRUNCATE ON calls
FOR EACH STATEMENT EXECUTE FUNCTION report_days_all_changed()""",
        """CREATE TRIGGER report_days_call_events_truncated AFTER TRUNCATE ON call_events
FOR EACH STATEMENT EXECUTE FUNCTION report_days_all_changed()""",
    )


POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS report_days_call_events_truncated ON call_events",
    "DROP TRIGGER IF EXISTS report_days_calls_truncated ON calls",
    "DROP TRIGGER IF EXISTS report_days_call_events_change ON call_events",
    "DROP TRIGGER IF EXISTS report_days_call_events ON call_events",
    "DROP TRIGGER IF EXISTS report_days_calls_update ON calls",
    "DROP TRIGGER IF EXISTS report_days_calls_delete ON calls",
    "DROP TRIGGER IF EXISTS report_days_calls ON calls",
    "DROP FUNCTION IF EXISTS report_days_all_changed()",
    "DROP FUNCTION IF EXISTS report_days_event_changed()",
    "DROP FUNCTION IF EXISTS report_days_card_changed()",
    "DROP FUNCTION IF EXISTS report_day_changed(timestamptz)",
)


def _sqlite_mark(moment: str) -> str:
    # noqa below: `moment` is one of the constant expressions in this module, never input.
    return (
        f"UPDATE report_days SET stale = 1 "  # noqa: S608
        f"WHERE starts_at <= {moment} AND ends_at > {moment};"
    )


_SQLITE_EVENT_MOMENT = "(SELECT started_at FROM calls WHERE id = {row}.call_id)"


def sqlite_triggers(columns: tuple[str, ...], kinds: tuple[str, ...]) -> tuple[str, ...]:
    """SQLite's triggers (timestamps are text in one format, so they compare as text)."""
    return (
        f"CREATE TRIGGER report_days_calls_insert AFTER INSERT ON calls BEGIN "
        f"{_sqlite_mark('NEW.started_at')} END",
        f"CREATE TRIGGER report_days_calls_update AFTER UPDATE OF {', '.join(columns)} "
        f"ON calls BEGIN "
        f"{_sqlite_mark('OLD.started_at')} {_sqlite_mark('NEW.started_at')} END",
        f"CREATE TRIGGER report_days_calls_delete AFTER DELETE ON calls BEGIN "
        f"{_sqlite_mark('OLD.started_at')} END",
        f"CREATE TRIGGER report_days_events_insert AFTER INSERT ON call_events "
        f"WHEN {_kinds('NEW', kinds)} BEGIN "
        f"{_sqlite_mark(_SQLITE_EVENT_MOMENT.format(row='NEW'))} END",
        f"CREATE TRIGGER report_days_events_update AFTER UPDATE ON call_events BEGIN "
        f"{_sqlite_mark(_SQLITE_EVENT_MOMENT.format(row='OLD'))} "
        f"{_sqlite_mark(_SQLITE_EVENT_MOMENT.format(row='NEW'))} END",
        f"CREATE TRIGGER report_days_events_delete AFTER DELETE ON call_events "
        f"WHEN {_kinds('OLD', kinds)} BEGIN "
        f"{_sqlite_mark(_SQLITE_EVENT_MOMENT.format(row='OLD'))} END",
    )


SQLITE_DROP = tuple(
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "report_days_calls_insert",
        "report_days_calls_update",
        "report_days_calls_delete",
        "report_days_events_insert",
        "report_days_events_update",
        "report_days_events_delete",
    )
)

POSTGRESQL_TRIGGERS = postgresql_triggers(REPORTED_COLUMNS, REPORTED_EVENTS)
SQLITE_TRIGGERS = sqlite_triggers(REPORTED_COLUMNS, REPORTED_EVENTS)

# After every table: the triggers refer to calls, call_events and report_days.
for _statement in POSTGRESQL_TRIGGERS:
    event.listen(Base.metadata, "after_create", DDL(_statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]
for _statement in SQLITE_TRIGGERS:
    event.listen(Base.metadata, "after_create", DDL(_statement).execute_if(dialect="sqlite"))  # type: ignore[no-untyped-call]
