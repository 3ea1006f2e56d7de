"""panoramisk's Manager for one AMI session: the caller reconnects, not panoramisk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from panoramisk import Manager

log = logging.getLogger(__name__)


class SessionManager(Manager):
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


class AmiRefused(Exception):
    """Asterisk answered the login or an action with an error."""


async def action(manager: Manager, fields: dict[str, str], timeout: float, hint: str = "") -> Any:
    """Send one action; its reply. AmiRefused (with `hint`) on an error reply."""
    reply = await asyncio.wait_for(manager.send_action(fields, as_list=False), timeout)
    if not reply.success:
        raise AmiRefused(
            f"{fields['Action']} refused: {reply.get('Message', 'no reason given')}{hint}"
        )
    return reply


async def log_in(
    manager: Manager,
    user: str,
    secret: str,
    *,
    classes: str,
    events: Iterable[str],
    timeout: float,
) -> None:
    """Connect, log in for the event `classes`, then ask for `events` only (Filter); an
    Asterisk that refuses a filter sends every event of those classes: more to read, the
    same result."""
    await asyncio.wait_for(manager.connect(), timeout)
    login = {"Action": "Login", "Username": user, "Secret": secret, "Events": classes}
    await action(
        manager, login, timeout, hint=" (check CALLCARDS_AMI_USER/SECRET against manager.conf)"
    )
    for name in events:
        try:
            await action(
                manager,
                {"Action": "Filter", "Operation": "Add", "Filter": f"Event: {name}"},
                timeout,
            )
        except AmiRefused as error:
            log.info("AMI: %s; reading every %s event", error, classes)


async def open_session(
    host: str,
    port: int,
    user: str,
    secret: str,
    *,
    classes: str,
    events: Iterable[str],
    on_event: Callable[[Manager, Any], None],
    timeout: float,
) -> tuple[SessionManager, asyncio.Future[None]]:
    """A logged-in session handing `events` to `on_event`, and the future set when it is
    lost (the caller closes the manager)."""
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[None] = loop.create_future()
    manager = SessionManager(lost, host=host, port=port, loop=loop)
    wanted = list(events)
    for name in wanted:
        manager.register_event(name, on_event)
    try:
        await log_in(manager, user, secret, classes=classes, events=wanted, timeout=timeout)
    except BaseException:
        manager.close()
        raise
    return manager, lost


class StopListening(Exception):
    """Raised by a session to end `keep_listening` (not a loss to reconnect after)."""


async def keep_listening(
    session: Callable[[], Awaitable[None]],
    *,
    listening: asyncio.Event,
    retry_delays: tuple[float, ...],
    where: str,
    missing: str,
    logger: logging.Logger,
    on_lost: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run `session` again after every loss, waiting `retry_delays` (the last repeats; the
    first again once a session was heard from: it set `listening`). Never raises but
    CancelledError and StopListening; `on_lost` runs after a session that was heard from;
    `missing` says what is not heard meanwhile."""
    failures = 0
    while True:
        try:
            await session()
            reason = "the connection closed (Asterisk stopped or restarted?)"
        except (asyncio.CancelledError, StopListening):
            raise
        except AmiRefused as error:
            reason = str(error)
        except (OSError, TimeoutError, EOFError) as error:
            reason = f"unreachable ({error or type(error).__name__})"
        except Exception as error:  # a bug here must not stop the FastAGI server
            logger.exception("AMI listener at %s failed", where)
            reason = type(error).__name__
        if listening.is_set():  # it was heard from: start the delays again
            failures = 0
            if on_lost is not None:
                await on_lost()
        listening.clear()
        delay = retry_delays[min(failures, len(retry_delays) - 1)]
        failures += 1
        logger.warning(
            "AMI at %s: %s; %s until it is back (trying again in %.0f s)",
            where,
            reason,
            missing,
            delay,
        )
        await asyncio.sleep(delay)
