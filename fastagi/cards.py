"""The card store: the steps every card change (fastagi.changes) is made of.

Steps are synchronous SQLAlchemy Core on a plain connection (no ORM unit of work); the
card writer (fastagi.writer) runs them in the event loop on asyncpg (SQLAlchemy's
asyncio bridge), many calls in one transaction. Inside a group (`CardStore.group`: one
change of the same kind for each of many calls) the steps read and write in bulk: the
group's cards are locked by one SELECT, their timeline entries go in one INSERT and their
column changes in one UPDATE ... FROM unnest(...) per set of columns, at the group's end.
Every method is keyed on Asterisk's linkedid, so a call that comes back (a transfer, a
second queue) finds its own card. A step writes only what it changes: the card is
created with INSERT ... ON CONFLICT (linkedid) DO NOTHING, changed with one UPDATE, and
its timeline grows by INSERTs, never by loading the timeline. The same statements run on
PostgreSQL and on SQLite (the demo).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session, sessionmaker

from dialplan.timeline import TimelineKind
from fastagi.cel import CallFacts, facts_of, read_rows
from fastagi.channels import extension_of
from fastagi.outcome import HangupFacts, Outcome, classify
from models import (
    Call,
    CallEvent,
    CardOperation,
    Direction,
    RecordingState,
    Status,
    User,
    utcnow,
)
from recordings import RecordingStore, recording_name

if TYPE_CHECKING:
    from fastagi.changes import CardChange

R = TypeVar("R")

#: The timeline entry of a card closed by `callcards reconcile` from Asterisk's record.
CLOSED_FROM_CEL = TimelineKind.CARD_CLOSED_FROM_CEL
#: The timeline entries of an answer the hangup could only guess (its end), and of its
#: correction by `callcards reconcile` from CEL.
ANSWER_TIME_UNKNOWN = TimelineKind.ANSWER_TIME_UNKNOWN
ANSWER_FROM_CEL = TimelineKind.ANSWER_FROM_CEL
#: The end reason of a card left open that Asterisk has no record of.
NO_ASTERISK_RECORD = "no_asterisk_record"
#: ... and of one whose record reconcile cannot read as a call from the trunk (an outbound
#: call's, say): closed rather than left ringing, saying what is known.
UNREADABLE_ASTERISK_RECORD = "unreadable_asterisk_record"

CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
OPERATIONS: Table = CardOperation.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class NewCall:
    """What the dialplan knows when a call starts."""

    uniqueid: str
    linkedid: str
    direction: Direction
    started_at: datetime
    src_number: str | None
    dst_number: str | None
    did: str | None = None
    caller_name: str | None = None
    operator_extension: str | None = None  # outbound: the operator who dials
    recording: str | None = None  # a file the dialplan already chose (its fallback path)

    @property
    def recording_path(self) -> str:
        """The file MixMonitor writes, chosen without the database (a slow one changes nothing)."""
        return self.recording or recording_name(self.started_at, self.uniqueid)


@dataclass(frozen=True)
class CardRef:
    """The card a step worked on, and what the route needs to tell the dialplan."""

    id: int
    linkedid: str
    created: bool
    recording_path: str


@dataclass(frozen=True)
class Event:
    """One timeline entry to append to a card."""

    kind: TimelineKind
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    channel_uniqueid: str | None = None


@dataclass(frozen=True)
class HangupReport:
    """What the hangup handler read from the dead channel (the dialplan's own variables)."""

    call: NewCall  # who called whom; opens a late card if the start was never seen
    ended_at: datetime
    queue_status: str = ""
    dial_status: str = ""
    queue_returned: bool = False
    queue_entered: bool = False
    hangup_source: str = ""
    cause: str = ""
    answered_seconds: int | None = None  # ANSWEREDTIME, set by Dial() for outbound calls
    member: str | None = None  # MEMBERINTERFACE: Queue() sets it once a member answers
    queue: str | None = None
    # Known only when the call is rebuilt afterwards (callcards reconcile, from CEL):
    member_answered_at: datetime | None = None
    queue_entered_at: datetime | None = None
    late_event: TimelineKind = TimelineKind.CARD_CREATED_LATE


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from start to end (never negative), None if either is unknown."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _plain_number(value: str | None) -> str | None:
    """Asterisk reports missing caller data as 'unknown'; store nothing instead."""
    if value is None or value.strip().lower() in {"", "unknown", "anonymous"}:
        return None
    return value.strip()


class AlreadyApplied(Exception):
    """A journaled change that an earlier replay already applied."""


class LockedCard:
    """A card's columns as a step read them (locked), and what the step changed."""

    def __init__(self, row: Mapping[Any, Any]) -> None:
        self.values = dict(row)
        self.changes: dict[str, Any] = {}

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def set(self, **changes: Any) -> None:
        """Change columns; _save writes them all in one UPDATE."""
        self.values.update(changes)
        self.changes.update(changes)

    def as_call(self) -> Call:
        """The card as it is with this step's changes (detached)."""
        return Call(**self.values)


# A step reads the whole card before it changes it (locked until its transaction ends): a
# closed card is given back whole from what was read and changed, with no RETURNING.
_LOCK_CARD = select(CALLS).where(CALLS.c.linkedid == bindparam("linkedid")).with_for_update()
# A group's cards, locked in one statement, always in the same order (no deadlock with
# another server instance's group).
_LOCK_CARDS = (
    select(CALLS)
    .where(CALLS.c.linkedid.in_(bindparam("linkedids", expanding=True)))
    .order_by(CALLS.c.linkedid)
    .with_for_update()
)
_OPERATORS = select(USERS.c.id, USERS.c.name, USERS.c.extension).where(
    USERS.c.extension.is_not(None)
)
_CARD_FILE = select(CALLS.c.id, CALLS.c.recording_path).where(
    CALLS.c.linkedid == bindparam("linkedid")
)
_SET_URL = (
    update(CALLS).where(CALLS.c.id == bindparam("card_id")).values(recording_url=bindparam("url"))
)
_OPERATOR = (
    select(USERS.c.id, USERS.c.name).where(USERS.c.extension == bindparam("extension")).limit(1)
)
_INSERT_EVENTS = insert(EVENTS)
_RESERVE_IDS = select(
    func.nextval(func.pg_get_serial_sequence(CALLS.name, CALLS.c.id.name))
).select_from(func.generate_series(1, bindparam("count")))
_HOLD_KINDS = (TimelineKind.HOLD, TimelineKind.UNHOLD)
_HOLD_EVENTS = (
    select(EVENTS.c.call_id, EVENTS.c.kind, EVENTS.c.at, EVENTS.c.channel_uniqueid)
    .where(
        EVENTS.c.call_id.in_(bindparam("card_ids", expanding=True)),
        EVENTS.c.kind.in_(_HOLD_KINDS),
    )
    .order_by(EVENTS.c.id)
)


def unnest(**arrays: Any) -> Any:
    """`unnest($1::t1[], $2::t2[], ...) AS v(name1, name2, ...)`: one row per element.

    `arrays` maps each name to its column type; the statement's text is the same for any
    number of rows, so PostgreSQL (asyncpg) prepares it once.
    """
    # Text, not VARCHAR(n): a cast to VARCHAR(n) would cut a value too long for its column
    # silently, where one change alone is refused.
    arrays = {name: Text() if isinstance(kind, String) else kind for name, kind in arrays.items()}
    return (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in arrays.items()))
        .table_valued(*(column(name, kind) for name, kind in arrays.items()))
        .render_derived(name="v")
    )


_EVENT_ROWS = unnest(
    call_id=Integer(),
    at=EVENTS.c.at.type,
    kind=EVENTS.c.kind.type,
    channel_uniqueid=EVENTS.c.channel_uniqueid.type,
    data=Text(),  # JSON text, cast below (an array of JSON is not one asyncpg sends)
)
#: Many cards' timeline entries in one statement (PostgreSQL, inside a group).
_INSERT_EVENT_ROWS = insert(EVENTS).from_select(
    ["call_id", "at", "kind", "channel_uniqueid", "data"],
    select(
        _EVENT_ROWS.c.call_id,
        _EVENT_ROWS.c.at,
        _EVENT_ROWS.c.kind,
        _EVENT_ROWS.c.channel_uniqueid,
        cast(_EVENT_ROWS.c.data, JSONB),
    ),
)


_NEW_CARD_COLUMNS = (
    "id",
    "recording_url",
    "uniqueid",
    "linkedid",
    "direction",
    "status",
    "started_at",
    "src_number",
    "dst_number",
    "did",
    "caller_name",
    "operator_id",
    "recording_path",
    "recording_state",
)
_CARD_ROWS = unnest(**{name: CALLS.c[name].type for name in _NEW_CARD_COLUMNS})
#: Many calls' new cards in one statement (PostgreSQL; ids reserved beforehand).
_INSERT_CARD_ROWS = (
    postgresql.insert(CALLS)
    .from_select(
        [*_NEW_CARD_COLUMNS, "resolved_first_call", "needs_callback", "updated_at"],
        select(*_CARD_ROWS.c, false(), false(), func.now()),
    )
    .on_conflict_do_nothing(index_elements=[CALLS.c.linkedid])
    .returning(CALLS.c.id, CALLS.c.linkedid, CALLS.c.recording_path)
)
_CARD_FILES = select(CALLS.c.id, CALLS.c.linkedid, CALLS.c.recording_path).where(
    CALLS.c.linkedid.in_(bindparam("linkedids", expanding=True))
)


@dataclass
class Group:
    """The bulk reads and buffered writes of one group of changes (one per call).

    Reads happen at the first step that needs them, for every card of the group at once;
    writes wait in `events` and `saves` until `CardStore.flush`.
    """

    linkedids: Sequence[str]
    locked: dict[str, Mapping[Any, Any]] | None = None
    operators: dict[str, Any] | None = None
    holds: dict[int, list[tuple[str, datetime, str | None]]] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    saves: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


_GROUP = "callcards_card_group"


class CardStore:
    """Creates, updates and closes call cards."""

    def __init__(
        self, sessions: sessionmaker[Session], recordings: RecordingStore, public_url: str = ""
    ) -> None:
        self._sessions = sessions
        self._engine: Engine = sessions.kw["bind"]
        self._recordings = recordings
        self._public_url = public_url
        self._updates: dict[tuple[frozenset[str], bool | str], Any] = {}
        # INSERT ... ON CONFLICT DO NOTHING is spelled the same on both, built per dialect.
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        self._insert_card = (
            dialect.insert(CALLS)
            .on_conflict_do_nothing(index_elements=[CALLS.c.linkedid])
            .returning(CALLS.c.id, CALLS.c.recording_path)
        )
        self._claim = dialect.insert(OPERATIONS).on_conflict_do_nothing(
            index_elements=[OPERATIONS.c.op_id]
        )

    def claim(self, db: Connection, op_id: str) -> None:
        """Claim journaled change `op_id` in this transaction: it commits with the change.

        Raises AlreadyApplied when an earlier replay already applied it.
        """
        if not db.execute(self._claim, {"op_id": op_id}).rowcount:
            raise AlreadyApplied(op_id)

    def apply(
        self, change: CardChange[R], op_id: str | None = None, engine: Engine | None = None
    ) -> R:
        """Make one card change in a transaction of its own (`op_id`: a journaled one's)."""
        with (engine or self._engine).begin() as db:
            if op_id is not None:
                self.claim(db, op_id)
            return change.apply(self, db)

    @property
    def groups(self) -> bool:
        """True when many calls' changes of one kind are written as one (PostgreSQL)."""
        return self._engine.dialect.name == "postgresql"

    @contextmanager
    def group(self, db: Connection, linkedids: Sequence[str]) -> Iterator[None]:
        """Steps inside read the group's cards in bulk and buffer their writes (flushed at
        the end: a write that fails there fails the group)."""
        db.info[_GROUP] = Group(linkedids)
        try:
            yield
            self.flush(db)
        finally:
            db.info.pop(_GROUP, None)

    def flush(self, db: Connection) -> None:
        """Write the group's buffered timeline entries and column changes, in bulk."""
        group: Group | None = db.info.get(_GROUP)
        if group is None:
            return
        if group.events:
            rows, group.events = group.events, []
            db.execute(
                _INSERT_EVENT_ROWS,
                {
                    name: [row[name] for row in rows]
                    for name in ("call_id", "at", "kind", "channel_uniqueid")
                }
                | {"data": [json.dumps(row["data"], ensure_ascii=False) for row in rows]},
            )
        saves, group.saves = group.saves, []
        by_columns: dict[frozenset[str], list[tuple[int, dict[str, Any]]]] = {}
        for card_id, changes in saves:
            by_columns.setdefault(frozenset(changes), []).append((card_id, changes))
        now = utcnow()
        for columns, cards in by_columns.items():
            db.execute(
                self._update_many(columns),
                {"card_id": [card_id for card_id, _ in cards], "now": now}
                | {f"new_{name}": [changes[name] for _, changes in cards] for name in columns},
            )

    def _update_many(self, columns: frozenset[str]) -> Any:
        """UPDATE calls SET ... FROM unnest(...): many cards' same columns in one statement."""
        statement = self._updates.get((columns, "many"))
        if statement is None:
            names = sorted(columns)
            rows = unnest(
                card_id=Integer(), **{f"new_{name}": CALLS.c[name].type for name in names}
            )
            statement = (
                update(CALLS)
                .where(CALLS.c.id == rows.c.card_id)
                .values(
                    {name: rows.c[f"new_{name}"] for name in names}
                    | {"updated_at": bindparam("now", type_=CALLS.c.updated_at.type)}
                )
            )
            self._updates[(columns, "many")] = statement
        return statement

    @property
    def engine(self) -> Engine:
        """The database the cards are in."""
        return self._engine

    @property
    def recordings(self) -> RecordingStore:
        """Where the calls' recordings are."""
        return self._recordings

    def read_card(self, db: Connection, linkedid: str) -> Call | None:
        """The card of a call, if it has one (detached: its columns, not its timeline)."""
        row = db.execute(select(CALLS).where(CALLS.c.linkedid == linkedid)).first()
        return Call(**row._mapping) if row is not None else None

    @property
    def reserves_ids(self) -> bool:
        """True when card ids can be reserved ahead (PostgreSQL's sequence; not SQLite)."""
        return self._engine.dialect.name == "postgresql"

    def reserve_ids(self, count: int) -> list[int]:
        """`count` card ids taken from the calls sequence, for cards not yet written.

        Each is unique for good (a sequence never gives a number twice), so a card written
        with one later, even from the journal after an outage, collides with no other.
        """
        with self._engine.begin() as db:
            return self._reserve(db, count)

    # -- steps inside a transaction (the changes in fastagi.changes use them) ----------

    def hang_up(
        self, db: Connection, card: LockedCard, report: HangupReport, settled: bool = False
    ) -> Call:
        """Classify the call from the hangup report and close its locked card."""
        self.follow_dialplan_queue(db, card, report)
        self.follow_dialplan_recording(db, card, report)
        direction = Direction(card["direction"])
        unseen_answer = card["answered_at"] is None and bool(report.member)
        unseen_queue = card["queue_entered_at"] is None and report.queue_entered
        cel = None
        if (unseen_answer and report.member_answered_at is None) or (
            unseen_queue and report.queue_entered_at is None
        ):
            # Steps that happened while this server was away: Asterisk's record says when,
            # where the caller's channel does not.
            cel = self.cel_facts(db, card["linkedid"])
        if unseen_queue:
            card.set(
                queue_entered_at=report.queue_entered_at
                or (cel.queue_entered_at if cel else None)
                or card["started_at"]
            )
        if unseen_answer:
            answered_at = report.member_answered_at or (cel.answered_at if cel else None)
            if answered_at is None:
                # Not in CEL yet (or not written here): reconcile corrects it later.
                self.add_events(db, card["id"], [Event(ANSWER_TIME_UNKNOWN, report.ended_at)])
            self.mark_answered(
                db, card, extension_of(report.member), report.member, answered_at or report.ended_at
            )
        outcome = classify(
            HangupFacts(
                direction=direction,
                answered=card["answered_at"] is not None,
                queue_status=report.queue_status,
                dial_status=report.dial_status,
                queue_returned=report.queue_returned,
                entered_queue=card["queue_entered_at"] is not None or report.queue_entered,
                reason_so_far=card["end_reason"],
            )
        )
        answered_at = None
        if direction is Direction.OUTBOUND and report.answered_seconds is not None:
            answered_at = report.ended_at - timedelta(seconds=report.answered_seconds)
        return self.close(
            db,
            card,
            outcome,
            report.ended_at,
            {
                "queue_status": report.queue_status,
                "dial_status": report.dial_status,
                "hangup_source": report.hangup_source,
                "cause": report.cause,
                "status": outcome.status.value,
                "reason": outcome.end_reason,
            },
            answered_at,
            settled,
        )

    @staticmethod
    def cel_facts(db: Connection, linkedid: str) -> CallFacts | None:
        """Asterisk's record of the call so far, if cel_pgsql writes to this database."""
        return facts_of(linkedid, read_rows(db, linkedid))

    def _new_card(self, db: Connection, new: NewCall) -> dict[str, Any]:
        """The columns of a new card."""
        operator = self._operator(db, new.operator_extension)
        return {
            "uniqueid": new.uniqueid,
            "linkedid": new.linkedid,
            "direction": new.direction.value,
            "status": Status.RINGING.value,
            "started_at": new.started_at,
            "src_number": _plain_number(new.src_number),
            "dst_number": _plain_number(new.dst_number),
            "did": new.did,
            "caller_name": _plain_number(new.caller_name),
            "operator_id": operator.id if operator is not None else None,
            "recording_path": new.recording_path,
            "recording_state": RecordingState.PENDING.value,
        }

    def open_rows(
        self, db: Connection, calls: Sequence[tuple[NewCall, int | None]]
    ) -> list[tuple[int, str | None, bool]]:
        """Many calls' cards in one INSERT (PostgreSQL): each one's as `open_row` gives it."""
        spare = iter(self._reserve(db, sum(card_id is None for _, card_id in calls)))
        rows = []
        for new, card_id in calls:
            card_id = card_id if card_id is not None else next(spare)
            rows.append(
                self._new_card(db, new)
                | {"id": card_id, "recording_url": self._recording_url(card_id)}
            )
        inserted = {
            row.linkedid: (row.id, row.recording_path, True)
            for row in db.execute(
                _INSERT_CARD_ROWS,
                {name: [row[name] for row in rows] for name in _NEW_CARD_COLUMNS},
            )
        }
        missing = [row["linkedid"] for row in rows if row["linkedid"] not in inserted]
        if missing:  # calls that came back (a transfer): the cards they have
            for row in db.execute(_CARD_FILES, {"linkedids": missing}):
                inserted[row.linkedid] = (row.id, row.recording_path, False)
        return [inserted[new.linkedid] for new, _ in calls]

    @staticmethod
    def _reserve(db: Connection, count: int) -> list[int]:
        return list(db.scalars(_RESERVE_IDS, {"count": count})) if count else []

    def open_row(
        self, db: Connection, new: NewCall, card_id: int | None = None
    ) -> tuple[int, str | None, bool]:
        """The card's id and file, and whether this step created it."""
        # A reserved id is known before the INSERT: so is the recording's URL.
        reserved = (
            {"id": card_id, "recording_url": self._recording_url(card_id)}
            if card_id is not None
            else {}
        )
        inserted = db.execute(self._insert_card, {**reserved, **self._new_card(db, new)}).first()
        if inserted is None:
            # The call came back (a transfer), or another session of it won the race.
            existing = db.execute(_CARD_FILE, {"linkedid": new.linkedid}).one()
            return existing.id, existing.recording_path, False
        if card_id is None:
            db.execute(_SET_URL, {"card_id": inserted.id, "url": self._recording_url(inserted.id)})
        return inserted.id, inserted.recording_path, True

    def _recording_url(self, card_id: int) -> str:
        return f"{self._public_url}/api/calls/{card_id}/recording"

    def as_asterisk_saw_it(self, db: Connection, report: HangupReport) -> HangupReport:
        """The report of a call with no card, with its start and DID from Asterisk's record.

        The hangup handler only estimates the start (from CDR(duration), which a bridge
        restarts) and runs in [cc-hangup] (its extension is `s`, not the DID); CEL keeps
        when and where the call came in.
        """
        cel = self.cel_facts(db, report.call.linkedid)
        dialled = report.call.did
        if not (dialled and dialled.lstrip("+").isdigit()):
            dialled = cel.did if cel is not None and cel.did and cel.did.isdigit() else None
        started_at = cel.started_at if cel is not None else report.call.started_at
        return replace(
            report,
            call=replace(report.call, did=dialled, dst_number=dialled, started_at=started_at),
        )

    def late_card(self, db: Connection, report: HangupReport) -> LockedCard:
        self.open_row(db, report.call)
        card = self.require(db, report.call.linkedid)
        if report.queue_entered:
            # queue_entered_at: _hang_up takes it from the report or Asterisk's record.
            card.set(queue=report.queue)
        self.add_events(
            db,
            card["id"],
            [
                Event(
                    report.late_event,
                    report.ended_at,
                    {"queue": report.queue or ""},
                    report.call.uniqueid,
                )
            ],
        )
        return card

    def mark_answered(
        self,
        db: Connection,
        card: LockedCard,
        extension: str | None,
        interface: str | None,
        at: datetime,
    ) -> int | None:
        operator = self._operator(db, extension)
        if card["answered_at"] is None:
            self.answer_at(card, at)
        card.set(status=Status.ANSWERED.value, end_reason=None, ringing_extension=extension)
        if operator is not None:
            card.set(operator_id=operator.id)
        self.add_events(
            db,
            card["id"],
            [
                Event(
                    TimelineKind.ANSWERED,
                    at,
                    {
                        "interface": interface or "",
                        "extension": extension or "",
                        "operator": operator.name if operator is not None else "",
                    },
                )
            ],
        )
        return operator.id if operator is not None else None

    @staticmethod
    def answer_at(card: LockedCard, at: datetime) -> None:
        """The answer time and the wait before it (from the queue, or the call's start)."""
        card.set(
            answered_at=at,
            wait_sec=seconds_between(card["queue_entered_at"] or card["started_at"], at),
        )

    def follow_dialplan_queue(self, db: Connection, card: LockedCard, report: HangupReport) -> None:
        """The queue the dialplan last put the caller in wins over the one the card has.

        They differ when the dialplan chose without this server: its answer at an overflow or
        transfer step never came (the dialplan then uses the default or the named queue).
        """
        if not report.queue_entered or not report.queue or report.queue == card["queue"]:
            return
        self.add_events(
            db,
            card["id"],
            [
                Event(
                    TimelineKind.QUEUE_FROM_DIALPLAN,
                    report.ended_at,
                    {
                        "queue": report.queue,
                        "card_queue": card["queue"] or "",
                    },
                )
            ],
        )
        card.set(queue=report.queue)

    def follow_dialplan_recording(
        self, db: Connection, card: LockedCard, report: HangupReport
    ) -> None:
        """The file the dialplan really recorded into wins over the name the card has.

        They differ when the server went away before its answer reached the dialplan: the
        fallback records under `fallback/` ([cc-fallback] in extensions.conf).
        """
        used = report.call.recording
        if (
            not used
            or used == card["recording_path"]
            or card["recording_state"] == RecordingState.NONE.value
        ):
            return
        self.add_events(
            db,
            card["id"],
            [
                Event(
                    TimelineKind.RECORDING_FROM_DIALPLAN,
                    report.ended_at,
                    {
                        "recording": used,
                        "card_recording": card["recording_path"] or "",
                    },
                )
            ],
        )
        card.set(recording_path=used, recording_state=RecordingState.PENDING.value)

    def close(
        self,
        db: Connection,
        card: LockedCard,
        outcome: Outcome,
        ended_at: datetime,
        data: dict[str, Any],
        answered_at: datetime | None,
        settled: bool = False,
    ) -> Call:
        card.set(
            ended_at=ended_at,
            ringing_extension=None,
            duration_sec=seconds_between(card["started_at"], ended_at),
        )
        if card["answered_at"] is None and outcome.status is Status.ANSWERED:
            card.set(answered_at=answered_at or ended_at)
        if card["answered_at"] is not None:
            card.set(
                status=Status.ANSWERED.value,
                end_reason=outcome.end_reason,
                talk_sec=seconds_between(card["answered_at"], ended_at),
            )
        else:
            # A reason the route already knew (closed hours) beats a generic one.
            card.set(
                status=outcome.status.value,
                end_reason=card["end_reason"] or outcome.end_reason,
                talk_sec=0,
            )
            if card["queue_entered_at"] is not None:
                card.set(wait_sec=seconds_between(card["queue_entered_at"], ended_at))
        card.set(hold_sec=self.hold_seconds(db, card["id"], card["answered_at"], ended_at))
        if card["recording_state"] != RecordingState.NONE.value:
            # MixMonitor closes its file only after the hangup handler: a file not yet
            # written is pending, and RecordingChecked settles it a little later.
            state = self.recording_state(card["recording_path"])
            card.set(
                recording_state=state
                if state == RecordingState.OK.value or settled
                else RecordingState.PENDING.value
            )
        self.add_events(db, card["id"], [Event(TimelineKind.HANGUP, ended_at, data)])
        return self.save(db, card)

    def recording_state(self, path: str | None) -> str:
        # RecordingCheck and RecordingState share their values (ok, empty, missing).
        return RecordingState(self._recordings.check(path).value).value

    @staticmethod
    def hold_seconds(
        db: Connection, card_id: int, answered_at: datetime | None, ended_at: datetime
    ) -> int:
        """Seconds of the answered call during which some channel of it was on hold.

        Each channel's 'hold' lasts until its 'unhold', or the hangup if none came; holds
        on both sides at once count once; nothing before the answer or after the hangup.
        """
        if answered_at is None:
            return 0
        total, since = 0.0, answered_at
        held: set[str | None] = set()
        for kind, at, channel in CardStore._hold_events(db, card_id):
            at = min(max(at, answered_at), ended_at)
            if kind == TimelineKind.HOLD:
                if not held:
                    since = at
                held.add(channel)
            elif channel in held:
                held.discard(channel)
                if not held:
                    total += (at - since).total_seconds()
        if held:
            total += (ended_at - since).total_seconds()
        return round(total)

    @staticmethod
    def _hold_events(db: Connection, card_id: int) -> list[tuple[str, datetime, str | None]]:
        """The card's holds and unholds in order (a group reads its cards' all at once)."""
        group: Group | None = db.info.get(_GROUP)
        locked = group.locked if group is not None else None
        if group is None or locked is None or card_id not in {r["id"] for r in locked.values()}:
            rows = db.execute(_HOLD_EVENTS, {"card_ids": [card_id]})
            stored = [(row.kind, row.at, row.channel_uniqueid) for row in rows]
        else:
            if group.holds is None:
                group.holds = {}
                rows = db.execute(_HOLD_EVENTS, {"card_ids": [r["id"] for r in locked.values()]})
                for row in rows:
                    group.holds.setdefault(row.call_id, []).append(
                        (row.kind, row.at, row.channel_uniqueid)
                    )
            stored = list(group.holds.get(card_id, ()))
        waiting = group.events if group is not None else []
        return stored + [
            (row["kind"], row["at"], row["channel_uniqueid"])
            for row in waiting
            if row["call_id"] == card_id and row["kind"] in _HOLD_KINDS
        ]

    @staticmethod
    def _operator(db: Connection, extension: str | None) -> Any:
        """The user on this extension (id, name), if any (a group reads them all once)."""
        if not extension:
            return None
        group: Group | None = db.info.get(_GROUP)
        if group is None:
            return db.execute(_OPERATOR, {"extension": extension}).first()
        if group.operators is None:
            group.operators = {}
            for user in db.execute(_OPERATORS):
                group.operators.setdefault(user.extension, user)
        return group.operators.get(extension)

    @staticmethod
    def lock(db: Connection, linkedid: str) -> LockedCard | None:
        """The call's card, locked (in a group: every card of the group, at the first)."""
        group: Group | None = db.info.get(_GROUP)
        if group is not None:
            if group.locked is None:
                rows = db.execute(_LOCK_CARDS, {"linkedids": list(group.linkedids)})
                group.locked = {row.linkedid: row._mapping for row in rows}
            if linkedid in group.locked:
                return LockedCard(group.locked[linkedid])
        row = db.execute(_LOCK_CARD, {"linkedid": linkedid}).first()
        return LockedCard(row._mapping) if row is not None else None

    def require(self, db: Connection, linkedid: str) -> LockedCard:
        card = self.lock(db, linkedid)
        if card is None:
            raise LookupError(f"no card for linkedid {linkedid}")
        return card

    def _update(self, card: LockedCard) -> Any:
        """The UPDATE of the columns a step changed, built once for each set of them."""
        key = (frozenset(card.changes), False)
        statement = self._updates.get(key)
        if statement is None:
            values = {
                name: bindparam(f"new_{name}", type_=CALLS.c[name].type)
                for name in (*key[0], "updated_at")
            }
            statement = update(CALLS).where(CALLS.c.id == bindparam("card_id")).values(values)
            self._updates[key] = statement
        return statement

    def save(self, db: Connection, card: LockedCard) -> Call:
        """Write the columns the step changed (in a group: at its end); the card as it is now."""
        now = utcnow()
        group: Group | None = db.info.get(_GROUP)
        if group is not None:
            group.saves.append((card["id"], dict(card.changes)))
        else:
            params = {f"new_{name}": value for name, value in card.changes.items()}
            db.execute(self._update(card), {**params, "new_updated_at": now, "card_id": card["id"]})
        card.values["updated_at"] = now
        return card.as_call()

    @staticmethod
    def add_events(db: Connection, card_id: int, events: Sequence[Event]) -> None:
        """Append timeline entries to a card (in a group: at the group's end, all in one)."""
        rows = [
            {
                "call_id": card_id,
                "at": event.at,
                "kind": event.kind,
                "channel_uniqueid": event.channel_uniqueid,
                "data": {key: str(value) for key, value in event.data.items()},
            }
            for event in events
        ]
        group: Group | None = db.info.get(_GROUP)
        if group is not None:
            group.events.extend(rows)
        elif rows:
            db.execute(_INSERT_EVENTS, rows)
