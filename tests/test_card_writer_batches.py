"""The card writer on PostgreSQL: many calls' changes in one transaction, one statement for
each kind of change, each call's changes in order, a bad change left out alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from fastagi.cards import CardStore, Event, HangupReport, NewCall
from fastagi.changes import Answered, CardChange, HungUp, OpenCard, Ringing, RouteDecided
from fastagi.journal import Journal, JournaledCards
from fastagi.writer import CardWriter
from models import Call, Direction, Status
from recordings import RecordingStore

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CALLS = 40


def new_call(linkedid: str) -> NewCall:
    return NewCall(linkedid, linkedid, Direction.INBOUND, T0, "+79161234567", "74951234567")


def call_life(linkedid: str) -> list[CardChange[Any]]:
    """The changes of an answered call, as the routes hand them in."""
    at = T0 + timedelta(seconds=5)
    return [
        OpenCard(new_call(linkedid), [Event("call_started", T0)]),
        RouteDecided(
            linkedid,
            "appointments",
            "main > 1",
            None,
            None,
            [Event("queue_entered", at)],
            queue_entered_at=at,
        ),
        Ringing(linkedid, "101", f"PJSIP/101-{linkedid}", at + timedelta(seconds=2)),
        Answered(linkedid, "101", "PJSIP/101", at + timedelta(seconds=4)),
        HungUp(HangupReport(call=new_call(linkedid), ended_at=at + timedelta(seconds=60))),
    ]


class Statements:
    """The statements and commits the writer's connection sent."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.commits = 0

    def executed(self, _c: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        self.sql.append(" ".join(sql.split()))

    def committed(self, _connection: Any) -> None:
        self.commits += 1


@pytest.fixture
def writer(sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[CardWriter]:
    store = CardStore(sessions, RecordingStore(tmp_path))
    yield CardWriter(JournaledCards(store, Journal(tmp_path / "cards.journal")))


@pytest.fixture
def statements(writer: CardWriter) -> Iterator[Statements]:
    assert writer.engine is not None  # PostgreSQL: the writer's own asyncpg engine
    seen = Statements()
    engine = writer.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen.executed)
    event.listen(engine, "commit", seen.committed)
    yield seen
    event.remove(engine, "before_cursor_execute", seen.executed)
    event.remove(engine, "commit", seen.committed)


def cards(sessions: sessionmaker[Session], prefix: str) -> dict[str, Call]:
    with sessions() as session:
        found = session.scalars(
            select(Call).where(Call.linkedid.like(f"{prefix}%")).options(selectinload(Call.events))
        ).all()
        return {card.linkedid: card for card in found}


async def test_many_calls_whole_lives_go_in_one_transaction_one_statement_per_kind(
    writer: CardWriter, statements: Statements, sessions: sessionmaker[Session]
) -> None:
    # Every call's five changes handed in before the writer runs: one batch.
    lives = [call_life(f"batch.{n}") for n in range(CALLS)]
    done = [writer.submit(change) for life in lives for change in life]
    results = await asyncio.gather(*done)
    await writer.close()

    assert statements.commits == 1
    new_cards = [sql for sql in statements.sql if sql.startswith("INSERT INTO calls ")]
    assert len(new_cards) == 1 and "unnest(" in new_cards[0]
    routes = [sql for sql in statements.sql if "SET queue=coalesce(v.new_queue" in sql]
    assert len(routes) == 1 and "FROM unnest(" in routes[0]
    entries = [sql for sql in statements.sql if sql.startswith("INSERT INTO call_events ")]
    assert len(entries) == 5 and all("unnest(" in sql for sql in entries)  # one per round
    # 200 changes in a few dozen statements at most (not 13 a call).
    assert len(statements.sql) <= 25, statements.sql
    assert all(results[n * 5 + 2] is True for n in range(CALLS))  # each rang before its answer
    landed = cards(sessions, "batch.")
    assert len(landed) == CALLS
    for card in landed.values():
        assert (card.status, card.queue, card.ivr_path) == ("answered", "appointments", "main > 1")
        assert (card.wait_sec, card.talk_sec, card.duration_sec) == (4, 56, 65)
        assert [entry.kind for entry in sorted(card.events, key=lambda e: e.id)] == [
            "call_started",
            "queue_entered",
            "operator_rang",
            "answered",
            "hangup",
        ]


async def test_each_call_keeps_the_order_its_changes_were_handed_in(
    writer: CardWriter, sessions: sessionmaker[Session]
) -> None:
    # Half the calls are answered before their phone's ringing is reported: that ringing
    # must find the card answered (written after the answer), the others before it.
    done = []
    for n in range(CALLS):
        opened, routed, rang, answered, hung_up = call_life(f"order.{n}")
        steps = [opened, routed, answered, rang] if n % 2 else [opened, routed, rang, answered]
        done.append([writer.submit(change) for change in steps])
    results = [await asyncio.gather(*steps) for steps in done]
    await writer.close()

    for n, (_, _, *rest) in enumerate(results):
        rang = rest[1] if n % 2 else rest[0]
        assert rang is (n % 2 == 0)
    landed = cards(sessions, "order.")
    for n in range(CALLS):
        card = landed[f"order.{n}"]
        assert card.status == Status.ANSWERED
        assert (card.ringing_at is None) is (n % 2 == 1)


async def test_one_bad_change_does_not_sink_the_other_calls_changes(
    writer: CardWriter, statements: Statements, sessions: sessionmaker[Session]
) -> None:
    lives = [call_life(f"bad.{n}") for n in range(CALLS)]
    # One call's route names a queue too long for its column: PostgreSQL refuses the
    # whole multi-row UPDATE; another call's answer is for a card that does not exist.
    lives[7][1] = RouteDecided("bad.7", "q" * 100, None, None, None, [])
    lives[9][3] = Answered("bad.no-such-call", "101", "PJSIP/101", T0)
    done = [writer.submit(change) for life in lives for change in life]
    results = await asyncio.gather(*done)
    await writer.close()

    assert results[7 * 5 + 1] is None and results[9 * 5 + 3] is None
    landed = cards(sessions, "bad.")
    assert len(landed) == CALLS
    for n, card in landed.items():
        if n == "bad.7":
            assert card.queue is None and card.status == Status.ANSWERED
        elif n == "bad.9":
            assert card.status == Status.ABANDONED  # never answered: hung up in the queue
        else:
            assert (card.status, card.queue, card.talk_sec) == ("answered", "appointments", 56)
    # Still a handful of transactions: the good changes went again together.
    assert statements.commits == 1
    assert not writer.cards.journal.active
