"""A site worker with no live stream lets its listener go (and its database connection), and
the next stream starts it again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from models import Base
from webadmin.live import hub as hub_module
from webadmin.live.hub import LiveHub


def test_the_listener_ends_when_no_stream_listens_and_starts_again_with_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "IDLE_SEC", 0.3)
    monkeypatch.setattr(hub_module, "POLL_SEC", 0.05)
    engine = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
    Base.metadata.create_all(engine)
    hub = LiveHub(engine)
    bell = threading.Event()
    hub.start()
    hub.listen(bell, True)  # a stream follows: the listener stays however long it waits
    time.sleep(0.6)
    assert hub._thread is not None and hub._thread.is_alive()
    hub.listen(bell, False)  # the last stream left
    deadline = time.monotonic() + 5
    while hub._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not hub._thread.is_alive()
    hub.start()  # the next stream
    assert hub._thread.is_alive()
    hub.stop()
    engine.dispose()
