"""One listener per site worker process: it follows `live_events` and wakes the streams.

On PostgreSQL a thread holds one raw psycopg2 connection LISTENing on `callcards_live`
(live.bus.CHANNEL) and waits on it with select(); on SQLite (the demo) it polls. Each wake
reads the new rows once, into a bounded buffer every stream of this process reads from, so
200 streams cost one query per event, not 200. A stream waits on the hub's condition and
never on another stream: a browser that does not read holds only its own thread.
"""

from __future__ import annotations

import logging
import select as selectors
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
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
        self.condition = threading.Condition()
        self.buffer: deque[LiveItem] = deque(maxlen=BUFFER)
        self.last_id = 0
        #: The buffer holds every event after this id (older ones are read from the database).
        self.reach = 0
        self.streams = 0
        #: The newest CALLER_LEFT event's id: today's figures change only then.
        self.caller_left = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started_lock = threading.Lock()

    # -- the listener thread --------------------------------------------------------------

    def start(self) -> None:
        """Start the listener once (the first stream of this process does)."""
        with self._started_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            with Session(self.engine) as session:
                self.last_id = self.reach = last_event_id(session)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="callcards-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the listener and wake every stream (they end too)."""
        self._stop.set()
        with self.condition:
            self.condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        wait = self._listen if self.engine.dialect.name == "postgresql" else self._poll
        while not self._stop.is_set():
            try:
                wait()
            except Exception as error:
                # The database went away: catch up from the log when it is back.
                log.warning("live listener lost the database (%s); retrying", error)
                self._stop.wait(1.0)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.catch_up()
            self._stop.wait(POLL_SEC)

    def _listen(self) -> None:
        connection = self.engine.raw_connection()
        try:
            raw: Any = connection.dbapi_connection
            raw.autocommit = True
            with raw.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.catch_up()  # what was published before LISTEN took effect
            while not self._stop.is_set():
                ready, _, _ = selectors.select([raw], [], [], POLL_SEC * 4)
                if ready:
                    raw.poll()
                    raw.notifies.clear()
                    self.catch_up()
        finally:
            connection.invalidate()  # never back to the pool: it LISTENs

    def catch_up(self) -> None:
        """Read the events after the newest one seen into the buffer; wake the streams."""
        while True:
            with Session(self.engine) as session:
                found = [LiveItem.of(event) for event in events_after(session, self.last_id)]
            if not found:
                return
            with self.condition:
                dropped = len(self.buffer) + len(found) - BUFFER
                self.buffer.extend(found)
                if dropped > 0:
                    self.reach = self.buffer[0].id - 1
                self.last_id = found[-1].id
                for item in found:
                    if item.kind == EventKind.CALLER_LEFT.value:
                        self.caller_left = item.id
                self.condition.notify_all()

    # -- what the streams ask -------------------------------------------------------------

    def wait(self, after: int, timeout: float) -> list[LiveItem] | None:
        """Events after `after`, waiting up to `timeout` s for one; None when the buffer no
        longer reaches back that far (the stream reads the database instead)."""
        with self.condition:
            if self.last_id <= after and not self._stop.is_set():
                self.condition.wait(timeout)
            if self.last_id <= after:
                return []
            if after < self.reach:
                return None
            return [item for item in self.buffer if item.id > after]

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
