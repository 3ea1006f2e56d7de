"""Our FastAGI server with a card store that writes nothing: the protocol layer's own cost.

The routes, the server, the call flow and the writer's batches (in the event loop) are the
real ones (fastagi.app's wiring); only the card store answers at once without a database.
Against the full server this splits a call's cost between the FastAGI layer and the card
writes. Run as `python -m bench.nodb_server --listen 127.0.0.1:PORT` with DATABASE_URL
(the call flow is still read from it) and CALLCARDS_JOURNAL_DIR set.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import make_url

from callcards.config import load_settings
from fastagi.app import build_services, server_for
from fastagi.cards import CardRef
from fastagi.changes import CardChange, HoldChanged, HungUp, OpenCard, RecordingChecked, Ringing
from fastagi.journal import Queued
from fastagi.writer import CardWriter


class NoCards:
    """The journaled card store's batch, doing nothing (the journal is never active).

    Card ids are reserved from a counter, as the real store reserves them from the
    sequence, so the routes take the same path; each card is remembered until its hangup.
    """

    journal = SimpleNamespace(active=False)
    # A PostgreSQL URL, never connected to: the writer takes its asyncpg path, in the loop.
    store = SimpleNamespace(
        reserves_ids=True, engine=SimpleNamespace(url=make_url("postgresql://nocards@127.0.0.1/"))
    )

    def __init__(self) -> None:
        self._next_id = itertools.count(1)
        self._ids: dict[str, int] = {}

    def reserve_ids(self, count: int) -> list[int]:
        """Ids from the counter."""
        return [next(self._next_id) for _ in range(count)]

    def apply_batch(self, batch: Sequence[Queued], engine: Any = None) -> list[Any]:
        """What each change would give, written nowhere."""
        return [self._answer(queued.change) for queued in batch]

    def _answer(self, change: CardChange[Any]) -> Any:
        if isinstance(change, OpenCard):
            new = change.new
            card_id = self._ids.setdefault(new.linkedid, change.card_id or next(self._next_id))
            return CardRef(
                id=card_id, linkedid=new.linkedid, created=True, recording_path=new.recording_path
            )
        if isinstance(change, HungUp):
            # A closed card whose recording is already there (no re-checks follow).
            card_id = self._ids.pop(change.report.call.linkedid, 0) or next(self._next_id)
            return SimpleNamespace(id=card_id, recording_state="ok")
        if isinstance(change, RecordingChecked):
            return "ok"
        return True if isinstance(change, Ringing | HoldChanged) else None


async def serve(listen: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    settings = load_settings()
    services = build_services(settings)
    services.cards = NoCards()  # type: ignore[assignment]
    services.writer = CardWriter(services.cards)
    server = server_for(services, settings, listen)
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop(grace=5)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.nodb_server --listen HOST:PORT`."""
    parser = argparse.ArgumentParser(prog="python -m bench.nodb_server", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:4576")
    asyncio.run(serve(parser.parse_args(argv).listen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
