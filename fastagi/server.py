"""The asyncio FastAGI server: allowlist, session limit, dispatch to routes, graceful stop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from callcards import metrics
from fastagi.protocol import AgiCall, AgiError, AgiHangup, read_headers
from fastagi.variables import CC_ERROR

log = logging.getLogger(__name__)

Route = Callable[[AgiCall], Awaitable[None]]

#: Time allowed to each of the failure reports sent after a route raised.
_REPORT_TIMEOUT = 2.0


class FastAgiServer:
    """Accept FastAGI sessions from Asterisk and hand each to the route its script names."""

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        allow: Sequence[str] = ("127.0.0.1/32", "::1/128"),
        header_timeout: float = 5.0,
        command_timeout: float = 30.0,
        max_sessions: int = 2000,
    ) -> None:
        self.routes = dict(routes)
        self.host = host
        self.port = port
        # FastAGI has no authentication: the peer address is the only check there is.
        self.allow = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allow)
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.max_sessions = max_sessions
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        # Every connection handler, sessions or not (one refused or closed at stop included).
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._stopping = False

    @property
    def active_sessions(self) -> int:
        """Sessions accepted and not yet finished."""
        return len(self._sessions)

    async def start(self) -> None:
        """Bind and start accepting; self.port then holds the bound port."""
        self._stopped.clear()
        self._stopping = False
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        """Start if needed, then wait until stop() has finished."""
        if self._server is None:
            await self.start()
        await self._stopped.wait()

    async def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, let sessions finish for up to grace seconds, then cancel the rest."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        sessions = set(self._sessions)
        if sessions:
            log.info("FastAGI stopping: waiting for %d session(s)", len(sessions))
            _, late = await asyncio.wait(sessions, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                log.warning("FastAGI stop: cancelled %d session(s) after %s s", len(late), grace)
                await asyncio.wait(late)
        closing = {task for task in self._handlers if task is not asyncio.current_task()}
        if closing:
            # Connections accepted as the socket closed are being shut (2 s at most each):
            # left running, the loop's end would cancel them with a traceback.
            await asyncio.wait(closing, timeout=3.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._stopped.set()

    def _allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
        return any(address in network for network in self.allow)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._handle(reader, writer, handler)
        finally:
            self._handlers.discard(handler)

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task[None]
    ) -> None:
        host, peer = _peer_address(writer.get_extra_info("peername"))
        if self._stopping:
            await _close(writer)  # accepted just before stop() closed the listening socket
            return
        if not self._allowed(host):
            log.warning("FastAGI: refused %s (not in the allowed networks)", peer)
            await _close(writer)
            return
        if len(self._sessions) >= self.max_sessions:
            log.warning("FastAGI: refused %s (already %d sessions)", peer, self.max_sessions)
            await _close(writer)
            return
        self._sessions.add(task)
        try:
            await self._session(reader, writer, peer)
        finally:
            self._sessions.discard(task)

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        """Read the headers, run the route, and always close the socket."""
        call: AgiCall | None = None
        try:
            try:
                headers = await read_headers(reader, timeout=self.header_timeout)
            except AgiError as exc:
                log.warning("FastAGI %s: bad session start: %s", peer, exc)
                return
            call = AgiCall(reader, writer, headers, peer=peer, command_timeout=self.command_timeout)
            await self._dispatch(call)
        finally:
            await (call.close() if call is not None else _close(writer))

    async def _dispatch(self, call: AgiCall) -> None:
        route = self.routes.get(call.route)
        if route is None:
            log.warning(
                "FastAGI %s: unknown route %r from %s", call.uniqueid, call.route, call.peer
            )
            await _report(call, "VERBOSE", f"callcards: unknown AGI route {call.route!r}", "1")
            return
        started = time.monotonic()
        try:
            await route(call)
        except AgiHangup as exc:
            # The caller going away mid-route is a normal end of a call.
            log.info("FastAGI %s: %s ended by hangup: %s", call.uniqueid, call.route, exc)
        except Exception as exc:
            log.exception("FastAGI %s: route %s failed", call.uniqueid, call.route)
            # The dialplan checks CC_* variables after AGI(): give it the reason, if it listens.
            await _report(call, "VERBOSE", f"callcards: {call.route} failed", "1")
            await _report(call, "SET VARIABLE", CC_ERROR, f"{type(exc).__name__}: {exc}"[:120])
        finally:
            metrics.AGI_SESSIONS.labels(route=call.route).observe(time.monotonic() - started)


async def _report(call: AgiCall, *words: str) -> None:
    """Send a best-effort command to Asterisk; its failure changes nothing."""
    try:
        await call.command(*words, timeout=_REPORT_TIMEOUT)
    except AgiError as exc:
        log.debug("FastAGI %s: %s not delivered: %s", call.uniqueid, words[0], exc)


def _peer_address(peername: object) -> tuple[str, str]:
    """The peer's IP address, and 'address:port' for logs."""
    if not isinstance(peername, tuple):
        return str(peername), str(peername)
    host, port = str(peername[0]), peername[1]
    return host, (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a socket no AgiCall owns yet."""
    writer.close()
    try:
        async with asyncio.timeout(2.0):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except (ConnectionError, OSError):
        pass
