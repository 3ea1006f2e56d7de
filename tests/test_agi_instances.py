"""`callcards agi` as production runs it: SIGTERM lets calls finish; instances side by side."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Call
from tests.agi_process import AgiProcess, free_port
from tests.card_polling import wait_card
from tests.conftest import ARTIFACTS
from tests.fake_asterisk import FakeChannel
from tests.waiting import DEADLINE, eventually


def accepting(port: int) -> bool:
    """Whether something listens on the loopback port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def start_agi(database_url: str, tmp_path: Path, open_clinic: None) -> Iterator:
    """Start `callcards agi` processes on the test database; all stopped afterwards."""
    started: list[AgiProcess] = []

    def start() -> AgiProcess:
        log = ARTIFACTS / f"callcards-agi-{len(started)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = AgiProcess(database_url, tmp_path, free_port(), log)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def test_sigterm_lets_the_call_in_progress_finish_and_refuses_new_ones(
    start_agi, sessions
) -> None:
    server = start_agi()
    # The caller is in the menu, and presses a key only after the server was told to stop.
    at_menu, key_when = asyncio.Event(), asyncio.Event()
    slow = FakeChannel(
        "incoming", uniqueid="term.1", keys=["1"], at_menu=at_menu, key_when=key_when
    )
    call = asyncio.create_task(slow.run("127.0.0.1", server.port, timeout=DEADLINE))
    await asyncio.wait_for(at_menu.wait(), DEADLINE)
    server.terminate()
    await eventually(lambda: not accepting(server.port), what="the listener closing")
    key_when.set()
    variables = await call
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "appointments")
    assert await asyncio.to_thread(server.wait, 20) == 0
    with sessions() as session:
        card = session.scalar(select(Call).where(Call.linkedid == "term.1"))
    assert card is not None and card.queue == "appointments"


async def test_two_instances_sharing_the_database_make_one_card_per_call(
    start_agi, sessions
) -> None:
    first, second = start_agi(), start_agi()
    for n in range(10):
        linkedid = f"pair.{n}"
        # Asterisk's hagi:// may send each step of one call to either instance.
        await asyncio.gather(
            FakeChannel("incoming", uniqueid=linkedid, keys=["1"]).run("127.0.0.1", first.port),
            FakeChannel("incoming", uniqueid=f"{linkedid}.b", linkedid=linkedid, keys=["1"]).run(
                "127.0.0.1", second.port
            ),
        )
        await FakeChannel(
            "answered", uniqueid=linkedid, variables={"MEMBERINTERFACE": "PJSIP/102"}
        ).run("127.0.0.1", second.port)
        # The two talk before the hangup: the answer has landed by then, on either instance.
        await wait_card(sessions, linkedid, lambda card: card.answered_at is not None)
        await FakeChannel("hangup", uniqueid=linkedid, dead=True).run("127.0.0.1", first.port)
    with sessions() as session:
        count = session.scalar(select(func.count()).where(Call.linkedid.like("pair.%")))
        statuses = set(session.scalars(select(Call.status).where(Call.linkedid.like("pair.%"))))
    assert (count, statuses) == (10, {"answered"})
