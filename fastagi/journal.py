"""A local, durable journal of card changes made while the database is away (or too far
behind: fastagi.services sends changes here when the pool is full).

Each change the card store would make is one JSON line, fsync'd before the call goes on.
A connection the database dropped (the pool does not ping before use) is tried again
once before a change is journaled. While the journal holds anything, every new change
joins it (their order matters: a card must be opened before it is closed); a replayer
applies them in order once the database answers again, each one exactly once (its id is
stored in the same transaction as the change), then empties the journal. The file
survives a restart of the server.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastagi.cards import AlreadyApplied, CardStore, Event, HangupReport, NewCall
from fastagi.outcome import Outcome
from models import Call, Direction, Status

log = logging.getLogger(__name__)

#: What "the database is away" looks like through SQLAlchemy.
DATABASE_AWAY = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)

_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (NewCall, Event, HangupReport, Outcome, Direction, Status)
}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, Enum):
        return {"$enum": type(value).__name__, "value": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": type(value).__name__, "fields": fields}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$enum" in value:
        return _TYPES[value["$enum"]](value["value"])
    if "$type" in value:
        return _TYPES[value["$type"]](**_decode(value["fields"]))
    return {key: _decode(item) for key, item in value.items()}


@dataclasses.dataclass(frozen=True)
class Operation:
    """One card-store call, as the journal keeps it."""

    id: str
    seq: int
    method: str
    args: list[Any]
    kwargs: dict[str, Any]

    def to_line(self) -> bytes:
        """The operation as one JSON line."""
        record = {"id": self.id, "seq": self.seq, "method": self.method,
                  "args": _encode(self.args), "kwargs": _encode(self.kwargs)}
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Operation:
        """Read a line written by to_line."""
        record = json.loads(line)
        return cls(record["id"], record["seq"], record["method"],
                   _decode(record["args"]), _decode(record["kwargs"]))


class Journal:
    """The append-only file of operations waiting for the database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def active(self) -> bool:
        """True while operations wait in the file."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, operation: Operation) -> None:
        """Write one operation and make it durable before returning."""
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, operation.to_line())
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def read(self) -> tuple[list[Operation], int]:
        """The operations in the order they happened, and the file size they were read from."""
        with self._lock:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return [], 0
        operations = []
        for line in data.splitlines():
            try:
                operations.append(Operation.from_line(line))
            except (ValueError, KeyError, TypeError):
                # A line cut short by a crash mid-write never returned to its call.
                log.warning("journal: skipping an unreadable line: %r", line[:200])
        return sorted(operations, key=lambda operation: operation.seq), len(data)

    def clear_if_unchanged(self, size: int) -> bool:
        """Empty the journal unless something was appended since it was read at `size`."""
        with self._lock:
            try:
                if self.path.stat().st_size != size:
                    return False
            except FileNotFoundError:
                return True
            self.path.unlink()
            return True


class JournaledCards:
    """The card store, or the journal while the database is away (same methods)."""

    def __init__(self, store: CardStore, journal: Journal) -> None:
        self.store = store
        self.journal = journal
        self._replay_lock = threading.Lock()

    def _apply(self, method: str, *args: Any, **kwargs: Any) -> Any:
        operation = Operation(uuid.uuid4().hex, time.time_ns(), method, list(args), kwargs)
        if self.journal.active:
            # Changes made while older ones wait in the journal follow them there: in order.
            self.journal.append(operation)
            return None
        for attempt in (1, 2):
            try:
                return getattr(self.store, method)(*args, **kwargs)
            except DATABASE_AWAY as error:
                # The pool does not ping connections before use: a connection PostgreSQL
                # dropped (a restart) fails once, the pool discards the others, try again.
                if attempt == 1 and getattr(error, "connection_invalidated", False):
                    continue
                log.warning("database away (%s); %s goes to the journal",
                            type(error).__name__, method)
                self.journal.append(operation)
                return None
        return None

    def journal_only(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Keep a change for the replay without trying the database (it is too far behind)."""
        self.journal.append(Operation(uuid.uuid4().hex, time.time_ns(), method, list(args),
                                      kwargs))

    def open_card(self, new: NewCall, events: Any = (), card_id: int | None = None) -> Any:
        """See CardStore.open_card; None while journaled (a reserved id is kept with it)."""
        return self._apply("open_card", new, list(events), card_id=card_id)

    def reserve_ids(self, count: int) -> list[int]:
        """See CardStore.reserve_ids; never journaled (raises while the database is away)."""
        return self.store.reserve_ids(count)

    def route_decided(self, linkedid: str, **kwargs: Any) -> None:
        """See CardStore.route_decided."""
        self._apply("route_decided", linkedid, **kwargs)

    def ringing(self, linkedid: str, **kwargs: Any) -> Any:
        """See CardStore.ringing."""
        return self._apply("ringing", linkedid, **kwargs)

    def answered(self, linkedid: str, **kwargs: Any) -> Any:
        """See CardStore.answered."""
        return self._apply("answered", linkedid, **kwargs)

    def add_events(self, linkedid: str, events: Any) -> None:
        """See CardStore.add_events."""
        self._apply("add_events", linkedid, list(events))

    def hold_changed(self, linkedid: str, event: Event) -> Any:
        """See CardStore.hold_changed; None while journaled."""
        return self._apply("hold_changed", linkedid, event)

    def hang_up(self, report: HangupReport) -> Call | None:
        """See CardStore.hang_up; None while journaled."""
        result: Call | None = self._apply("hang_up", report)
        return result

    def message_left(self, linkedid: str, **kwargs: Any) -> Any:
        """See CardStore.message_left."""
        return self._apply("message_left", linkedid, **kwargs)

    def check_recording(self, linkedid: str, *, final: bool) -> Any:
        """See CardStore.check_recording."""
        return self._apply("check_recording", linkedid, final=final)

    def find(self, linkedid: str) -> Call | None:
        """The card, or None while the database is away."""
        try:
            return self.store.find(linkedid)
        except DATABASE_AWAY:
            return None

    def replay(self) -> int:
        """Apply what the journal holds, in order and each once; how many were applied.

        Raises the database's error if it is still away (the caller tries again later).
        """
        with self._replay_lock:
            applied = 0
            done: set[str] = set()  # this replay's own: no need to ask the database again
            while True:
                operations, size = self.journal.read()
                for operation in operations:
                    if operation.id in done:
                        continue
                    done.add(operation.id)
                    replaying = self.store.applying(operation.id)
                    try:
                        getattr(replaying, operation.method)(*operation.args, **operation.kwargs)
                        applied += 1
                    except DATABASE_AWAY:
                        raise
                    except AlreadyApplied:
                        continue
                    except Exception:
                        # Already applied, or broken for good: never block the rest on it.
                        log.exception("journal: %s %s not applied", operation.method,
                                      operation.id)
                if self.journal.clear_if_unchanged(size):
                    if applied:
                        log.info("journal: %d card change(s) replayed", applied)
                    return applied
