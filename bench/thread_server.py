"""A thread-per-connection FastAGI server in the classic style (pyst2), doing our work.

socketserver's ThreadingTCPServer gives every session a thread; the session reads headers
and replies with blocking readline(), as pyst2's AGI class does (without its SIGHUP handler,
which only a main thread may set, and its stderr trace). The routes do what ours do for a
lifecycle, synchronously: the same call flow, the same journaled card store, one
transaction per step. Run as `python -m bench.thread_server --listen 127.0.0.1:PORT`
with DATABASE_URL, RECORDINGS_DIR and CALLCARDS_JOURNAL_DIR set.
"""

from __future__ import annotations

import argparse
import io
import logging
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import load_settings, split_host_port
from dialplan.flow import CallFlow, Collect, Decision
from dialplan.settings import FlowSettings
from dialplan.timeline import TimelineKind
from fastagi import variables as var
from fastagi.app import card_engine
from fastagi.cards import CardStore, Event, HangupReport, NewCall
from fastagi.changes import Answered, HungUp, MessageLeft, OpenCard, RecordingChecked
from fastagi.channels import extension_of
from fastagi.journal import Journal, JournaledCards
from fastagi.protocol import (
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    escape_argument,
    mset_argument,
    parse_reply_line,
)
from fastagi.routes.common import Timeline
from fastagi.routes.incoming import default_decision_for, route_decided
from models import Direction, FlowVersion
from models.session import make_session_factory
from recordings import RecordingStore

log = logging.getLogger(__name__)


class BlockingAgi:
    """One session read and written with blocking calls, pyst2's way."""

    def __init__(self, rfile: io.BufferedIOBase, wfile: io.BufferedIOBase) -> None:
        self.rfile, self.wfile = rfile, wfile
        self.env: dict[str, str] = {}
        self.hungup = False
        while line := rfile.readline().decode("utf-8", errors="replace").rstrip("\r\n"):
            key, _, value = line.partition(": ")
            self.env[key] = value

    @property
    def route(self) -> str:
        """The script name of agi://host/<route>."""
        return self.env.get("agi_network_script", "").split("?")[0].split("/")[0]

    def argument(self, number: int) -> str | None:
        """AGI argument `number` (1-based), None when the dialplan passed none."""
        return self.env.get(f"agi_arg_{number}")

    def execute(self, keywords: str, *args: str) -> tuple[str, str | None]:
        """Send a command, wait for its reply; (result, data)."""
        line = " ".join([keywords, *map(escape_argument, args)])
        self.wfile.write(line.encode() + b"\n")
        while True:
            raw = self.rfile.readline()
            if not raw:
                raise AgiHangup("peer closed the connection")
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text != "HANGUP":
                break
            self.hungup = True  # an event, not the reply (pyst2 itself gets this wrong)
        if text.startswith("520-"):
            while not text.startswith("520 "):
                text = self.rfile.readline().decode("utf-8", errors="replace").rstrip("\r\n")
        reply = parse_reply_line(text)
        if reply.code == 511:
            raise AgiHangup(f"{keywords}: 511")
        if reply.code != 200:
            raise AgiCommandError(reply.code, reply.text, keywords)
        return reply.result, reply.data

    def get_variable(self, name: str) -> str | None:
        """A channel variable, None when unset."""
        result, data = self.execute("GET VARIABLE", name)
        return (data or "") if result == "1" else None

    def get_full_variable(self, expression: str) -> str | None:
        """An expression evaluated on the channel, None when empty."""
        result, data = self.execute("GET FULL VARIABLE", expression)
        return (data or "") if result == "1" else None

    def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable."""
        self.execute("SET VARIABLE", name, value)


class FlowReader:
    """The newest published call flow, re-read at most every refresh_sec (thread-safe)."""

    def __init__(self, sessions: sessionmaker[Session], refresh_sec: float) -> None:
        self._sessions = sessions
        self._refresh_sec = refresh_sec
        self._settings: FlowSettings | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> FlowSettings | None:
        """The flow to route the next call by."""
        with self._lock:
            if time.monotonic() - self._checked_at >= self._refresh_sec:
                with self._sessions() as session:
                    document = session.scalar(
                        select(FlowVersion.document).order_by(FlowVersion.id.desc()).limit(1)
                    )
                if document is not None:
                    self._settings = FlowSettings.from_document(document)
                self._checked_at = time.monotonic()
            return self._settings


@dataclass
class Work:
    """What the routes share: the journaled card store, the flow, a clock."""

    cards: JournaledCards
    flow: FlowReader
    default_queue: str = "reception"

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)


def _linkedid(agi: BlockingAgi, passed: str | None = None) -> str:
    uniqueid = agi.env.get("agi_uniqueid", "")
    return passed or agi.get_full_variable(var.LINKEDID) or uniqueid


def _asked(agi: BlockingAgi, number: int, name: str) -> str | None:
    """AGI argument `number`, or the variable asked for when the dialplan passed none."""
    passed = agi.argument(number)
    return passed if passed is not None else agi.get_variable(name)


def _known(value: str | None) -> str | None:
    return None if value is None or value.strip() in {"", "unknown"} else value.strip()


def _safely(what: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return work(*args, **kwargs)
    except Exception:
        log.exception("could not %s; the call continues", what)
        return None


def incoming(agi: BlockingAgi, work: Work) -> None:
    """Open the card, walk the menu, store and hand over the decision."""
    linkedid = _linkedid(agi, agi.argument(1))
    did, caller = agi.env.get("agi_extension", ""), _known(agi.env.get("agi_callerid"))
    started_at = work.now()
    new_call = NewCall(
        uniqueid=agi.env.get("agi_uniqueid", ""),
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=started_at,
        src_number=caller,
        dst_number=did,
        did=did,
        caller_name=_known(agi.env.get("agi_calleridname")),
    )
    card = _safely(
        "open the card",
        work.cards.apply,
        OpenCard(
            new_call,
            [Event(TimelineKind.CALL_STARTED, started_at, {"did": did}, new_call.uniqueid)],
        ),
    )
    settings = work.flow.current()
    timeline = None
    if settings is None:
        decision: Decision | None = default_decision_for(work.default_queue)
    else:
        timeline = Timeline(CallFlow(settings, did, caller or "", started_at))
        decision = _walk(agi, timeline, work)
    _store_route(work, linkedid, timeline, decision)
    if decision is None:
        return
    values = {var.CC_CARD_ID: str(card.id)} if card is not None else {}
    if decision.action == "queue":
        values[var.CC_QUEUE] = decision.queue or ""
        if decision.queue_timeout:
            values[var.CC_QUEUE_TIMEOUT] = str(decision.queue_timeout)
        values[var.CC_RECORDING] = card.recording_path if card else new_call.recording_path
    values[var.CC_ACTION] = decision.action
    pairs = mset_argument(values)
    if pairs is not None:
        agi.execute("EXEC", "MSet", pairs)
        return
    for name, value in values.items():
        agi.set_variable(name, value)


def _walk(agi: BlockingAgi, timeline: Timeline, work: Work) -> Decision | None:
    flow = timeline.flow
    try:
        step = flow.start()
        timeline.stamp(work.now())
        while not isinstance(step, Decision):
            if isinstance(step, Collect):
                result, data = agi.execute(
                    "GET DATA", step.prompt, str(step.timeout_ms), str(step.max_digits)
                )
                if result == "-1":
                    return None
                step = flow.keys(result or None)
            else:
                agi.execute("STREAM FILE", step.prompt, "")
                step = flow.played()
            timeline.stamp(work.now())
        return step
    except AgiHangup:
        return None


def _store_route(
    work: Work, linkedid: str, timeline: Timeline | None, decision: Decision | None
) -> None:
    """The same write as fastagi.routes.incoming.store_route, without the event loop."""
    _safely(
        "store the route", work.cards.apply, route_decided(linkedid, timeline, decision, work.now())
    )


def answered(agi: BlockingAgi, work: Work) -> None:
    """Mark the card answered by the member's extension."""
    linkedid = _linkedid(agi)
    interface = agi.get_variable(var.MEMBERINTERFACE)
    extension = extension_of(interface)
    _safely(
        "mark the card answered",
        work.cards.apply,
        Answered(linkedid, extension=extension, interface=interface, at=work.now()),
    )
    if extension:
        agi.set_variable(var.CC_OPERATOR, extension)


def hangup(agi: BlockingAgi, work: Work) -> None:
    """Read the dead channel's variables, close the card."""
    ended_at = work.now()
    linkedid = _linkedid(agi, agi.argument(1))
    duration = agi.get_full_variable(var.CDR_DURATION)
    report = HangupReport(
        call=NewCall(
            uniqueid=agi.env.get("agi_uniqueid", ""),
            linkedid=linkedid,
            direction=Direction.INBOUND,
            started_at=ended_at - timedelta(seconds=int(float(duration or 0))),
            src_number=_known(agi.env.get("agi_callerid")),
            dst_number=agi.env.get("agi_extension"),
            did=agi.env.get("agi_extension"),
            caller_name=_known(agi.env.get("agi_calleridname")),
            recording=agi.get_variable(var.CC_RECORDING),
        ),
        ended_at=ended_at,
        queue_status=agi.get_variable(var.QUEUESTATUS) or "",
        dial_status=agi.get_variable(var.DIALSTATUS) or "",
        queue_returned=bool(agi.get_variable(var.CC_QUEUE_RETURNED)),
        queue_entered=bool(agi.get_variable(var.CC_QUEUE_ENTERED)),
        hangup_source=agi.get_full_variable(var.HANGUPSOURCE) or "",
        cause=agi.get_variable(var.HANGUPCAUSE) or "",
        answered_seconds=None
        if not (seconds := agi.get_variable(var.ANSWEREDTIME))
        else int(float(seconds)),
        member=agi.get_variable(var.MEMBERINTERFACE),
        queue=agi.get_variable(var.CC_QUEUE),
    )
    card = _safely("close the card", work.cards.apply, HungUp(report))
    if card is not None:
        told = _asked(agi, 3, var.CC_CARD_ID)
        if told and told != str(card.id):
            agi.set_variable(var.CC_CARD_ID, str(card.id))
    if _asked(agi, 2, var.CC_ACTION) == var.ACTION_VOICEMAIL:
        _safely(
            "note the message",
            work.cards.apply,
            MessageLeft(
                linkedid, at=ended_at, record_status=agi.get_variable(var.RECORD_STATUS) or ""
            ),
        )
    if card is not None and card.recording_state == "pending":
        threading.Thread(target=_settle_recording, args=(work, linkedid), daemon=True).start()


def _settle_recording(work: Work, linkedid: str, delays: tuple[float, ...] = (1, 3, 10)) -> None:
    for attempt, delay in enumerate(delays, start=1):
        time.sleep(delay)
        state = _safely(
            "re-check the recording",
            work.cards.apply,
            RecordingChecked(linkedid, final=attempt == len(delays)),
        )
        if state is not None and state != "pending":
            return


ROUTES: dict[str, Callable[[BlockingAgi, Work], None]] = {
    "incoming": incoming,
    "answered": answered,
    "hangup": hangup,
}


class ThreadServer(socketserver.ThreadingTCPServer):
    """One thread per session; the listen backlog asyncio's servers get (100)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 100

    def __init__(self, address: tuple[str, int], work: Work) -> None:
        super().__init__(address, SessionHandler)
        self.work = work


class SessionHandler(socketserver.StreamRequestHandler):
    """Read the headers, run the route, close."""

    server: ThreadServer

    def handle(self) -> None:
        agi = BlockingAgi(self.rfile, self.wfile)
        route = ROUTES.get(agi.route)
        if route is None:
            return
        try:
            route(agi, self.server.work)
        except (AgiHangup, AgiProtocolError, OSError):
            pass  # the caller left, or the peer broke the protocol: the session ends
        except Exception:
            log.exception("route %s failed", agi.route)


def build_work() -> Work:
    """The card store and flow on DATABASE_URL, on the engine fastagi.app builds."""
    settings = load_settings()
    engine = card_engine(settings.database_url)
    sessions = make_session_factory(engine)
    store = CardStore(sessions, RecordingStore(settings.recordings_dir), settings.public_url)
    cards = JournaledCards(store, Journal(settings.journal_dir / "cards.journal"))
    return Work(cards, FlowReader(sessions, settings.settings_refresh_sec), settings.default_queue)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.thread_server --listen HOST:PORT`; stops on SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.thread_server", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:4575")
    host, port = split_host_port(parser.parse_args(argv).listen, 4575)
    logging.basicConfig(level=logging.WARNING)
    server = ThreadServer((host, port), build_work())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
