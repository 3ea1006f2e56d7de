"""Wiring: the FastAGI server with its routes, card store and call-flow cache."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal

from callcards.config import Settings, split_host_port
from fastagi.cards import CardStore
from fastagi.routes import ROUTES
from fastagi.server import FastAgiServer
from fastagi.services import AgiServices, FlowCache
from models.session import make_engine, make_session_factory
from recordings import RecordingStore

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> AgiServices:
    """The card store and flow cache on the configured database."""
    engine = make_engine(settings.database_url, pool_size=10, max_overflow=10) if not (
        settings.is_sqlite
    ) else make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    return AgiServices(
        cards=CardStore(sessions, RecordingStore(settings.recordings_dir), settings.public_url),
        flow=FlowCache(sessions, settings.settings_refresh_sec),
        default_queue=settings.default_queue,
        db_timeout=settings.db_timeout,
    )


def build_server(settings: Settings, listen: str | None = None) -> FastAgiServer:
    """A FastAGI server bound to `listen` (or the configured address) serving every route."""
    host, port = split_host_port(listen or settings.agi_listen, 4573)
    services = build_services(settings)
    routes = {name: functools.partial(route, services=services) for name, route in ROUTES.items()}
    return FastAgiServer(
        routes,
        host=host,
        port=port,
        allow=settings.agi_allow,
        command_timeout=settings.agi_command_timeout,
    )


async def serve(settings: Settings, listen: str | None = None, grace: float = 30.0) -> None:
    """Serve until SIGTERM or SIGINT, then let calls in progress finish their sessions."""
    server = build_server(settings, listen)
    await server.start()
    log.info("FastAGI listening on %s:%s", server.host, server.port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    serving = asyncio.create_task(server.serve_forever())
    await stopping.wait()
    log.info("stopping: waiting up to %.0f s for calls in progress", grace)
    await server.stop(grace)
    serving.cancel()
