"""`callcards bench agi|asterisk|site|all [--quick]`: run benchmarks, update docs/benchmarks.md."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.database import ADMIN_URL
from bench.machine import describe, load_average

BENCHMARKS = ("agi", "asterisk", "site")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs."""

    levels: tuple[int, ...] = (10, 100, 200, 500)
    duration: float = 15.0
    warmup: float = 3.0
    calls: int = 50
    cards: int = 1_000_000
    repeats: int = 7
    card_calls: int = 300
    #: Operators polling the screen-pop at once (the first, one operator, is the baseline).
    floor: tuple[int, ...] = (1, 50, 100)
    floor_sec: float = 30.0
    #: Operators polling once more without the open-card indexes (the poll before 0010).
    floor_before: int | None = 50


QUICK = Sizes(
    levels=(10, 50),
    duration=2.0,
    warmup=0.5,
    calls=3,
    cards=20_000,
    repeats=2,
    card_calls=20,
    floor=(1, 5),
    floor_sec=3.0,
    floor_before=None,
)


def _log(line: str) -> None:
    print(line, flush=True)


def run_benchmarks(
    which: str,
    *,
    sizes: Sizes,
    output: Path,
    command: Sequence[str],
    keep_history: bool = False,
    reuse_history: bool = False,
    history_database: str | None = None,
) -> int:
    """Run `which` ("all" or one of BENCHMARKS) and write its blocks into `output`."""
    chosen = BENCHMARKS if which == "all" else (which,)
    machine = describe(ADMIN_URL)
    blocks = {"machine": report.machine_block(machine)}
    shown = " ".join(command)
    _log(f"callcards bench {which}: {machine.cpus} CPUs, load {load_average()}")
    if "agi" in chosen:
        from bench.agi_bench import run_agi_bench

        _log("FastAGI under load (our server, null server, thread per connection)")
        result = run_agi_bench(sizes.levels, duration=sizes.duration, warmup=sizes.warmup, log=_log)
        from bench.card_store_cost import measure_card_store

        _log("The card store alone, and the same rows as plain SQL")
        costs = measure_card_store(sizes.card_calls)
        blocks["agi"] = report.agi_block(result, shown, machine.started, costs)
    if "asterisk" in chosen:
        from bench.asterisk_setup import run_asterisk_bench

        _log(f"Setup time on the Asterisk sandbox ({sizes.calls} calls each way)")
        load = load_average()
        setup = run_asterisk_bench(sizes.calls, log=_log)
        blocks["asterisk"] = report.asterisk_block(setup, shown, machine.started, load)
    if "site" in chosen:
        from bench.site_history import DATABASE, run_site_bench

        _log(f"The site on {sizes.cards:,} cards")
        load = load_average()
        site = run_site_bench(
            sizes.cards,
            repeats=sizes.repeats,
            keep=keep_history,
            reuse=reuse_history,
            floor=sizes.floor,
            floor_sec=sizes.floor_sec,
            floor_before=sizes.floor_before,
            database=history_database or DATABASE,
            log=_log,
        )
        blocks["site"] = report.site_block(site, shown, machine.started, load)
    report.update_document(output, blocks)
    _log(f"written: {output}")
    return 0


def command_line() -> list[str]:
    """The command as typed, for the report (`callcards bench ...`)."""
    name = Path(sys.argv[0]).name
    args = sys.argv[1:]
    prefix = ["callcards"] if name in ("callcards", "cli.py", "__main__.py") else [name]
    env = (
        [f"CALLCARDS_CACHE_DIR={os.environ['CALLCARDS_CACHE_DIR']}"]
        if ("asterisk" in args or "all" in args) and os.environ.get("CALLCARDS_CACHE_DIR")
        else []
    )
    return [*env, *prefix, *args]
