"""Time site requests in-process on a bench history and show the plan of each slow query.

    python -m bench.explain_requests DATABASE "operator1=/calls?status=missed" ... [--analyze]

Each request (`login=path`; the demo staff's password is their login, the generated staff's
the bench's) runs once to warm up and three times more; the line gives every time and the
milliseconds of each query of the last run. With --analyze, each query of 5 ms or more is run
again under EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy import event

from bench.database import database_url
from bench.site_history import _PASSWORD, _app, signed_in

SLOW_MS = 5.0


def explain_requests(database: str, requests: list[str], analyze: bool) -> None:
    """Print the timings (and plans) of each `login=path` request."""
    app = _app(database_url(database))
    with app.app_context():
        from webadmin.extensions import db

        engine = db.engine
    ran: list[tuple[float, str, Any]] = []

    def before(conn: Any, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append(((time.perf_counter() - conn.info["started"]) * 1000, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    for request in requests:
        login, _, path = request.partition("=")
        demo = not login.startswith(("op1", "supervisor2"))
        with signed_in(app, login, None if demo else _PASSWORD) as client:
            times = []
            for _attempt in range(4):
                ran.clear()
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
        print(
            f"{login} {path}: {' '.join(f'{ms:.0f}' for ms in times)} ms; queries "
            f"{' '.join(f'{ms:.0f}' for ms, _, _ in ran)} ms"
        )
        if analyze:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                for ms, statement, parameters in ran:
                    if ms >= SLOW_MS:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                        print(f"-- {ms:.0f} ms: {statement}")
                        print("\n".join(row[0] for row in cursor.fetchall()))
            finally:
                raw.close()


def main(argv: list[str] | None = None) -> int:
    """The command line: a database name, then requests."""
    args = sys.argv[1:] if argv is None else argv
    analyze = "--analyze" in args
    words = [arg for arg in args if arg != "--analyze"]
    if len(words) < 2 or not all("=" in word for word in words[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    explain_requests(words[0], words[1:], analyze)
    return 0


if __name__ == "__main__":
    sys.exit(main())
