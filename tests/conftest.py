"""Shared fixtures: a real PostgreSQL database per test session, migrated and seeded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench import database as bench_database
from callcards.demo import seed_demo
from models import Schedule, migrate
from models.flow import publish
from models.session import make_engine, make_session_factory, transaction

if TYPE_CHECKING:
    from callcards.sandbox import SandboxInfo
    from tests.agi_process import AgiProcess

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def create_database(name: str) -> str:
    """Create an empty PostgreSQL database and return its URL."""
    return bench_database.create_database(name, ADMIN_URL)


def drop_database(name: str) -> None:
    """Drop a test database, closing whatever still holds it."""
    bench_database.drop_database(name, ADMIN_URL)


def demo_database(name: str) -> str:
    """A new PostgreSQL database, migrated and seeded with the demo data; its URL."""
    url = create_database(name)
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database with the demo data, for this test session."""
    name = f"callcards_test_{os.getpid()}"
    yield demo_database(name)
    drop_database(name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory; every card and audit row is removed after the test."""
    yield make_session_factory(engine)
    with engine.begin() as connection:
        connection.execute(
            text("TRUNCATE calls, call_events, call_tags, audit_log, callback_tasks CASCADE")
        )


def set_override(sessions: sessionmaker[Session], state: str | None) -> None:
    """Force the demo clinic open or closed (or back to its hours) and publish the flow."""
    override = {"state": state, "until": None} if state else None
    with sessions.begin() as session:
        session.execute(update(Schedule).where(Schedule.name == "clinic").values(override=override))
        publish(session, user_id=None, comment=f"test: clinic {state or 'by hours'}")


@pytest.fixture(scope="module")
def open_clinic(engine: Engine) -> Iterator[None]:
    """The demo clinic is open whatever day the tests run (an admin's 'open now' override)."""
    factory = make_session_factory(engine)
    set_override(factory, "open")
    yield
    set_override(factory, None)


# -- the real Asterisk 22 sandbox and our FastAGI server as a process -------------------


@pytest.fixture(scope="session")
def agi_port() -> int:
    """The loopback port the test session's FastAGI server listens on."""
    from tests.agi_process import free_port

    return free_port()


@pytest.fixture(scope="session")
def asterisk_sandbox(database_url: str, agi_port: int) -> Iterator[SandboxInfo]:
    """The sandbox Asterisk for this session: calls our FastAGI port, CDR/CEL to the test DB."""
    from callcards import sandbox
    from tests.asterisk_driver import start_sandbox_for_tests

    info = start_sandbox_for_tests(agi_address=f"127.0.0.1:{agi_port}", database_url=database_url)
    yield info
    sandbox.down()


def sandbox_ami_env(info: SandboxInfo) -> dict[str, str]:
    """The environment that points a `callcards` process at the sandbox's AMI."""
    return {
        "CALLCARDS_AMI_HOST": info.ami_host,
        "CALLCARDS_AMI_PORT": str(info.ami_port),
        "CALLCARDS_AMI_USER": info.ami_user,
        "CALLCARDS_AMI_SECRET": info.ami_secret,
    }


@pytest.fixture(scope="session")
def agi_server(
    database_url: str, asterisk_sandbox: SandboxInfo, agi_port: int
) -> Iterator[AgiProcess]:
    """`callcards agi` on the test database, writing recordings where the sandbox does,
    listening to the sandbox's AMI for Hold/Unhold and the live floor (its test phones)."""
    from callcards.sandbox.render import TEST_MEMBER_INTERFACE
    from tests.agi_process import AgiProcess

    log = ARTIFACTS / "callcards-agi.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = AgiProcess(
        database_url,
        Path(asterisk_sandbox.recordings_dir),
        agi_port,
        log,
        extra_env={
            **sandbox_ami_env(asterisk_sandbox),
            "CALLCARDS_MEMBER_INTERFACE": TEST_MEMBER_INTERFACE,
        },
    )
    server.start()
    yield server
    server.stop()
