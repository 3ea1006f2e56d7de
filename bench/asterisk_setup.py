"""Benchmark 2: the setup time our FastAGI server adds to a call on a real Asterisk 22.

The same call (a DID that goes straight to the `appointments` queue) is placed many times
through `[from-trunk]`, where `AGI(.../incoming)` decides the route, and through a
bench-only context that sets the same variables in plain dialplan; both then run the same
`[cc-action]` and `[cc-queue]`. Calls alternate between the two so drift hits both alike.
Times come from Asterisk's own event timestamps (manager.conf timestampevents = yes):
setup = the dialplan half's Newchannel to its QueueCallerJoin; route = the AGI()
application (or the Set()s) from its Newexten to the next Newexten.

The bench context is added over AMI (DialplanExtensionAdd) into the running sandbox;
etc_asterisk/ is not touched. The sandbox runs from default_cache_dir(), so set
CALLCARDS_CACHE_DIR to keep it apart from other users of the sandbox.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.database import DIRECT_DID, DIRECT_QUEUE, drop_database, prepare_call_database
from bench.processes import ServerProcess, bench_environment, free_port, python_module
from bench.stats import median, percentile

DATABASE = "callcards_bench_asterisk"
PLAIN_CONTEXT = "cc-bench-plain"
#: The bench context: what `incoming` tells the dialplan for DIRECT_DID, as plain Set()s.
PLAIN_DIALPLAN = (
    "NoOp(callcards bench: plain-dialplan route)",
    "Answer()",
    f"Set(CC_QUEUE={DIRECT_QUEUE})",
    "Set(CC_QUEUE_TIMEOUT=120)",
    "Set(CC_RECORDING=bench/${UNIQUEID}.wav)",
    "Set(CC_ACTION=queue)",
    "Goto(cc-action,s,1)",
)
ROUTED, PLAIN = "FastAGI route", "plain dialplan"


@dataclass
class SetupResult:
    """Setup and route times (ms) of every call, per kind of route."""

    calls: int
    setup_ms: dict[str, list[float]] = field(default_factory=dict)
    route_ms: dict[str, list[float]] = field(default_factory=dict)
    asterisk_version: str = ""
    failed: int = 0

    def median_setup(self, kind: str) -> float:
        """Median setup time of `kind`, ms."""
        return median(self.setup_ms.get(kind, []))

    def p95_setup(self, kind: str) -> float:
        """95th percentile setup time of `kind`, ms."""
        return percentile(self.setup_ms.get(kind, []), 0.95)

    def median_route(self, kind: str) -> float:
        """Median time of the routing step of `kind`, ms."""
        return median(self.route_ms.get(kind, []))

    @property
    def extra_ms(self) -> float:
        """Median setup through our server minus median setup in plain dialplan."""
        return self.median_setup(ROUTED) - self.median_setup(PLAIN)


def _stamp(event: Any) -> float:
    return float(event.timestamp)


async def _add_plain_context(driver: Any) -> None:
    for priority, step in enumerate(PLAIN_DIALPLAN, start=1):
        application, _, data = step.partition("(")
        reply = await driver.action(
            {
                "Action": "DialplanExtensionAdd",
                "Context": PLAIN_CONTEXT,
                "Extension": "_X.",
                "Priority": str(priority),
                "Application": application,
                "ApplicationData": data.removesuffix(")"),
                "Replace": "yes",
            }
        )
        if reply.response != "Success":
            raise RuntimeError(f"DialplanExtensionAdd {step}: {reply.message}")


async def _one_call(driver: Any, context: str, caller: str) -> tuple[float, float]:
    """Place one call into `context`; (setup ms, route ms)."""
    call = await driver.call(DIRECT_DID, caller, context)
    _, created = await driver.wait_for(
        lambda e: e.event == "Newchannel" and e.uniqueid == call.dialplan_id, since=call.since
    )
    joined = await driver.wait_for_queue_join(DIRECT_QUEUE, call=call)
    route_app = "AGI" if context == "from-trunk" else "Set"
    steps = [
        e
        for e in driver.events_of(call)
        if e.event == "Newexten" and e.uniqueid == call.dialplan_id
    ]
    first = next(i for i, e in enumerate(steps) if e.application == route_app)
    after = next(i for i, e in enumerate(steps) if i > first and e.application != route_app)
    await driver.hangup(call)
    await driver.wait_hungup(call)
    setup = (_stamp(joined) - _stamp(created)) * 1000
    return setup, (_stamp(steps[after]) - _stamp(steps[first])) * 1000


async def measure_setup(
    driver: Any, calls: int, log: Callable[[str], None] = print, warmup_calls: int = 2
) -> SetupResult:
    """Place `calls` calls each way through a connected AsteriskDriver; their times."""
    # from-trunk must reach a FastAGI server whose published flow has DIRECT_DID (bench_flow).
    result = SetupResult(calls, {ROUTED: [], PLAIN: []}, {ROUTED: [], PLAIN: []})
    result.asterisk_version = (await driver.command("core show version")).strip()
    await driver.set_global("CC_TEST_ANSWER_DELAY", "60")  # members ring, nobody answers
    await _add_plain_context(driver)
    for warmup in range(warmup_calls):  # the first calls load prompts, fill the server's pool
        for context in ("from-trunk", PLAIN_CONTEXT):
            await _one_call(driver, context, f"7916000000{warmup}")
    for number in range(calls):
        order = ("from-trunk", PLAIN_CONTEXT) if number % 2 else (PLAIN_CONTEXT, "from-trunk")
        for context in order:
            kind = ROUTED if context == "from-trunk" else PLAIN
            try:
                setup, route = await _one_call(driver, context, f"79161{number:06d}")
            except (TimeoutError, StopIteration, AssertionError) as error:
                result.failed += 1
                log(f"  {kind} call {number} failed: {error!r}")
                continue
            result.setup_ms[kind].append(setup)
            result.route_ms[kind].append(route)
        await asyncio.sleep(0.05)
    await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
    return result


async def _measure(info: Any, calls: int, log: Callable[[str], None]) -> SetupResult:
    from tests.asterisk_driver import AsteriskDriver

    async with AsteriskDriver.for_sandbox(info, timeout=20) as driver:
        return await measure_setup(driver, calls, log)


def run_asterisk_bench(
    calls: int = 50,
    *,
    cache_dir: Path | None = None,
    database: str = DATABASE,
    log: Callable[[str], None] = print,
) -> SetupResult:
    """Bring the sandbox up with our server, place the calls, bring everything down."""
    from callcards import sandbox

    work = Path(tempfile.mkdtemp(prefix="callcards-bench-asterisk-"))
    url = prepare_call_database(database)
    port = free_port()
    env = bench_environment(
        DATABASE_URL=url,
        RECORDINGS_DIR=str(work / "recordings"),
        CALLCARDS_JOURNAL_DIR=str(work / "journal"),
    )
    server = ServerProcess(
        "callcards agi",
        python_module("callcards.cli", "agi", "--listen", f"127.0.0.1:{port}", "--grace", "5"),
        port,
        work / "agi.log",
        env,
    )
    server.start()
    try:
        (work / "recordings").mkdir(exist_ok=True)
        info = sandbox.up(
            agi_address=f"127.0.0.1:{port}",
            ami_port=free_port(),
            recordings_dir=work / "recordings",
            cache_dir=cache_dir,
        )
        try:
            result = asyncio.run(_measure(info, calls, log))
        finally:
            sandbox.down(cache_dir)
    finally:
        server.stop()
        drop_database(database)
        shutil.rmtree(work, ignore_errors=True)
    log(
        f"  setup median: {ROUTED} {result.median_setup(ROUTED):.1f} ms, "
        f"{PLAIN} {result.median_setup(PLAIN):.1f} ms; extra {result.extra_ms:.1f} ms"
    )
    return result
