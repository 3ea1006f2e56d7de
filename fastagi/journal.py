"""A local, durable journal of card changes made while the database is away (or too far
behind: the card writer sends changes here when too many wait).

Each card change (fastagi.changes) is one JSON line, its class's name and its fields,
fsync'd before the call goes on (lines of the previous version, a card-store method and
its arguments, are read too).
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
from collections import abc
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastagi.cards import AlreadyApplied, CardStore
from fastagi.changes import CHANGES, LEGACY_NAMES, CardChange

log = logging.getLogger(__name__)

#: What "the database is away" looks like through SQLAlchemy (asyncpg's refused or timed
#: out connection comes through as the socket's own error).
DATABASE_AWAY = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)

R = TypeVar("R")
T = TypeVar("T")

#: PostgreSQL's codes for a transaction it rolled back to settle a conflict with another
#: (deadlock_detected, serialization_failure): tried again, not taken for an outage.
_CONFLICT_CODES = frozenset({"40P01", "40001"})
#: Times a batch is tried again after such conflicts before it goes to the journal.
MAX_CONFLICTS = 5


def _conflict(error: Exception) -> bool:
    """True when PostgreSQL rolled the transaction back for a conflict, not an outage."""
    return getattr(getattr(error, "orig", None), "pgcode", None) in _CONFLICT_CODES


def _encode(value: Any) -> Any:
    """A value as JSON: what it is comes back from the field's type (see _decode)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # a timeline value of another type: the card keeps its text anyway


def _decode(value: Any, hint: Any) -> Any:
    """`value` read back as a `hint` (a field's type: dataclass, enum, datetime, ...)."""
    origin, args = get_origin(hint), get_args(hint)
    if value is None:
        return None
    if origin in (Union, UnionType):
        kinds = [kind for kind in args if kind is not type(None)]
        return _decode(value, kinds[0]) if len(kinds) == 1 else value
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_fields(hint, value)
    if origin in (list, tuple, Sequence, abc.Sequence):
        return [_decode(item, args[0] if args else Any) for item in value]
    return value


def _from_fields(cls: type[T], fields: dict[str, Any]) -> T:
    """A dataclass from its encoded fields (missing ones take their defaults)."""
    hints = get_type_hints(cls)
    known = dataclasses.fields(cls)  # type: ignore[arg-type]
    return cls(
        **{f.name: _decode(fields[f.name], hints[f.name]) for f in known if f.name in fields}
    )


def _types_in(hint: Any, found: dict[str, type]) -> None:
    """Every dataclass and enum reachable from `hint`, by name (for the old line format)."""
    for arg in get_args(hint):
        _types_in(arg, found)
    if (
        isinstance(hint, type)
        and hint.__name__ not in found
        and (issubclass(hint, Enum) or dataclasses.is_dataclass(hint))
    ):
        found[hint.__name__] = hint
        if dataclasses.is_dataclass(hint):
            for field_hint in get_type_hints(hint).values():
                _types_in(field_hint, found)


def _legacy_decode(value: Any, types: dict[str, type]) -> Any:
    """A value of the previous version's lines, which named each value's type."""
    if isinstance(value, list):
        return [_legacy_decode(item, types) for item in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$enum" in value:
        return types[value["$enum"]](value["value"])
    if "$type" in value:
        return types[value["$type"]](**_legacy_decode(value["fields"], types))
    return {key: _legacy_decode(item, types) for key, item in value.items()}


def _legacy_change(record: dict[str, Any]) -> CardChange[Any]:
    """A change from a line the previous version wrote: a card-store method and its arguments.

    The change classes keep those methods' parameters, in order, as their fields.
    """
    cls = LEGACY_NAMES[record["method"]]
    types: dict[str, type] = {}
    for change_class in CHANGES.values():
        for hint in get_type_hints(change_class).values():
            _types_in(hint, types)
    return cls(*_legacy_decode(record["args"], types), **_legacy_decode(record["kwargs"], types))


@dataclasses.dataclass(frozen=True)
class Operation:
    """One card change, as the journal keeps it."""

    id: str
    seq: int
    change: CardChange[Any]

    def to_line(self) -> bytes:
        """The operation as one JSON line: the change's class name and its fields."""
        record = {
            "id": self.id,
            "seq": self.seq,
            "change": type(self.change).__name__,
            "fields": _encode(self.change),
        }
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Operation:
        """Read a line written by to_line, or by the previous version (method and args)."""
        record = json.loads(line)
        if "change" in record:
            change = _from_fields(CHANGES[record["change"]], record["fields"])
        else:
            change = _legacy_change(record)
        return cls(record["id"], record["seq"], change)

    @classmethod
    def new(cls, change: CardChange[Any]) -> Operation:
        """A change to journal now, with a fresh id and its place in time."""
        return cls(uuid.uuid4().hex, time.time_ns(), change)


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

    def append(self, *operations: Operation) -> None:
        """Write operations and make them durable (one fsync) before returning."""
        if not operations:
            return
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, b"".join(operation.to_line() for operation in operations))
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


@dataclasses.dataclass(frozen=True)
class Queued:
    """A change waiting for the card writer; `to_journal`: too many waited, journal it."""

    change: CardChange[Any]
    to_journal: bool = False


class _LeftOut(Exception):
    """A change of a batch failed on its own (the batch goes again without it), or a group
    failed (the batch goes again with the group's changes one at a time)."""

    def __init__(self, positions: Sequence[int]) -> None:
        super().__init__(positions)
        self.positions = positions


class JournaledCards:
    """The card store, or the journal while the database is away."""

    def __init__(self, store: CardStore, journal: Journal) -> None:
        self.store = store
        self.journal = journal
        self._replay_lock = threading.Lock()

    def apply(self, change: CardChange[R], engine: Engine | None = None) -> R | None:
        """Make the change in its own transaction; None when it went to the journal."""
        if self.journal.active and not change.reads:
            # Changes made while older ones wait in the journal follow them there: in order.
            self.journal_only(change)
            return None
        for attempt in (1, 2):
            try:
                return self.store.apply(change, engine=engine)
            except DATABASE_AWAY as error:
                # The pool does not ping connections before use: a connection PostgreSQL
                # dropped (a restart) fails once, the pool discards the others, try again.
                if attempt == 1 and getattr(error, "connection_invalidated", False):
                    continue
                if change.reads:
                    return None
                log.warning(
                    "database away (%s); %s goes to the journal",
                    type(error).__name__,
                    type(change).__name__,
                )
                self.journal_only(change)
                return None
        return None

    def journal_only(self, *changes: CardChange[Any]) -> None:
        """Keep changes for the replay without trying the database (it is too far behind)."""
        self.journal.append(*(Operation.new(change) for change in changes if not change.reads))

    def apply_batch(self, batch: Sequence[Queued], engine: Engine | None = None) -> list[Any]:
        """Make many changes in one transaction, in order; each one's result or exception.

        On PostgreSQL, many calls' changes of one kind go as one group (`_plan`). A change
        that fails alone is left out (the batch is tried again without it; a group that
        fails is tried again one change at a time, to find which); a change marked for the
        journal, and every change after it, goes to the journal. `engine`: the writer's
        (asyncpg, in the event loop), else the store's.
        """
        cut = next((n for n, queued in enumerate(batch) if queued.to_journal), len(batch))
        if self.journal.active:
            cut = 0
        results: list[Any] = [None] * len(batch)
        written = list(range(cut))
        alone: set[int] = set()
        reconnected, conflicts = False, 0
        while True:
            try:
                self._write(batch, written, alone, results, engine)
                break
            except _LeftOut as left_out:  # rolled back: again, without it (or them, alone)
                if len(left_out.positions) == 1:
                    written.remove(left_out.positions[0])
                else:
                    alone.update(left_out.positions)
            except Exception as error:
                if not isinstance(error, DATABASE_AWAY) and not _conflict(error):
                    raise
                if not reconnected and getattr(error, "connection_invalidated", False):
                    reconnected = True  # a connection PostgreSQL dropped: once more (apply)
                    continue
                if _conflict(error) and conflicts < MAX_CONFLICTS:
                    # Another server instance's batch locked the same cards the other way
                    # round: PostgreSQL rolled this one back; it goes again, whole.
                    conflicts += 1
                    continue
                log.warning(
                    "database away (%s); %d card change(s) go to the journal",
                    type(error).__name__,
                    len(written),
                )
                cut = 0
                break
        for position in range(cut, len(batch)):
            change = batch[position].change
            # What a rolled-back attempt gave is not on any card.
            results[position] = self.apply(change, engine) if change.reads else None
        self.journal_only(*(queued.change for queued in batch[cut:]))  # one fsync
        return results

    def _write(
        self,
        batch: Sequence[Queued],
        written: list[int],
        alone: set[int],
        results: list[Any],
        engine: Engine | None,
    ) -> None:
        if not written:
            return
        with (engine or self.store.engine).begin() as db:
            for positions in self._plan(batch, written, alone):
                changes = [batch[position].change for position in positions]
                try:
                    if len(changes) == 1:
                        results[positions[0]] = changes[0].apply(self.store, db)
                        continue
                    with self.store.group(db, [change.call for change in changes]):
                        done = type(changes[0]).apply_group(self.store, db, changes)
                    for position, result in zip(positions, done, strict=True):
                        results[position] = result
                except Exception as error:
                    if isinstance(error, DATABASE_AWAY) or _conflict(error):
                        raise
                    if len(changes) == 1:
                        results[positions[0]] = error
                    else:
                        log.warning(
                            "a group of %d %s failed (%s: %s); again one at a time",
                            len(changes),
                            type(changes[0]).__name__,
                            type(error).__name__,
                            str(error).splitlines()[0][:300],
                        )
                    raise _LeftOut(positions) from error

    def _plan(
        self, batch: Sequence[Queued], written: list[int], alone: set[int]
    ) -> list[list[int]]:
        """The order the batch's changes go in: groups of one kind, one change per call.

        A call's n-th change of the batch is in round n; a round's changes of one kind form
        a group (they are of different calls, so their order among them does not matter).
        SQLite (the demo) writes each change on its own, in the order handed in.
        """
        if not self.store.groups:
            return [[position] for position in written]
        calls: dict[str, int] = {}
        rounds: list[dict[Any, list[int]]] = []
        for position in written:
            change = batch[position].change
            n = calls[change.call] = calls.get(change.call, -1) + 1
            if n == len(rounds):
                rounds.append({})
            kind = position if position in alone else type(change)
            rounds[n].setdefault(kind, []).append(position)
        return [group for groups in rounds for group in groups.values()]

    def reserve_ids(self, count: int) -> list[int]:
        """See CardStore.reserve_ids; never journaled (raises while the database is away)."""
        return self.store.reserve_ids(count)

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
                    try:
                        self.store.apply(operation.change, op_id=operation.id)
                        applied += 1
                    except DATABASE_AWAY:
                        raise
                    except AlreadyApplied:
                        continue
                    except Exception:
                        # Broken for good: never block the rest on it.
                        log.exception(
                            "journal: %s %s not applied",
                            type(operation.change).__name__,
                            operation.id,
                        )
                if self.journal.clear_if_unchanged(size):
                    if applied:
                        log.info("journal: %d card change(s) replayed", applied)
                    return applied
