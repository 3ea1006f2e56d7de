"""The floor now, as typed objects: what the wallboard, "Operators now" and the workspace show.

One process (the floor listener) owns the picture and stores it as JSON in `live_floor`;
the site reads it when a browser connects, then follows `live_events` (live/bus.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from models.live import AgentState


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class CallerWaiting:
    """A caller in a queue now."""

    linkedid: str
    number: str | None
    joined_at: datetime
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "joined_at": _iso(self.joined_at)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallerWaiting:
        joined = _moment(data.get("joined_at"))
        assert joined is not None
        return cls(data["linkedid"], data.get("number"), joined, int(data.get("position", 0)))


@dataclass
class OperatorNow:
    """One operator's phone (queue member interface) now."""

    interface: str
    user_id: int | None
    name: str
    state: AgentState
    since: datetime
    reason: str | None = None  # a pause's reason
    linkedid: str | None = None  # the call they ring, talk or wrap up on
    queues: list[str] = field(default_factory=list)  # queues they are logged in to
    wrapup_ends_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        # Field by field, not asdict(): the writer turns every operator into JSON each batch.
        return {
            "interface": self.interface,
            "user_id": self.user_id,
            "name": self.name,
            "state": self.state.value,
            "since": _iso(self.since),
            "reason": self.reason,
            "linkedid": self.linkedid,
            "queues": list(self.queues),
            "wrapup_ends_at": _iso(self.wrapup_ends_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorNow:
        since = _moment(data.get("since"))
        assert since is not None
        return cls(
            interface=data["interface"],
            user_id=data.get("user_id"),
            name=data.get("name") or data["interface"],
            state=AgentState(data["state"]),
            since=since,
            reason=data.get("reason"),
            linkedid=data.get("linkedid"),
            queues=list(data.get("queues") or []),
            wrapup_ends_at=_moment(data.get("wrapup_ends_at")),
        )


@dataclass
class Floor:
    """Every queue's callers and every operator's state, as of `event_id` of live_events."""

    callers: dict[str, list[CallerWaiting]] = field(default_factory=dict)  # by queue name
    operators: dict[str, OperatorNow] = field(default_factory=dict)  # by interface
    ami_connected: bool = False
    event_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "callers": {q: [c.to_json() for c in cs] for q, cs in self.callers.items()},
            "operators": {i: o.to_json() for i, o in self.operators.items()},
            "ami_connected": self.ami_connected,
            "event_id": self.event_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Floor:
        return cls(
            callers={
                q: [CallerWaiting.from_json(c) for c in cs]
                for q, cs in (data.get("callers") or {}).items()
            },
            operators={
                i: OperatorNow.from_json(o) for i, o in (data.get("operators") or {}).items()
            },
            ami_connected=bool(data.get("ami_connected")),
            event_id=int(data.get("event_id") or 0),
        )
