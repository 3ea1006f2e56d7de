"""The live floor's tables as the floor listener fills them, for the site's live tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from live.bus import EventKind, publish
from models.live import LiveEvent, LiveFloor
from models.session import transaction


def published(
    sessions: sessionmaker[Session], kind: EventKind, data: dict[str, Any], **to: Any
) -> int:
    """Publish one event as the listener does (committed, NOTIFY sent); its id."""
    with transaction(sessions) as session:
        return publish(session, kind, data, **to)


@pytest.fixture
def empty_floor(web_engine: Engine) -> Iterator[None]:
    """After the test: no live events, no floor picture."""
    yield
    with web_engine.begin() as connection:
        connection.execute(delete(LiveEvent))
        connection.execute(delete(LiveFloor))
