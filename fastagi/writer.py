"""The card writer: one task in the event loop that writes card changes in batches.

Routes and the AMI listener hand changes in (`submit`) and go on; the writer takes every
change waiting, up to `max_batch`, and writes them in one transaction (group commit: one
commit, one fsync of PostgreSQL's log for many calls), many calls' changes of one kind in
one statement (JournaledCards.apply_batch). Each call's changes keep the order they were
handed in. Past `max_queued` waiting, a change goes to the journal instead (with every
change after it in its batch, so a call's order holds there too).

On PostgreSQL the writer runs in the event loop on asyncpg: the card store's synchronous
steps run inside SQLAlchemy's asyncio bridge (`greenlet_spawn`), each statement an await,
so no thread shares the interpreter with the AGI sessions. SQLite (the demo) keeps the
store's own engine, in one thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from fastagi.changes import CardChange
from fastagi.journal import JournaledCards, Queued

log = logging.getLogger(__name__)

R = TypeVar("R")


def asyncpg_engine(cards: JournaledCards) -> AsyncEngine | None:
    """The writer's engine on asyncpg, for the store's PostgreSQL (None: SQLite)."""
    url = cards.store.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    # One batch at a time: one connection, and one spare for a read left to the journal.
    return create_async_engine(
        url.set(drivername="postgresql+asyncpg"), pool_size=2, max_overflow=0
    )


class CardWriter:
    """Writes the card changes handed to it, many in one transaction, in order."""

    def __init__(
        self, cards: JournaledCards, *, max_batch: int = 256, max_queued: int = 2000
    ) -> None:
        self.cards = cards
        self.max_batch = max_batch
        self.max_queued = max_queued
        self.engine = asyncpg_engine(cards)
        # SQLite: one thread, so the batches are written one after another, in order.
        self._thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-writer")
            if self.engine is None
            else None
        )
        self._waiting: deque[tuple[Queued, asyncio.Future[Any]]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._writing = 0
        self._unsettled: set[asyncio.Future[Any]] = set()

    def submit(self, change: CardChange[R]) -> asyncio.Future[R | None]:
        """Queue a change; the future gives its result, or None if journaled or failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R | None] = loop.create_future()
        too_many = len(self._waiting) + self._writing >= self.max_queued
        self._waiting.append((Queued(change, to_journal=too_many), done))
        self._unsettled.add(done)
        done.add_done_callback(self._unsettled.discard)
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._write_forever())
        assert self._wakeup is not None
        self._wakeup.set()
        return done

    async def _write(self, batch: list[Queued]) -> list[Any]:
        if self.engine is not None:
            return await greenlet_spawn(self.cards.apply_batch, batch, self.engine.sync_engine)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.cards.apply_batch, batch)

    async def _write_forever(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting:
                taken = [
                    self._waiting.popleft() for _ in range(min(len(self._waiting), self.max_batch))
                ]
                self._writing = len(taken)
                try:
                    results = await self._write([queued for queued, _ in taken])
                except Exception:
                    log.exception("a batch of %d card change(s) failed", len(taken))
                    results = [None] * len(taken)
                finally:
                    self._writing = 0
                for (queued, done), result in zip(taken, results, strict=True):
                    if isinstance(result, Exception):
                        log.error(
                            "card change %s failed: %s: %s",
                            type(queued.change).__name__,
                            type(result).__name__,
                            result,
                        )
                        result = None
                    if not done.done():
                        done.set_result(result)

    async def settled(self) -> None:
        """Wait until every change handed in so far is written (or journaled)."""
        while self._unsettled:
            await asyncio.wait(set(self._unsettled))

    async def close(self) -> None:
        """Stop the writer task (after the changes handed in so far are written)."""
        await self.settled()
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self.engine is not None:
            await self.engine.dispose()
