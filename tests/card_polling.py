"""Waiting for the card a real call leaves in PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models import Call


def closed(card: Call) -> bool:
    return card.ended_at is not None


async def wait_card(
    sessions: sessionmaker[Session],
    linkedid: str,
    done: Callable[[Call], bool] = closed,
    timeout: float = 20.0,
) -> Call:
    """Poll the database until the call's card satisfies `done`; the card with its timeline.

    Each look reads the card and its timeline from one REPEATABLE READ snapshot. The server
    commits a column and its timeline entry together (a message left sets needs_callback);
    two READ COMMITTED statements could see the entry and not the column.
    """
    deadline = time.monotonic() + timeout
    card = None
    while time.monotonic() < deadline:
        with sessions() as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            card = session.scalar(
                select(Call).options(selectinload(Call.events)).where(Call.linkedid == linkedid)
            )
            if card is not None and done(card):
                return card
        await asyncio.sleep(0.1)
    raise AssertionError(f"card of {linkedid} not as expected in {timeout} s: {card!r}")
