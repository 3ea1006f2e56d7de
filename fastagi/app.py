"""Wiring: the FastAGI server with its routes, card store and call-flow cache."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from callbacks.dialler import dial_forever
from callbacks.sweep import sweep_forever
from callcards import metrics
from callcards.config import Settings, split_host_port
from callcards.reconcile import ami_live_calls, reconcile_forever
from dialplan.numbers import read_patterns
from fastagi.ami_listener import ami_listener
from fastagi.cards import CardStore
from fastagi.journal import Journal, JournaledCards
from fastagi.routes import ROUTES
from fastagi.server import FastAgiServer
from fastagi.services import AgiServices, FlowCache
from live.listener import floor_listener
from models.session import make_engine, make_session_factory
from recordings import RecordingStore

log = logging.getLogger(__name__)


def card_engine(database_url: str) -> Engine:
    """The server's engine: no ping before each use (a dropped connection is tried again
    once, then the change is journaled: fastagi.journal)."""
    if database_url.startswith("sqlite"):
        return make_engine(database_url)
    return make_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=False)


def build_services(settings: Settings) -> AgiServices:
    """The card store and flow cache on the configured database."""
    sessions = make_session_factory(card_engine(settings.database_url))
    store = CardStore(sessions, RecordingStore(settings.recordings_dir), settings.public_url)
    return AgiServices(
        cards=JournaledCards(store, Journal(settings.journal_dir / "cards.journal")),
        flow=FlowCache(
            sessions, settings.settings_refresh_sec, saved_copy=settings.journal_dir / "flow.json"
        ),
        default_queue=settings.default_queue,
        outbound_numbers=read_patterns(settings.outbound_numbers),
        db_timeout=settings.db_timeout,
        executor=ThreadPoolExecutor(max_workers=settings.db_threads, thread_name_prefix="cards"),
    )


def build_server(settings: Settings, listen: str | None = None) -> FastAgiServer:
    """A FastAGI server bound to `listen` (or the configured address) serving every route."""
    return server_for(build_services(settings), settings, listen)


def server_for(
    services: AgiServices, settings: Settings, listen: str | None = None
) -> FastAgiServer:
    """A FastAGI server whose routes use `services`."""
    host, port = split_host_port(listen or settings.agi_listen, 4573)
    routes = {name: functools.partial(route, services=services) for name, route in ROUTES.items()}
    return FastAgiServer(
        routes,
        host=host,
        port=port,
        allow=settings.agi_allow,
        command_timeout=settings.agi_command_timeout,
    )


def reconciler(settings: Settings) -> asyncio.Task[None] | None:
    """Cards completed from Asterisk's CEL every CALLCARDS_RECONCILE_EVERY s (None: off)."""
    if not settings.reconcile_every:
        return None
    sessions = make_session_factory(make_engine(settings.database_url))
    store = CardStore(sessions, RecordingStore(settings.recordings_dir), settings.public_url)
    return asyncio.create_task(
        reconcile_forever(
            sessions,
            store,
            every=settings.reconcile_every,
            open_limit=timedelta(seconds=settings.reconcile_open_limit),
            live_calls=functools.partial(ami_live_calls, settings) if settings.ami_secret else None,
        )
    )


def callback_sweeper(settings: Settings) -> list[asyncio.Task[None]]:
    """Lost cards gathered into callback tasks every CALLCARDS_CALLBACK_EVERY s, and the
    'auto' queues' callbacks dialled every CALLCARDS_CALLBACK_DIAL_EVERY s (with AMI)."""
    sessions = make_session_factory(make_engine(settings.database_url))
    tasks = []
    if settings.callback_every:
        tasks.append(asyncio.create_task(sweep_forever(sessions, every=settings.callback_every)))
    if settings.callback_dial_every and settings.ami_secret:
        dialling = dial_forever(sessions, settings, every=settings.callback_dial_every)
        tasks.append(asyncio.create_task(dialling))
    return tasks


async def start_metrics(settings: Settings, server: FastAgiServer) -> metrics.MetricsServer | None:
    """Prometheus /metrics on CALLCARDS_AGI_METRICS_LISTEN (None when it is not set)."""
    metrics.watch(lambda: server.active_sessions, settings.journal_dir / "cards.journal")
    if not settings.agi_metrics_listen:
        return None
    host, port = split_host_port(settings.agi_metrics_listen, 9573)
    exporter = metrics.MetricsServer(host, port, settings.agi_metrics_allow)
    await exporter.start()
    return exporter


async def serve(settings: Settings, listen: str | None = None, grace: float = 30.0) -> None:
    """Serve until SIGTERM or SIGINT, then let calls in progress finish their sessions."""
    services = build_services(settings)
    server = server_for(services, settings, listen)
    await server.start()
    log.info("FastAGI listening on %s:%s", server.host, server.port)
    replayer = asyncio.create_task(services.replay_journal_forever())
    try:
        await services.reserve_card_ids()
    except Exception as error:  # the database is away: the calls wait for their cards
        log.warning("no card ids reserved at start (%s)", type(error).__name__)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    listener = ami_listener(settings, services)  # hold time; None without AMI
    reconciling = reconciler(settings)
    sweeping = callback_sweeper(settings)
    listening = asyncio.create_task(listener.run()) if listener is not None else None
    # The live floor (live/): the queues' events into operator_states and live_events.
    floor = floor_listener(settings)
    floor_task = asyncio.create_task(floor.run()) if floor is not None else None
    metrics_server = await start_metrics(settings, server)
    serving = asyncio.create_task(server.serve_forever())
    await stopping.wait()
    log.info("stopping: waiting up to %.0f s for calls in progress", grace)
    await server.stop(grace)
    serving.cancel()
    replayer.cancel()
    if reconciling is not None:
        reconciling.cancel()
    for task in sweeping:
        task.cancel()
    if listening is not None:  # after the calls: their last holds still land
        listening.cancel()
    if floor_task is not None:  # its open intervals end now, as a gap
        floor_task.cancel()
        await asyncio.wait({floor_task}, timeout=min(grace, 5))
    if metrics_server is not None:
        await metrics_server.stop()
    if services.background:  # recordings still being settled after their hangups
        await asyncio.wait(services.background, timeout=min(grace, 15))
    try:  # the card changes handed to the writer so far land (or are journaled)
        await asyncio.wait_for(services.writer.close(), timeout=min(grace, 15))
    except TimeoutError:
        log.warning("stopping: card changes still being written after %.0f s", min(grace, 15))
