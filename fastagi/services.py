"""What the AGI routes share: the card store, the published call flow, a clock.

Card changes (fastagi.changes) go through `change_card` to the card writer, which writes
them in batches in the order the routes made them (a step left behind by a call that
stopped waiting still comes before that call's next one); past `max_queued` waiting they
go straight to the journal instead of piling up, and a route waits for one at most
`db_timeout` seconds. Calls that stopped waiting are logged as a summary
at most once a second, not one traceback per call.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards import metrics
from callcards.config import DEFAULT_OUTBOUND_NUMBERS
from dialplan.numbers import Pattern, read_patterns
from dialplan.settings import FlowSettings
from fastagi.changes import CardChange
from fastagi.journal import DATABASE_AWAY, JournaledCards
from fastagi.writer import CardWriter
from models import FlowVersion

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FlowCache:
    """The newest published call flow, re-read when an admin publishes a new version.

    A failed read keeps the last good copy, so calls go on being routed while the
    database is away; the copy is also kept on disk (`saved_copy`), so a server started
    during an outage routes by it too. With no copy at all, calls go to the default queue.
    """

    def __init__(
        self, sessions: sessionmaker[Session], refresh_sec: float, saved_copy: Path | None = None
    ) -> None:
        self._sessions = sessions
        self._refresh_sec = refresh_sec
        self._saved_copy = saved_copy
        self._settings: FlowSettings | None = None
        self._version_id: int | None = None
        self._load_saved_copy()
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def version_id(self) -> int | None:
        """The id of the published version in use, if any."""
        return self._version_id

    async def current(self, run: Callable[..., Awaitable[Any]]) -> FlowSettings | None:
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
        self._save_copy(newest, document or {})
        log.info("routing calls by published call flow version %s", newest)

    def _save_copy(self, version_id: int, document: dict[str, Any]) -> None:
        if self._saved_copy is None:
            return
        try:
            self._saved_copy.parent.mkdir(parents=True, exist_ok=True)
            spare = self._saved_copy.with_suffix(".tmp")
            spare.write_text(json.dumps({"version": version_id, "document": document}))
            os.replace(spare, self._saved_copy)  # atomic: a crash leaves the old copy whole
        except OSError:
            log.exception("could not keep a copy of the call flow on disk")

    def _load_saved_copy(self) -> None:
        if self._saved_copy is None or not self._saved_copy.exists():
            return
        try:
            saved = json.loads(self._saved_copy.read_text())
            self._settings = FlowSettings.from_document(saved["document"])
            self._version_id = int(saved["version"])
            log.info("starting with the saved copy of call flow version %s", self._version_id)
        except (OSError, ValueError, KeyError):
            log.exception("the saved copy of the call flow is unreadable; ignoring it")


class TimeoutSummary:
    """Counts the card changes calls stopped waiting for; logs them at most once a second."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.counts: Counter[str] = Counter()
        self._due = False

    def note(self, what: str, timeout: float) -> None:
        """One call went on without `what` after `timeout` seconds."""
        self.counts[what] += 1
        if not self._due:
            self._due = True
            asyncio.get_running_loop().call_later(self.every, self._log, timeout)

    def _log(self, timeout: float) -> None:
        self._due = False
        kinds = ", ".join(f"{what}: {count}" for what, count in self.counts.most_common())
        log.warning(
            "%d call(s) went on without a card change after %.1f s (%s); the "
            "changes land late, in order, or through the journal",
            sum(self.counts.values()),
            timeout,
            kinds,
        )
        self.counts.clear()


@dataclass
class AgiServices:
    """Dependencies of the AGI routes, built once per server."""

    cards: JournaledCards
    flow: FlowCache
    default_queue: str = "reception"
    #: The numbers an operator may dial out (CALLCARDS_OUTBOUND_NUMBERS, dialplan/numbers.py).
    outbound_numbers: tuple[Pattern, ...] = field(
        default_factory=lambda: read_patterns(DEFAULT_OUTBOUND_NUMBERS)
    )
    #: Seconds a call waits for one piece of database work before it goes on without it;
    #: Asterisk has no read timeout for AGI, so a stuck database would hold the caller.
    db_timeout: float = 3.0
    clock: Callable[[], datetime] = _utc_now
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="cards")
    )
    #: Seconds after a hangup at which the recording is looked at again: MixMonitor
    #: finishes its file when the channel is destroyed, moments after the hangup handler.
    recording_recheck_delays: tuple[float, ...] = (1.0, 3.0, 10.0)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Writes card changes in batches (built from `cards`).
    writer: CardWriter = field(init=False)
    timeouts: TimeoutSummary = field(default_factory=TimeoutSummary)
    #: Card ids reserved from the sequence at a time (PostgreSQL); more are reserved in
    #: the pool's threads once half of them are used.
    reserve_block: int = 100
    _card_ids: deque[int] = field(default_factory=deque)
    _reserving: bool = False
    _reserve_after: float = float("-inf")

    def __post_init__(self) -> None:
        self.writer = CardWriter(self.cards)

    @property
    def max_queued(self) -> int:
        """Card changes waiting for the writer past which new ones go to the journal."""
        return self.writer.max_queued

    @max_queued.setter
    def max_queued(self, count: int) -> None:
        self.writer.max_queued = count

    def reserved_card_id(self) -> int | None:
        """An id for a card not yet written, or None: SQLite, journal active, none at hand.

        Never waits for the database: ids run short, more are reserved in the background.
        """
        if not self.cards.store.reserves_ids or self.cards.journal.active:
            return None
        card_id = self._card_ids.popleft() if self._card_ids else None
        if len(self._card_ids) < self.reserve_block // 2:
            self._reserve_more()
        return card_id

    async def reserve_card_ids(self) -> None:
        """Reserve a block of card ids now (at start, so that the first calls have some)."""
        if self.cards.store.reserves_ids:
            self._card_ids.extend(await self.db(self.cards.reserve_ids, self.reserve_block))

    def _reserve_more(self) -> None:
        """Reserve another block of card ids in the pool, unless one is on its way."""
        if self._reserving or time.monotonic() < self._reserve_after:
            return
        self._reserving = True
        work = asyncio.get_running_loop().run_in_executor(
            self.executor, self.cards.reserve_ids, self.reserve_block
        )

        def reserved(done: asyncio.Future[list[int]]) -> None:
            self._reserving = False
            try:
                self._card_ids.extend(done.result())
            except Exception as error:
                # The database is away: calls wait for their cards as before; retry later.
                log.warning(
                    "could not reserve card ids (%s); trying again in 1 s", type(error).__name__
                )
                self._reserve_after = time.monotonic() + 1.0

        work.add_done_callback(reserved)

    async def db(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work in the thread pool, off the event loop, with a deadline."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.executor, functools.partial(func, *args, **kwargs))
        with metrics.DB_STEP.time():
            return await asyncio.wait_for(work, self.db_timeout)

    def change_card(self, linkedid: str, change: CardChange[R]) -> asyncio.Future[R | None]:
        """Hand a change of call `linkedid`'s card to the writer, after the call's earlier ones.

        It lands even if the call stops waiting for it. The future gives the change's
        result, or None if it was journaled or failed (logged).
        """
        del linkedid  # the writer keeps every change in order: a call's too
        return self.writer.submit(change)

    async def in_time(self, what: str, change: Awaitable[T]) -> T | None:
        """The change's result, or None if it takes more than db_timeout (it still lands)."""
        try:
            return await asyncio.wait_for(asyncio.shield(change), self.db_timeout)
        except TimeoutError:
            self.timeouts.note(what, self.db_timeout)
            return None

    async def card(self, what: str, linkedid: str, change: CardChange[R]) -> R | None:
        """Make one card change of a call and wait for it at most db_timeout seconds."""
        done = self.change_card(linkedid, change)
        return await self.in_time(what, done)

    async def settled(self) -> None:
        """Wait until every card change started so far has landed (or been journaled)."""
        await self.writer.settled()

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run follow-up work after a session ends (kept referenced until it finishes)."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def replay_journal_forever(self, every: float = 1.0) -> None:
        """Apply journaled card changes as soon as the database answers again."""
        while True:
            if self.cards.journal.active:
                try:  # no deadline: a long journal takes as long as it takes
                    await asyncio.get_running_loop().run_in_executor(
                        self.executor, self.cards.replay
                    )
                except DATABASE_AWAY:
                    log.debug(
                        "database still away; %s keeps the card changes", self.cards.journal.path
                    )
                except Exception:
                    log.exception("journal replay failed; trying again")
            await asyncio.sleep(every)

    async def flow_settings(self) -> FlowSettings | None:
        """The published call flow, or None when none was ever readable."""
        return await self.flow.current(self.db)

    def now(self) -> datetime:
        """The current time (a function, so tests can set it)."""
        return self.clock()
