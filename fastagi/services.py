"""What the AGI routes share: the card store, the published call flow, a clock."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialplan.settings import FlowSettings
from fastagi.cards import CardStore
from models import FlowVersion

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FlowCache:
    """The newest published call flow, re-read when an admin publishes a new version.

    A failed read keeps the last good copy, so calls go on being routed while the
    database is away; with no copy at all, calls go to the default queue.
    """

    def __init__(self, sessions: sessionmaker[Session], refresh_sec: float) -> None:
        self._sessions = sessions
        self._refresh_sec = refresh_sec
        self._settings: FlowSettings | None = None
        self._version_id: int | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def version_id(self) -> int | None:
        """The id of the published version in use, if any."""
        return self._version_id

    async def current(self, run: Callable[..., asyncio.Future[object]]) -> FlowSettings | None:
        """The flow to route the next call by; re-checks the database at most every refresh_sec."""
        if time.monotonic() - self._checked_at < self._refresh_sec:
            return self._settings
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._refresh_sec:
                try:
                    await run(self._reload)
                except Exception:
                    log.exception("could not read the published call flow; keeping the last copy")
                self._checked_at = time.monotonic()
        return self._settings

    def _reload(self) -> None:
        with self._sessions() as session:
            newest = session.scalar(select(FlowVersion.id).order_by(FlowVersion.id.desc()).limit(1))
            if newest is None or newest == self._version_id:
                return
            document = session.scalar(select(FlowVersion.document).where(FlowVersion.id == newest))
        self._settings = FlowSettings.from_document(document or {})
        self._version_id = newest
        log.info("routing calls by published call flow version %s", newest)


@dataclass
class AgiServices:
    """Dependencies of the AGI routes, built once per server."""

    cards: CardStore
    flow: FlowCache
    default_queue: str = "reception"
    #: Seconds a call waits for one piece of database work before it goes on without it;
    #: Asterisk has no read timeout for AGI, so a stuck database would hold the caller.
    db_timeout: float = 3.0
    clock: Callable[[], datetime] = _utc_now
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="cards")
    )
    #: Seconds after a hangup at which the recording is looked at again: MixMonitor
    #: finishes its file when the channel is destroyed, moments after the hangup handler.
    recording_recheck_delays: tuple[float, ...] = (1.0, 3.0, 10.0)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    async def db(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work in the thread pool, off the event loop, with a deadline."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.executor, functools.partial(func, *args, **kwargs))
        return await asyncio.wait_for(work, self.db_timeout)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run follow-up work after a session ends (kept referenced until it finishes)."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def flow_settings(self) -> FlowSettings | None:
        """The published call flow, or None when none was ever readable."""
        return await self.flow.current(self.db)

    def now(self) -> datetime:
        """The current time (a function, so tests can set it)."""
        return self.clock()
