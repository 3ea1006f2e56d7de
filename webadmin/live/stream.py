"""One browser's live stream (Server-Sent Events), filtered by what its viewer may see.

A fresh stream starts with a `snapshot` (the floor now, cut to the viewer's scope) whose id
is the event the picture is as of; a stream resumed with Last-Event-ID sends only what came
after. Every FLOOR event (the listener resynchronised) sends a new snapshot. Heartbeats
carry the newest id, so events the viewer may not see are not read again at a reconnect.
Every CHECK_SEC the viewer's sign-in is checked again: signed out, the stream ends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from live.bus import EventKind
from models.visibility import LiveScope
from webadmin.live.hub import LiveHub

#: What the browser waits before reconnecting (the SSE `retry:` field), in ms.
RETRY_MS = 3000
#: A comment line at least this often keeps proxies from closing a quiet stream (seconds).
HEARTBEAT_SEC = 15.0
#: How often the viewer's sign-in is checked again (seconds).
CHECK_SEC = 5.0
#: A stream ends after this long (seconds); the browser reconnects with Last-Event-ID, so
#: streams spread again over the workers after a restart of some of them.
LIFETIME_SEC = 3600.0


def frame(kind: str, event_id: int | None, data: Any) -> str:
    """One SSE message."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def events(
    hub: LiveHub,
    scope: LiveScope,
    after: int | None,
    snapshot: Callable[[], dict[str, Any]],
    signed_in: Callable[[], bool],
) -> Iterator[str]:
    """The stream's text, until the viewer signs out or the process stops.

    `snapshot()` is the viewer's floor now (its `event_id` says as of when); `signed_in()`
    says whether the viewer's session still stands.
    """
    yield f"retry: {RETRY_MS}\n\n"
    if after is None:
        picture = snapshot()
        after = int(picture["event_id"])
        yield frame("snapshot", after, picture)
    bell = threading.Event()
    hub.listen(bell, True)
    try:
        yield from _follow(hub, scope, after, snapshot, signed_in, bell)
    finally:
        hub.listen(bell, False)


def _follow(
    hub: LiveHub,
    scope: LiveScope,
    after: int,
    snapshot: Callable[[], dict[str, Any]],
    signed_in: Callable[[], bool],
    bell: threading.Event,
) -> Iterator[str]:
    checked = beat = started = time.monotonic()
    while not hub.stopping and checked - started < LIFETIME_SEC:
        items = hub.wait(after, min(CHECK_SEC, HEARTBEAT_SEC), bell)
        if items is None:
            items = hub.earlier(after)
        parts = []  # one write per wake, however many events it brought
        for item in items:
            after = item.id
            if item.kind == EventKind.FLOOR.value:
                parts.append(frame("snapshot", item.id, {**snapshot(), "event_id": item.id}))
            elif scope.sees(item.queue, item.user_id):
                parts.append(item.message)
        sent = bool(parts)
        if parts:
            yield "".join(parts)
        now = time.monotonic()
        if now - checked >= CHECK_SEC:
            checked = now
            if not signed_in():
                yield frame("signed_out", None, {})
                return
        if sent:
            beat = now
        elif now - beat >= HEARTBEAT_SEC or items:
            # `id:` alone moves the browser's Last-Event-ID past events it may not see.
            beat = now
            yield f": heartbeat\nid: {after}\n\n"
