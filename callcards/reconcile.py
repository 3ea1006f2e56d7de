"""`callcards reconcile`: cards made whole from Asterisk's CEL where the FastAGI server missed
part of a call.

When the server is down, the dialplan still queues and records every call (its fallback);
Asterisk's CEL rows (cel_pgsql, table asterisk_cel) keep what happened. Two repairs, both
through the card store's own hang-up path:

- a finished call (LINKEDID_END) from the trunk with no card gets one;
- a closed card whose answer time its hangup had to guess (CEL did not have it yet) gets
  the answer, wait and talk time from CEL;
- a card left open (the server died before the call's hangup reached it) is closed from
  CEL once the call is over in Asterisk (CEL's LINKEDID_END, or, with AMI, no channel of
  it alive in two runs in a row), or once it is older than any sane call; one that CEL
  cannot explain is closed `failed`, never left ringing.

`callcards agi` runs it every CALLCARDS_RECONCILE_EVERY seconds (reconcile_forever); on
PostgreSQL an advisory lock lets one instance at a time do it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from panoramisk import Manager
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from dialplan.timeline import TimelineKind
from fastagi.cards import (
    ANSWER_FROM_CEL,
    ANSWER_TIME_UNKNOWN,
    NO_ASTERISK_RECORD,
    UNREADABLE_ASTERISK_RECORD,
    CardStore,
    HangupReport,
    NewCall,
)
from fastagi.cel import CallFacts, CelRow, facts_of, read_rows, row_of
from fastagi.changes import AnswerCorrected, ClosedFromCel, ClosedUnexplained, HungUp
from models import AsteriskCel, Call, CallEvent, Direction

log = logging.getLogger(__name__)

#: How long after the call ended in Asterisk an open card is left to its own hangup route
#: (a hangup in flight, or one journaled while the database was away, lands by then).
SETTLE = timedelta(seconds=10)
# pg_try_advisory_lock's key: one reconcile at a time across every `callcards agi`.
_LOCK_KEY = 0x63617264  # "card"


#: The linkedids of every channel alive in Asterisk now (AMI), or None when AMI cannot say.
LiveCalls = Callable[[], "frozenset[str] | None"]


@dataclass
class Reconciled:
    """What one run fixed: linkedids of cards rebuilt, closed from CEL, closed as failed."""

    rebuilt: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Open cards with no channel alive in Asterisk at this run (the next run closes them).
    gone: frozenset[str] = frozenset()

    def lines(self) -> list[str]:
        """One line per kind of repair, for the log and the command's output."""
        return [
            f"{len(self.rebuilt)} card(s) rebuilt from CEL" + _listed(self.rebuilt),
            f"{len(self.corrected)} answer time(s) corrected from CEL" + _listed(self.corrected),
            f"{len(self.closed)} open card(s) closed from CEL" + _listed(self.closed),
            f"{len(self.failed)} open card(s) closed as failed: no readable record of "
            "the call in Asterisk" + _listed(self.failed),
        ]


def _listed(linkedids: list[str]) -> str:
    return "".join(f"\n  {linkedid}" for linkedid in linkedids)


def report_from(
    facts: CallFacts, late_event: TimelineKind = TimelineKind.CARD_REBUILT_FROM_CEL
) -> HangupReport:
    """The hang-up report a call's CEL facts amount to (what the hangup route would read)."""
    if facts.ended_at is None:
        raise ValueError(f"call {facts.linkedid} has not ended in Asterisk")
    return HangupReport(
        call=NewCall(
            uniqueid=facts.uniqueid,
            linkedid=facts.linkedid,
            direction=Direction.INBOUND,
            started_at=facts.started_at,
            src_number=facts.caller_number,
            dst_number=facts.did,
            did=facts.did,
            caller_name=facts.caller_name,
            recording=facts.recording,
        ),
        ended_at=facts.ended_at,
        queue_status="TIMEOUT" if facts.queue and not facts.member and facts.dialplan_ended else "",
        queue_returned=facts.dialplan_ended,
        queue_entered=facts.queue_entered_at is not None,
        hangup_source=facts.hangup_source,
        cause=facts.cause,
        member=facts.member,
        queue=facts.queue,
        member_answered_at=facts.answered_at,
        queue_entered_at=facts.queue_entered_at,
        late_event=late_event,
    )


def missing_calls(session: Session, since: datetime) -> list[CallFacts]:
    """Finished calls from the trunk since `since` that have no card."""
    finished = select(AsteriskCel.linkedid).where(
        AsteriskCel.eventtype == "LINKEDID_END", AsteriskCel.eventtime >= since
    )
    carded = select(Call.linkedid).where(Call.started_at >= since - timedelta(days=1))
    rows = session.scalars(
        select(AsteriskCel)
        .where(AsteriskCel.linkedid.in_(finished), AsteriskCel.linkedid.not_in(carded))
        .order_by(AsteriskCel.linkedid, AsteriskCel.eventtime, AsteriskCel.id)
    )
    traces: dict[str, list[CelRow]] = defaultdict(list)
    for row in rows:
        traces[row.linkedid or ""].append(row_of(row))
    calls = (facts_of(linkedid, trace) for linkedid, trace in traces.items())
    return [facts for facts in calls if facts is not None and facts.ended_at is not None]


def reconcile(session: Session, cards: CardStore, since: datetime) -> list[str]:
    """Give every finished trunk call since `since` a card; the linkedids that got one."""
    rebuilt = []
    calls = missing_calls(session, since)
    session.rollback()  # no read left open while the store writes (SQLite would wait on it)
    for facts in calls:
        try:
            cards.apply(HungUp(report_from(facts), settled=True))
        except Exception:  # one call's odd record must not stop the others' repair
            log.exception("reconcile: no card rebuilt for %s", facts.linkedid)
            continue
        rebuilt.append(facts.linkedid)
    return rebuilt


def correct_guessed_answers(
    session: Session, cards: CardStore, since: datetime, done: Reconciled
) -> None:
    """Closed cards since `since` whose answer time the hangup had to guess (CEL did not
    have it yet), put right from CEL once it does."""
    guessed = select(CallEvent.call_id).where(
        CallEvent.kind == ANSWER_TIME_UNKNOWN, CallEvent.at >= since
    )
    corrected = select(CallEvent.call_id).where(
        CallEvent.kind == ANSWER_FROM_CEL, CallEvent.at >= since
    )
    linkedids = session.scalars(
        select(Call.linkedid).where(
            Call.id.in_(guessed), Call.id.not_in(corrected), Call.ended_at.is_not(None)
        )
    ).all()
    session.rollback()
    for linkedid in linkedids:
        try:
            facts = facts_of(linkedid, read_rows(session.connection(), linkedid))
            session.rollback()
            if facts is not None and cards.apply(AnswerCorrected(facts)) is not None:
                done.corrected.append(linkedid)
        except Exception:  # one card's odd record must not stop the others' repair
            log.exception("reconcile: answer of %s not corrected", linkedid)


def close_left_open(
    session: Session,
    cards: CardStore,
    since: datetime,
    *,
    now: datetime,
    open_limit: timedelta,
    done: Reconciled,
    alive: frozenset[str] | None = None,
    gone_before: frozenset[str] = frozenset(),
) -> None:
    """Close the cards since `since` still open although their call is over in Asterisk
    (LINKEDID_END; or no channel in `alive` now nor at the run before), or older than
    `open_limit`."""
    open_cards = session.execute(
        select(Call.linkedid, Call.started_at, Call.updated_at)
        .where(Call.started_at >= since, Call.ended_at.is_(None))
        .order_by(Call.started_at)
    ).all()
    session.rollback()
    if alive is not None:
        done.gone = frozenset(linkedid for linkedid, *_ in open_cards if linkedid not in alive)
    for linkedid, started_at, updated_at in open_cards:
        # Gone at two runs in a row: its hangup, if any, has had a whole run's time to land.
        gone = linkedid in done.gone and linkedid in gone_before
        try:
            _close_if_over(
                session,
                cards,
                linkedid,
                _aware(started_at),
                _aware(updated_at or started_at),
                now,
                open_limit,
                done,
                gone,
            )
        except Exception:  # one card's odd record must not stop the others' repair
            log.exception("reconcile: open card %s not closed", linkedid)


def _close_if_over(
    session: Session,
    cards: CardStore,
    linkedid: str,
    started_at: datetime,
    updated_at: datetime,
    now: datetime,
    open_limit: timedelta,
    done: Reconciled,
    gone: bool,
) -> None:
    """Close one open card from CEL if its call is over, or as failed past the limit."""
    rows = read_rows(session.connection(), linkedid)
    session.rollback()
    facts = facts_of(linkedid, rows)
    over = next((row.eventtime for row in rows if row.eventtype == "LINKEDID_END"), None)
    if over is not None and over > now - SETTLE:
        return  # its own hangup may still be on the way
    if over is None and not gone and started_at > now - open_limit:
        return  # maybe still talking: left to its hangup, or to a later run
    if facts is not None and facts.ended_at is not None:
        if cards.apply(ClosedFromCel(report_from(facts))) is not None:
            done.closed.append(linkedid)
        return
    # The last thing Asterisk wrote of the call, or else the server's last change of the card.
    ended_at = max(row.eventtime for row in rows) if rows else max(started_at, updated_at)
    if (
        cards.apply(
            ClosedUnexplained(
                linkedid,
                ended_at=max(ended_at, started_at),
                reason=UNREADABLE_ASTERISK_RECORD if rows else NO_ASTERISK_RECORD,
            )
        )
        is not None
    ):
        done.failed.append(linkedid)


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive UTC times; PostgreSQL aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_once(
    sessions: sessionmaker[Session],
    cards: CardStore,
    *,
    lookback: timedelta,
    open_limit: timedelta,
    now: datetime | None = None,
    live_calls: LiveCalls | None = None,
    gone_before: frozenset[str] = frozenset(),
) -> Reconciled:
    """Both repairs over the last `lookback`: cards for calls without one, open cards closed.

    `gone_before`: the open cards with no channel alive at the run before (its `gone`).
    """
    now = now or datetime.now(UTC)
    alive = live_calls() if live_calls is not None else None
    done = Reconciled()
    with sessions() as session:
        done.rebuilt = reconcile(session, cards, now - lookback)
        correct_guessed_answers(session, cards, now - lookback, done)
        close_left_open(
            session,
            cards,
            now - lookback,
            now=now,
            open_limit=open_limit,
            done=done,
            alive=alive,
            gone_before=gone_before,
        )
    return done


def ami_live_calls(settings: Settings) -> frozenset[str] | None:
    """The linkedids of the channels alive in Asterisk (AMI CoreShowChannels); None without
    AMI or when it does not answer (then only CEL and the limit close open cards).

    Called from reconcile's thread: a short panoramisk session in a loop of its own (pyst2
    cannot read CoreShowChannel events: they carry ChanVariable headers).
    """
    if not settings.ami_secret:
        return None
    try:
        return asyncio.run(_live_linkedids(settings, timeout=5.0))
    except Exception as error:  # AMI away or refusing: this run goes without it
        log.warning(
            "reconcile: no live channels from AMI at %s:%s (%s)",
            settings.ami_host,
            settings.ami_port,
            error or type(error).__name__,
        )
        return None


async def _live_linkedids(settings: Settings, *, timeout: float) -> frozenset[str]:
    manager = Manager(
        host=settings.ami_host, port=settings.ami_port, loop=asyncio.get_running_loop()
    )
    try:
        await asyncio.wait_for(manager.connect(), timeout)
        login = await asyncio.wait_for(
            manager.send_action(
                {
                    "Action": "Login",
                    "Username": settings.ami_user,
                    "Secret": settings.ami_secret,
                    "Events": "off",
                },
                as_list=False,
            ),
            timeout,
        )
        if not login.success:
            raise PermissionError(f"Login refused: {login.get('Message', 'no reason given')}")
        replies = await asyncio.wait_for(
            manager.send_action({"Action": "CoreShowChannels"}, as_list=True), timeout
        )
    finally:
        manager.close()
    return frozenset(
        str(reply.get("Linkedid", ""))
        for reply in replies
        if reply.get("Event") == "CoreShowChannel"
    )


@contextmanager
def one_instance(engine: Engine, key: int = _LOCK_KEY) -> Iterator[bool]:
    """True while this process holds the lock `key` (PostgreSQL; by default reconcile's);
    always True on SQLite.

    A session-level advisory lock on its own connection, released when the run ends (or
    when the connection drops, should the process die).
    """
    if engine.dialect.name != "postgresql":
        yield True  # SQLite: one instance only
        return
    with engine.connect() as db:
        held = bool(db.scalar(select(func.pg_try_advisory_lock(key))))
        try:
            yield held
        finally:
            if held:
                db.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            db.commit()


def run_locked(
    sessions: sessionmaker[Session],
    cards: CardStore,
    *,
    lookback: timedelta,
    open_limit: timedelta,
    live_calls: LiveCalls | None = None,
    gone_before: frozenset[str] = frozenset(),
) -> Reconciled | None:
    """run_once, unless another instance is running it now (then None)."""
    with one_instance(sessions.kw["bind"]) as held:
        if not held:
            return None
        return run_once(
            sessions,
            cards,
            lookback=lookback,
            open_limit=open_limit,
            live_calls=live_calls,
            gone_before=gone_before,
        )


async def reconcile_forever(
    sessions: sessionmaker[Session],
    cards: CardStore,
    *,
    every: float,
    open_limit: timedelta,
    live_calls: LiveCalls | None = None,
) -> None:
    """Reconcile every `every` seconds in a thread, off the event loop; never raises."""
    # A day of calls besides the limit: every open card passes through the window.
    lookback = open_limit + timedelta(days=1)
    gone: frozenset[str] = frozenset()
    while True:
        await asyncio.sleep(every)
        try:
            done = await asyncio.to_thread(
                run_locked,
                sessions,
                cards,
                lookback=lookback,
                open_limit=open_limit,
                live_calls=live_calls,
                gone_before=gone,
            )
        except Exception:  # the database away or a row we cannot read: try next time
            log.exception("reconcile failed; trying again in %.0f s", every)
            continue
        if done is None:
            continue  # another instance reconciles
        gone = done.gone
        if done.rebuilt or done.corrected or done.closed or done.failed:
            log.warning("reconcile: %s", "; ".join(done.lines()))
