"""The card store: every database change a call makes, one transaction per step.

Methods are synchronous (SQLAlchemy sessions); the AGI routes run them in a thread pool
so the event loop never waits on the database. Every method is keyed on Asterisk's
linkedid, so a call that comes back (a transfer, a second queue) finds its own card.
Each public method is one transaction over the small `_steps` below it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fastagi.channels import extension_of
from fastagi.outcome import HangupFacts, Outcome, classify
from models import Call, CallEvent, CardOperation, Direction, RecordingState, Status, User
from models.session import transaction
from recordings import RecordingStore, recording_name


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


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
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


class CardStore:
    """Creates, updates and closes call cards."""

    def __init__(
        self, sessions: sessionmaker[Session], recordings: RecordingStore, public_url: str = ""
    ) -> None:
        self._sessions = sessions
        self._recordings = recordings
        self._public_url = public_url
        self._applying: str | None = None

    def applying(self, op_id: str) -> CardStore:
        """This store for replaying journaled change `op_id`: applied once, whatever happens."""
        replaying = CardStore(self._sessions, self._recordings, self._public_url)
        replaying._applying = op_id
        return replaying

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with transaction(self._sessions) as session:
            if self._applying is not None:
                if session.get(CardOperation, self._applying) is not None:
                    raise AlreadyApplied(self._applying)
                session.add(CardOperation(op_id=self._applying))
            yield session

    # -- one transaction each -----------------------------------------------------------

    def open_card(self, new: NewCall, events: Sequence[Event] = ()) -> CardRef:
        """Create the card for a call, or return the one its linkedid already has."""
        try:
            with self._transaction() as session:
                card, created = self._open(session, new)
                self._append(session, card, events)
                return self._ref(session, card, created)
        except IntegrityError:
            # Two sessions of one call raced to create it: the other one won; use its card.
            with self._transaction() as session:
                card = self._require(session, new.linkedid)
                self._append(session, card, events)
                return self._ref(session, card, False)

    def route_decided(
        self,
        linkedid: str,
        *,
        queue: str | None,
        ivr_path: str | None,
        did_source: str | None,
        did_city: str | None,
        events: Sequence[Event],
        end_reason: str | None = None,
        queue_entered_at: datetime | None = None,
        recorded: bool = True,
    ) -> None:
        """Store where the call was sent and the IVR steps that led there.

        `recorded=False`: the call ends without reaching a queue, where recording starts.
        """
        with self._transaction() as session:
            card = self._require(session, linkedid)
            if not recorded and card.answered_at is None:
                card.recording_path = card.recording_url = None
                card.recording_state = RecordingState.NONE.value
            if queue is not None:
                card.queue = queue
            if ivr_path:
                card.ivr_path = (
                    ivr_path if not card.ivr_path else f"{card.ivr_path} | {ivr_path}"
                )[:255]
            card.did_source = did_source or card.did_source
            card.did_city = did_city or card.did_city
            if end_reason is not None:
                card.end_reason = end_reason
            if queue_entered_at is not None:
                card.queue_entered_at = queue_entered_at
            self._append(session, card, events)

    def ringing(self, linkedid: str, *, extension: str, channel: str, at: datetime) -> bool:
        """A queue member's phone starts ringing for this call: the operator's screen-pop."""
        with self._transaction() as session:
            card = self._find(session, linkedid)
            if card is None or card.ended_at is not None or card.answered_at is not None:
                return False
            card.ringing_extension = extension
            card.ringing_at = at
            self._append(session, card, [Event("operator_rang", at, {
                "extension": extension, "channel": channel,
            })])
            return True

    def answered(
        self, linkedid: str, *, extension: str | None, interface: str | None, at: datetime
    ) -> int | None:
        """An operator picked the call up: set answered_at, the operator, the wait."""
        with self._transaction() as session:
            return self._answered(session, self._require(session, linkedid),
                                  extension, interface, at)

    def add_events(self, linkedid: str, events: Sequence[Event]) -> None:
        """Append timeline entries to a call's card."""
        with self._transaction() as session:
            self._append(session, self._require(session, linkedid), events)

    def close(
        self,
        linkedid: str,
        outcome: Outcome,
        *,
        ended_at: datetime,
        data: dict[str, Any],
        answered_at: datetime | None = None,
    ) -> Call:
        """Close the card with a known outcome (see hang_up for the hangup handler's case)."""
        with self._transaction() as session:
            return self._close(session, self._require(session, linkedid), outcome,
                               ended_at, data, answered_at)

    def hang_up(self, report: HangupReport) -> Call:
        """The call is over: classify it from the dialplan's variables and close its card.

        A call this server never saw start (it was down, the dialplan's fallback queued the
        caller) gets its card now, late but whole.
        """
        with self._transaction() as session:
            card = self._find(session, report.call.linkedid)
            if card is None:
                card = self._late_card(session, report)
            direction = Direction(card.direction)
            if card.answered_at is None and report.member:
                # The `answered` step happened while this server was away.
                self._answered(session, card, extension_of(report.member), report.member,
                               report.member_answered_at or report.ended_at)
            outcome = classify(HangupFacts(
                direction=direction,
                answered=card.answered_at is not None,
                queue_status=report.queue_status,
                dial_status=report.dial_status,
                queue_returned=report.queue_returned,
                entered_queue=card.queue_entered_at is not None or report.queue_entered,
                reason_so_far=card.end_reason,
            ))
            answered_at = None
            if direction is Direction.OUTBOUND and report.answered_seconds is not None:
                answered_at = report.ended_at - timedelta(seconds=report.answered_seconds)
            return self._close(session, card, outcome, report.ended_at, {
                "queue_status": report.queue_status,
                "dial_status": report.dial_status,
                "hangup_source": report.hangup_source,
                "cause": report.cause,
                "status": outcome.status.value,
                "reason": outcome.end_reason,
            }, answered_at)

    def check_recording(self, linkedid: str, *, final: bool) -> str:
        """Look at the card's file again; only a final check records it empty or missing."""
        with self._transaction() as session:
            card = self._require(session, linkedid)
            if card.recording_state in {RecordingState.NONE.value, RecordingState.OK.value}:
                return card.recording_state
            state = self._recording_state(card)
            if state == RecordingState.OK.value or final:
                card.recording_state = state
            return card.recording_state

    def find(self, linkedid: str) -> Call | None:
        """The card of a call, if it has one."""
        with self._sessions() as session:
            return self._find(session, linkedid)

    # -- steps inside a transaction -----------------------------------------------------

    def _open(self, session: Session, new: NewCall) -> tuple[Call, bool]:
        card = self._find(session, new.linkedid)
        if card is not None:
            return card, False
        operator = None
        if new.operator_extension:
            operator = session.scalar(
                select(User).where(User.extension == new.operator_extension)
            )
        card = Call(
            uniqueid=new.uniqueid,
            linkedid=new.linkedid,
            direction=new.direction.value,
            status=Status.RINGING.value,
            started_at=new.started_at,
            src_number=_plain_number(new.src_number),
            dst_number=_plain_number(new.dst_number),
            did=new.did,
            caller_name=_plain_number(new.caller_name),
            operator_id=operator.id if operator else None,
            recording_path=new.recording_path,
            recording_state=RecordingState.PENDING.value,
        )
        session.add(card)
        session.flush()
        card.recording_url = f"{self._public_url}/api/calls/{card.id}/recording"
        return card, True

    def _late_card(self, session: Session, report: HangupReport) -> Call:
        card, _ = self._open(session, report.call)
        if report.queue_entered:
            card.queue = report.queue
            card.queue_entered_at = report.queue_entered_at or report.call.started_at
        self._append(session, card, [Event(
            report.late_event, report.ended_at, {"queue": report.queue or ""},
            report.call.uniqueid,
        )])
        return card

    def _answered(
        self, session: Session, card: Call, extension: str | None, interface: str | None,
        at: datetime,
    ) -> int | None:
        operator = None
        if extension:
            operator = session.scalar(select(User).where(User.extension == extension))
        if card.answered_at is None:
            card.answered_at = at
            card.wait_sec = _seconds(card.queue_entered_at or card.started_at, at)
        card.status = Status.ANSWERED.value
        card.end_reason = None
        card.ringing_extension = extension
        if operator is not None:
            card.operator_id = operator.id
        self._append(session, card, [Event("answered", at, {
            "interface": interface or "",
            "extension": extension or "",
            "operator": operator.name if operator else "",
        })])
        return operator.id if operator else None

    def _close(
        self, session: Session, card: Call, outcome: Outcome, ended_at: datetime,
        data: dict[str, Any], answered_at: datetime | None,
    ) -> Call:
        card.ended_at = ended_at
        card.ringing_extension = None
        card.duration_sec = _seconds(card.started_at, ended_at)
        if card.answered_at is None and outcome.status is Status.ANSWERED:
            card.answered_at = answered_at or ended_at
        if card.answered_at is not None:
            card.status = Status.ANSWERED.value
            card.talk_sec = _seconds(card.answered_at, ended_at)
            card.end_reason = outcome.end_reason
        else:
            card.status = outcome.status.value
            # A reason the route already knew (closed hours) beats a generic one.
            card.end_reason = card.end_reason or outcome.end_reason
            card.talk_sec = 0
            if card.queue_entered_at is not None:
                card.wait_sec = _seconds(card.queue_entered_at, ended_at)
        card.hold_sec = self._hold_seconds(card)
        if card.recording_state != RecordingState.NONE.value:
            # MixMonitor closes its file only after the hangup handler: a file not yet
            # written is pending, and check_recording() settles it a little later.
            state = self._recording_state(card)
            card.recording_state = (
                state if state == RecordingState.OK.value else RecordingState.PENDING.value
            )
        self._append(session, card, [Event("hangup", ended_at, data)])
        return card

    @staticmethod
    def _ref(session: Session, card: Call, created: bool) -> CardRef:
        # The caller's history is the site's to show (screen-pop); the call need not wait for it.
        return CardRef(
            id=card.id,
            linkedid=card.linkedid,
            created=created,
            recording_path=card.recording_path or "",
        )

    def _recording_state(self, card: Call) -> str:
        # RecordingCheck and RecordingState share their values (ok, empty, missing).
        return RecordingState(self._recordings.check(card.recording_path).value).value

    @staticmethod
    def _hold_seconds(card: Call) -> int:
        """Seconds between each 'hold' event and the 'unhold' that follows it."""
        total, held_since = 0.0, None
        for event in card.events:
            if event.kind == "hold" and held_since is None:
                held_since = event.at
            elif event.kind == "unhold" and held_since is not None:
                total += (event.at - held_since).total_seconds()
                held_since = None
        return round(total)

    @staticmethod
    def _find(session: Session, linkedid: str) -> Call | None:
        return session.scalar(select(Call).where(Call.linkedid == linkedid))

    def _require(self, session: Session, linkedid: str) -> Call:
        card = self._find(session, linkedid)
        if card is None:
            raise LookupError(f"no card for linkedid {linkedid}")
        return card

    @staticmethod
    def _append(session: Session, card: Call, events: Sequence[Event]) -> None:
        for event in events:
            card.events.append(CallEvent(
                at=event.at,
                kind=event.kind,
                channel_uniqueid=event.channel_uniqueid,
                data={key: str(value) for key, value in event.data.items()},
            ))
