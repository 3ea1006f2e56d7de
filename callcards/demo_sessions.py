"""The demo week's operator states (`operator_states`), made to agree with its cards.

`callcards seed-demo --week` makes the calls through the real routes; Asterisk's queue and
member events are not part of that play, so the intervals the floor listener would have
kept are written here from the cards: each working day an operator is logged in to their
queues 08:00-20:00, talks from each answered card's answer to its end (on hold as its hold
and unhold events say), wraps up from the end to the card's completion, takes a 45-minute
lunch when a slot is free after 13:00, and is ready between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Call, CallEvent, Queue, QueueMember, Status, User
from models.live import AgentState, OperatorState

WORK_FROM, WORK_TO = time(8), time(20)
LUNCH = timedelta(minutes=45)
LUNCH_SLOTS = [time(13, 0), time(13, 30), time(14, 0), time(14, 30), time(15, 0)]


@dataclass(frozen=True)
class _Busy:
    """A stretch of a day taken by a call (talking, hold, wrap-up) or lunch."""

    start: datetime
    end: datetime
    state: AgentState
    linkedid: str | None = None
    reason: str | None = None


def _holds(session: Session, card: Call) -> list[tuple[datetime, datetime]]:
    """The card's hold stretches, from its hold and unhold events."""
    events = session.execute(
        select(CallEvent.kind, CallEvent.at)
        .where(CallEvent.call_id == card.id, CallEvent.kind.in_(("hold", "unhold")))
        .order_by(CallEvent.at, CallEvent.id)
    )
    stretches, held = [], None
    for kind, at in events:
        if kind == "hold" and held is None:
            held = at
        elif kind == "unhold" and held is not None:
            stretches.append((held, at))
            held = None
    return stretches


def _call_stretches(session: Session, card: Call, until: datetime) -> list[_Busy]:
    """Talking (with its holds) from the answer to the end, then wrap-up to the completion."""
    assert card.answered_at is not None and card.ended_at is not None
    found, at = [], card.answered_at
    for held, released in _holds(session, card):
        if at <= held < released <= card.ended_at:
            found.append(_Busy(at, held, AgentState.TALKING, card.linkedid))
            found.append(_Busy(held, released, AgentState.HOLD, card.linkedid))
            at = released
    found.append(_Busy(at, card.ended_at, AgentState.TALKING, card.linkedid))
    if card.completed_at is not None:
        done = min(card.completed_at, until)
        if done > card.ended_at:
            found.append(_Busy(card.ended_at, done, AgentState.WRAPUP, card.linkedid))
    return [item for item in found if item.end > item.start]


def _day_of(
    session: Session, cards: list[Call], start: datetime, end: datetime, lunches: list[datetime]
) -> list[_Busy]:
    """One operator's day: their calls, lunch at the first free slot, ready in between."""
    busy: list[_Busy] = []
    for number, card in enumerate(cards):
        assert card.answered_at is not None
        following = cards[number + 1].answered_at if number + 1 < len(cards) else None
        for item in _call_stretches(session, card, following or end):
            if busy and item.start < busy[-1].end:  # never two things at once
                item = _Busy(busy[-1].end, item.end, item.state, item.linkedid)
            if item.end > item.start:
                busy.append(item)
    for lunch_from in lunches:
        lunch_to = lunch_from + LUNCH
        if all(item.end <= lunch_from or item.start >= lunch_to for item in busy):
            busy.append(_Busy(lunch_from, lunch_to, AgentState.PAUSED, reason="lunch"))
            break
    busy.sort(key=lambda item: item.start)
    day, at = [], start
    for item in busy:
        if item.start > at:
            day.append(_Busy(at, item.start, AgentState.READY))
        day.append(item)
        at = max(at, item.end)
    if end > at:
        day.append(_Busy(at, end, AgentState.READY))
    return day


def record_sessions(session: Session, mark: str, zone: ZoneInfo) -> int:
    """Write the operator states of the demo week's working days (its cards' linkedids start
    with `mark`) unless they are there; the number of intervals written."""
    if session.scalar(
        select(OperatorState.id).where(OperatorState.linkedid.like(f"{mark}%")).limit(1)
    ):
        return 0
    cards = list(
        session.scalars(
            select(Call)
            .where(
                Call.linkedid.like(f"{mark}%"),
                Call.status == Status.ANSWERED.value,
                Call.operator_id.is_not(None),
                Call.answered_at.is_not(None),
                Call.ended_at.is_not(None),
            )
            .order_by(Call.answered_at)
        )
    )
    days = sorted(
        {
            card.answered_at.astimezone(zone).date()
            for card in cards
            if card.answered_at is not None and card.answered_at.astimezone(zone).weekday() < 5
        }
    )
    operators = {card.operator_id for card in cards if card.operator_id is not None}
    written = 0
    for user in session.scalars(select(User).where(User.id.in_(operators))):
        interface = f"PJSIP/{user.extension}" if user.extension else f"user/{user.id}"
        queues = list(
            session.scalars(
                select(Queue.name)
                .join(QueueMember, QueueMember.queue_id == Queue.id)
                .where(QueueMember.user_id == user.id)
                .order_by(Queue.name)
            )
        )
        for day in days:
            written += _write_day(session, user, interface, queues, day, zone, cards)
    return written


def _write_day(
    session: Session,
    user: User,
    interface: str,
    queues: list[str],
    day: date,
    zone: ZoneInfo,
    cards: list[Call],
) -> int:
    start = datetime.combine(day, WORK_FROM, zone)
    end = datetime.combine(day, WORK_TO, zone)
    mine = [
        card
        for card in cards
        if card.operator_id == user.id
        and card.answered_at is not None
        and card.answered_at.astimezone(zone).date() == day
    ]
    if mine:  # a call answered just before the doors open or as they close
        start = min(start, *(card.answered_at for card in mine if card.answered_at))
        end = max(end, *(card.ended_at for card in mine if card.ended_at))
    rows = [
        OperatorState(
            user_id=user.id,
            interface=interface,
            queue=queue,
            state=AgentState.LOGGED_IN.value,
            started_at=start,
            ended_at=end,
        )
        for queue in queues
    ]
    rows += [
        OperatorState(
            user_id=user.id,
            interface=interface,
            state=item.state.value,
            reason=item.reason,
            linkedid=item.linkedid,
            started_at=item.start,
            ended_at=item.end,
        )
        for item in _day_of(
            session, mine, start, end, [datetime.combine(day, slot, zone) for slot in LUNCH_SLOTS]
        )
    ]
    session.add_all(rows)
    return len(rows)
