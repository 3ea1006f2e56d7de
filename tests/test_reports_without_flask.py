"""The nightly roll-up runs from the `reports` package alone: the CLI never loads the site."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Call, QueueDay, ReportDay
from models.session import make_engine, make_session_factory, transaction
from tests.conftest import demo_database, drop_database

REPO = Path(__file__).resolve().parent.parent

#: Runs the command in-process, then names every Flask or site module it loaded.
ROLL_UP = """
import sys
from callcards.cli import main
code = main(["reports", "rollup"])
loaded = sorted(name for name in sys.modules
                if name.split(".")[0] in {"flask", "flask_babel", "flask_login", "webadmin"})
print("LOADED:", ",".join(loaded))
sys.exit(code)
"""


@pytest.fixture
def history_url() -> Iterator[str]:
    """A database of its own with one abandoned card five days ago."""
    name = f"callcards_rollup_{os.getpid()}"
    url = demo_database(name)
    engine = make_engine(url)
    started = datetime.now(UTC) - timedelta(days=5)
    with transaction(make_session_factory(engine)) as session:
        session.add(
            Call(
                uniqueid="old-1",
                linkedid="old-1",
                queue="reception",
                direction="inbound",
                status="abandoned",
                started_at=started,
                queue_entered_at=started,
                ended_at=started + timedelta(seconds=9),
                end_reason="caller_hangup_queue",
            )
        )
    engine.dispose()
    yield url
    drop_database(name)


def test_the_roll_up_command_rolls_up_without_loading_flask(history_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": history_url, "CALLCARDS_TIMEZONE": "Europe/Moscow"}
    done = subprocess.run(
        [sys.executable, "-c", ROLL_UP],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED: \n" in done.stdout, done.stdout
    assert "day(s) rolled up" in done.stdout
    engine = make_engine(history_url)
    try:
        with make_session_factory(engine)() as session:
            # The card's day, and the days after it that are settled, are rolled up.
            assert session.scalar(select(func.count()).select_from(ReportDay)) >= 1
            assert (
                session.scalar(select(func.sum(QueueDay.abandoned)).where(QueueDay.leg.is_(False)))
                == 1
            )
    finally:
        engine.dispose()
