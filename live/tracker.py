"""AMI events in, typed changes out: the floor's rules, with no database and no network.

The listener (live/listener.py) hands every queue or member event to `Tracker.handle`; the
tracker updates its `Floor` and answers with the changes to make, in order: intervals of
`operator_states` to close and open, `live_events` to publish, wrap-ups to open and end,
AMI actions to send (a wrap-up's or missed rings' pause). live/store.py applies them.

An operator's state (the interval with queue NULL) follows from what the tracker knows of
their phone, in this order: a call (ringing, talking, hold), an open wrap-up, a pause (with
its reason), else ready. An operator logged in to no queue has no state interval.
An event the tracker cannot read, or about a queue or phone it does not know, changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from live.bus import EventKind
from live.floor import CallerWaiting, Floor, OperatorNow
from models.live import AgentState

log = logging.getLogger(__name__)

#: The pause reason of a wrap-up hold, and of the auto-pause after missed rings.
WRAPUP_REASON = "wrap-up"
MISSED_REASON = "missed calls"

#: The AMI events the tracker reads (the listener asks Asterisk for these only).
EVENTS = (
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueMemberStatus",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "Hold",
    "Unhold",
    "DeviceStateChange",
)


# -- what the tracker knows of the site ---------------------------------------------------


@dataclass(frozen=True)
class Operator:
    """A user with an extension, as their phone is named in the queues."""

    user_id: int
    name: str
    extension: str


@dataclass(frozen=True)
class QueueRules:
    """A queue's floor settings (models.routing.Queue)."""

    wrapup_hold_sec: int = 0
    missed_rings_pause: int = 0


@dataclass(frozen=True)
class Directory:
    """The operators by their phone's interface and the queues by name."""

    operators: Mapping[str, Operator] = field(default_factory=dict)
    queues: Mapping[str, QueueRules] = field(default_factory=dict)

    @classmethod
    def build(
        cls, template: str, operators: Iterable[Operator], queues: Mapping[str, QueueRules]
    ) -> Directory:
        """Interfaces from CALLCARDS_MEMBER_INTERFACE (`{extension}`) and each extension."""
        return cls({interface(template, o.extension): o for o in operators}, dict(queues))


def interface(template: str, extension: str) -> str:
    """The queue member interface of `extension` (pbx.queues_conf.member_interface's rule)."""
    from pbx.queues_conf import member_interface

    return member_interface(template, extension)


# -- the changes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseInterval:
    """End the open interval of `interface` (queue None: its state; else a membership)."""

    interface: str
    queue: str | None
    at: datetime
    gap: bool = False


@dataclass(frozen=True)
class CloseAll:
    """End every open interval at `at` with gap (Asterisk was lost; the ends are unknown)."""

    at: datetime


@dataclass(frozen=True)
class OpenInterval:
    """Start an interval of an operator's day."""

    interface: str
    user_id: int
    queue: str | None
    state: AgentState
    at: datetime
    reason: str | None = None
    linkedid: str | None = None


@dataclass(frozen=True)
class Publish:
    """One live event (live.bus.publish)."""

    kind: EventKind
    data: dict[str, Any]
    queue: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class OpenWrapup:
    """An operator held out of the queues until the card of `linkedid` is complete."""

    user_id: int
    linkedid: str
    queue: str | None
    at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class EndWrapup:
    """The operator's open wrap-up ended (card_completed, time_up, operator)."""

    user_id: int
    at: datetime
    by: str


@dataclass(frozen=True)
class PauseMember:
    """An AMI QueuePause to send for `interface` in every queue."""

    interface: str
    paused: bool
    reason: str = ""


Change = CloseInterval | CloseAll | OpenInterval | Publish | OpenWrapup | EndWrapup | PauseMember


@dataclass(frozen=True)
class Wrapup:
    """An open wrap-up as the tracker knows it (live_wrapups row)."""

    user_id: int
    linkedid: str
    queue: str | None
    started_at: datetime
    ends_at: datetime


# -- the tracker ----------------------------------------------------------------------------


@dataclass
class _Phone:
    """What the tracker knows of one operator's phone beyond the picture."""

    operator: Operator
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    reason: str | None = None
    call: AgentState | None = None  # RINGING, TALKING, HOLD
    linkedid: str | None = None
    missed: int = 0
    wrapup: Wrapup | None = None
    #: A break asked for during wrap-up: it starts when the wrap-up ends.
    pending_break: str | None = None
    #: A pause we sent and took as done (paused, reason) until Asterisk's QueueMemberPause
    #: says so: member status snapshots raised before it are stale.
    expected: tuple[bool, str | None] | None = None


class Tracker:
    """The floor as AMI events tell it; every method answers the changes to make."""

    def __init__(self, directory: Directory | None = None) -> None:
        self.directory = directory or Directory()
        self.floor = Floor()
        self._phones: dict[str, _Phone] = {}
        self._callers: dict[str, str] = {}  # a waiting caller's Uniqueid → linkedid
        #: Callers who left their queue (not hanging up) → when: a ring on such a call that
        #: no AgentConnect follows ended with it (the queue's time ran out, an exit key).
        self._left: dict[str, datetime] = {}
        #: Events read, and those skipped as unreadable or not ours (for /metrics and logs).
        self.handled = 0
        self.skipped = 0

    # -- public -----------------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        """The changes one AMI event makes; [] (logged) for anything unreadable or unknown."""
        name = _text(event.get("Event"))
        handler = _HANDLERS.get(name)
        if handler is None:
            return self._skip(name or "?", "not a floor event")
        try:
            changes = handler(self, event, at)
        except _Skip as why:
            return self._skip(name, str(why))
        self.handled += 1
        return changes

    def lost(self, at: datetime) -> list[Change]:
        """AMI went away at `at`: every interval ends there as a gap; the picture is stale."""
        self._phones.clear()
        self._callers.clear()
        self._left.clear()
        self.floor = Floor(ami_connected=False)
        return [CloseAll(at), Publish(EventKind.AMI, {"connected": False})]

    def resync(
        self,
        entries: Iterable[Mapping[str, Any]],
        at: datetime,
        wrapups: Iterable[Wrapup] = (),
    ) -> list[Change]:
        """The floor again from AMI QueueStatus (QueueParams, QueueMember, QueueEntry).

        Whatever was still open ends at `at` as a gap; every operator's intervals start
        again at `at`; open wrap-ups (from live_wrapups) go on while their pause does.
        """
        self._phones.clear()
        self._callers.clear()
        self._left.clear()
        floor = Floor(ami_connected=True)
        changes: list[Change] = [CloseAll(at)]
        held = {w.user_id: w for w in wrapups}
        members: dict[str, list[Mapping[str, Any]]] = {}
        for entry in entries:
            kind, queue = _text(entry.get("Event")), _text(entry.get("Queue"))
            if queue not in self.directory.queues:
                continue
            if kind == "QueueParams":
                floor.callers.setdefault(queue, [])
            elif kind == "QueueEntry":
                caller = self._caller_from_entry(entry, at)
                if caller is not None:
                    floor.callers.setdefault(queue, []).append(caller)
            elif kind == "QueueMember":
                where = _text(entry.get("Location")) or _text(entry.get("Interface"))
                if where in self.directory.operators:
                    members.setdefault(where, []).append(entry)
        for callers in floor.callers.values():
            callers.sort(key=lambda caller: caller.position)
        self.floor = floor
        for where, rows in sorted(members.items()):
            phone = _Phone(self.directory.operators[where])
            phone.queues = {_text(row.get("Queue")) for row in rows}
            paused = [row for row in rows if _text(row.get("Paused")) == "1"]
            phone.paused = bool(paused)
            phone.reason = _optional(paused[0], "PausedReason") if paused else None
            status = {_text(row.get("Status")) for row in rows}
            if "6" in status or "7" in status:
                phone.call = AgentState.RINGING
            elif any(_text(row.get("InCall")) == "1" for row in rows) or status & {"2", "3"}:
                phone.call = AgentState.TALKING
            elif "8" in status:
                phone.call = AgentState.HOLD
            wrapup = held.pop(phone.operator.user_id, None)
            if wrapup is not None and phone.paused and phone.reason == WRAPUP_REASON:
                phone.wrapup = wrapup
            elif wrapup is not None:
                changes.append(EndWrapup(wrapup.user_id, at, "operator"))
            self._phones[where] = phone
            changes += self._membership(where, phone, at)
            changes += self._restate(where, at)
        changes += [EndWrapup(w.user_id, at, "operator") for w in held.values()]
        changes.append(Publish(EventKind.AMI, {"connected": True}))
        changes.append(Publish(EventKind.FLOOR, {}))
        return changes

    def end_stale_rings(
        self, now: datetime, after: timedelta = timedelta(seconds=1)
    ) -> list[Change]:
        """Rings on calls that left their queue `after` ago with nobody answering end now
        (an answer's AgentConnect follows its QueueCallerLeave at once)."""
        changes: list[Change] = []
        for linkedid, left_at in list(self._left.items()):
            if now - left_at < after:
                continue
            del self._left[linkedid]
            for where, phone in self._phones.items():
                if phone.call == AgentState.RINGING and phone.linkedid == linkedid:
                    phone.call, phone.linkedid = None, None
                    changes += self._restate(where, now)
        return changes

    def open_wrapups(self) -> dict[str, Wrapup]:
        """The open wrap-ups by interface (the listener checks their cards)."""
        return {w: p.wrapup for w, p in self._phones.items() if p.wrapup is not None}

    def end_wrapup(self, where: str, at: datetime, by: str) -> list[Change]:
        """End `where`'s wrap-up: unpause, or begin the break asked for meanwhile."""
        phone = self._phones.get(where)
        if phone is None or phone.wrapup is None:
            return []
        wrapup, phone.wrapup = phone.wrapup, None
        changes: list[Change] = [
            EndWrapup(wrapup.user_id, at, by),
            Publish(
                EventKind.WRAPUP,
                {"linkedid": wrapup.linkedid, "ended_by": by},
                queue=wrapup.queue,
                user_id=wrapup.user_id,
            ),
        ]
        if phone.pending_break is not None:  # the break begins now; they stay paused
            phone.reason, phone.pending_break = phone.pending_break, None
        elif phone.paused and phone.reason == WRAPUP_REASON:
            phone.paused, phone.reason = False, None  # at once: the unpause is on its way
            phone.expected = (False, None)
            changes.append(PauseMember(where, False))
        return changes + self._restate(where, at)

    def operator(self, user_id: int) -> str | None:
        """The interface of `user_id`'s phone on the floor, if any."""
        return next((w for w, p in self._phones.items() if p.operator.user_id == user_id), None)

    # -- events -------------------------------------------------------------------------

    def _caller_join(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue = self._queue(event)
        linkedid = _required(event, "Linkedid")
        uniqueid = _text(event.get("Uniqueid")) or linkedid
        caller = CallerWaiting(
            linkedid, _optional(event, "CallerIDNum"), at, _int(event.get("Position"))
        )
        self._callers[uniqueid] = linkedid
        waiting = self.floor.callers.setdefault(queue, [])
        waiting[:] = [c for c in waiting if c.linkedid != linkedid] + [caller]
        return [Publish(EventKind.CALLER_JOINED, caller.to_json(), queue=queue)]

    def _caller_leave(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue = self._queue(event)
        linkedid = _required(event, "Linkedid")
        abandoned = _text(event.get("Event")) == "QueueCallerAbandon"
        changes: list[Change] = []
        if abandoned:  # nobody answers a caller who hung up: their rings end
            for where, phone in self._phones.items():
                if phone.call == AgentState.RINGING and phone.linkedid == linkedid:
                    phone.call, phone.linkedid = None, None
                    changes += self._restate(where, at)
        waiting = self.floor.callers.get(queue, [])
        left = [c for c in waiting if c.linkedid == linkedid]
        if not left:
            return changes
        waiting[:] = [c for c in waiting if c.linkedid != linkedid]
        self._callers.pop(_text(event.get("Uniqueid")), None)
        for position, caller in enumerate(waiting, 1):
            caller.position = position
        if not abandoned:
            self._left[linkedid] = at
        why = "abandoned" if abandoned else "left"
        data = {"linkedid": linkedid, "why": why, "waited_sec": _seconds(left[0].joined_at, at)}
        return [*changes, Publish(EventKind.CALLER_LEFT, data, queue=queue)]

    def _agent_called(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue, where, phone, changes = self._member(event, at)
        linkedid = _required(event, "Linkedid")
        phone.call, phone.linkedid = AgentState.RINGING, linkedid
        number = _optional(event, "CallerIDNum")
        ring = Publish(
            EventKind.RINGING,
            {"linkedid": linkedid, "number": number, "interface": where},
            queue=queue,
            user_id=phone.operator.user_id,
        )
        return [*changes, ring, *self._restate(where, at)]

    def _agent_connect(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        _, where, phone, changes = self._member(event, at)
        linkedid = _required(event, "Linkedid")
        phone.call, phone.linkedid, phone.missed = AgentState.TALKING, linkedid, 0
        changes += self._restate(where, at)
        for other, rival in self._phones.items():  # ringall: the others stop ringing
            if other != where and rival.call == AgentState.RINGING and rival.linkedid == linkedid:
                rival.call, rival.linkedid = None, None
                changes += self._restate(other, at)
        return changes

    def _agent_complete(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue, where, phone, changes = self._member(event, at)
        linkedid = _required(event, "Linkedid")
        phone.call, phone.linkedid = None, None
        hold = self.directory.queues[queue].wrapup_hold_sec
        if hold > 0 and phone.wrapup is None:
            user_id = phone.operator.user_id
            phone.wrapup = Wrapup(user_id, linkedid, queue, at, at + timedelta(seconds=hold))
            phone.paused, phone.reason = True, WRAPUP_REASON
            ends = phone.wrapup.ends_at
            changes += [
                OpenWrapup(user_id, linkedid, queue, at, ends),
                PauseMember(where, True, WRAPUP_REASON),
                Publish(
                    EventKind.WRAPUP,
                    {"linkedid": linkedid, "ends_at": ends.isoformat()},
                    queue=queue,
                    user_id=user_id,
                ),
            ]
        return changes + self._restate(where, at)

    def _ring_no_answer(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue, where, phone, changes = self._member(event, at)
        if phone.call == AgentState.RINGING and phone.linkedid == _text(event.get("Linkedid")):
            phone.call, phone.linkedid = None, None
        phone.missed += 1
        limit = self.directory.queues[queue].missed_rings_pause
        if 0 < limit <= phone.missed:
            phone.missed = 0
            if not phone.paused:  # paused at once: the pause is on its way
                phone.paused, phone.reason = True, MISSED_REASON
                phone.expected = (True, MISSED_REASON)
                changes.append(PauseMember(where, True, MISSED_REASON))
        return changes + self._restate(where, at)

    def _member_pause(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        _, where, phone, changes = self._member(event, at)
        paused = _text(event.get("Paused")) == "1"
        reason = _optional(event, "PausedReason") or _optional(event, "Reason")
        if phone.wrapup is not None:
            if not paused:  # unpaused by hand: the wrap-up is over
                phone.paused, phone.reason, phone.pending_break = False, None, None
                return changes + self.end_wrapup(where, at, "operator")
            if reason != WRAPUP_REASON:  # a break: it starts when the wrap-up ends
                phone.pending_break = reason
            return changes
        phone.expected = None  # Asterisk's word on the pause, ours or anyone's
        phone.paused, phone.reason = paused, reason if paused else None
        return changes + self._restate(where, at)

    def _member_status(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        _, where, phone, changes = self._member(event, at)
        paused = _text(event.get("Paused")) == "1"
        reason = _optional(event, "PausedReason")
        # During a wrap-up the pause is ours; after it, a late "wrap-up" snapshot is stale.
        settled = phone.wrapup is None and phone.expected is None
        if "Paused" in event and settled and reason != WRAPUP_REASON:
            phone.paused, phone.reason = paused, reason if paused else None
        return changes + self._restate(where, at)

    def _member_removed(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        queue, where, phone, changes = self._member(event, at, joined=False)
        phone.queues.discard(queue)
        return changes + self._membership(where, phone, at) + self._restate(where, at)

    def _hold(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        linkedid = _required(event, "Linkedid")
        on_hold = _text(event.get("Event")) == "Hold"
        for where, phone in self._phones.items():
            if phone.linkedid == linkedid and phone.call in (AgentState.TALKING, AgentState.HOLD):
                phone.call = AgentState.HOLD if on_hold else AgentState.TALKING
                return self._restate(where, at)
        raise _Skip(f"no operator talks on call {linkedid}")

    def _device_state(self, event: Mapping[str, Any], at: datetime) -> list[Change]:
        # Members' device states come as QueueMemberStatus too; this only tells that an
        # operator's phone went away while ringing or talking (unplugged, unregistered).
        where = _required(event, "Device")
        phone = self._phones.get(where)
        if phone is None:
            raise _Skip(f"device {where} is no operator's phone")
        if _text(event.get("State")) == "UNAVAILABLE" and phone.call is not None:
            phone.call, phone.linkedid = None, None
            return self._restate(where, at)
        return []

    # -- helpers ------------------------------------------------------------------------

    def _skip(self, name: str, why: str) -> list[Change]:
        self.skipped += 1
        log.debug("AMI %s skipped: %s", name, why)
        return []

    def _queue(self, event: Mapping[str, Any]) -> str:
        queue = _required(event, "Queue")
        if queue not in self.directory.queues:
            raise _Skip(f"queue {queue!r} is not one of ours")
        return queue

    def _member(
        self, event: Mapping[str, Any], at: datetime, joined: bool = True
    ) -> tuple[str, str, _Phone, list[Change]]:
        """The event's queue, interface and phone; a member event tells it is in the queue
        (`joined`): a phone or membership first heard of is added, with its intervals."""
        queue = self._queue(event)
        where = _text(event.get("Interface")) or _text(event.get("Location"))
        operator = self.directory.operators.get(where)
        if operator is None:
            raise _Skip(f"interface {where!r} is no operator's phone")
        phone = self._phones.get(where)
        if phone is None:
            phone = self._phones[where] = _Phone(operator)
        changes: list[Change] = []
        if joined and queue not in phone.queues:
            phone.queues.add(queue)
            changes = self._membership(where, phone, at)
        return queue, where, phone, changes

    def _caller_from_entry(self, entry: Mapping[str, Any], at: datetime) -> CallerWaiting | None:
        uniqueid = _text(entry.get("Uniqueid"))
        if not uniqueid:
            return None
        linkedid = (_text(entry.get("Linkedid")) or uniqueid)[:MAX_FIELD]
        self._callers[uniqueid] = linkedid
        joined = at - timedelta(seconds=_int(entry.get("Wait")))
        number = _optional(entry, "CallerIDNum")
        return CallerWaiting(linkedid, number, joined, _int(entry.get("Position")))

    def _membership(self, where: str, phone: _Phone, at: datetime) -> list[Change]:
        """Open and close `logged_in` intervals to match the phone's queues."""
        now = self.floor.operators.get(where)
        before = set(now.queues) if now else set()
        changes: list[Change] = []
        for queue in sorted(before - phone.queues):
            changes.append(CloseInterval(where, queue, at))
        for queue in sorted(phone.queues - before):
            changes.append(
                OpenInterval(where, phone.operator.user_id, queue, AgentState.LOGGED_IN, at)
            )
        if now is not None:
            now.queues = sorted(phone.queues)
        return changes

    def _restate(self, where: str, at: datetime) -> list[Change]:
        """Close and open the state interval when the phone's state changed; tell the floor."""
        phone = self._phones[where]
        now = self.floor.operators.get(where)
        user_id = phone.operator.user_id
        if not phone.queues:  # logged out of every queue: no state
            self._phones.pop(where)
            if now is None:
                return []
            del self.floor.operators[where]
            gone = replace(now, queues=[])
            return [
                CloseInterval(where, None, at),
                Publish(EventKind.OPERATOR, gone.to_json(), user_id=user_id),
            ]
        state, reason, linkedid = self._state(phone)
        wrapup_ends = phone.wrapup.ends_at if phone.wrapup else None
        queues = sorted(phone.queues)
        if now is not None and (now.state, now.reason, now.linkedid) == (state, reason, linkedid):
            if (now.queues, now.wrapup_ends_at) == (queues, wrapup_ends):
                return []
            now.queues, now.wrapup_ends_at = queues, wrapup_ends
            return [Publish(EventKind.OPERATOR, now.to_json(), user_id=user_id)]
        fresh = OperatorNow(
            where, user_id, phone.operator.name, state, at, reason, linkedid, queues, wrapup_ends
        )
        self.floor.operators[where] = fresh
        changes: list[Change] = [] if now is None else [CloseInterval(where, None, at)]
        changes.append(OpenInterval(where, user_id, None, state, at, reason, linkedid))
        changes.append(Publish(EventKind.OPERATOR, fresh.to_json(), user_id=user_id))
        return changes

    @staticmethod
    def _state(phone: _Phone) -> tuple[AgentState, str | None, str | None]:
        if phone.call is not None:
            return phone.call, None, phone.linkedid
        if phone.wrapup is not None:
            return AgentState.WRAPUP, None, phone.wrapup.linkedid
        if phone.paused:
            return AgentState.PAUSED, phone.reason, None
        return AgentState.READY, None, None


class _Skip(Exception):
    """The event is not one the floor takes (why in the message)."""


Handler = Callable[[Tracker, Mapping[str, Any], datetime], list[Change]]


def _handler_table() -> dict[str, Handler]:
    t = Tracker
    return {
        "QueueCallerJoin": t._caller_join,
        "QueueCallerLeave": t._caller_leave,
        "QueueCallerAbandon": t._caller_leave,
        "AgentCalled": t._agent_called,
        "AgentConnect": t._agent_connect,
        "AgentComplete": t._agent_complete,
        "AgentRingNoAnswer": t._ring_no_answer,
        "QueueMemberStatus": t._member_status,
        "QueueMemberAdded": t._member_status,
        "QueueMemberPause": t._member_pause,
        "QueueMemberRemoved": t._member_removed,
        "Hold": t._hold,
        "Unhold": t._hold,
        "DeviceStateChange": t._device_state,
    }


_HANDLERS = _handler_table()


def _text(value: Any) -> str:
    """A header's text ('' for none; panoramisk gives lists for repeated headers)."""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _required(event: Mapping[str, Any], name: str) -> str:
    value = _text(event.get(name))
    if not value or len(value) > MAX_FIELD or not _PRINTABLE.fullmatch(value):
        raise _Skip(f"no readable {name}")
    return value


def _optional(event: Mapping[str, Any], name: str) -> str | None:
    """A free text header (a number, a pause reason), cut to what the tables keep."""
    return _text(event.get(name))[:MAX_FIELD] or None


#: The longest linkedid, number or reason the tables keep (String(64) columns).
MAX_FIELD = 64


_PRINTABLE = re.compile(r"[\x20-\x7e]+")


def _int(value: Any) -> int:
    text = _text(value)
    return int(text) if text.isdigit() and len(text) < 10 else 0


def _seconds(since: datetime, at: datetime) -> int:
    return max(0, round((at - since).total_seconds()))


def _asterisk_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(_text(value)), UTC) if _text(value) else None
    except (ValueError, OverflowError, OSError):
        return None
