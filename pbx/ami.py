"""A small synchronous AMI client for the staff site and the CLI, on pyst2's Manager.

One short session per task (connect, a few actions, close), from one thread. pyst2 waits
for replies forever and keeps only the last of repeated headers; this wrapper adds a
deadline to every reply, reads list actions and Command output from the raw lines, and
turns every failure into an AmiError that says what failed and where.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from asterisk.manager import Manager, ManagerException, ManagerSocketException

from callcards.config import Settings
from pbx.queue_state import QueueAmi

#: Seconds to wait for the connection and for each reply.
DEFAULT_TIMEOUT = 10.0
_EOL = "\r\n"
_POLL_SEC = 0.1


#: Opens a logged-in AMI session from the settings (a context manager): AmiClient.from_settings,
#: or a test's fake.
Connect = Callable[[Settings], AbstractContextManager[QueueAmi]]


class AmiError(RuntimeError):
    """AMI could not do what was asked; the message says what, and where."""


class AmiClient:
    """A logged-in AMI session: actions, list actions, CLI commands."""

    def __init__(
        self, host: str, port: int, user: str, secret: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.host, self.port, self.user, self.secret = host, port, user, secret
        self.timeout = timeout
        self._manager: _TimedManager | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> AmiClient:
        """A client for the AMI in CALLCARDS_AMI_HOST/PORT/USER/SECRET."""
        return cls(
            settings.ami_host,
            settings.ami_port,
            settings.ami_user,
            settings.ami_secret,
            timeout=timeout,
        )

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    def __enter__(self) -> AmiClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and log in (without events: replies only)."""
        if self._manager is not None:
            return
        manager = _TimedManager(self.timeout)
        try:
            manager.connect(self.host, self.port)
            # Events: off, or every call on the system would be queued for nobody to read.
            reply = manager.send_action(
                {"Action": "Login", "Username": self.user, "Secret": self.secret, "Events": "off"}
            )
        except ManagerException as error:
            manager.close()
            raise AmiError(f"AMI at {self.where} is unreachable: {_reason(error)}") from error
        if reply.get_header("Response") != "Success":
            manager.close()
            raise AmiError(
                f"AMI at {self.where} refused the login of {self.user!r}: "
                f"{reply.get_header('Message', 'no reason given')} "
                "(check CALLCARDS_AMI_USER/SECRET against manager.conf)"
            )
        self._manager = manager

    def close(self) -> None:
        """Log off and close the connection (never raises)."""
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.close()

    def action(self, action: str, **fields: str) -> dict[str, str]:
        """Send one action; its reply headers. AmiError if Asterisk answers Error."""
        reply = self._send(action, fields)
        headers = _headers(reply)
        if headers.get("Response") != "Success":
            raise AmiError(
                f"AMI {action} at {self.where} failed: {headers.get('Message', 'no reason given')}"
            )
        return headers

    def action_list(self, action: str, **fields: str) -> list[dict[str, str]]:
        """Send a list action (QueueStatus, QueueSummary...); the events it lists."""
        manager = self._connected()
        action_id = f"callcards-{manager.hostname}-{manager.next_seq():08x}"
        finished = threading.Event()
        collected: list[dict[str, str]] = []

        def on_event(event: Any, _manager: Manager) -> None:
            if event.headers.get("ActionID") == action_id:
                collected.append(dict(event.headers))
                if event.headers.get("EventList") == "Complete":
                    finished.set()

        manager.register_event("*", on_event)
        try:
            reply = self._send(action, {**fields, "ActionID": action_id})
            blocks = _blocks(reply.response)
            if blocks[0].get("Response") != "Success":
                raise AmiError(
                    f"AMI {action} at {self.where} failed: "
                    f"{blocks[0].get('Message', 'no reason given')}"
                )
            # pyst2 reads every reply whose message says "status will follow" (Status,
            # QueueStatus) up to the next "...StatusComplete" line as one message, so those
            # events come inside the reply; other lists arrive as events.
            events = [block for block in blocks[1:] if "Event" in block]
            if not events:
                if not finished.wait(self.timeout):
                    raise AmiError(
                        f"AMI {action} at {self.where}: the list did not end within "
                        f"{self.timeout:g} s"
                    )
                events = list(collected)
        finally:
            manager.unregister_event("*", on_event)
        return [event for event in events if event.get("EventList") != "Complete"]

    def command(self, cli: str) -> str:
        """An Asterisk CLI command through AMI (needs the command write permission); its output."""
        reply = self._send("Command", {"Command": cli})
        headers = _headers(reply)
        if headers.get("Response") != "Success":
            raise AmiError(
                f"AMI Command {cli!r} at {self.where} failed: "
                f"{headers.get('Message', 'no reason given')}"
            )
        # One "Output:" header per line; pyst2's header dict keeps only the last one.
        return "\n".join(
            line.rstrip(_EOL)[len("Output:") :].removeprefix(" ")
            for line in reply.response
            if line.startswith("Output:")
        )

    def _connected(self) -> _TimedManager:
        if self._manager is None:
            raise AmiError(f"AMI at {self.where}: not connected")
        return self._manager

    def _send(self, action: str, fields: dict[str, str]) -> Any:
        """Send an action; pyst2's reply message. AmiError if the connection fails."""
        manager = self._connected()
        try:
            return manager.send_action({"Action": action, **fields})
        except ManagerException as error:
            # The session is unusable now (a reply may still come and be taken for the next).
            self.close()
            raise AmiError(f"AMI {action} at {self.where} failed: {_reason(error)}") from error


class _TimedManager(Manager):  # type: ignore[misc]  # pyst2 ships no types
    """pyst2's Manager with a connect timeout, a deadline on every reply, a close that ends."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.broken = False
        self._raw: socket.socket | None = None

    def connect(self, host: str, port: int = 5038) -> Any:
        """Connect, start pyst2's reader threads, return the greeting."""
        try:
            raw = socket.create_connection((host, int(port)), timeout=self.timeout)
        except OSError as error:
            raise ManagerSocketException(error.errno or 0, str(error)) from error
        # The reader thread blocks on the socket between replies; deadlines are per reply.
        raw.settimeout(None)
        self._raw = raw
        self._sock = raw.makefile(mode="rwb", buffering=0)
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        return self._reply()

    def send_action(self, cdict: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Like pyst2's, but waits at most `timeout` seconds for the reply."""
        if self.broken or not self._connected.is_set():
            raise ManagerSocketException(0, "not connected")
        action = {**(cdict or {}), **kwargs}
        action.setdefault("ActionID", f"{self.hostname}-{self.next_seq():08x}")
        lines = [f"{key}: {value}" for key, value in action.items()]
        try:
            self._sock.write((_EOL.join(lines) + _EOL * 2).encode())
        except OSError as error:
            self.broken = True
            raise ManagerSocketException(error.errno or 0, str(error)) from error
        return self._reply()

    def _reply(self) -> Any:
        """The next reply pyst2's reader hands over, or ManagerSocketException."""
        deadline = time.monotonic() + self.timeout
        reply = None
        while reply is None:
            try:
                reply = self._response_queue.get(timeout=_POLL_SEC)
            except queue.Empty:
                # pyst2 wakes only the waiters it knows of when the connection ends;
                # one that started waiting a moment later would wait for nothing.
                if not self.message_thread.is_alive():
                    try:
                        reply = self._response_queue.get_nowait()  # the last one, if any
                    except queue.Empty:
                        reply = False
                elif time.monotonic() > deadline:
                    self.broken = True
                    raise ManagerSocketException(0, f"no reply within {self.timeout:g} s") from None
        if not reply:
            self.broken = True
            raise ManagerSocketException(0, "Asterisk closed the connection")
        return reply

    def close(self) -> None:
        """Log off if possible, then stop pyst2's threads without waiting on a silent Asterisk."""
        if self._running.is_set() and self._connected.is_set() and not self.broken:
            with contextlib.suppress(ManagerException, OSError):
                self.send_action({"Action": "Logoff"})
        if self._raw is not None:
            # Wakes the reader thread, which otherwise waits on the socket for good.
            with contextlib.suppress(OSError):
                self._raw.shutdown(socket.SHUT_RDWR)
        if self._running.is_set():
            self._message_queue.put(None)
            self.message_thread.join(self.timeout)
            if threading.current_thread() is not self.event_dispatch_thread:
                self.event_dispatch_thread.join(self.timeout)
        self._running.clear()
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _headers(reply: Any) -> dict[str, str]:
    """A reply's own headers (the first block of its raw lines)."""
    return _blocks(reply.response)[0]


def _blocks(lines: list[str]) -> list[dict[str, str]]:
    """Raw AMI lines split at blank lines into header dicts (the first repeat of a key wins)."""
    blocks: list[dict[str, str]] = [{}]
    for line in lines:
        if line in (_EOL, "\n", ""):
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.rstrip(_EOL).partition(":")
        if sep:
            blocks[-1].setdefault(key.strip(), value.strip())
    return [block for block in blocks if block] or [{}]


def _reason(error: ManagerException) -> str:
    """The text of a pyst2 error (socket errors are raised as (errno, text))."""
    args = error.args
    if len(args) == 2 and isinstance(args[1], str):
        return args[1]
    return str(error)
