"""Which asyncio PostgreSQL driver for the card writer: psycopg 3's async API or asyncpg.

The workload is the card writer's: the four changes of an answered call (open with its
first timeline entry, route, answer, hangup), for many calls at once, written

- `one transaction per change`: what the card store did before the writer (4 commits a
  call), as a baseline;
- `batched`: `batch` calls' changes in one transaction, with as few statements as the
  batch allows: one multi-row INSERT … RETURNING for the cards, one for their timeline
  entries, one UPDATE … FROM (VALUES …)-like statement (unnest of arrays) per step.

Each driver runs the same SQL in the same process; the figures are this process's CPU
and the wall time per call. Needs `pip install -e '.[drivers]'`. Run as
`python -m bench.driver_choice [calls] [batch]`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.database import drop_database, prepare_call_database

DATABASE = "callcards_bench_drivers"

_OPEN = """
INSERT INTO calls (uniqueid, linkedid, direction, status, started_at, src_number, dst_number,
                   did, recording_path, recording_state, resolved_first_call, needs_callback,
                   updated_at)
SELECT u, u, 'inbound', 'ringing', s, '+79160000000', '74951234567', '74951234567',
       '2026/12/07/' || u || '.wav', 'pending', false, false, s
FROM unnest($1::text[], $2::timestamptz[]) AS t(u, s)
ON CONFLICT (linkedid) DO NOTHING RETURNING id"""
_EVENTS = """
INSERT INTO call_events (call_id, at, kind, data)
SELECT c, a, k, '{}'::json FROM unnest($1::int[], $2::timestamptz[], $3::text[]) AS t(c, a, k)"""
_ROUTE = """
UPDATE calls SET queue = 'appointments', ivr_path = 'main > 1', queue_entered_at = v.a,
                 updated_at = v.a
FROM unnest($1::int[], $2::timestamptz[]) AS v(i, a) WHERE calls.id = v.i"""
_ANSWER = """
UPDATE calls SET status = 'answered', answered_at = v.a, ringing_extension = '101',
                 wait_sec = 9, updated_at = v.a
FROM unnest($1::int[], $2::timestamptz[]) AS v(i, a) WHERE calls.id = v.i"""
_HANGUP = """
UPDATE calls SET ended_at = v.a, duration_sec = 95, talk_sec = 86, hold_sec = 0,
                 end_reason = 'caller_hangup', updated_at = v.a
FROM unnest($1::int[], $2::timestamptz[]) AS v(i, a) WHERE calls.id = v.i"""


@dataclass
class DriverCost:
    """Per call: this process's CPU ms and wall ms; transactions per call."""

    driver: str
    mode: str
    calls: int
    cpu_ms: float
    wall_ms: float
    commits_per_call: float


class _Asyncpg:
    """The workload's statements on asyncpg ($n parameters, arrays as lists)."""

    name = "asyncpg"

    async def connect(self, url: str) -> None:
        import asyncpg

        self.db = await asyncpg.connect(url.replace("postgresql+psycopg2", "postgresql"))

    async def transaction(self, work: Callable[[], Awaitable[None]]) -> None:
        async with self.db.transaction():
            await work()

    async def ids(self, sql: str, *args: Any) -> list[int]:
        return [row[0] for row in await self.db.fetch(sql, *args)]

    async def run(self, sql: str, *args: Any) -> None:
        await self.db.execute(sql, *args)

    async def close(self) -> None:
        await self.db.close()


class _Psycopg:
    """The same on psycopg 3's AsyncConnection (%s parameters, server-side binding)."""

    name = "psycopg 3 async"

    async def connect(self, url: str) -> None:
        import psycopg

        self.db = await psycopg.AsyncConnection.connect(
            url.replace("postgresql+psycopg2", "postgresql"), prepare_threshold=0
        )

    async def transaction(self, work: Callable[[], Awaitable[None]]) -> None:
        async with self.db.transaction():
            await work()

    @staticmethod
    def _sql(sql: str) -> str:
        for n in range(9, 0, -1):
            sql = sql.replace(f"${n}", "%s")
        return sql

    async def ids(self, sql: str, *args: Any) -> list[int]:
        cursor = await self.db.execute(self._sql(sql), args)
        return [row[0] for row in await cursor.fetchall()]

    async def run(self, sql: str, *args: Any) -> None:
        await self.db.execute(self._sql(sql), args)

    async def close(self) -> None:
        await self.db.close()


async def _calls(driver: Any, names: list[str], batch: int) -> None:
    """The four changes of each call, `batch` calls to a transaction (1: one per change)."""
    now = datetime.now(UTC)
    for start in range(0, len(names), batch):
        group = names[start : start + batch]
        at = [now] * len(group)
        if batch == 1:
            for name in group:  # one transaction per change, as the card store did
                opened: list[int] = []

                async def open_one(name: str = name, opened: list[int] = opened) -> None:
                    opened.extend(await driver.ids(_OPEN, [name], [now]))
                    await driver.run(_EVENTS, opened, [now], ["call_started"])

                await driver.transaction(open_one)
                for sql, kind in ((_ROUTE, "route"), (_ANSWER, "answered"), (_HANGUP, "hangup")):

                    async def step(
                        sql: str = sql, kind: str = kind, opened: list[int] = opened
                    ) -> None:
                        await driver.run(sql, opened, [now])
                        await driver.run(_EVENTS, opened, [now], [kind])

                    await driver.transaction(step)
            continue

        async def whole(group: list[str] = group, at: list[datetime] = at) -> None:
            ids = await driver.ids(_OPEN, group, at)
            later = [moment + timedelta(seconds=9) for moment in at]
            for sql in (_ROUTE, _ANSWER, _HANGUP):
                await driver.run(sql, ids, later)
            kinds = ["call_started", "route", "answered", "hangup"]
            await driver.run(
                _EVENTS, [card for card in ids for _ in kinds], later * 4, kinds * len(ids)
            )

        await driver.transaction(whole)


async def _measure(driver: Any, url: str, calls: int, batch: int, tag: str) -> DriverCost:
    await driver.connect(url)
    names = [f"{tag}.{n}" for n in range(calls)]
    try:
        await _calls(driver, [f"warm.{tag}.{n}" for n in range(min(calls, 200))], batch)
        cpu, wall = time.process_time(), time.perf_counter()
        await _calls(driver, names, batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await driver.close()
    mode = "one transaction per change" if batch == 1 else f"batched, {batch} calls"
    commits = 4.0 if batch == 1 else 1 / batch
    return DriverCost(
        driver.name,
        mode,
        calls,
        round(cpu * 1000 / calls, 3),
        round(wall * 1000 / calls, 3),
        commits,
    )


async def measure(url: str, calls: int, batch: int) -> list[DriverCost]:
    """Both drivers, both modes, on the database at `url`."""
    costs = []
    for size in (1, batch):
        for driver in (_Psycopg(), _Asyncpg()):
            tag = f"{driver.name.split()[0]}.{size}"
            costs.append(await _measure(driver, url, calls if size > 1 else calls // 4, size, tag))
    return costs


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.driver_choice [calls] [batch]`: JSON lines of DriverCost."""
    args = sys.argv[1:] if argv is None else argv
    calls = int(args[0]) if args else 4000
    batch = int(args[1]) if len(args) > 1 else 100
    url = prepare_call_database(DATABASE)
    try:
        for cost in asyncio.run(measure(url, calls, batch)):
            print(json.dumps(asdict(cost)))
    finally:
        drop_database(DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
