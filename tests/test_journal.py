"""No lost cards: PostgreSQL stops in the middle of a stream of calls, then comes back."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcards.config import load_settings
from callcards.demo import seed_demo
from fastagi.app import build_services
from fastagi.cards import Event, HangupReport, NewCall
from fastagi.changes import Answered, CardChange, EventsAdded, HoldChanged, HungUp, OpenCard
from fastagi.journal import Journal, JournaledCards, Operation
from fastagi.routes import ROUTES
from fastagi.server import FastAgiServer
from fastagi.services import AgiServices
from models import Call, CallEvent, Direction, User, migrate
from models.session import make_engine, make_session_factory, transaction
from tests.fake_asterisk import FakeChannel
from tests.private_postgres import PrivatePostgres

OPEN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday: the demo clinic is open


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this module's own, migrated and seeded, that tests stop and start."""
    server = PrivatePostgres()
    server.start()
    migrate.upgrade(server.url)
    engine = make_engine(server.url)
    with transaction(make_session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    yield server
    server.destroy()


def make_services(postgres: PrivatePostgres, journal_dir: Path) -> AgiServices:
    settings = replace(
        load_settings(
            {
                "DATABASE_URL": postgres.url,
                "RECORDINGS_DIR": str(journal_dir),
                "CALLCARDS_JOURNAL_DIR": str(journal_dir),
            }
        ),
        settings_refresh_sec=0.0,
        db_timeout=5.0,
    )
    services = build_services(settings)
    services.clock = lambda: OPEN_HOURS
    services.recording_recheck_delays = ()
    return services


@pytest.fixture
async def running(postgres: PrivatePostgres, tmp_path: Path) -> AsyncIterator[dict]:
    """A FastAGI server on the private PostgreSQL, its journal in tmp_path."""
    started: dict = {}

    async def start() -> tuple[FastAgiServer, AgiServices]:
        services = make_services(postgres, tmp_path / "journal")
        routes = {
            name: functools.partial(route, services=services) for name, route in ROUTES.items()
        }
        server = FastAgiServer(routes, host="127.0.0.1", port=0)
        await server.start()
        started.setdefault("all", []).append((server, services))
        return server, services

    started["start"] = start
    yield started
    for server, services in started.get("all", []):
        await server.stop(grace=1)
        await services.writer.close()
        services.executor.shutdown(wait=False)
    if not (postgres.data / "postmaster.pid").exists():  # a test failed mid-outage
        postgres.start()


async def full_call(server: FastAgiServer, linkedid: str) -> dict[str, str]:
    """incoming (key 1) -> answered by 101 -> caller hangs up: what the dialplan was told."""
    variables = await FakeChannel("incoming", uniqueid=linkedid, keys=["1"]).run(
        "127.0.0.1", server.port
    )
    await FakeChannel(
        "answered", uniqueid=linkedid, variables={"MEMBERINTERFACE": "PJSIP/101"}
    ).run("127.0.0.1", server.port)
    await FakeChannel("hangup", uniqueid=linkedid, dead=True).run("127.0.0.1", server.port)
    return variables


def cards(postgres: PrivatePostgres, prefix: str) -> list[Call]:
    engine = make_engine(postgres.url)
    with make_session_factory(engine)() as session:
        found = list(
            session.scalars(
                select(Call).where(Call.linkedid.like(f"{prefix}%")).order_by(Call.linkedid)
            )
        )
        for card in found:
            card.events  # noqa: B018 (load the timeline)
        operator_101 = session.scalar(select(User.id).where(User.extension == "101"))
    engine.dispose()
    for card in found:
        card.operator_is_101 = card.operator_id == operator_101  # type: ignore[attr-defined]
    return found


def assert_whole(card: Call) -> None:
    """An answered card with everything a call through the menu leaves."""
    assert (card.status, card.queue, card.ivr_path) == ("answered", "appointments", "main > 1")
    assert card.answered_at is not None and card.ended_at is not None
    assert card.operator_is_101  # type: ignore[attr-defined]
    kinds = [event.kind for event in card.events]
    for kind in ("call_started", "ivr_key", "route", "answered", "hangup"):
        assert kinds.count(kind) == 1, (kind, kinds)


async def test_calls_during_a_database_outage_all_get_their_cards_once(
    running: dict, postgres: PrivatePostgres
) -> None:
    server, services = await running["start"]()
    for n in range(3):
        await full_call(server, f"before.{n}")
    postgres.stop()
    during = [await full_call(server, f"during.{n}") for n in range(5)]
    assert services.cards.journal.active
    assert all(v["CC_ACTION"] == "queue" and v["CC_QUEUE"] == "appointments" for v in during)
    postgres.start()
    await services.db(services.cards.replay)
    assert not services.cards.journal.active
    after = cards(postgres, "during.")
    assert [card.linkedid for card in after] == [f"during.{n}" for n in range(5)]
    for card in after + cards(postgres, "before."):
        assert_whole(card)


async def test_an_id_told_before_the_outage_is_the_card_s_after_the_replay(
    running: dict, postgres: PrivatePostgres
) -> None:
    server, services = await running["start"]()
    await services.reserve_card_ids()
    await full_call(server, "ids.0")
    postgres.stop()
    # Told a reserved id; the card itself goes to the journal with it.
    told = await full_call(server, "ids.1")
    # The journal is active now: the next call waits for its card, which has none yet.
    waited = await full_call(server, "ids.2")
    assert services.cards.journal.active
    postgres.start()
    await services.db(services.cards.replay)
    await full_call(server, "ids.3")
    before, during, after_journal, after = cards(postgres, "ids.")
    assert told["CC_CARD_ID"] == str(during.id)
    assert "CC_CARD_ID" not in waited
    assert len({before.id, during.id, after_journal.id, after.id}) == 4
    for card in (before, during, after_journal, after):
        assert_whole(card)


async def test_a_server_restarted_during_the_outage_routes_from_its_saved_flow_and_replays(
    running: dict, postgres: PrivatePostgres
) -> None:
    server, _ = await running["start"]()
    await full_call(server, "warm.0")  # reads and saves the published flow
    postgres.stop()
    await server.stop(grace=1)
    restarted, services = await running["start"]()  # a new server: nothing but its disk
    variables = await full_call(restarted, "restart.0")
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "appointments")
    postgres.start()
    await services.db(services.cards.replay)
    [card] = cards(postgres, "restart.")
    assert_whole(card)


async def test_after_a_database_restart_the_next_call_is_stored_at_once(
    running: dict, postgres: PrivatePostgres
) -> None:
    server, services = await running["start"]()
    await full_call(server, "pool.0")  # the pool now holds connections to the old server
    postgres.stop()
    postgres.start()
    await full_call(server, "pool.1")
    assert not services.cards.journal.active  # a dropped connection is tried again, once
    [card] = cards(postgres, "pool.1")
    assert_whole(card)


async def test_replaying_the_same_journal_twice_changes_nothing(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    services = make_services(postgres, tmp_path / "journal")
    journal: Journal = services.cards.journal
    at = OPEN_HOURS
    new = NewCall("twice.1", "twice.1", Direction.INBOUND, at, "+79160000001", "74951234567")
    operations = [
        Operation("op-open-twice", 1, OpenCard(new, [Event("call_started", at)])),
        Operation(
            "op-hangup-twice",
            2,
            HungUp(HangupReport(call=new, ended_at=at + timedelta(seconds=30))),
        ),
    ]
    for _ in range(2):  # a crash after applying, before the journal was emptied
        for operation in operations:
            journal.append(operation)
        services.cards.replay()
    engine = make_engine(postgres.url)
    with make_session_factory(engine)() as session:
        card_count = session.scalar(select(func.count()).where(Call.linkedid == "twice.1"))
        event_count = session.scalar(
            select(func.count()).select_from(CallEvent).join(Call).where(Call.linkedid == "twice.1")
        )
    engine.dispose()
    assert (card_count, event_count) == (1, 2)


async def test_holds_heard_while_the_database_is_away_land_in_order_with_the_hangup(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    services = make_services(postgres, tmp_path / "journal")
    at = OPEN_HOURS
    new = NewCall("held.1", "held.1", Direction.INBOUND, at, "+79160000002", "74951234567")
    postgres.stop()
    try:
        # The routes' changes and the AMI listener's, as the server makes them during a call.
        services.change_card("held.1", OpenCard(new, [Event("call_started", at)]))
        services.change_card(
            "held.1",
            Answered(
                "held.1", extension="101", interface="PJSIP/101", at=at + timedelta(seconds=5)
            ),
        )
        for kind, second in (("hold", 10), ("unhold", 22), ("hold", 30)):
            services.change_card(
                "held.1",
                HoldChanged(
                    "held.1",
                    Event(kind, at + timedelta(seconds=second), {"channel": "PJSIP/101-1"}, "op.1"),
                ),
            )
        services.change_card(
            "held.1",
            HungUp(HangupReport(call=new, ended_at=at + timedelta(seconds=40), member="PJSIP/101")),
        )
        await services.settled()
        assert services.cards.journal.active
    finally:
        postgres.start()
    await services.db(services.cards.replay)
    [card] = cards(postgres, "held.")
    assert (card.status, card.talk_sec, card.hold_sec) == ("answered", 35, 22)  # 12 s + 10 s


def test_journal_lines_keep_every_type_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "cards.journal")
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    new = NewCall("a.1", "a.1", Direction.OUTBOUND, at, "101", "8495", operator_extension="101")
    journal.append(Operation("x1", 2, HungUp(HangupReport(call=new, ended_at=at))))
    journal.append(Operation("x0", 1, OpenCard(new, [])))
    with (tmp_path / "cards.journal").open("ab") as torn:
        torn.write(b'{"id": "x2", "seq": 3, "meth')  # the crash came mid-line
    operations, _ = journal.read()
    assert [operation.id for operation in operations] == ["x0", "x1"]  # in the order they happened
    assert operations[0].change == OpenCard(new, [])
    assert operations[1].change == HungUp(HangupReport(call=new, ended_at=at))


class _FlakyStore:
    """A card store whose database fails as given, then answers."""

    def __init__(self, *failures: OperationalError) -> None:
        self.failures = list(failures)
        self.applied: list[CardChange[Any]] = []

    def apply(self, change: CardChange[Any], engine: object = None) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append(change)


def _away(invalidated: bool) -> OperationalError:
    return OperationalError(
        "SELECT 1",
        {},
        Exception("server closed the connection"),
        connection_invalidated=invalidated,
    )


def test_a_change_journaled_because_the_database_is_away_is_not_also_made_at_once(
    tmp_path: Path,
) -> None:
    store = _FlakyStore(_away(invalidated=False))
    cards = JournaledCards(store, Journal(tmp_path / "cards.journal"))  # type: ignore[arg-type]
    cards.apply(EventsAdded("a.1", []))
    operations, _ = cards.journal.read()
    assert store.applied == []  # only the replay makes it, once
    assert [operation.change for operation in operations] == [EventsAdded("a.1", [])]


def test_a_connection_the_database_dropped_is_tried_once_more_before_the_journal(
    tmp_path: Path,
) -> None:
    store = _FlakyStore(_away(invalidated=True))
    cards = JournaledCards(store, Journal(tmp_path / "cards.journal"))  # type: ignore[arg-type]
    cards.apply(EventsAdded("a.1", []))
    assert store.applied == [EventsAdded("a.1", [])]
    assert cards.journal.read()[0] == []
