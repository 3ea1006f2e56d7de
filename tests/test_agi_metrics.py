"""The FastAGI server's Prometheus endpoint (callcards/metrics.py): series, allowlist, off."""

from __future__ import annotations

import asyncio

from callcards import metrics
from callcards.config import load_settings
from fastagi.app import build_services, server_for, start_metrics


async def fetch(port: int, request: bytes = b"GET /metrics HTTP/1.0\r\n\r\n") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:  # closed on us unread: nothing was answered
        answer = b""
    writer.close()
    return answer


async def test_metrics_answer_loopback_with_the_servers_series() -> None:
    exporter = metrics.MetricsServer("127.0.0.1", 0, ("127.0.0.1/32",))
    await exporter.start()
    metrics.EVENTS_TRACKED.labels(event="AgentCalled").inc()
    try:
        answer = await fetch(exporter.port)
        missing = await fetch(exporter.port, b"GET /secret HTTP/1.0\r\n\r\n")
        garbage = await fetch(exporter.port, b"\x00\xff" * 100 + b"\r\n\r\n")
    finally:
        await exporter.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    text = body.decode()
    for series in (
        "callcards_agi_calls_in_progress",
        "callcards_agi_session_seconds",
        "callcards_agi_command_seconds",
        "callcards_agi_db_step_seconds",
        "callcards_agi_journal_operations",
        "callcards_agi_floor_ami_connected",
        'callcards_agi_floor_events_total{event="AgentCalled"}',
    ):
        assert series in text
    assert missing.startswith(b"HTTP/1.0 404") and garbage.startswith(b"HTTP/1.0 404")


async def test_a_peer_outside_the_allowlist_gets_nothing() -> None:
    exporter = metrics.MetricsServer("127.0.0.1", 0, ("10.0.0.0/8",))
    await exporter.start()
    try:
        assert await fetch(exporter.port) == b""
    finally:
        await exporter.stop()


async def test_metrics_are_off_unless_an_address_is_set(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "CALLCARDS_JOURNAL_DIR": str(tmp_path)}
    )
    assert settings.agi_metrics_listen == ""
    assert await start_metrics(settings, server_for(build_services(settings), settings)) is None
