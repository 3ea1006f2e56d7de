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

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastagi.cards import AlreadyApplied, CardStore
from fastagi.changes import CHANGES, LEGACY_NAMES, CardChange

log = logging.getLogger(__name__)

#: What "the database is away" looks like through SQLAlchemy.
DATABASE_AWAY = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)

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


@dataclasses.dataclass(frozen=True)
class Queued:
    """A change waiting for the card writer; `to_journal`: too many waited, journal it."""

    change: CardChange[Any]
    to_journal: bool = False


class _LeftOut(Exception):
    """A change of a batch failed on its own; the batch goes again without it."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class JournaledCards:
    """The card store, or the journal while the database is away."""

    def __init__(self, store: CardStore, journal: Journal) -> None:
        self.store = store
        self.journal = journal
        self._replay_lock = threading.Lock()

    def apply(self, change: CardChange[R]) -> R | None:
        """Make the change in its own transaction; None when it went to the journal."""
        if self.journal.active and not change.reads:
            # Changes made while older ones wait in the journal follow them there: in order.
            self.journal_only(change)
            return None
        for attempt in (1, 2):
            try:
                return self.store.apply(change)
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

    def journal_only(self, change: CardChange[Any]) -> None:
        """Keep a change for the replay without trying the database (it is too far behind)."""
        if not change.reads:
            self.journal.append(Operation.new(change))

    def apply_batch(self, batch: Sequence[Queued]) -> list[Any]:
        """Make many changes in one transaction, in order; each one's result or exception.

        A change that fails alone is left out (the batch is tried again without it); a
        change marked for the journal, and every change after it, goes to the journal.
        """
        cut = next((n for n, queued in enumerate(batch) if queued.to_journal), len(batch))
        if self.journal.active:
            cut = 0
        results: list[Any] = [None] * len(batch)
        written = list(range(cut))
        reconnected, conflicts = False, 0
        while True:
            try:
                self._write(batch, written, results)
                break
            except _LeftOut as left_out:
                written.remove(left_out.position)  # rolled back: again, without it
            except DATABASE_AWAY as error:
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
            results[position] = None  # what a rolled-back attempt gave is not on any card
            if change.reads:
                results[position] = self.apply(change)
            else:
                self.journal_only(change)
        return results

    def _write(self, batch: Sequence[Queued], written: list[int], results: list[Any]) -> None:
        if not written:
            return
        with self.store.engine.begin() as db:
            for position in written:
                try:
                    results[position] = batch[position].change.apply(self.store, db)
                except DATABASE_AWAY:
                    raise
                except Exception as error:
                    results[position] = error
                    raise _LeftOut(position) from error

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
