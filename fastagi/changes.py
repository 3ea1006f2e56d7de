"""Card changes: one frozen dataclass per thing that happens to a call's card.

A change applies itself to the card store inside a transaction it is given
(`apply(store, db)`), so the card writer can put many in one transaction and the journal
can keep and replay the very same objects. `CardChange[R]` is generic in what the change
gives back, so `services.change_card(linkedid, Answered(...))` is a typed task, and a
misspelt change or keyword fails in mypy or at import. Each class registers itself by its
name (`__init_subclass__`): a new change is one class here and its test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Boolean, Connection, and_, bindparam, case, func, null, or_, select, update

from dialplan.timeline import TimelineKind
from dialplan.virtual_hold import CALLBACK_REQUESTED
from fastagi.cards import (
    ANSWER_FROM_CEL,
    CALLS,
    CLOSED_FROM_CEL,
    EVENTS,
    NO_ASTERISK_RECORD,
    CardRef,
    CardStore,
    Event,
    HangupReport,
    LockedCard,
    NewCall,
    seconds_between,
    unnest,
)
from fastagi.cel import CallFacts
from fastagi.outcome import Outcome
from models import Call, RecordingState, Status, utcnow
from recordings import RecordingCheck

R = TypeVar("R")

#: Every change class by its name, as the journal writes it.
CHANGES: dict[str, type[CardChange[Any]]] = {}
#: The same classes by the card-store method name journals of the previous version wrote.
LEGACY_NAMES: dict[str, type[CardChange[Any]]] = {}


class CardChange(Generic[R]):
    """Something that happened to a call's card, able to write itself to the store."""

    #: The CardStore method name this change had before it was a class (old journals).
    legacy_name: ClassVar[str] = ""
    #: True for a read: it changes nothing, so it is never journaled.
    reads: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in CHANGES:
            raise TypeError(f"two card changes are called {cls.__name__}")
        CHANGES[cls.__name__] = cls
        if cls.legacy_name:
            LEGACY_NAMES[cls.legacy_name] = cls

    @property
    def call(self) -> str:
        """The linkedid of the call whose card this changes (the writer keeps their order)."""
        linkedid = getattr(self, "linkedid")  # noqa: B009 (a field of most changes)
        assert isinstance(linkedid, str)
        return linkedid

    def apply(self, store: CardStore, db: Connection) -> R:
        """Write the change in transaction `db`; what it gives back."""
        raise NotImplementedError

    @classmethod
    def apply_group(cls, store: CardStore, db: Connection, changes: Sequence[Any]) -> list[R]:
        """Write many calls' changes of this kind (one each) inside `store.group`; results.

        The steps read the group's cards in one statement and buffer their writes; a kind
        whose own statement can take many rows says so here.
        """
        return [change.apply(store, db) for change in changes]


@dataclass(frozen=True)
class OpenCard(CardChange[CardRef]):
    """A call starts: create its card, or find the one its linkedid already has.

    `card_id`: the id reserved for it (CardStore.reserve_ids), already told to the dialplan.
    """

    legacy_name: ClassVar[str] = "open_card"
    new: NewCall
    events: Sequence[Event] = ()
    card_id: int | None = None

    @property
    def call(self) -> str:
        return self.new.linkedid

    def apply(self, store: CardStore, db: Connection) -> CardRef:
        """Insert the card (or find it) and its first timeline entries."""
        return self._opened(store, db, store.open_row(db, self.new, self.card_id))

    @classmethod
    def apply_group(
        cls, store: CardStore, db: Connection, changes: Sequence[OpenCard]
    ) -> list[CardRef]:
        """Every card in one INSERT, their timeline entries in one more."""
        opened = store.open_rows(db, [(change.new, change.card_id) for change in changes])
        return [change._opened(store, db, row) for change, row in zip(changes, opened, strict=True)]

    def _opened(
        self, store: CardStore, db: Connection, row: tuple[int, str | None, bool]
    ) -> CardRef:
        card_id, recording_path, created = row
        store.add_events(db, card_id, self.events)
        return CardRef(
            id=card_id,
            linkedid=self.new.linkedid,
            created=created,
            recording_path=recording_path or "",
        )


_ROUTE_COLUMNS = ("queue", "ivr_path", "did_source", "did_city", "end_reason", "queue_entered_at")
#: RouteDecided's values for many calls at once (PostgreSQL).
_ROUTES = unnest(
    card_linkedid=CALLS.c.linkedid.type,
    **{f"new_{name}": CALLS.c[name].type for name in _ROUTE_COLUMNS},
    unrecorded=Boolean(),
)


def _card_ids_updated(
    db: Connection, statement: Any, values: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Run an UPDATE ... FROM unnest(...) for many calls' values; each card id it updated."""
    arrays = {name: [row[name] for row in values] for name in values[0]}
    return {row.linkedid: row.id for row in db.execute(statement, arrays | {"now": utcnow()})}


def _route_decided(rows: Any = None) -> Any:
    """RouteDecided's UPDATE: a value given replaces the card's, None keeps it.

    `rows`: the values of many calls (`_ROUTES`), else bound parameters of one.
    """
    card = CALLS.c

    def value(name: str, kind: Any) -> Any:
        return rows.c[name] if rows is not None else bindparam(name, type_=kind)

    def given(column: str) -> Any:
        return func.coalesce(value(f"new_{column}", card[column].type), card[column])

    ivr = value("new_ivr_path", card.ivr_path.type)
    # Unless an operator already answered (a call that came back), a call that ends
    # before any queue has no recording.
    unrecorded = and_(value("unrecorded", Boolean()), card.answered_at.is_(None))
    return (
        update(CALLS)
        .where(card.linkedid == value("card_linkedid", card.linkedid.type))
        .values(
            queue=given("queue"),
            did_source=given("did_source"),
            did_city=given("did_city"),
            end_reason=given("end_reason"),
            queue_entered_at=given("queue_entered_at"),
            ivr_path=case(
                (ivr.is_(None), card.ivr_path),
                (or_(card.ivr_path.is_(None), card.ivr_path == ""), func.substr(ivr, 1, 255)),
                else_=func.substr(card.ivr_path + " | " + ivr, 1, 255),
            ),
            recording_path=case((unrecorded, null()), else_=card.recording_path),
            recording_url=case((unrecorded, null()), else_=card.recording_url),
            recording_state=case(
                (unrecorded, RecordingState.NONE.value), else_=card.recording_state
            ),
            updated_at=bindparam("now", type_=card.updated_at.type),
        )
        .returning(card.id, card.linkedid)
    )


_ROUTE_DECIDED = _route_decided()
_ROUTES_DECIDED = _route_decided(_ROUTES)
_CARD_ID = select(CALLS.c.id).where(CALLS.c.linkedid == bindparam("linkedid"))
_CARD_IDS = select(CALLS.c.linkedid, CALLS.c.id).where(
    CALLS.c.linkedid.in_(bindparam("linkedids", expanding=True))
)
_SAME_EVENT = (
    select(EVENTS.c.id)
    .where(
        EVENTS.c.call_id == bindparam("card_id"),
        EVENTS.c.kind == bindparam("kind"),
        EVENTS.c.at == bindparam("at", type_=EVENTS.c.at.type),
        EVENTS.c.channel_uniqueid.is_not_distinct_from(bindparam("channel")),
    )
    .limit(1)
)


def _lock_unless_heard(
    store: CardStore, db: Connection, linkedid: str, event: Event
) -> LockedCard | None:
    """The call's card, locked, unless it has none or already has `event` (same kind, time and
    channel: every server instance hears Asterisk's AMI events, and a journal replays)."""
    card = store.lock(db, linkedid)
    if card is None:
        return None
    found = db.scalar(
        _SAME_EVENT,
        {
            "card_id": card["id"],
            "kind": event.kind,
            "at": event.at,
            "channel": event.channel_uniqueid,
        },
    )
    return None if found else card


@dataclass(frozen=True)
class RouteDecided(CardChange[None]):
    """Where the call was sent (a queue, or none) and the IVR steps that led there.

    `recorded=False`: the call ends without reaching a queue, where recording starts.
    """

    legacy_name: ClassVar[str] = "route_decided"
    linkedid: str
    queue: str | None
    ivr_path: str | None
    did_source: str | None
    did_city: str | None
    events: Sequence[Event]
    end_reason: str | None = None
    queue_entered_at: datetime | None = None
    recorded: bool = True

    def apply(self, store: CardStore, db: Connection) -> None:
        """One UPDATE of the card, then its timeline entries."""
        card_id = db.scalar(_ROUTE_DECIDED, self._values() | {"now": utcnow()})
        self._routed(store, db, card_id)

    @classmethod
    def apply_group(
        cls, store: CardStore, db: Connection, changes: Sequence[RouteDecided]
    ) -> list[None]:
        """Every card in one UPDATE ... FROM unnest(...), their timeline entries in one INSERT."""
        updated = _card_ids_updated(db, _ROUTES_DECIDED, [change._values() for change in changes])
        for change in changes:
            # A card missing fails the whole group: the writer then tries its changes one
            # at a time and leaves the missing one out.
            change._routed(store, db, updated.get(change.linkedid))
        return [None] * len(changes)

    def _values(self) -> dict[str, Any]:
        return {
            "card_linkedid": self.linkedid,
            "new_queue": self.queue,
            "new_ivr_path": self.ivr_path or None,
            "new_did_source": self.did_source or None,
            "new_did_city": self.did_city or None,
            "new_end_reason": self.end_reason or None,
            "new_queue_entered_at": self.queue_entered_at,
            "unrecorded": not self.recorded,
        }

    def _routed(self, store: CardStore, db: Connection, card_id: int | None) -> None:
        if card_id is None:
            raise LookupError(f"no card for linkedid {self.linkedid}")
        store.add_events(db, card_id, self.events)


def _ringing(rows: Any = None) -> Any:
    """Ringing's UPDATE, of one call (bound parameters) or many (`rows`, PostgreSQL)."""

    def value(name: str) -> Any:
        kind = CALLS.c.ringing_at.type if name == "rang_at" else CALLS.c.linkedid.type
        return rows.c[name] if rows is not None else bindparam(name, type_=kind)

    return (
        update(CALLS)
        .where(
            CALLS.c.linkedid == value("card_linkedid"),
            CALLS.c.ended_at.is_(None),
            CALLS.c.answered_at.is_(None),
        )
        .values(
            ringing_extension=value("rang_extension"),
            ringing_at=value("rang_at"),
            updated_at=bindparam("now", type_=CALLS.c.updated_at.type),
        )
        .returning(CALLS.c.id, CALLS.c.linkedid)
    )


_RINGING = _ringing()
_RINGINGS = _ringing(
    unnest(
        card_linkedid=CALLS.c.linkedid.type,
        rang_extension=CALLS.c.ringing_extension.type,
        rang_at=CALLS.c.ringing_at.type,
    )
)


@dataclass(frozen=True)
class Ringing(CardChange[bool]):
    """A queue member's phone starts ringing for this call: the operator's screen-pop.

    False when the card is closed or answered already (or the call has none).
    """

    legacy_name: ClassVar[str] = "ringing"
    linkedid: str
    extension: str
    channel: str
    at: datetime

    def apply(self, store: CardStore, db: Connection) -> bool:
        """Set the ringing extension on an open, unanswered card."""
        return self._rang(store, db, db.scalar(_RINGING, self._values() | {"now": utcnow()}))

    @classmethod
    def apply_group(
        cls, store: CardStore, db: Connection, changes: Sequence[Ringing]
    ) -> list[bool]:
        """Every card in one UPDATE ... FROM unnest(...), their timeline entries in one INSERT."""
        rang = _card_ids_updated(db, _RINGINGS, [change._values() for change in changes])
        return [change._rang(store, db, rang.get(change.linkedid)) for change in changes]

    def _values(self) -> dict[str, Any]:
        return {
            "card_linkedid": self.linkedid,
            "rang_extension": self.extension,
            "rang_at": self.at,
        }

    def _rang(self, store: CardStore, db: Connection, card_id: int | None) -> bool:
        if card_id is None:
            return False
        store.add_events(
            db,
            card_id,
            [
                Event(
                    TimelineKind.OPERATOR_RANG,
                    self.at,
                    {
                        "extension": self.extension,
                        "channel": self.channel,
                    },
                )
            ],
        )
        return True


@dataclass(frozen=True)
class Answered(CardChange[int | None]):
    """An operator picked the call up; gives the operator's user id, if one is known."""

    legacy_name: ClassVar[str] = "answered"
    linkedid: str
    extension: str | None
    interface: str | None
    at: datetime

    def apply(self, store: CardStore, db: Connection) -> int | None:
        """Set answered_at, the operator and the wait."""
        card = store.require(db, self.linkedid)
        operator_id = store.mark_answered(db, card, self.extension, self.interface, self.at)
        store.save(db, card)
        return operator_id


@dataclass(frozen=True)
class EventsAdded(CardChange[None]):
    """Timeline entries for a call's card."""

    legacy_name: ClassVar[str] = "add_events"
    linkedid: str
    events: Sequence[Event]

    def apply(self, store: CardStore, db: Connection) -> None:
        """Append the entries."""
        card_id = db.scalar(_CARD_ID, {"linkedid": self.linkedid})
        if card_id is None:
            raise LookupError(f"no card for linkedid {self.linkedid}")
        store.add_events(db, card_id, self.events)

    @classmethod
    def apply_group(
        cls, store: CardStore, db: Connection, changes: Sequence[EventsAdded]
    ) -> list[None]:
        """The cards' ids in one SELECT, every entry in one INSERT."""
        ids = {
            row.linkedid: row.id
            for row in db.execute(_CARD_IDS, {"linkedids": [c.linkedid for c in changes]})
        }
        for change in changes:
            if change.linkedid not in ids:
                raise LookupError(f"no card for linkedid {change.linkedid}")
            store.add_events(db, ids[change.linkedid], change.events)
        return [None] * len(changes)


@dataclass(frozen=True)
class HoldChanged(CardChange[bool]):
    """A 'hold' or 'unhold' Asterisk reported, on the call's timeline.

    A closed card's hold_sec is counted again (the event came after the hangup closed it).
    False when the call has no card (an operators' internal call) or already has this
    event (another server instance heard it too, or a replay).
    """

    legacy_name: ClassVar[str] = "hold_changed"
    linkedid: str
    event: Event

    def apply(self, store: CardStore, db: Connection) -> bool:
        """Add the event unless it is there; recount a closed card's hold."""
        card = _lock_unless_heard(store, db, self.linkedid, self.event)
        if card is None:
            return False
        store.add_events(db, card["id"], [self.event])
        if card["ended_at"] is not None:
            card.set(
                hold_sec=store.hold_seconds(db, card["id"], card["answered_at"], card["ended_at"])
            )
            store.save(db, card)
        return True


@dataclass(frozen=True)
class TransferredAttended(CardChange[bool]):
    """An operator's attended transfer into a queue (AMI AttendedTransfer): they called the
    queue with the caller on hold, talked to the operator who answered there, and handed the
    caller over.

    The card then reads as after a blind transfer to that queue (the `transfer` route): a
    `transferred` entry from the card's queue to `to_queue`, the card in that queue, and the
    operator who took the call answering it. False when the call has no card or already has
    this transfer (another server instance heard it too, or a replay).
    """

    linkedid: str
    to_queue: str
    extension: str | None
    interface: str | None
    at: datetime
    channel_uniqueid: str | None = None

    def apply(self, store: CardStore, db: Connection) -> bool:
        """The move, the card's new queue and its new operator (not on a closed card)."""
        heard = Event(TimelineKind.TRANSFERRED, self.at, {}, self.channel_uniqueid)
        card = _lock_unless_heard(store, db, self.linkedid, heard)
        if card is None:
            return False
        moved = {
            "from_queue": card["queue"] or "",
            "to_queue": self.to_queue,
            "reason": "attended_transfer",
        }
        store.add_events(db, card["id"], [replace(heard, data=moved)])
        if card["ended_at"] is None:  # a late event does not reopen what the hangup closed
            card.set(queue=self.to_queue)
            store.mark_answered(db, card, self.extension, self.interface, self.at)
            store.save(db, card)
        return True


@dataclass(frozen=True)
class HungUp(CardChange[Call]):
    """The call is over: classify it from the dialplan's variables and close its card.

    A call this server never saw start (it was down, the dialplan's fallback queued the
    caller) gets its card now, late but whole. `settled`: the call ended a while ago
    (reconcile), so its recording is final now, not pending.
    """

    legacy_name: ClassVar[str] = "hang_up"
    report: HangupReport
    settled: bool = False

    @property
    def call(self) -> str:
        return self.report.call.linkedid

    def apply(self, store: CardStore, db: Connection) -> Call:
        """Close the card (opening a late one first if there is none)."""
        card = store.lock(db, self.report.call.linkedid) or store.late_card(
            db, store.as_asterisk_saw_it(db, self.report)
        )
        return store.hang_up(db, card, self.report, self.settled)


@dataclass(frozen=True)
class Closed(CardChange[Call]):
    """The card closed with an outcome already known (HungUp classifies one itself)."""

    legacy_name: ClassVar[str] = "close"
    linkedid: str
    outcome: Outcome
    ended_at: datetime
    data: dict[str, Any]
    answered_at: datetime | None = None

    def apply(self, store: CardStore, db: Connection) -> Call:
        """Close the card: times, status, hold, recording, the hangup entry."""
        return store.close(
            db,
            store.require(db, self.linkedid),
            self.outcome,
            self.ended_at,
            self.data,
            self.answered_at,
        )


@dataclass(frozen=True)
class MessageLeft(CardChange[int]):
    """A voicemail ended: its length; a message with sound needs a callback.

    Gives the message's seconds. Its recording state settles as any recording does.
    """

    legacy_name: ClassVar[str] = "message_left"
    linkedid: str
    at: datetime
    record_status: str

    def apply(self, store: CardStore, db: Connection) -> int:
        """Note the message (or its absence) on the card and its timeline."""
        card = store.require(db, self.linkedid)
        path = card["recording_path"]
        heard = store.recordings.check(path) is RecordingCheck.OK
        seconds = store.recordings.seconds(path) if heard else 0
        if heard:
            card.set(needs_callback=True)
            store.save(db, card)
        store.add_events(
            db,
            card["id"],
            [
                Event(
                    TimelineKind.MESSAGE_LEFT if heard else TimelineKind.NO_MESSAGE,
                    self.at,
                    {"seconds": seconds, "record_status": self.record_status},
                )
            ],
        )
        return seconds


@dataclass(frozen=True)
class RecordingChecked(CardChange[str]):
    """The card's file looked at again; only a final check records it empty or missing.

    Gives the recording state the card has now.
    """

    legacy_name: ClassVar[str] = "check_recording"
    linkedid: str
    final: bool

    def apply(self, store: CardStore, db: Connection) -> str:
        """Settle a pending recording state when the file says so."""
        card = store.require(db, self.linkedid)
        if card["recording_state"] in {RecordingState.NONE.value, RecordingState.OK.value}:
            return str(card["recording_state"])
        state = store.recording_state(card["recording_path"])
        if state == RecordingState.OK.value or self.final:
            card.set(recording_state=state)
            store.save(db, card)
        return str(card["recording_state"])


@dataclass(frozen=True)
class CardRead(CardChange[Call | None]):
    """The card as it is after the call's earlier changes (a read: never journaled)."""

    legacy_name: ClassVar[str] = "find"
    reads: ClassVar[bool] = True
    linkedid: str

    def apply(self, store: CardStore, db: Connection) -> Call | None:
        """The card's columns, if the call has a card."""
        return store.read_card(db, self.linkedid)


@dataclass(frozen=True)
class ClosedFromCel(CardChange[Call | None]):
    """A card left open (its hangup never reached the server) closed from Asterisk's record.

    None when the card is closed by now (its hangup landed meanwhile) or has gone.
    """

    legacy_name: ClassVar[str] = "close_from_cel"
    report: HangupReport

    @property
    def call(self) -> str:
        return self.report.call.linkedid

    def apply(self, store: CardStore, db: Connection) -> Call | None:
        """Close it as the hangup would have, noting where the facts came from."""
        card = store.lock(db, self.report.call.linkedid)
        if card is None or card["ended_at"] is not None:
            return None
        store.add_events(db, card["id"], [Event(CLOSED_FROM_CEL, utcnow())])
        return store.hang_up(db, card, self.report, settled=True)


@dataclass(frozen=True)
class ClosedUnexplained(CardChange[Call | None]):
    """A card left open that Asterisk has no record of: closed `failed`, saying why.

    None when the card is closed by now or has gone.
    """

    legacy_name: ClassVar[str] = "close_unexplained"
    linkedid: str
    ended_at: datetime
    reason: str = NO_ASTERISK_RECORD

    def apply(self, store: CardStore, db: Connection) -> Call | None:
        """Close the card as failed at `ended_at`."""
        card = store.lock(db, self.linkedid)
        if card is None or card["ended_at"] is not None:
            return None
        return store.close(
            db,
            card,
            Outcome(Status.FAILED, self.reason),
            self.ended_at,
            {"status": Status.FAILED.value, "reason": self.reason},
            None,
            settled=True,
        )


@dataclass(frozen=True)
class AnswerCorrected(CardChange[Call | None]):
    """A closed card whose answer time the hangup had to guess, put right from CEL.

    None when CEL shows no answer or the card is not closed.
    """

    legacy_name: ClassVar[str] = "correct_answer"
    facts: CallFacts

    @property
    def call(self) -> str:
        return self.facts.linkedid

    def apply(self, store: CardStore, db: Connection) -> Call | None:
        """Answer, wait, talk and hold from Asterisk's record; marked on the timeline."""
        facts = self.facts
        if facts.answered_at is None:
            return None
        card = store.lock(db, facts.linkedid)
        if card is None or card["ended_at"] is None:
            return None
        # The hangup's guess for a queue it did not see is the call's start.
        if facts.queue_entered_at is not None and card["queue_entered_at"] in {
            None,
            card["started_at"],
        }:
            card.set(queue_entered_at=facts.queue_entered_at)
        store.answer_at(card, facts.answered_at)
        ended_at = card["ended_at"]
        card.set(
            talk_sec=seconds_between(facts.answered_at, ended_at),
            hold_sec=store.hold_seconds(db, card["id"], facts.answered_at, ended_at),
        )
        store.add_events(db, card["id"], [Event(ANSWER_FROM_CEL, facts.answered_at)])
        return store.save(db, card)


@dataclass(frozen=True)
class CallbackRequested(CardChange[bool]):
    """The caller left the queue with its callback key and gave the number to call back on
    (virtual hold): the card keeps the number and closes "callback requested", not abandoned.

    `how`: confirmed (the caller's own number), typed (another one), caller_id (nothing
    usable was typed: the caller's own number) or hangup (they hung up while confirming).
    False when the call has no card or an operator already answered it.
    """

    linkedid: str
    number: str
    at: datetime
    how: str

    def apply(self, store: CardStore, db: Connection) -> bool:
        """Set the number and the end reason the hangup classifies by; a card the hangup
        closed already (it came first) takes the status too."""
        card = store.lock(db, self.linkedid)
        if card is None or card["answered_at"] is not None:
            return False
        card.set(callback_number=self.number, end_reason=CALLBACK_REQUESTED)
        if card["ended_at"] is not None:
            card.set(status=Status.CALLBACK_REQUESTED.value)
        store.save(db, card)
        store.add_events(
            db,
            card["id"],
            [
                Event(
                    TimelineKind.CALLBACK_REQUESTED,
                    self.at,
                    {"number": self.number, "how": self.how},
                )
            ],
        )
        return True
