"""gunicorn's settings for the site, in one file: `gunicorn -c gunicorn.conf.py` (gunicorn also
reads ./gunicorn.conf.py by itself); any of them can be overridden on the command line (-b, -w).

Threads (gthread), not greenlets: every live stream (Server-Sent Events) holds one thread
that sleeps on the worker's listener (webadmin/live/hub.py) between events, and pages keep
16 threads per worker of their own, because a worker refuses streams past
CALLCARDS_LIVE_STREAMS. gevent would serve more idle streams per worker but needs
psycopg2 made cooperative (psycogreen) and every blocking call the site makes (AMI, files)
checked; 2 workers x 128 streams is above the 200 open streams the site must serve, at a
few hundred kB of memory per stream (docs/benchmarks.md, `callcards bench live`).
docs/architecture.md "The live floor in the browser" says more.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from callcards.config import load_settings

_settings = load_settings()

wsgi_app = "webadmin.wsgi:app"
bind = ["127.0.0.1:8000"]
worker_class = "gthread"
workers = 2
threads = _settings.live_streams + 16
# A stream's thread is busy for as long as the stream is open; gthread's timeout is the
# worker's own heartbeat, not a request's length, so streams are not killed by it.
timeout = 60
keepalive = 5
# Streams never end by themselves: a restart waits this long, then the browsers reconnect
# with Last-Event-ID to the new workers.
graceful_timeout = 10
accesslog = "-"

# Each worker writes its /metrics figures to this folder; /metrics sums them.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="callcards-metrics-")


def child_exit(_server: Any, worker: Any) -> None:
    """A worker ended: its live connections no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
