"""`callcards agi` as production runs it: SIGTERM lets calls finish; instances side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Call
from tests.agi_process import AgiProcess, free_port
from tests.card_polling import wait_card
from tests.conftest import ARTIFACTS
from tests.fake_asterisk import FakeChannel


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
    # The caller takes 1.5 s to press a key: the server is told to stop meanwhile.
    slow = FakeChannel("incoming", uniqueid="term.1", keys=["1"], get_data_delay=1.5)
    call = asyncio.create_task(slow.run("127.0.0.1", server.port))
    await asyncio.sleep(0.5)
    server.terminate()
    await asyncio.sleep(0.3)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)
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
            FakeChannel("incoming", uniqueid=f"{linkedid}.b", linkedid=linkedid,
                        keys=["1"]).run("127.0.0.1", second.port),
        )
        await FakeChannel("answered", uniqueid=linkedid,
                          variables={"MEMBERINTERFACE": "PJSIP/102"}).run("127.0.0.1", second.port)
        # The two talk before the hangup: the answer has landed by then, on either instance.
        await wait_card(sessions, linkedid, lambda card: card.answered_at is not None)
        await FakeChannel("hangup", uniqueid=linkedid, dead=True).run("127.0.0.1", first.port)
    with sessions() as session:
        count = session.scalar(select(func.count()).where(Call.linkedid.like("pair.%")))
        statuses = set(session.scalars(select(Call.status).where(Call.linkedid.like("pair.%"))))
    assert (count, statuses) == (10, {"answered"})
