"""The production command (gunicorn.conf.py, two workers): both push events, and a flood of
streams opened and dropped and a client that never reads leave the site answering."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bench.live_bench import live_block, measure
from bench.live_site import (
    Stream,
    get,
    gunicorn_site,
    open_stream,
    stream_workers,
    wait_answering,
    worker_pids,
)
from bench.processes import ServerProcess
from live.bus import EventKind, publish
from models import User
from models.live import LiveEvent
from models.session import transaction
from webadmin.auth.identity import issue_api_token


@pytest.fixture
def site(web_database_url: str, tmp_path: Path, web_engine: Engine) -> Iterator[ServerProcess]:
    server = gunicorn_site(
        web_database_url, tmp_path / "gunicorn.log", tmp_path / "metrics", streams=48
    )
    server.start()
    try:
        wait_answering(server.port)
        yield server
    finally:
        server.stop()
        with web_engine.begin() as connection:
            connection.execute(delete(LiveEvent))


@pytest.fixture
def token(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        admin = session.scalar(select(User).where(User.login == "admin"))
        assert admin is not None
        return issue_api_token(admin)


def _publish(sessions: sessionmaker[Session], connected: bool) -> int:
    with transaction(sessions) as session:
        return publish(session, EventKind.AMI, {"connected": connected})


def test_two_workers_both_push_an_event_to_their_streams(
    site: ServerProcess, token: str, sessions: sessionmaker[Session]
) -> None:
    start = _publish(sessions, True)
    workers = set(worker_pids(site.pid))
    assert len(workers) == 2
    streams: list[Stream] = []
    served: set[int] = set()
    # Connections go to whichever worker accepts first: open until both serve some.
    while served != workers and len(streams) < 60:
        stream = open_stream(site.port, token, after=start)
        assert stream.status == 200
        streams.append(stream)
        served = {stream_workers(site.port).get(s.local_port, 0) for s in streams} & workers
    assert served == workers
    event = _publish(sessions, False)
    assert all(stream.read_until(event) for stream in streams)
    for stream in streams:
        stream.close()


def test_a_thousand_dropped_streams_and_one_that_never_reads_leave_the_site_answering(
    site: ServerProcess, token: str, sessions: sessionmaker[Session]
) -> None:
    start = _publish(sessions, True)
    stuck = open_stream(site.port, token, after=start, read=False)  # never read again
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    refused = 0
    for number in range(1000):
        # Half wait for the answer, half drop at once, mid-request.
        stream = open_stream(site.port, token, after=start, read=number % 2 == 0)
        refused += stream.status == 503
        stream.close()
    for _ in range(200):  # events the stuck client never reads, and that end the dropped ones
        last = _publish(sessions, True)
    assert get(site.port, "/login") == 200
    assert get(site.port, "/calls", token=token) == 200
    # A new stream is served and follows the events (once dead ones have been noticed).
    fresh: Stream | None = None
    for _ in range(100):
        fresh = open_stream(site.port, token, after=last)
        if fresh.status == 200:
            break
        fresh.close()
        _publish(sessions, True)
    assert fresh is not None and fresh.status == 200
    event = _publish(sessions, False)
    assert fresh.read_until(event)
    fresh.close()
    stuck.close()
    assert get(site.port, "/login") == 200


def test_the_live_bench_times_pages_and_counts_the_events_streams_receive(tmp_path: Path) -> None:
    result = measure(5, 20.0, 10, tmp_path, database="callcards_bench_live_smoke")
    assert result.streams == 5 and result.refused == 0
    assert result.p95_none_ms > 0 and result.p95_open_ms > 0
    assert result.events_sent > 0 and result.events_seen >= result.events_sent
    assert "Memory per open stream" in live_block(result, "callcards bench live", "now", "0")


def test_a_stream_resumes_across_a_restart_of_the_site(
    site: ServerProcess, token: str, sessions: sessionmaker[Session]
) -> None:
    start = _publish(sessions, True)
    stream = open_stream(site.port, token, after=start)
    seen = _publish(sessions, True)
    assert stream.read_until(seen)
    site.stop()
    missed = _publish(sessions, False)  # while the site is down
    site.start()
    wait_answering(site.port)
    # What the browser does by itself: reconnect with the last id it saw.
    again = open_stream(site.port, token, after=max(stream.ids))
    assert again.status == 200
    assert again.read_until(missed)
    assert missed in again.ids
    again.close()
    stream.close()
