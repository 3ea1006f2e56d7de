"""docs/benchmarks.md: generated blocks between markers, hand-written notes kept as they are."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bench.agi_bench import NODB, NULL, OURS, THREADS, AgiBenchResult
from bench.asterisk_setup import PLAIN, ROUTED, SetupResult
from bench.card_store_cost import Cost
from bench.floor import FloorResult
from bench.machine import Machine
from bench.site_history import SiteResult
from bench.stats import median, percentile

#: Targets of issue 5.
TARGET_CALLS_PER_SEC = 1000
TARGET_P99_MS_AT_200 = 10.0
TARGET_SHARE_OF_NULL = 0.40
TARGET_SHARE_OF_BARE = 0.50
TARGET_INCOMING_P99_OF_BARE = 2.0
TARGET_CARDS_LATE_SEC = 1.0
TARGET_EXTRA_SETUP_MS = 5.0
TARGET_LIST_P95_MS = 100.0
TARGET_REPORT_MS = 500.0
TARGET_EXPORT_ROWS_PER_SEC = 100_000
TARGET_EXPORT_PEAK_MB = 150.0
#: The README's promise: the card on the operator's screen within 2 s of the ring.
TARGET_RING_TO_SCREEN_MS = 2000.0

SKELETON = """# Benchmarks

Figures of issue 5, produced by `callcards bench` (bench/ in a checkout). Every ratio is
against a baseline measured in the same run; the test suite only checks that the benchmark
code works (tests/test_bench_smoke.py), never how fast anything is.

## The machine

<!-- bench:machine -->
<!-- /bench:machine -->

## 1. FastAGI under load

<!-- bench:agi -->
<!-- /bench:agi -->

## 2. Setup time on a real Asterisk

<!-- bench:asterisk -->
<!-- /bench:asterisk -->

## 3. The site on a large history

<!-- bench:site -->
<!-- /bench:site -->
"""


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def replace_block(document: str, name: str, body: str) -> str:
    """The document with the generated block `name` replaced by `body`."""
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(document):
        raise ValueError(f"docs/benchmarks.md has no bench:{name} block")
    return pattern.sub(
        lambda match: match.group(1) + body.rstrip() + "\n" + match.group(2), document
    )


def update_document(path: Path, blocks: dict[str, str]) -> None:
    """Write `blocks` into the document at `path` (created from the skeleton if missing)."""
    document = path.read_text() if path.exists() else SKELETON
    for name, body in blocks.items():
        document = replace_block(document, name, body)
    path.write_text(document)


def machine_block(machine: Machine) -> str:
    """The machine the last run measured."""
    return "\n".join(machine.lines())


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def agi_block(
    result: AgiBenchResult, command: str, started: str, costs: Sequence[Cost] = ()
) -> str:
    """Section 1: every server at every level, ratios to the null server, the targets."""
    rows = []
    for server in (OURS, NODB, THREADS, NULL):
        for level in result.levels:
            run = result.of(server, level)
            if run is None:
                continue
            null = result.of(NULL, level)
            share = (
                f"{run.load.lifecycles_per_sec / null.load.lifecycles_per_sec:.0%}"
                if null and null.load.lifecycles_per_sec
                else "—"
            )
            rows.append(
                [
                    server,
                    level,
                    f"{run.load.lifecycles_per_sec:,.0f}",
                    f"{run.load.session_p50_ms:.1f}",
                    f"{run.load.session_p99_ms:.1f}",
                    f"{run.load.command_p50_ms:.2f}",
                    f"{run.load.command_p99_ms:.2f}",
                    f"{run.cpu_ms_per_call(run.server_cpu_sec):.1f}",
                    f"{run.cpu_ms_per_call(run.postgres_cpu_sec):.1f}",
                    f"{run.load.generator_cpu_sec * 1000 / max(run.load.lifecycles, 1):.1f}",
                    run.load.failed,
                    share,
                    f"{run.load_average:.1f}",
                ]
            )
    lines = [
        f"Run {started}. At each level the servers take turns, in the table's order.",
        "",
        f"    {command}",
        "",
        f"{result.duration:g} s measured per level after {result.warmup:g} s of warm-up; "
        f"CALLCARDS_SETTINGS_REFRESH={result.settings_refresh}. The generator, each server "
        "and PostgreSQL share the same cores: CPU columns are milliseconds per call life "
        "(server process, PostgreSQL backends of the bench database, generator); the last "
        "column is the 1-minute load average just before the run.",
        "",
        _table(
            [
                "server",
                "in flight",
                "calls/s",
                "session p50 ms",
                "session p99 ms",
                "command p50 ms",
                "command p99 ms",
                "server CPU ms",
                "PostgreSQL CPU ms",
                "generator CPU ms",
                "failed",
                "vs null",
                "load avg",
            ],
            rows,
        ),
        "",
    ]
    ours = [result.of(OURS, level) for level in result.levels]
    ours_runs = [run for run in ours if run is not None]
    if ours_runs:
        best = max(run.load.lifecycles_per_sec for run in ours_runs)
        at_200 = result.of(OURS, 200)
        shares = []
        for run in ours_runs:
            null = result.of(NULL, run.load.concurrency)
            if null and null.load.lifecycles_per_sec:
                shares.append(run.load.lifecycles_per_sec / null.load.lifecycles_per_sec)
        lines += [
            "| target | measured | verdict |",
            "|---|---|---|",
            f"| ≥ {TARGET_CALLS_PER_SEC:,} call lives/s | best {best:,.0f}/s | "
            f"{_verdict(best >= TARGET_CALLS_PER_SEC)} |",
        ]
        if at_200 is not None:
            lines.append(
                f"| session p99 < {TARGET_P99_MS_AT_200:g} ms at 200 in flight | "
                f"{at_200.load.session_p99_ms:,.1f} ms | "
                f"{_verdict(at_200.load.session_p99_ms < TARGET_P99_MS_AT_200)} |"
            )
        if shares:
            lines.append(
                f"| ≥ {TARGET_SHARE_OF_NULL:.0%} of the null server's rate | "
                f"{min(shares):.0%} (worst level) to {max(shares):.0%} | "
                f"{_verdict(min(shares) >= TARGET_SHARE_OF_NULL)} |"
            )
            lines.append(
                f"| ≥ {TARGET_SHARE_OF_BARE:.0%} of the bare (null) server's rate at "
                "every level (issue 10) | "
                f"{min(shares):.0%} (worst level) to {max(shares):.0%} | "
                f"{_verdict(min(shares) >= TARGET_SHARE_OF_BARE)} |"
            )
        null_200 = result.of(NULL, 200)
        if at_200 is not None and null_200 is not None and null_200.load.incoming_p99_ms:
            ratio = at_200.load.incoming_p99_ms / null_200.load.incoming_p99_ms
            lines.append(
                f"| `incoming` p99 ≤ {TARGET_INCOMING_P99_OF_BARE:g} × the bare "
                "server's at 200 in flight (issue 10) | "
                f"{at_200.load.incoming_p99_ms:,.1f} ms against "
                f"{null_200.load.incoming_p99_ms:,.1f} ms ({ratio:.1f} ×) | "
                f"{_verdict(ratio <= TARGET_INCOMING_P99_OF_BARE)} |"
            )
        for run in ours_runs:
            cards = run.cards
            if cards is None:
                continue
            late = "never" if cards.late_sec is None else f"{cards.late_sec:g} s"
            met = (
                cards.closed == cards.correct == cards.calls
                and cards.late_sec is not None
                and cards.late_sec <= TARGET_CARDS_LATE_SEC
            )
            lines.append(
                f"| every card closed and correct within {TARGET_CARDS_LATE_SEC:g} s "
                f"of the last call, {run.load.concurrency} in flight (issue 10) | "
                f"{cards.correct} of {cards.calls} cards closed and correct, the "
                f"last {late} after the last call | {_verdict(met)} |"
            )
    if costs:
        lines += [
            "",
            "The card store alone, one thread, no event loop (bench/card_store_cost.py): "
            "the four card steps of one answered call, per call:",
            "",
            _table(
                ["card store", "CPU ms (Python)", "CPU ms (PostgreSQL)", "statements", "wall ms"],
                [
                    [
                        cost.variant,
                        f"{cost.cpu_ms:.2f}",
                        f"{cost.postgres_cpu_ms:.2f}",
                        f"{cost.statements:.0f}",
                        f"{cost.wall_ms:.2f}",
                    ]
                    for cost in costs
                ],
            ),
        ]
    return "\n".join(lines)


def asterisk_block(result: SetupResult, command: str, started: str, load: str) -> str:
    """Section 2: setup through our server and through plain dialplan, the extra."""
    rows = [
        [
            kind,
            len(result.setup_ms.get(kind, [])),
            f"{result.median_setup(kind):.1f}",
            f"{result.p95_setup(kind):.1f}",
            f"{result.median_route(kind):.1f}",
        ]
        for kind in (ROUTED, PLAIN)
    ]
    return "\n".join(
        [
            f"Run {started} on {result.asterisk_version.split(' built')[0]}, load average {load}.",
            "",
            f"    {command}",
            "",
            _table(
                ["route", "calls", "setup median ms", "setup p95 ms", "routing step median ms"],
                rows,
            ),
            "",
            "| target | measured | verdict |",
            "|---|---|---|",
            f"| median extra setup < {TARGET_EXTRA_SETUP_MS:g} ms | {result.extra_ms:.1f} ms | "
            f"{_verdict(result.extra_ms < TARGET_EXTRA_SETUP_MS)} |",
            "",
            f"Failed calls: {result.failed}.",
        ]
    )


def site_block(result: SiteResult, command: str, started: str, load: str) -> str:
    """Section 3: the calls list, the reports, the export, the indexes in place."""
    rows = []
    for timing in result.timings:
        before = result.baseline_of(timing)
        rows.append(
            [
                timing.group,
                timing.name,
                f"`{timing.url}`",
                f"{timing.p50:.0f}",
                f"{timing.p95:.0f}",
                f"{before.p95:.0f}" if before else "—",
            ]
        )
    lines = [
        f"Run {started}, load average {load}: {result.cards:,} cards, "
        f"{result.events:,} timeline events (history built in {result.generated_sec:.0f} s, "
        f"its days rolled up in {result.rolled_up_sec:.0f} s).",
        "",
        f"    {command}",
        "",
        f"Each request {len(result.timings[0].ms) if result.timings else 0} times after one "
        "warm-up, through Flask's test client (routing, sign-in session, queries, template); "
        "the last column is the same request in the same run without the indexes of "
        "migrations 0004 and 0007 and with every roll-up set aside (the reports then read every "
        "card, as before 0007).",
        "",
        _table(["page", "request", "URL", "p50 ms", "p95 ms", "p95 ms before 0004 and 0007"], rows),
        "",
    ]
    list_p95 = result.p95_of("list")
    over = [timing.name for timing in result.group("list") if timing.p95 >= TARGET_LIST_P95_MS]
    lines += [
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| calls list p95 < {TARGET_LIST_P95_MS:g} ms | {list_p95:.0f} ms over every "
        f"request of every filter; {len(over)} of {len(result.group('list'))} filters "
        f"over | {_verdict(list_p95 < TARGET_LIST_P95_MS)} |",
    ]
    for period in dict.fromkeys(timing.period for timing in result.group("report")):
        worst = max(timing.p95 for timing in result.group("report") if timing.period == period)
        lines.append(
            f"| each report < {TARGET_REPORT_MS:g} ms, {period} | worst p95 "
            f"{worst:.0f} ms | {_verdict(worst < TARGET_REPORT_MS)} |"
        )
    export = result.export
    if export is not None:
        lines += [
            f"| CSV export ≥ {TARGET_EXPORT_ROWS_PER_SEC:,} rows/s | "
            f"{export.rows_per_sec:,.0f} rows/s ({export.rows:,} rows, "
            f"{export.bytes / 1e6:,.0f} MB in {export.seconds:.1f} s) | "
            f"{_verdict(export.rows_per_sec >= TARGET_EXPORT_ROWS_PER_SEC)} |",
            f"| export peak memory < {TARGET_EXPORT_PEAK_MB:g} MB | peak RSS "
            f"{export.peak_rss_mb:.0f} MB (process before the export: "
            f"{export.rss_before_mb:.0f} MB) | "
            f"{_verdict(export.peak_rss_mb < TARGET_EXPORT_PEAK_MB)} |",
        ]
    if result.floor is not None and result.floor.levels:
        lines += ["", *floor_lines(result.floor)]
    lines += ["", "Indexes in place during the run (calls, call_events, call_tags):", ""]
    lines += [f"- `{index}`" for index in result.indexes]
    return "\n".join(lines)


def _times(value: float, base: float) -> str:
    return f"{value / base:.1f}×" if base else "—"


def floor_lines(floor: FloorResult) -> list[str]:
    """The floor's load: polls, reports and ring to screen at each number of operators."""
    base = floor.baseline
    assert base is not None
    base_poll, base_report = percentile(base.polls_ms, 0.95), percentile(base.reports_ms, 0.95)
    rows = []
    for level in floor.levels:
        poll, reports = percentile(level.polls_ms, 0.95), percentile(level.reports_ms, 0.95)
        rows.append(
            [
                level.operators
                if level.open_indexes
                else f"{level.operators}, without the open-card indexes (0010): the poll as before",
                f"{level.polls_per_sec:.0f}",
                f"{median(level.polls_ms):.0f}",
                f"{poll:.0f} ({_times(poll, base_poll)})",
                f"{reports:.0f} ({_times(reports, base_report)})",
                f"{median(level.ring_ms):.0f}",
                f"{percentile(level.ring_ms, 0.95):.0f}",
                f"{len(level.ring_ms)} ({level.rings_not_shown})",
                len(level.errors),
                level.load,
            ]
        )
    lines = [
        f"The floor's load on the production command (`gunicorn -w {floor.workers}`, sync "
        f"workers, on the same history; bench/floor.py): each operator signed in asks "
        "`/workspace/current` again one second after each answer, as workspace.js does; two "
        "supervisors (admin, supervisor2) open the queue, operator and category reports over "
        "7 and 30 days one after another, two seconds apart; a card rings at an idle "
        "operator's extension every half second (as the FastAGI `ringing` step sets it) and "
        'the time until that operator\'s poll returns it is "ring to screen" (it includes '
        "the wait for the next poll: up to a second). "
        f"{base.seconds:.0f} s measured per row; the ratios are against the first row, one "
        "operator, in the same run.",
        "",
        _table(
            [
                "operators",
                "polls/s",
                "poll p50 ms",
                "poll p95 ms",
                "reports p95 ms",
                "ring to screen p50 ms",
                "ring to screen p95 ms",
                "rings (not shown)",
                "errors",
                "load average after",
            ],
            rows,
        ),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for level in (level for level in floor.levels if level.open_indexes):
        who = f"{level.operators} operator{'' if level.operators == 1 else 's'}"
        worst = percentile(level.ring_ms, 0.95)
        met = worst < TARGET_RING_TO_SCREEN_MS and not level.rings_not_shown and level.ring_ms
        lines.append(
            f"| card on screen < {TARGET_RING_TO_SCREEN_MS / 1000:g} s after the ring, "
            f"{who} | p95 {worst:.0f} ms, "
            f"{level.rings_not_shown} not shown | {_verdict(bool(met))} |"
        )
        reports = percentile(level.reports_ms, 0.95)
        lines.append(
            f"| each report < {TARGET_REPORT_MS:g} ms, {who} polling | p95 "
            f"{reports:.0f} ms | "
            f"{_verdict(reports < TARGET_REPORT_MS)} |"
        )
    return lines
