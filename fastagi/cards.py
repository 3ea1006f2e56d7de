"""The card store: the steps every card change (fastagi.changes) is made of.

Steps are synchronous (SQLAlchemy Core on a plain connection, no ORM unit of work);
the card writer (fastagi.writer) runs them off the event loop, many calls in one transaction.
Every method is keyed on Asterisk's linkedid, so a call that comes back (a transfer, a
second queue) finds its own card. A step writes only what it changes: the card is
created with INSERT ... ON CONFLICT (linkedid) DO NOTHING, changed with one UPDATE, and
its timeline grows by INSERTs, never by loading the timeline. The same statements run on
PostgreSQL and on SQLite (the demo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

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
CLOSED_FROM_CEL = "card_closed_from_cel"
#: The timeline entries of an answer the hangup could only guess (its end), and of its
#: correction by `callcards reconcile` from CEL.
ANSWER_TIME_UNKNOWN = "answer_time_unknown"
ANSWER_FROM_CEL = "answer_from_cel"
#: The end reason of a card left open that Asterisk has no record of.
NO_ASTERISK_RECORD = "no_asterisk_record"
#: ... and of one whose record reconcile cannot read as a call from the trunk (an outbound
#: call's, say): closed rather than left ringing, saying what is known.
UNREADABLE_ASTERISK_RECORD = "unreadable_asterisk_record"

CALLS: Table = Call.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
OPERATIONS: Table = CardOperation.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]

#: What a step reads of a card before it changes it (locked until its transaction ends).
_STATE_COLUMNS = (
    CALLS.c.id,
    CALLS.c.linkedid,
    CALLS.c.direction,
    CALLS.c.started_at,
    CALLS.c.answered_at,
    CALLS.c.queue_entered_at,
    CALLS.c.end_reason,
    CALLS.c.recording_path,
    CALLS.c.recording_state,
    CALLS.c.wait_sec,
    CALLS.c.queue,
    CALLS.c.ended_at,
)


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

    kind: str
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
    late_event: str = "card_created_late"


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


_SELECT_CARD = select(*_STATE_COLUMNS).where(CALLS.c.linkedid == bindparam("linkedid"))
_LOCK_CARD = _SELECT_CARD.with_for_update()
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
_HOLD_EVENTS = (
    select(EVENTS.c.kind, EVENTS.c.at, EVENTS.c.channel_uniqueid)
    .where(EVENTS.c.call_id == bindparam("card_id"), EVENTS.c.kind.in_(("hold", "unhold")))
    .order_by(EVENTS.c.id)
)


class CardStore:
    """Creates, updates and closes call cards."""

    def __init__(
        self, sessions: sessionmaker[Session], recordings: RecordingStore, public_url: str = ""
    ) -> None:
        self._sessions = sessions
        self._engine: Engine = sessions.kw["bind"]
        self._recordings = recordings
        self._public_url = public_url
        self._updates: dict[tuple[frozenset[str], bool], Any] = {}
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

    def apply(self, change: CardChange[R], op_id: str | None = None) -> R:
        """Make one card change in a transaction of its own (`op_id`: a journaled one's)."""
        with self._engine.begin() as db:
            if op_id is not None:
                self.claim(db, op_id)
            return change.apply(self, db)

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
            return list(db.scalars(_RESERVE_IDS, {"count": count}))

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

    def open_row(
        self, db: Connection, new: NewCall, card_id: int | None = None
    ) -> tuple[int, str | None, bool]:
        """The card's id and file, and whether this step created it."""
        operator = self._operator(db, new.operator_extension)
        # A reserved id is known before the INSERT: so is the recording's URL.
        reserved = (
            {"id": card_id, "recording_url": self._recording_url(card_id)}
            if card_id is not None
            else {}
        )
        inserted = db.execute(
            self._insert_card,
            {
                **reserved,
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
            },
        ).first()
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
                    "answered",
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
                    "queue_from_dialplan",
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
                    "recording_from_dialplan",
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
        self.add_events(db, card["id"], [Event("hangup", ended_at, data)])
        row = self.save(db, card, returning=True).one()
        return Call(**row._mapping)

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
        for kind, at, channel in db.execute(_HOLD_EVENTS, {"card_id": card_id}):
            at = min(max(at, answered_at), ended_at)
            if kind == "hold":
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
    def _operator(db: Connection, extension: str | None) -> Any:
        """The user on this extension (id, name), if any."""
        if not extension:
            return None
        return db.execute(_OPERATOR, {"extension": extension}).first()

    @staticmethod
    def lock(db: Connection, linkedid: str) -> LockedCard | None:
        row = db.execute(_LOCK_CARD, {"linkedid": linkedid}).first()
        return LockedCard(row._mapping) if row is not None else None

    def require(self, db: Connection, linkedid: str) -> LockedCard:
        card = self.lock(db, linkedid)
        if card is None:
            raise LookupError(f"no card for linkedid {linkedid}")
        return card

    def _update(self, card: LockedCard, returning: bool = False) -> Any:
        """The UPDATE of the columns a step changed, built once for each set of them."""
        key = (frozenset(card.changes), returning)
        statement = self._updates.get(key)
        if statement is None:
            values = {
                name: bindparam(f"new_{name}", type_=CALLS.c[name].type)
                for name in (*key[0], "updated_at")
            }
            statement = update(CALLS).where(CALLS.c.id == bindparam("card_id")).values(values)
            if returning:
                statement = statement.returning(*CALLS.c)
            self._updates[key] = statement
        return statement

    def save(self, db: Connection, card: LockedCard, returning: bool = False) -> Any:
        params = {f"new_{name}": value for name, value in card.changes.items()}
        return db.execute(
            self._update(card, returning),
            {**params, "new_updated_at": utcnow(), "card_id": card["id"]},
        )

    @staticmethod
    def add_events(db: Connection, card_id: int, events: Sequence[Event]) -> None:
        if events:
            db.execute(
                _INSERT_EVENTS,
                [
                    {
                        "call_id": card_id,
                        "at": event.at,
                        "kind": event.kind,
                        "channel_uniqueid": event.channel_uniqueid,
                        "data": {key: str(value) for key, value in event.data.items()},
                    }
                    for event in events
                ],
            )
