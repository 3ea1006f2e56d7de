"""Queues applied to the real Asterisk 22: what `queue show` then says, and who the next call rings.

The sandbox (tests/conftest.py) renders etc_asterisk/ with the committed
queues_callcards.conf; these tests edit queues and operators in the test database, apply
them with pbx.apply to the sandbox's config folder through its AMI, and put the demo data
and the demo queues back afterwards (the other sandbox tests expect them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from models import Call, Queue, QueueMember, Schedule, User
from models.flow import publish
from models.session import make_session_factory
from pbx import queues_conf
from pbx.ami import AmiClient
from pbx.apply import apply_queues
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver
from tests.card_polling import wait_card
from tests.sandbox_site import sandbox_settings

pytestmark = pytest.mark.asterisk

DID = "74951234567"
CALLER = "79161234567"
LONG_NAME = "Константин Константинович Константинопольский-Закавказский"


@pytest.fixture(scope="module")
def pbx_settings(asterisk_sandbox: SandboxInfo, database_url: str) -> Settings:
    """Settings that apply to the sandbox: its config folder, its AMI, Local test members."""
    return sandbox_settings(asterisk_sandbox, database_url)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def demo_queues_back(factory: sessionmaker[Session], pbx_settings: Settings) -> Iterator[None]:
    """Whatever a test does to queues, operators and members is undone and applied again."""
    with factory() as session:
        queues = {queue.id: _queue_settings(queue) for queue in session.scalars(select(Queue))}
        members = [(m.user_id, m.queue_id, m.penalty) for m in session.scalars(select(QueueMember))]
        users = set(session.scalars(select(User.id)))
    yield
    with factory.begin() as session:
        session.execute(delete(QueueMember))
        # The cards themselves go when the `sessions` fixture empties the calls table.
        session.execute(update(Call).where(Call.operator_id.not_in(users)).values(operator_id=None))
        session.execute(delete(User).where(User.id.not_in(users)))
        for queue_id, values in queues.items():
            session.execute(update(Queue).where(Queue.id == queue_id).values(**values))
        session.add_all(
            QueueMember(user_id=user_id, queue_id=queue_id, penalty=penalty)
            for user_id, queue_id, penalty in members
        )
    with factory() as session:
        result = apply_queues(session, pbx_settings)
    assert result.ok, result.error


def _queue_settings(queue: Queue) -> dict[str, Any]:
    return {
        "strategy": queue.strategy,
        "ring_timeout_sec": queue.ring_timeout_sec,
        "wrapup_sec": queue.wrapup_sec,
        "service_level_sec": queue.service_level_sec,
        "active": queue.active,
    }


def queue_show(settings: Settings, name: str) -> str:
    """`queue show <name>` through AMI (pbx's own client)."""
    with AmiClient.from_settings(settings) as ami:
        return ami.command(f"queue show {name}")


def add_operator(session: Session, login: str, name: str, extension: str) -> User:
    user = User(login=login, name=name, role="operator", extension=extension)
    user.set_password(login)
    session.add(user)
    session.flush()
    return user


def queue_named(session: Session, name: str) -> Queue:
    return session.scalars(select(Queue).where(Queue.name == name)).one()


def test_committed_queues_run_in_the_sandbox_as_local_test_operators(
    pbx_settings: Settings,
) -> None:
    shown = queue_show(pbx_settings, "appointments")

    assert "'rrmemory' strategy" in shown and "within 20s" in shown
    assert "Ольга Операторова (Local/101@cc-test-operators/n)" in shown
    assert "Иван Петров (Local/102@cc-test-operators/n)" in shown


def test_applied_member_set_strategy_and_level_are_what_queue_show_says(
    factory: sessionmaker[Session], pbx_settings: Settings, demo_queues_back: None
) -> None:
    with factory.begin() as session:
        reception = queue_named(session, "reception")
        appointments = queue_named(session, "appointments")
        operator1 = session.scalars(select(User).where(User.login == "operator1")).one()
        session.execute(
            delete(QueueMember).where(
                QueueMember.queue_id == reception.id, QueueMember.user_id == operator1.id
            )
        )
        session.execute(
            update(QueueMember)
            .where(QueueMember.queue_id == appointments.id, QueueMember.user_id != operator1.id)
            .values(penalty=3)
        )
        newcomer = add_operator(session, "pbx-long-name", LONG_NAME, "104")
        session.add(QueueMember(user_id=newcomer.id, queue_id=reception.id, penalty=1))
        # A strategy change takes a reload only without a strategy in the template.
        reception.strategy = "ringall"
        appointments.service_level_sec = 25

    with factory() as session:
        result = apply_queues(session, pbx_settings)

    assert (result.ok, result.changed, result.error) == (True, True, None)
    reception_shown = queue_show(pbx_settings, "reception")
    appointments_shown = queue_show(pbx_settings, "appointments")
    assert "'ringall' strategy" in reception_shown
    assert "Local/101@" not in reception_shown
    assert "Иван Петров (Local/102@cc-test-operators/n)" in reception_shown
    # The name app_queue keeps is the one written (cut to what fits on a letter).
    kept = queues_conf.member_name(LONG_NAME)
    assert f"{kept} (Local/104@cc-test-operators/n) with penalty 1" in reception_shown
    assert "within 25s" in appointments_shown
    assert "Иван Петров (Local/102@cc-test-operators/n) with penalty 3" in appointments_shown
    assert "Ольга Операторова (Local/101@cc-test-operators/n)" in appointments_shown


def test_change_asterisk_keeps_otherwise_is_rolled_back_on_the_real_asterisk(
    factory: sessionmaker[Session],
    pbx_settings: Settings,
    demo_queues_back: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = queue_show(pbx_settings, "reception")
    live = pbx_settings.asterisk_etc_dir / queues_conf.QUEUES_INCLUDE  # type: ignore[operator]
    live_before = live.read_text()
    # app_queue keeps 79 bytes of a member name; pretend we did not know.
    monkeypatch.setattr(queues_conf, "MEMBER_NAME_BYTES", 200)
    with factory.begin() as session:
        newcomer = add_operator(session, "pbx-too-long", LONG_NAME * 2, "105")
        session.add(QueueMember(user_id=newcomer.id, queue_id=queue_named(session, "reception").id))

    with factory() as session:
        result = apply_queues(session, pbx_settings)

    assert not result.ok
    assert "queue reception: operator Local/105@cc-test-operators/n has penalty 0 and name" in (
        result.error or ""
    )
    assert (result.error or "").endswith("the previous queues are back in place")
    assert live.read_text() == live_before
    assert queue_show(pbx_settings, "reception").count("Local/105@") == 0
    assert _members(queue_show(pbx_settings, "reception")) == _members(before)


def _members(shown: str) -> list[str]:
    """The member lines of `queue show`, without their changing call counts."""
    return sorted(
        line.split(" has taken")[0] for line in shown.splitlines() if "@cc-test-operators" in line
    )


# -- the acceptance test: an operator added to a queue is rung by the next call --


@pytest.fixture
def clinic_open(factory: sessionmaker[Session], agi_server: AgiProcess) -> Iterator[None]:
    """The demo clinic answers whatever the day and hour (its 'open now' override)."""
    _set_clinic(factory, {"state": "open", "until": None}, "test: pbx, clinic open")
    yield
    _set_clinic(factory, None, "test: pbx, clinic by its hours")


def _set_clinic(
    factory: sessionmaker[Session], override: dict[str, Any] | None, comment: str
) -> None:
    with factory.begin() as session:
        session.execute(update(Schedule).where(Schedule.name == "clinic").values(override=override))
        publish(session, user_id=None, comment=comment)


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess
) -> AsyncIterator[AsteriskDriver]:
    """A test-call driver, with the FastAGI server up and test operators answering at once."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        yield driver


async def test_operator_added_to_a_queue_is_rung_by_the_next_call_in_it(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    factory: sessionmaker[Session],
    pbx_settings: Settings,
    demo_queues_back: None,
    clinic_open: None,
) -> None:
    with factory.begin() as session:
        appointments = queue_named(session, "appointments")
        newcomer = add_operator(session, "pbx-operator3", "Пётр Третьяков", "103")
        session.execute(delete(QueueMember).where(QueueMember.queue_id == appointments.id))
        session.add(QueueMember(user_id=newcomer.id, queue_id=appointments.id, penalty=0))
        newcomer_id = newcomer.id
    with factory() as session:
        result = apply_queues(session, pbx_settings)
    assert result.ok, result.error

    call = await ami.call(DID, CALLER)
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)  # GET DATA starts the prompt; keys before it are dropped
    await ami.press(call, "1")
    connect = await ami.wait_for_operator(call, "appointments")
    answered = await wait_card(sessions, call.linkedid, lambda card: card.answered_at is not None)
    await ami.hangup(call)
    await ami.wait_hungup(call)
    card = await wait_card(sessions, call.linkedid, lambda card: card.ended_at is not None)

    assert connect.interface == "Local/103@cc-test-operators/n"
    assert answered.operator_id == newcomer_id
    assert (card.status, card.queue, card.operator_id) == ("answered", "appointments", newcomer_id)
