"""One listener per site worker process: it follows `live_events` and wakes the streams.

On PostgreSQL a thread holds one raw psycopg2 connection LISTENing on `callcards_live`
(live.bus.CHANNEL) and waits on it with select(); on SQLite (the demo) it polls. Each wake
reads the new rows once, into a bounded buffer every stream of this process reads from, so
200 streams cost one query per event, not 200. A stream waits on a bell of its own (no
lock shared by 200 waking threads) and reads the hub's last published picture of the buffer,
never on another stream: a browser that does not read holds only its own thread.
"""

from __future__ import annotations

import json
import logging
import select as selectors
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from live.bus import CHANNEL, EventKind, events_after, last_event_id
from models.live import LiveEvent

log = logging.getLogger(__name__)

#: Events kept in memory for streams that fall a little behind (older ones: from the database).
BUFFER = 4096
#: How often the SQLite demo looks for new events, and the PostgreSQL listener's select().
POLL_SEC = 0.5
#: Streams are woken at most this often (events in between go out together, in one write):
#: 200 streams woken at each of 20 events a second starve the pages of the GIL.
BATCH_SEC = 0.2
#: A worker with no stream for this long lets its listener (and its connection) go; the next
#: stream starts it again.
IDLE_SEC = 10.0
#: Events that wake the streams at once: the screen-pop must not wait for a batch.
URGENT = frozenset({EventKind.RINGING.value})


@dataclass
class LiveItem:
    """One live event as the streams send it."""

    id: int
    kind: str
    queue: str | None
    user_id: int | None
    at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: LiveEvent) -> LiveItem:
        return cls(event.id, event.kind, event.queue, event.user_id, event.at, dict(event.data))

    @cached_property
    def message(self) -> str:
        """The SSE message, made once for every stream that sends it."""
        data = json.dumps(self.to_json(), separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {data}\n\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "queue": self.queue,
            "user_id": self.user_id,
            "at": self.at.isoformat(),
            "data": self.data,
        }


class LiveHub:
    """The process's follower of the event log; started by the first stream."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.condition = threading.Condition()  # guards the buffer and the count
        #: What the streams read, published whole at each wake: (events, reach, last id).
        self.visible: tuple[tuple[LiveItem, ...], int, int] = ((), 0, 0)
        self._bells: set[threading.Event] = set()
        self._bells_lock = threading.Lock()
        self.buffer: deque[LiveItem] = deque(maxlen=BUFFER)
        #: The newest event the streams are given (a batch's end); `_read_id`: the newest read.
        self.last_id = 0
        self._read_id = 0
        self._woken = 0.0
        self._due: float | None = None
        #: The buffer holds every event after this id (older ones are read from the database).
        self.reach = 0
        self.streams = 0
        #: The newest CALLER_LEFT event's id: today's figures change only then.
        self.caller_left = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started_lock = threading.Lock()
        self._active = time.monotonic()  # the last moment a stream came, asked or left

    # -- the listener thread --------------------------------------------------------------

    def start(self) -> None:
        """Start the listener once (the first stream of this process does)."""
        with self._started_lock:
            self._active = time.monotonic()
            if self._thread is not None and self._thread.is_alive():
                return
            with Session(self.engine) as session:
                self.last_id = self.reach = self._read_id = last_event_id(session)
                self.visible = ((), self.reach, self.last_id)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="callcards-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the listener and wake every stream (they end too)."""
        self._stop.set()
        self._ring()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _idle(self) -> bool:
        """No stream listens, and none came for IDLE_SEC: the listener may end."""
        with self._bells_lock:
            listened = bool(self._bells)
        return not listened and time.monotonic() - self._active > IDLE_SEC

    def _run(self) -> None:
        wait = self._listen if self.engine.dialect.name == "postgresql" else self._poll
        while not self._stop.is_set() and not self._idle():
            try:
                wait()
            except Exception as error:
                # The database went away: catch up from the log when it is back.
                log.warning("live listener lost the database (%s); retrying", error)
                self._stop.wait(1.0)

    def _poll(self) -> None:
        while not self._stop.is_set() and not self._idle():
            self.catch_up()
            self._stop.wait(self._timeout(POLL_SEC))
            self.wake_if_due()

    def _listen(self) -> None:
        connection = self.engine.raw_connection()
        try:
            raw: Any = connection.dbapi_connection
            raw.autocommit = True
            with raw.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.catch_up()  # what was published before LISTEN took effect
            while not self._stop.is_set() and not self._idle():
                ready, _, _ = selectors.select([raw], [], [], self._timeout(POLL_SEC * 4))
                if ready:
                    raw.poll()
                    raw.notifies.clear()
                    self.catch_up()
                self.wake_if_due()
        finally:
            connection.invalidate()  # never back to the pool: it LISTENs

    def _timeout(self, idle: float) -> float:
        """How long the listener may wait: `idle`, or until a batch is due."""
        if self._due is None:
            return idle
        return max(0.0, min(idle, self._due - time.monotonic()))

    def catch_up(self) -> None:
        """Read the events after the newest one read into the buffer; wake the streams now
        (an urgent event, or none woken them for BATCH_SEC) or when the batch is due."""
        urgent = False
        while True:
            with Session(self.engine) as session:
                found = [LiveItem.of(event) for event in events_after(session, self._read_id)]
            if not found:
                break
            with self.condition:
                dropped = len(self.buffer) + len(found) - BUFFER
                self.buffer.extend(found)
                if dropped > 0:
                    self.reach = self.buffer[0].id - 1
                self._read_id = found[-1].id
            for item in found:
                urgent = urgent or item.kind in URGENT
                if item.kind == EventKind.CALLER_LEFT.value:
                    self.caller_left = item.id
        if self._read_id <= self.last_id:
            return
        if urgent or time.monotonic() - self._woken >= BATCH_SEC:
            self._wake()
        elif self._due is None:
            self._due = self._woken + BATCH_SEC

    def wake_if_due(self) -> None:
        """Wake the streams when a batch is due."""
        if self._due is not None and time.monotonic() >= self._due:
            self._wake()

    def _wake(self) -> None:
        with self.condition:
            self.visible = (tuple(self.buffer), self.reach, self._read_id)
            self.last_id = self._read_id
        self._woken = time.monotonic()
        self._due = None
        self._ring()

    def _ring(self) -> None:
        with self._bells_lock:
            bells = list(self._bells)
        for bell in bells:
            bell.set()

    def listen(self, bell: threading.Event, on: bool) -> None:
        """A stream starts (`on`) or stops being woken through `bell`."""
        with self._bells_lock:
            if on:
                self._bells.add(bell)
            else:
                self._bells.discard(bell)
        self._active = time.monotonic()

    # -- what the streams ask -------------------------------------------------------------

    def wait(self, after: int, timeout: float, bell: threading.Event) -> list[LiveItem] | None:
        """Events after `after`, waiting up to `timeout` s for one (on `bell`, which the
        stream gave `listen`); None when the buffer no longer reaches back that far (the
        stream reads the database instead)."""
        bell.clear()  # before looking: a wake from now on rings it
        if self.visible[2] <= after and not self._stop.is_set():
            bell.wait(timeout)
        events, reach, last = self.visible
        if last <= after:
            return []
        if after < reach:
            return None
        # Newest first, only what is new to this stream: ids only grow.
        found = []
        for item in reversed(events):
            if item.id <= after:
                break
            found.append(item)
        found.reverse()
        return found

    def earlier(self, after: int, limit: int = 500) -> list[LiveItem]:
        """Events after `after` from the database (a stream far behind)."""
        with Session(self.engine) as session:
            return [LiveItem.of(event) for event in events_after(session, after, limit)]

    def count(self, change: int, on_change: Callable[[int], None] | None = None) -> None:
        """Count a stream opened (+1) or closed (-1)."""
        with self.condition:
            self.streams += change
            if on_change is not None:
                on_change(self.streams)
