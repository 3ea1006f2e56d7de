"""panoramisk's Manager for one AMI session: the caller reconnects, not panoramisk."""

from __future__ import annotations

import asyncio
from typing import Any

from panoramisk import Manager


class SessionManager(Manager):  # type: ignore[misc]  # panoramisk ships no types
    """panoramisk's Manager that tells `lost` instead of reconnecting on its own."""

    def __init__(self, lost: asyncio.Future[None], **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        """Set up the protocol; a failed connect is the awaiting session's to handle."""
        if f.cancelled() or f.exception() is not None:
            return
        super().connection_made(f)

    def connection_lost(self, exc: Exception | None) -> None:
        """Asterisk went away (closed, or its Shutdown event): end the session."""
        self._connected = False
        self.close()  # its pinger too
        if not self._lost.done():
            self._lost.set_result(None)
