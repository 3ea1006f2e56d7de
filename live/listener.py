"""The floor's one writer: AMI queue and member events → tracker → store, in the FastAGI process.

Several `callcards agi` instances may run on one PostgreSQL; exactly one of them writes the
floor: the one holding a PostgreSQL advisory lock on a connection of its own. The others
wait and try the lock again; when the writer's connection drops (its process died or lost
the database) the server frees its lock and the next instance takes over, resynchronising
from AMI as after any reconnect. On SQLite (the demo, one process) it simply runs.

A session: log in to AMI, ask for the floor's events only, read QueueStatus (the picture
again, live/tracker.py `resync`), then apply what arrives in batches (events that arrived
together go in one transaction). Every second open wrap-ups are checked against their cards;
every half hour old live events are pruned. When AMI goes away every open interval ends
there as a gap; the next session starts them again at its resync.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from panoramisk import Manager
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from callcards import metrics
from callcards.config import Settings
from live.ami import AmiRefused, keep_listening, open_session
from live.ami import action as ami_action
from live.bus import EventKind
from live.store import LOCK_KEY, FloorStore, NotWriter
from live.tracker import EVENTS, Change, PauseMember, Publish, Tracker
from live.wrapup import endings
from models.base import utcnow

log = logging.getLogger(__name__)

#: Seconds between attempts while AMI is unreachable; the last repeats.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: Seconds between wrap-up checks, the directory's refresh and the events' pruning.
TICK_SEC = 1.0
SNAPSHOT_SEC = 1.0
DIRECTORY_SEC = 30.0
PRUNE_SEC = 1800.0
#: Changes kept for a database that is away; past this the picture is rebuilt at its return.
MAX_PENDING = 50_000


class FloorListener:
    """Holds the writer's lock, listens to AMI, keeps the floor in the database."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        timeout: float = 10.0,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        from models.session import make_session_factory

        self.host, self.port = settings.ami_host, settings.ami_port
        self.user, self._secret = settings.ami_user, settings.ami_secret
        self.template = settings.member_interface
        self.engine = engine
        self.store = FloorStore(make_session_factory(engine))
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.now = now
        self.tracker = Tracker()
        #: Set while this process writes the floor and AMI is heard (tests wait on it).
        self.listening = asyncio.Event()
        self.writer = asyncio.Event()
        self._pending: list[Change] = []
        #: The backend holding the lock (PostgreSQL): every batch is fenced on it.
        self._writer_pid: int | None = None
        self._writer_lost = False
        #: When the live_floor picture was last written, and whether it is behind the events.
        self._snapshot_at = 0.0
        self._stale = False
        #: Held while the tracker changes and its changes are written (events, the ticks).
        self._busy = asyncio.Lock()
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], datetime]] = asyncio.Queue()

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    async def run(self) -> None:
        """Be the writer when the lock is free, then listen until cancelled; never raises."""
        while True:
            try:
                await self._as_writer()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop the FastAGI server
                log.exception("floor listener failed; starting again")
            self.writer.clear()
            self.listening.clear()
            metrics.AMI_CONNECTED.set(0)
            await asyncio.sleep(self.retry_delays[0])

    # -- the writer's lock --------------------------------------------------------------

    async def _as_writer(self) -> None:
        if self.engine.dialect.name != "postgresql":
            self.writer.set()
            await self._listen_forever()
            return
        lock = await asyncio.to_thread(self.engine.connect)
        try:
            while not await asyncio.to_thread(_try_lock, lock):
                await asyncio.sleep(max(self.retry_delays[-1] / 6, 1.0))
            self._writer_pid = await asyncio.to_thread(_backend_pid, lock)
            self._writer_lost, self._pending = False, []
            log.info("floor: this instance writes the floor (advisory lock %#x)", LOCK_KEY)
            self.writer.set()
            listening = asyncio.create_task(self._listen_forever())
            try:
                while not listening.done():  # the lock's connection must stay alive
                    await asyncio.wait({listening}, timeout=2.0)
                    if not listening.done() and not await asyncio.to_thread(_alive, lock):
                        log.warning("floor: the writer's lock connection dropped; stopping")
                        self._writer_lost = True
                        break
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
        finally:
            await asyncio.to_thread(_close, lock)

    # -- AMI ----------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        try:
            await keep_listening(
                self._session,
                listening=self.listening,
                retry_delays=self.retry_delays,
                where=self.where,
                missing="the floor is stale",
                logger=log,
                on_lost=self._lost,
            )
        except asyncio.CancelledError:
            if self.listening.is_set() and not self._writer_lost:  # shutting down
                await self._lost()
            raise

    async def _lost(self) -> None:
        """Every open interval ends now, as a gap."""
        metrics.AMI_CONNECTED.set(0)
        await self._write(self.tracker.lost(self.now()))

    async def _session(self) -> None:
        manager, lost = await open_session(
            self.host,
            self.port,
            self.user,
            self._secret,
            classes="call,agent",
            events=EVENTS,
            on_event=self._on_event,
            timeout=self.timeout,
        )
        try:
            await self._resync(manager)
            metrics.AMI_CONNECTED.set(1)
            self.listening.set()
            log.info("floor: listening to AMI at %s (queue and member events)", self.where)
            ticks = asyncio.create_task(self._ticks(manager))
            try:
                while not lost.done():
                    waiting = asyncio.ensure_future(self._queue.get())
                    either: list[asyncio.Future[Any]] = [waiting, lost]
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                    if not waiting.done():
                        waiting.cancel()
                        break
                    await self._batch(manager, [waiting.result()])
            finally:
                ticks.cancel()
                await asyncio.gather(ticks, return_exceptions=True)
        finally:
            manager.close()

    async def _resync(self, manager: Manager) -> None:
        directory = await asyncio.to_thread(self.store.directory, self.template)
        wrapups = await asyncio.to_thread(self.store.open_wrapups)
        self.tracker.directory = directory
        reply = await asyncio.wait_for(
            manager.send_action({"Action": "QueueStatus"}, as_list=True), self.timeout
        )
        entries = [dict(entry) for entry in reply]
        while not self._queue.empty():  # heard before the picture: already in it
            self._queue.get_nowait()
        changes = self.tracker.resync(entries, self.now(), wrapups)
        await self._apply(manager, changes)

    def _on_event(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        self._queue.put_nowait((dict(message), self.now()))

    async def _batch(
        self, manager: Manager, first: list[tuple[Mapping[str, Any], datetime]]
    ) -> None:
        """The events waiting now, in one transaction."""
        async with self._busy:
            arrived = first
            while not self._queue.empty():
                arrived.append(self._queue.get_nowait())
            changes: list[Change] = []
            for event, at in arrived:
                changes += self.tracker.handle(event, at)
                metrics.EVENTS_TRACKED.labels(event=_event_label(event)).inc()
            await self._apply(manager, changes)

    async def _apply(self, manager: Manager, changes: list[Change]) -> None:
        for pause in await self._write(changes):
            await self._pause(manager, pause)

    async def _write(self, changes: list[Change]) -> list[PauseMember]:
        """Write the pending changes and these; on failure keep them for the next batch."""
        self._pending += changes
        if not self._pending and not self._stale:
            return []
        floor = self.tracker.floor
        batch, self._pending = self._pending, []
        started = time.perf_counter()
        # The picture at most once a second (and at every AMI link change); readers add the
        # events after its event_id, so an older picture is never a wrong one.
        snapshot = started - self._snapshot_at >= SNAPSHOT_SEC or any(
            isinstance(c, Publish) and c.kind in (EventKind.AMI, EventKind.FLOOR) for c in batch
        )
        try:
            pauses = await asyncio.to_thread(
                functools.partial(
                    self.store.apply, batch, floor, self._writer_pid, snapshot=snapshot
                )
            )
            metrics.FLOOR_WRITE.observe(time.perf_counter() - started)
            if snapshot:
                self._snapshot_at, self._stale = started, False
            else:
                self._stale = True
            return pauses
        except NotWriter:
            self._writer_lost = True
            raise
        except (OperationalError, InterfaceError) as error:  # the database is away
            log.warning("floor: could not write %d changes (%s); kept", len(batch), error)
            if len(batch) < MAX_PENDING:
                self._pending = batch
            else:  # too much to keep: the picture is rebuilt once the database is back
                log.error("floor: %d changes dropped; the floor is rebuilt", len(batch))
                raise
            return []
        except Exception:  # a batch the database refuses: never retried; start again
            log.exception("floor: %d changes refused; the floor is rebuilt", len(batch))
            raise

    async def _pause(self, manager: Manager, pause: PauseMember) -> None:
        action = {
            "Action": "QueuePause",
            "Interface": pause.interface,
            "Paused": "true" if pause.paused else "false",
        }
        if pause.paused and pause.reason:
            action["Reason"] = pause.reason
        try:
            await ami_action(manager, action, self.timeout)
        except (AmiRefused, TimeoutError) as error:
            log.warning("floor: QueuePause %s for %s: %s", action["Paused"], pause.interface, error)

    async def _ticks(self, manager: Manager) -> None:
        """Wrap-ups every second; the directory and old events now and then."""
        last_directory = last_prune = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SEC)
            await self._wrapups(manager)
            if time.monotonic() - last_directory >= DIRECTORY_SEC:
                last_directory = time.monotonic()
                directory = await asyncio.to_thread(self.store.directory, self.template)
                self.tracker.directory = directory
            if time.monotonic() - last_prune >= PRUNE_SEC:
                last_prune = time.monotonic()
                await asyncio.to_thread(self.store.prune, self.now())

    async def _wrapups(self, manager: Manager) -> None:
        """End the wrap-ups whose card is complete or whose time is up (live/wrapup.py)."""
        open_now = self.tracker.open_wrapups()
        done = set()
        if open_now:
            done = await asyncio.to_thread(
                self.store.completed, [w.linkedid for w in open_now.values()]
            )
        async with self._busy:
            changes: list[Change] = []
            now = self.now()
            for where, why in endings(self.tracker.open_wrapups(), done, now):
                changes += self.tracker.end_wrapup(where, now, why)
            changes += self.tracker.end_stale_rings(now)
            if changes or self._pending or self._stale:
                await self._apply(manager, changes)


def _event_label(event: Mapping[str, Any]) -> str:
    name = event.get("Event")
    return name if isinstance(name, str) and name in EVENTS else "other"


def _try_lock(lock: Connection) -> bool:
    held = bool(lock.scalar(select(func.pg_try_advisory_lock(LOCK_KEY))))
    lock.commit()
    return held


def _backend_pid(lock: Connection) -> int:
    pid = int(lock.scalar(select(func.pg_backend_pid())) or 0)
    lock.commit()
    return pid


def _alive(lock: Connection) -> bool:
    try:
        lock.execute(text("SELECT 1"))
        lock.commit()
        return True
    except Exception:
        return False


def _close(lock: Connection) -> None:
    try:  # not back to the pool holding the lock: the session ends, PostgreSQL frees it
        lock.invalidate()
        lock.close()
    except Exception:
        log.debug("floor: closing the lock connection failed", exc_info=True)


def floor_listener(settings: Settings) -> FloorListener | None:
    """The floor's listener for the configured AMI and database; None without AMI (logged)."""
    if not settings.ami_secret:
        log.info("AMI not configured: the live floor is not listened for")
        return None
    from models.session import make_engine

    if settings.database_url.startswith("sqlite"):
        return FloorListener(settings, make_engine(settings.database_url))
    return FloorListener(settings, make_engine(settings.database_url, pool_size=3))
