"""The live side of the site: the event stream, the wallboard, the supervisor's buttons, /metrics.

hub.py      one listener per worker process (PostgreSQL LISTEN, SQLite poll) waking streams
stream.py   one browser's Server-Sent Events, cut to its viewer's scope
picture.py  the floor and today's figures as a viewer may see them
actions.py  pause, unpause, log out an operator (through the site's PbxClient)
metrics.py  /metrics for Prometheus
routes.py   the pages
"""

from __future__ import annotations

from flask import Flask

from webadmin.live import metrics, routes


def init_app(app: Flask) -> None:
    """Add the live pages and /metrics to the site."""
    metrics.init_app(app)
    routes.init_app(app)
