"""`callcards agi` as production runs it loses its PostgreSQL mid-calls and gets it back: the
server's own background replay (no test calls `replay`) lands every card once and whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from callcards.demo import seed_demo
from models import Call, User, migrate
from models.session import make_engine, make_session_factory, transaction
from tests.agi_process import AgiProcess, free_port
from tests.conftest import ARTIFACTS, set_override
from tests.fake_asterisk import FakeChannel
from tests.private_postgres import PrivatePostgres
from tests.waiting import DEADLINE, eventually


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test's own, migrated, seeded, the clinic open, that it stops."""
    server = PrivatePostgres()
    server.start()
    try:
        migrate.upgrade(server.url)
        engine = make_engine(server.url)
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session)
        set_override(make_session_factory(engine), "open")
        engine.dispose()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def agi(postgres: PrivatePostgres, tmp_path: Path) -> Iterator[AgiProcess]:
    """`callcards agi` on the private PostgreSQL, its journal under artifacts/."""
    log = ARTIFACTS / "callcards-agi-outage.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = AgiProcess(postgres.url, tmp_path, free_port(), log)
    server.start()
    yield server
    server.stop()


async def full_call(port: int, linkedid: str) -> dict[str, str]:
    """incoming (key 1) -> answered by 101 -> caller hangs up: what the dialplan was told."""
    variables = await FakeChannel("incoming", uniqueid=linkedid, keys=["1"]).run(
        "127.0.0.1", port, timeout=DEADLINE
    )
    await FakeChannel(
        "answered", uniqueid=linkedid, variables={"MEMBERINTERFACE": "PJSIP/101"}
    ).run("127.0.0.1", port, timeout=DEADLINE)
    await FakeChannel("hangup", uniqueid=linkedid, dead=True).run(
        "127.0.0.1", port, timeout=DEADLINE
    )
    return variables


def cards_of(sessions: sessionmaker[Session], prefix: str) -> list[Call]:
    """The cards whose linkedid starts with `prefix`, with their timelines."""
    with sessions() as session:
        return list(
            session.scalars(
                select(Call)
                .options(selectinload(Call.events))
                .where(Call.linkedid.like(f"{prefix}%"))
                .order_by(Call.linkedid)
            )
        )


def whole(card: Call, operator_101: int) -> bool:
    """An answered card with every step of a call through the menu, each once."""
    kinds = [event.kind for event in card.events]
    return (
        (card.status, card.queue, card.ivr_path) == ("answered", "appointments", "main > 1")
        and card.operator_id == operator_101
        and card.answered_at is not None
        and card.ended_at is not None
        and card.talk_sec is not None
        and all(
            kinds.count(kind) == 1
            for kind in ("call_started", "ivr_key", "route", "answered", "hangup")
        )
    )


async def test_cards_of_calls_made_while_the_database_was_away_land_by_themselves(
    postgres: PrivatePostgres, agi: AgiProcess
) -> None:
    for n in range(2):
        await full_call(agi.port, f"before.{n}")
    postgres.stop()
    try:
        during = [await full_call(agi.port, f"during.{n}") for n in range(4)]
        # Routing went on from the saved call flow while the cards waited in the journal.
        assert all(
            (told["CC_ACTION"], told["CC_QUEUE"]) == ("queue", "appointments") for told in during
        )
    finally:
        postgres.start()
    engine = make_engine(postgres.url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            operator_101 = session.scalar(select(User.id).where(User.extension == "101"))
        assert operator_101 is not None

        def landed() -> bool:
            cards = cards_of(sessions, "during.")
            return len(cards) == 4 and all(whole(card, operator_101) for card in cards)

        # Nobody calls replay: the server's own loop must notice the database is back.
        await eventually(
            landed, timeout=3 * DEADLINE, what="the journaled cards landing", every=0.2
        )
        cards = cards_of(sessions, "during.") + cards_of(sessions, "before.")
        assert [card.linkedid for card in cards] == [
            *(f"during.{n}" for n in range(4)),
            *(f"before.{n}" for n in range(2)),
        ]
        assert all(whole(card, operator_101) for card in cards)
        with sessions() as session:
            assert session.scalar(select(func.count(Call.id))) == 6  # once each, no double
        # A call after the return is stored at once, beside the replayed ones.
        await full_call(agi.port, "after.0")
        [after] = cards_of(sessions, "after.")
        assert whole(after, operator_101)
    finally:
        engine.dispose()
