"""The card writer: one task in the event loop that writes card changes in batches.

Routes and the AMI listener hand changes in (`submit`) and go on; the writer takes every
change waiting, up to `max_batch`, and writes them in one transaction (group commit: one
commit, one fsync of PostgreSQL's log for many calls). Changes are written in the order
they were handed in, so each call's changes keep their order. Past `max_queued` waiting,
a change goes to the journal instead (with every change after it in its batch, so a
call's order holds there too).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastagi.changes import CardChange
from fastagi.journal import JournaledCards, Queued

log = logging.getLogger(__name__)

R = TypeVar("R")


class CardWriter:
    """Writes the card changes handed to it, many in one transaction, in order."""

    def __init__(
        self, cards: JournaledCards, *, max_batch: int = 256, max_queued: int = 2000
    ) -> None:
        self.cards = cards
        self.max_batch = max_batch
        self.max_queued = max_queued
        # One thread: the batches are written one after another, in order.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-writer")
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

    async def _write_forever(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting:
                taken = [
                    self._waiting.popleft() for _ in range(min(len(self._waiting), self.max_batch))
                ]
                self._writing = len(taken)
                try:
                    results = await loop.run_in_executor(
                        self._thread, self.cards.apply_batch, [queued for queued, _ in taken]
                    )
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
        self._thread.shutdown(wait=True)
