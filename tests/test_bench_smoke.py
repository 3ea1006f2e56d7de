"""The benchmarks' smallest runs: their code works and their figures add up (never how fast)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bench import report
from bench.agi_bench import NODB, NULL, OURS, THREADS, run_agi_bench
from bench.agi_client import Channel, run_session, split_command
from bench.card_store_cost import measure_card_store
from bench.database import bench_flow
from bench.null_server import NullSession
from bench.site_history import run_site_bench
from callcards.config import load_settings
from dialplan.demo import demo_document
from fastagi.app import build_services
from fastagi.routes import ROUTES
from fastagi.server import FastAgiServer
from models.flow import publish, replace_document
from models.session import transaction

# Tuesday 2026-11-24 12:00 Moscow: the demo clinic is open.
OPEN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
COMMAND_LINES = [
    'GET FULL VARIABLE "${CHANNEL(linkedid)}"',
    'GET DATA "hello" "3000" "1"',
    'SET VARIABLE "CC_MESSAGE" "say \\"hi\\" \\\\ bye"',
    'SET VARIABLE "CC_EMPTY" ""',
    "GET VARIABLE MEMBERINTERFACE",
    'STREAM FILE "im-sorry" ""',
    "ANSWER",
    "NOOP",
    "SAY ALPHA abc",
]
#: One answered call and one caller leaving in the menu (every 10th call of a run).
CALLS, ABANDONED = 10, 1
SESSIONS = (CALLS - ABANDONED) * 3 + ABANDONED * 2
COMMANDS = (CALLS - ABANDONED) * (2 + 3 + 11) + ABANDONED * (1 + 11)


def _quiet(_line: str) -> None:
    """Swallow the benchmarks' progress lines."""


def test_the_channel_splits_command_lines_as_res_agi_does() -> None:
    assert [split_command(line) for line in COMMAND_LINES] == [
        ["GET", "FULL", "VARIABLE", "${CHANNEL(linkedid)}"],
        ["GET", "DATA", "hello", "3000", "1"],
        ["SET", "VARIABLE", "CC_MESSAGE", 'say "hi" \\ bye'],
        ["SET", "VARIABLE", "CC_EMPTY", ""],
        ["GET", "VARIABLE", "MEMBERINTERFACE"],
        ["STREAM", "FILE", "im-sorry", ""],
        ["ANSWER"],
        ["NOOP"],
        ["SAY", "ALPHA", "abc"],
    ]


def test_the_channel_answers_each_command_as_asterisk_does() -> None:
    channel = Channel(
        "transfer",
        "u.1",
        variables={"MEMBERINTERFACE": "PJSIP/101"},
        keys=["1", None],
        args=["reception"],
    )
    replies = [channel.reply(split_command(line)) for line in COMMAND_LINES]
    assert replies == [
        ["200 result=1 (u.1)"],
        ["200 result=1"],
        ["200 result=1"],
        ["200 result=1"],
        ["200 result=1 (PJSIP/101)"],
        ["200 result=0 endpos=8000"],
        ["200 result=0"],
        ["200 result=1"],
        ["510 Invalid or unknown command"],
    ]
    assert channel.reply(split_command('GET DATA "hello" "3000" "1"')) == ["200 result= (timeout)"]
    assert channel.variables["CC_MESSAGE"] == 'say "hi" \\ bye'
    headers = [line.decode() for line in channel.header_lines()]
    assert headers[1] == "agi_network_script: transfer\n" and headers[-2:] == [
        "agi_arg_1: reception\n",
        "\n",
    ]


def test_a_caller_leaving_in_the_menu_gets_hangup_then_minus_one() -> None:
    channel = Channel("incoming", "u.2", hang_up_at_get_data=0)
    assert channel.reply(split_command('GET DATA "hello" "3000" "1"')) == [
        "HANGUP",
        "200 result=-1",
    ]
    assert channel.reply(split_command('STREAM FILE "x" ""'))[0].startswith("511")


@pytest.fixture
async def our_server(
    database_url: str, sessions: Any, tmp_path: Path
) -> AsyncIterator[FastAgiServer]:
    """Our FastAGI server in-process on the test database, its clock in open hours."""
    settings = replace(
        load_settings(
            {
                "DATABASE_URL": database_url,
                "RECORDINGS_DIR": str(tmp_path),
                "CALLCARDS_JOURNAL_DIR": str(tmp_path / "journal"),
            }
        ),
        settings_refresh_sec=0.0,
    )
    services = build_services(settings)
    services.clock = lambda: OPEN_HOURS
    routes = {name: functools.partial(route, services=services) for name, route in ROUTES.items()}
    server = FastAgiServer(routes, host="127.0.0.1", port=0)
    await server.start()
    yield server
    await server.stop(grace=1)
    await services.writer.close()
    services.executor.shutdown(wait=True)


async def _commands_of_a_call(port: int, uniqueid: str, abandon: bool) -> list[list[str]]:
    """Every command a server sends for one call (incoming, answered, hangup)."""
    seen: list[list[str]] = []
    incoming = Channel(
        "incoming", uniqueid, keys=["1"], commands=seen, hang_up_at_get_data=0 if abandon else None
    )
    await run_session(incoming, "127.0.0.1", port)
    variables = {}
    if not abandon:
        answered = Channel(
            "answered",
            uniqueid,
            commands=seen,
            variables={**incoming.variables, "MEMBERINTERFACE": "PJSIP/101"},
        )
        await run_session(answered, "127.0.0.1", port)
        variables = {**answered.variables, "CC_QUEUE_ENTERED": "1"}
    hangup = Channel("hangup", uniqueid, dead=True, commands=seen, variables=variables)
    await run_session(hangup, "127.0.0.1", port)
    return seen


@pytest.mark.parametrize("abandon", [False, True])
async def test_null_server_asks_what_our_server_asks(
    our_server: FastAgiServer, abandon: bool
) -> None:
    null = await asyncio.get_running_loop().create_server(NullSession, "127.0.0.1", 0)
    null_port = null.sockets[0].getsockname()[1]
    try:
        ours = await _commands_of_a_call(our_server.port, f"smoke.{abandon:d}", abandon)
        theirs = await _commands_of_a_call(null_port, f"smoke.{abandon:d}", abandon)
    finally:
        null.close()
        await null.wait_closed()

    def shape(commands: list[list[str]]) -> list[tuple[str, ...]]:
        # Values differ (card ids); what is asked, of which variable, must not.
        return [
            tuple(words[:4])
            if words[0] == "GET"
            else ("EXEC", words[1], *(pair.partition("=")[0] for pair in words[2].split(",")))
            if words[0] == "EXEC"
            else tuple(words[:3])
            for words in commands
        ]

    assert shape(theirs) == shape(ours)
    assert len(ours) == (1 + 11 if abandon else 2 + 3 + 11)


def test_agi_bench_counts_every_call_of_its_smallest_run(tmp_path: Path) -> None:
    result = run_agi_bench(
        [2],
        duration=120,
        warmup=0.2,
        max_calls=CALLS,
        database=f"callcards_bench_smoke_agi_{os.getpid()}",
        log=_quiet,
    )
    for server in (OURS, NODB, THREADS, NULL):
        run = result.of(server, 2)
        assert run is not None, server
        load = run.load
        assert (load.lifecycles, load.failed, load.errors) == (CALLS, 0, []), server
        assert (load.sessions, load.commands) == (SESSIONS, COMMANDS), server
        assert load.lifecycles_per_sec > 0 and load.seconds > 0
        assert 0 < load.session_p50_ms <= load.session_p99_ms
        assert 0 < load.command_p50_ms <= load.command_p99_ms
        assert run.server_cpu_sec >= 0 and run.postgres_cpu_sec >= 0
        assert load.incoming_p99_ms > 0 and load.calls == CALLS
    cards = result.of(OURS, 2).cards  # type: ignore[union-attr]
    assert cards is not None and (cards.calls, cards.closed, cards.correct) == (CALLS, CALLS, CALLS)
    assert cards.late_sec is not None
    costs = measure_card_store(5, database=f"callcards_bench_smoke_cards_{os.getpid()}", rounds=1)
    assert [cost.variant for cost in costs] == ["card store", "plain SQL"]
    assert all(cost.cpu_ms > 0 and cost.statements > 0 and cost.wall_ms > 0 for cost in costs)
    block = report.agi_block(result, "callcards bench agi --quick", "now", costs)
    assert OURS in block and "vs null" in block and "100%" in block and "plain SQL" in block
    assert f"{CALLS} of {CALLS} cards closed and correct" in block
    document = tmp_path / "benchmarks.md"
    report.update_document(document, {"agi": block})
    assert block in document.read_text() and "<!-- /bench:site -->" in document.read_text()


def test_site_bench_times_every_page_and_exports_every_card() -> None:
    result = run_site_bench(
        2000,
        repeats=1,
        database=f"callcards_bench_smoke_site_{os.getpid()}",
        floor=(1, 3),
        floor_sec=2.0,
        log=_quiet,
    )
    assert result.cards == 2000 and result.events > result.cards
    assert result.group("list") and result.group("report")
    assert all(len(timing.ms) == 1 and timing.ms[0] > 0 for timing in result.timings)
    export = result.export
    assert export is not None
    assert export.rows == result.cards and export.bytes > 0 and export.seconds > 0
    assert 0 < export.rss_before_mb <= export.peak_rss_mb
    assert any("ix_calls_started_at" in index for index in result.indexes)
    block = report.site_block(result, "callcards bench site --quick", "now", "0 / 0 / 0")
    assert "calls list p95" in block and "export peak memory" in block
    assert "each report < 500 ms, a year" in block
    assert {timing.name for timing in result.baseline} == {t.name for t in result.timings}
    assert any("ix_call_events_rang_at" in index for index in result.indexes)
    assert result.rolled_up_sec > 0 and "rolled up" in block
    assert result.floor is not None
    assert [level.operators for level in result.floor.levels] == [1, 3]
    for level in result.floor.levels:
        assert level.errors == [] and level.polls_ms and level.reports_ms
        # Every ring is either on its operator's screen or counted as not shown.
        assert level.rings > 0 and len(level.ring_ms) + level.rings_not_shown == level.rings
        assert level.ring_ms
    assert "ring to screen" in block and "card on screen < 2 s after the ring, 3 operators" in block


@pytest.fixture
def bench_flow_published(engine: Any) -> Iterator[None]:
    """The test database routes by the bench flow (a DID straight to a queue), then the demo's."""
    factory: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
    with transaction(factory) as session:
        replace_document(session, bench_flow())
        publish(session, user_id=None, comment="test: bench flow")
    yield
    with transaction(factory) as session:
        replace_document(session, demo_document())
        publish(session, user_id=None, comment="test: demo flow back")


@pytest.mark.asterisk
async def test_asterisk_setup_times_both_routes_of_one_call(
    asterisk_sandbox: Any, agi_server: Any, bench_flow_published: None
) -> None:
    from bench.asterisk_setup import PLAIN, ROUTED, measure_setup
    from tests.asterisk_driver import AsteriskDriver

    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        result = await measure_setup(driver, 1, _quiet, warmup_calls=0)
    assert result.failed == 0
    for kind in (ROUTED, PLAIN):
        assert len(result.setup_ms[kind]) == 1 and result.setup_ms[kind][0] > 0, kind
        assert result.route_ms[kind][0] >= 0
    assert result.setup_ms[ROUTED][0] >= result.route_ms[ROUTED][0]
    assert "Asterisk 22" in result.asterisk_version
