"""Samples for `callcards bench callbacks` (bench/callbacks.py runs this under pytest).

It reuses the sandbox fixtures; it measures and asserts nothing about speed, and writes its
samples as JSON to $CALLCARDS_BENCH_CALLBACKS_JSON:
- click to ring: the site's click-to-call POST to the operator's phone ringing (the test
  phone's Ringing(), AMI Newexten's Asterisk timestamp), milliseconds;
- the `incoming` and `hangup` AGI sessions of a FastAGI server sweeping callbacks every
  0.2 s over thousands of lost cards, and of one that never sweeps, milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from bench.agi_client import Channel, run_session
from bench.agi_load import incoming_channel
from callbacks.sweep import sweep_locked
from callcards.sandbox import SandboxInfo
from models import Call, CallbackTask, utcnow
from tests.agi_process import AgiProcess, free_port
from tests.asterisk_driver import AsteriskDriver
from tests.sandbox_site import sandbox_settings, signed_in

pytestmark = pytest.mark.asterisk

SAMPLES = Path(os.environ.get("CALLCARDS_BENCH_CALLBACKS_JSON", "callbacks-bench.json"))
CLICKS = int(os.environ.get("CALLCARDS_BENCH_CALLBACKS_CLICKS", "20"))
SESSIONS = int(os.environ.get("CALLCARDS_BENCH_CALLBACKS_SESSIONS", "200"))
LOST_CARDS = 5000


def lost_cards(sessions: sessionmaker[Session], count: int) -> None:
    """`count` missed calls of the last day from distinct numbers: the sweep's window."""
    now = utcnow()
    rows = [
        {
            "uniqueid": f"bench-{index}",
            "linkedid": f"bench-{uuid.uuid4().hex}",
            "queue": "reception",
            "direction": "inbound",
            "status": "missed",
            "started_at": now - timedelta(minutes=index % 1400),
            "ended_at": now - timedelta(minutes=index % 1400) + timedelta(seconds=60),
            "src_number": f"7915{index:07d}",
            "end_reason": "queue_timeout",
            "recording_state": "none",
        }
        for index in range(count)
    ]
    with sessions.begin() as session:
        session.execute(insert(Call), rows)


async def sessions_of(port: int, calls: int, base: str) -> dict[str, list[float]]:
    """Play `calls` incoming + hangup sessions, four at a time; their times by route."""
    times: dict[str, list[float]] = {"incoming": [], "hangup": []}
    queue = list(range(calls))

    async def worker() -> None:
        while queue:
            number = queue.pop()
            incoming = incoming_channel(number, base)
            first = await run_session(incoming, "127.0.0.1", port)
            hangup = Channel(
                "hangup",
                incoming.uniqueid,
                caller_id=incoming.caller_id,
                dead=True,
                variables={**incoming.variables, "HANGUPCAUSE": "16", "CDR(duration)": "30"},
            )
            second = await run_session(hangup, "127.0.0.1", port)
            times["incoming"].append(first.latency * 1000)
            times["hangup"].append(second.latency * 1000)

    await asyncio.gather(*(worker() for _ in range(4)))
    return times


async def test_measure_callbacks(
    asterisk_sandbox: SandboxInfo,
    agi_server: AgiProcess,
    open_clinic: None,
    sessions: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
) -> None:
    samples: dict[str, object] = {}
    agi_server.start()
    site = signed_in(sandbox_settings(asterisk_sandbox, database_url), "operator1", "operator1")
    ring_ms: list[float] = []
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as ami:
        await ami.set_global("CC_TEST_ANSWER_DELAY", "60")  # the phone rings; nobody answers
        try:
            for click in range(CLICKS):
                with sessions.begin() as session:
                    task = CallbackTask(
                        queue="reception",
                        number=f"7916222{click:04d}",
                        reason="missed",
                        waiting_since=utcnow(),
                        last_call_at=utcnow(),
                    )
                    session.add(task)
                    session.flush()
                    task_id = task.id
                since = len(ami.events)
                clicked = time.time()
                reply = site.post(
                    f"/callbacks/{task_id}/call", headers={"Accept": "application/json"}
                )
                linkedid = reply.get_json()["linkedid"]
                _, ringing = await ami.wait_for(
                    lambda e, linkedid=linkedid: (
                        e.event == "Newexten"
                        and e.uniqueid == f"{linkedid}-2"
                        and e.application == "Ringing"
                    ),
                    since=since,
                )
                ring_ms.append((float(ringing.timestamp) - clicked) * 1000)
                await ami.action({"Action": "Hangup", "Channel": linkedid, "Cause": "16"})
                await asyncio.sleep(0.2)
        finally:
            await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
    samples["ring_ms"] = ring_ms

    lost_cards(sessions, LOST_CARDS)
    sweep_locked(sessions)  # the window's tasks exist: each later sweep reads them all again
    for name, every in (("without", "0"), ("with", "0.2")):
        server = AgiProcess(
            database_url,
            Path(asterisk_sandbox.recordings_dir),
            free_port(),
            tmp_path / f"agi-{name}.log",
            extra_env={"CALLCARDS_CALLBACK_EVERY": every, "CALLCARDS_CALLBACK_DIAL_EVERY": "0"},
        )
        server.start()
        try:
            await sessions_of(server.port, 20, f"warm{name}{os.getpid()}")
            samples[name] = await sessions_of(server.port, SESSIONS, f"{name}{os.getpid()}")
        finally:
            server.stop()
    SAMPLES.write_text(json.dumps(samples))
