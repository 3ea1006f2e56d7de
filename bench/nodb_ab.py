"""Two source trees' FastAGI layer side by side: server CPU per call life, runs alternated.

`python -m bench.nodb_ab TREE_A TREE_B --rounds 5 --level 50 --calls 1500` starts
bench.nodb_server from each tree (a `git archive` of a commit; the routes, protocol and
writer of that tree, no card writes), then sends each in turn the same number of call
lives from bench.agi_load; the other load of the machine falls alike on both. Prints each
run and the median CPU milliseconds per call life of each tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.database import drop_database, prepare_call_database
from bench.processes import cpu_seconds, free_port
from callcards.config import REPO_ROOT

DATABASE = "callcards_bench_nodb_ab"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.nodb_ab", description=__doc__)
    parser.add_argument("trees", nargs="+", type=Path, help="two or more different trees")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--level", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args(argv)
    if len(set(args.trees)) != len(args.trees):
        parser.error("name each tree once")
    url = prepare_call_database(DATABASE)
    work = Path(tempfile.mkdtemp(prefix="callcards-nodb-ab-"))
    servers: dict[Path, tuple[subprocess.Popen[bytes], int]] = {}
    runs: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    try:
        for number, tree in enumerate(args.trees):
            port = free_port()
            env = {
                **os.environ,
                "PYTHONPATH": str(tree),
                "DATABASE_URL": url,
                "RECORDINGS_DIR": str(work / "recordings"),
                "CALLCARDS_JOURNAL_DIR": str(work / f"journal{number}"),
                "CALLCARDS_SETTINGS_REFRESH": "5",
            }
            command = [sys.executable, "-m", "bench.nodb_server", "--listen", f"127.0.0.1:{port}"]
            server = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL)
            servers[tree] = (server, port)
        time.sleep(4)
        for round_ in range(args.rounds):
            for tree, (server, port) in servers.items():
                before = cpu_seconds(server.pid)
                done = subprocess.run(
                    [
                        *(sys.executable, "-m", "bench.agi_load", "--port", str(port)),
                        *("--concurrency", str(args.level), "--duration", "60", "--warmup", "0"),
                        *("--max-calls", str(args.calls), "--recordings", str(work / "recordings")),
                    ],
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                load = json.loads(done.stdout)
                ms = (cpu_seconds(server.pid) - before) * 1000 / load["lifecycles"]
                runs[tree].append(ms)
                print(
                    f"{tree} round {round_} @ {args.level}: {ms:.2f} ms CPU per call life, "
                    f"{load['lifecycles_per_sec']}/s, failed {load['failed']}, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait()
        drop_database(DATABASE)
    for tree, values in runs.items():
        values.sort()
        if values:
            print(f"{tree}: median {values[len(values) // 2]:.2f} ms, runs {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
