"""A demo week of calls, made through the real FastAGI routes and completed on the real site.

`callcards seed-demo --week` (scripts/demo.sh) plays Asterisk's part of each call over a
FastAGI socket to our own server, with the server's clock set to the moment of each step:
the cards, timelines, waits and holds are what the routes make of such calls. Operators
then complete most of their cards, and the supervisor listens to a few recordings, through
the staff site's own forms. Recordings are real WAV files with sound (generated tones).
"""

from __future__ import annotations

import array
import asyncio
import functools
import importlib
import math
import random
import re
import sys
import wave
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from callcards.config import REPO_ROOT, Settings
from callcards.demo_sessions import record_sessions
from dialplan.document import FlowDocument
from models import AuditEntry, Call, CallCategory, CallPurpose, CallTag, User
from models.flow import latest_version, publish, replace_document
from models.session import make_engine, make_session_factory, transaction

if TYPE_CHECKING:
    from fastagi.services import AgiServices

#: Every demo call's linkedid starts so: a second run sees the week is there.
MARK = "demo-week-"
ZONE = ZoneInfo("Europe/Moscow")
DID = "74951234567"
OPERATORS = {"101": "operator1", "102": "operator2"}
RATE = 8000  # Asterisk's recordings: 8 kHz, 16-bit mono
PROMPT = timedelta(seconds=3)  # a menu prompt, or the wait for a key after it

CALLERS = [
    ("+79161234567", "Иванов Иван"),
    ("+79035550101", "Петрова Мария"),
    ("+79267771212", "Сидоров Алексей"),
    ("+74957654321", "ООО Ромашка"),
    ("+79851112233", "Кузнецова Елена"),
    ("+79169990011", "Смирнов Павел"),
    ("+79057778899", "Орлова Анна"),
    ("+79254443322", "Волков Дмитрий"),
    ("+79112223344", "Морозова Ольга"),
    ("+79998887766", ""),
    ("+79031234000", "Лебедев Игорь"),
    ("+79265556677", "Новикова Татьяна"),
    ("+79171110022", "Фёдоров Никита"),
    ("+79680001122", ""),
]

SUMMARIES = [
    "Записали на приём к терапевту на четверг, 10:30.",
    "Перенесли визит к стоматологу на следующую неделю.",
    "Объяснили, как подготовиться к УЗИ брюшной полости.",
    "Результаты анализов готовы, пациент заберёт в регистратуре.",
    "Уточнили стоимость приёма и способы оплаты.",
    "Жалоба на ожидание в очереди, передано старшему администратору.",
    "Подсказали, как войти в личный кабинет.",
    "Выдали справку для налогового вычета по почте.",
]


@dataclass
class DemoCall:
    """One call of the week as Asterisk would see it: who, when, and what happens."""

    kind: str
    started_at: datetime
    caller: tuple[str, str]
    key: str | None = "1"
    wait: int = 20  # seconds in the queue before the answer (or giving up)
    talk: int = 90
    operator: str = "101"
    hold: tuple[int, int] | None = None  # (after seconds of talk, for seconds)
    number: int = 0
    linkedid: str = ""
    complete: bool = False
    listened: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def plan_week(today: date, rng: random.Random) -> list[DemoCall]:
    """The calls of the seven days before `today`, in order, in the clinic's hours and out."""
    calls: list[DemoCall] = []
    for back in range(7, 0, -1):
        day = today - timedelta(days=back)
        weekday = day.weekday() < 5
        moments = [_moment(day, rng, 8, 20) for _ in range(rng.randint(9, 13))] if weekday else []
        # Outside the hours: the clinic takes messages (the demo's published flow says so).
        moments += [_moment(day, rng, 20, 22) for _ in range(rng.randint(1, 2))]
        for at in sorted(moments):
            calls.append(_call_at(at, rng, open_hours=weekday and at.astimezone(ZONE).hour < 20))
    for number, call in enumerate(calls, start=1):
        call.number = number
        call.linkedid = f"{MARK}{call.started_at:%Y%m%d}.{number}"
    return calls


def _moment(day: date, rng: random.Random, first_hour: int, last_hour: int) -> datetime:
    seconds = rng.randrange((last_hour - first_hour) * 3600 - 900)
    local = datetime.combine(day, time(first_hour), ZONE) + timedelta(seconds=seconds)
    return local.astimezone(UTC)


_KINDS = [
    ("answered", 52),
    ("transfer", 7),
    ("overflow", 5),
    ("missed", 10),
    ("abandoned", 12),
    ("ivr_hangup", 5),
    ("callback", 9),
]


def _call_at(at: datetime, rng: random.Random, *, open_hours: bool) -> DemoCall:
    caller = rng.choice(CALLERS)
    if not open_hours:
        return DemoCall("voicemail", at, caller, key=None, talk=rng.randint(6, 25))
    kind = rng.choices([k for k, _ in _KINDS], [w for _, w in _KINDS])[0]
    call = DemoCall(
        kind,
        at,
        caller,
        key=rng.choice(["1", "1", "2", "3", "0", None]),
        # Most callers are answered within the 20 s service level, a few wait long.
        wait=min(90, 3 + int(rng.expovariate(1 / 14))),
        talk=rng.randint(30, 150),
        operator=rng.choice(list(OPERATORS)),
    )
    if kind in ("transfer", "overflow"):
        call.key = "1"
    if kind == "missed":
        call.key, call.wait = "2", 120
    if kind == "abandoned":
        call.wait = rng.randint(12, 80)
    if kind == "answered" and rng.random() < 0.3:
        call.hold = (call.talk // 3, rng.randint(15, 45))
        call.talk += call.hold[1]
    call.complete = kind in ("answered", "transfer", "overflow") and rng.random() < 0.75
    call.listened = kind == "answered" and rng.random() < 0.15
    return call


# -- sound ------------------------------------------------------------------------------


@functools.cache
def _second_of_tone(frequency: float, loudness: float) -> bytes:
    """One second of a tone, a syllable-like swell four times a second."""
    samples = array.array(
        "h",
        (
            int(
                loudness
                * 32767
                * math.sin(2 * math.pi * frequency * n / RATE)
                * (0.55 + 0.45 * math.sin(2 * math.pi * 4 * n / RATE))
            )
            for n in range(RATE)
        ),
    )
    return samples.tobytes()


def write_recording(path: Path, seconds: int, voices: tuple[float, ...]) -> None:
    """A WAV as MixMonitor leaves it (8 kHz 16-bit mono): `voices` take turns each 3 s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    silence = bytes(RATE // 5 * 2)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(RATE)
        for second in range(seconds):
            voice = voices[(second // 3) % len(voices)]
            chunk = _second_of_tone(voice, 0.3)
            # A short breath at each turn, as people pause between phrases.
            audio.writeframes(silence + chunk[len(silence) :] if second % 3 == 0 else chunk)


# -- the calls, through the FastAGI routes ------------------------------------------------


class _Caller:
    """Plays Asterisk's side of each AGI session of the week against our server."""

    def __init__(self, services: AgiServices, port: int, recordings: Path) -> None:
        self.services = services
        self.port = port
        self.recordings = recordings
        self.now = datetime.now(UTC)
        services.clock = lambda: self.now

    async def session(
        self,
        route: str,
        call: DemoCall,
        offset: float,
        *,
        uniqueid: str | None = None,
        **fields: Any,
    ) -> dict[str, str]:
        """One AGI session of `route` at `offset` seconds into the call; the variables set."""
        from bench.agi_client import Channel, split_command

        self.now = call.started_at + timedelta(seconds=offset)
        number, name = call.caller
        channel = Channel(
            route=route,
            uniqueid=uniqueid or call.linkedid,
            linkedid=call.linkedid,
            extension=fields.pop("extension", DID),
            caller_id=fields.pop("caller_id", number),
            caller_name=name,
            **fields,
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for header in channel.header_lines():
                writer.write(header)
            while raw := await reader.readline():
                words = split_command(raw.decode().rstrip("\n"))
                if words[:2] in (["GET", "DATA"], ["STREAM", "FILE"]):
                    self.now += PROMPT  # the caller hears the prompt out before the next step
                for reply in channel.reply(words):
                    writer.write(reply.encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
        await self.services.settled()
        return channel.variables

    async def hold(self, call: DemoCall, offset: float, kind: str) -> None:
        """The operator's phone puts the caller on hold (or back): an AMI Hold/Unhold event."""
        from fastagi.ami_listener import hold_change
        from fastagi.changes import HoldChanged

        self.now = call.started_at + timedelta(seconds=offset)
        change = hold_change(
            {
                "Event": "Hold" if kind == "hold" else "Unhold",
                "Linkedid": call.linkedid,
                "Channel": f"PJSIP/{call.operator}-0000{call.number:04x}",
                "Uniqueid": f"{call.linkedid}.op",
                "MusicClass": "default",
                "Timestamp": f"{self.now.timestamp():.6f}",
            },
            self.now,
        )
        assert change is not None
        self.services.change_card(change.linkedid, HoldChanged(change.linkedid, change.event))
        await self.services.settled()

    async def inbound(self, call: DemoCall) -> None:
        """An inbound call, from the menu to the hangup, as its kind says."""
        keys: list[str | None] = [call.key] if call.key else [None, None, None]
        ivr = {"hang_up_at_get_data": 0} if call.kind == "ivr_hangup" else {"keys": keys}
        told = await self.session("incoming", call, 0, **ivr)
        if call.kind == "ivr_hangup":
            await self.session("hangup", call, 4, dead=True)
            return
        recording = told.get("CC_RECORDING", "")
        entered = (self.now - call.started_at).total_seconds() + 1  # after the menu
        variables = {
            "CC_RECORDING": recording,
            "CC_QUEUE": told.get("CC_QUEUE", ""),
            "CC_ACTION": told.get("CC_ACTION", ""),
        }
        if call.kind == "voicemail":
            write_recording(self.recordings / recording, call.talk, (310.0,))
            await self.session(
                "hangup",
                call,
                entered + 1 + call.talk,
                dead=True,
                variables={**variables, "RECORD_STATUS": "HANGUP"},
            )
            return
        queue = told.get("CC_QUEUE", "")
        if call.kind == "overflow":
            told = await self.session(
                "overflow",
                call,
                entered + 1,
                variables={**variables, "QUEUESTATUS": "JOINEMPTY", "CC_OVERFLOWS": "1"},
            )
            queue = variables["CC_QUEUE"] = told.get("CC_QUEUE", queue)
        if call.kind == "missed":
            await self.session(
                "ringing",
                call,
                entered + 2,
                uniqueid=f"{call.linkedid}.r",
                channel=f"PJSIP/{call.operator}-0000{call.number:04x}",
            )
            told = await self.session(
                "overflow",
                call,
                entered + call.wait,
                variables={**variables, "QUEUESTATUS": "TIMEOUT", "CC_OVERFLOWS": "1"},
            )
            write_recording(self.recordings / recording, call.wait, (196.0, 247.0))
            await self.session(
                "hangup",
                call,
                entered + call.wait + 2,
                dead=True,
                variables={
                    **variables,
                    "QUEUESTATUS": "TIMEOUT",
                    "CC_QUEUE_RETURNED": "1",
                    "CC_QUEUE_ENTERED": "1",
                },
            )
            return
        if call.kind == "abandoned":
            write_recording(self.recordings / recording, call.wait, (196.0, 247.0))
            await self.session(
                "hangup",
                call,
                entered + call.wait,
                dead=True,
                variables={**variables, "CC_QUEUE_ENTERED": "1"},
            )
            return
        answered = entered + call.wait
        await self._answer(call, answered - 3, answered, call.operator)
        end = answered + call.talk
        if call.kind == "transfer":
            other = "102" if call.operator == "101" else "101"
            moved = answered + call.talk // 2
            told = await self.session(
                "transfer", call, moved, uniqueid=f"{call.linkedid}.t", args=["reception"]
            )
            variables["CC_QUEUE"] = told.get("CC_QUEUE", "reception")
            await self._answer(call, moved + 5, moved + 8, other)
            call.extra["transferred_to"] = other
            end += 8
        if call.hold is not None:
            await self.hold(call, answered + call.hold[0], "hold")
            await self.hold(call, answered + call.hold[0] + call.hold[1], "unhold")
        write_recording(self.recordings / recording, int(end - entered), (220.0, 330.0))
        last = call.extra.get("transferred_to", call.operator)
        await self.session(
            "hangup",
            call,
            end,
            dead=True,
            variables={**variables, "MEMBERINTERFACE": f"PJSIP/{last}", "CC_QUEUE_ENTERED": "1"},
        )

    async def _answer(self, call: DemoCall, rang: float, at: float, extension: str) -> None:
        await self.session(
            "ringing",
            call,
            rang,
            uniqueid=f"{call.linkedid}.{extension}",
            channel=f"PJSIP/{extension}-0000{call.number:04x}",
        )
        await self.session(
            "answered", call, at, variables={"MEMBERINTERFACE": f"PJSIP/{extension}"}
        )

    async def callback(self, call: DemoCall) -> None:
        """An operator calls a patient back: answered, or nobody picks up."""
        told = await self.session(
            "outbound", call, 0, caller_id=call.operator, extension=call.caller[0].lstrip("+")
        )
        picked_up = call.number % 3 != 0
        # MixMonitor records the operator's channel from the dial: ringback, then the talk.
        write_recording(
            self.recordings / told.get("CC_RECORDING", ""),
            call.talk if picked_up else 30,
            (220.0, 330.0) if picked_up else (425.0,),
        )
        await self.session(
            "hangup",
            call,
            10 + (call.talk if picked_up else 30),
            dead=True,
            caller_id=call.operator,
            variables={
                "CC_RECORDING": told.get("CC_RECORDING", ""),
                "DIALSTATUS": "ANSWER" if picked_up else "NOANSWER",
                **({"ANSWEREDTIME": str(call.talk)} if picked_up else {}),
            },
        )


async def _make_calls(settings: Settings, calls: list[DemoCall]) -> None:
    """Run our FastAGI server on a free loopback port and make every call of the week."""
    from fastagi.app import build_services, server_for

    services = build_services(replace(settings, settings_refresh_sec=0.0))
    services.recording_recheck_delays = (0.0,)
    server = server_for(services, replace(settings, agi_allow=("127.0.0.1/32",)), "127.0.0.1:0")
    await server.start()
    caller = _Caller(services, server.port, settings.recordings_dir)
    try:
        for call in calls:
            if call.kind == "callback":
                await caller.callback(call)
            else:
                await caller.inbound(call)
    finally:
        await server.stop(grace=1)
        if services.background:
            await asyncio.wait(services.background, timeout=10)
        await services.writer.close()
        services.executor.shutdown(wait=True)


# -- the site: operators complete cards, the supervisor listens ---------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class _Choices:
    purposes: list[int]
    categories: list[tuple[int, list[int]]]
    tags: list[int]


def _choices(session: Any) -> _Choices:
    return _Choices(
        purposes=list(session.scalars(select(CallPurpose.id).order_by(CallPurpose.position))),
        categories=[
            (category.id, [sub.id for sub in category.sub_categories])
            for category in session.scalars(select(CallCategory))
        ],
        tags=list(session.scalars(select(CallTag.id))),
    )


def _signed_in(app: Any, login: str) -> tuple[Any, str]:
    """A browser signed in as `login`, and its session's CSRF token (the same on every form)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    answer = client.post(
        "/login", data={"login": login, "password": login, "csrf_token": _csrf(page)}
    )
    assert answer.status_code in (302, 303), f"{login} could not sign in"
    return client, _csrf(client.get("/account").get_data(as_text=True))


def _use_the_site(settings: Settings, calls: list[DemoCall], rng: random.Random) -> None:
    """Complete cards as their operators and listen as the supervisor; stamp the week's times."""
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions() as session:
        cards = {
            card.linkedid: card
            for card in session.scalars(select(Call).where(Call.linkedid.like(f"{MARK}%")))
        }
        choices = _choices(session)
    from webadmin import create_app

    app = create_app(settings=settings)
    clients = {login: _signed_in(app, login) for login in (*OPERATORS.values(), "supervisor")}
    moments: list[tuple[int, datetime, datetime]] = []  # card, completed at, listened at
    for call in calls:
        card = cards.get(call.linkedid)
        if card is None or card.ended_at is None or card.operator_id is None:
            continue
        if call.complete:
            login = OPERATORS[call.extra.get("transferred_to", call.operator)]
            _complete(clients[login], card.id, choices, rng)
        if call.listened:
            clients["supervisor"][0].get(f"/calls/{card.id}/recording").close()
        wrap_up = timedelta(seconds=rng.randint(15, 150))
        later = timedelta(minutes=rng.randint(10, 180))  # the supervisor's review
        moments.append((card.id, _utc(card.ended_at) + wrap_up, _utc(card.ended_at) + later))
    with transaction(sessions) as session:
        for card_id, completed, listened in moments:
            # The site stamps its own clock: move each trace to the week's moment.
            session.execute(
                update(Call)
                .where(Call.id == card_id, Call.completed_at.is_not(None))
                .values(completed_at=completed)
            )
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.call_id == card_id, AuditEntry.action == "card.complete")
                .values(at=completed)
            )
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.call_id == card_id, AuditEntry.action.like("recording.%"))
                .values(at=listened)
            )


def _complete(
    browser: tuple[Any, str], card_id: int, choices: _Choices, rng: random.Random
) -> None:
    client, token = browser
    category, subcategories = rng.choice(choices.categories)
    form = {
        "csrf_token": token,
        "purpose": str(rng.choice(choices.purposes)),
        "category": str(category),
        "subcategory": str(rng.choice(subcategories)) if subcategories else "",
        "notes": rng.choice(SUMMARIES),
        "tags": [str(tag) for tag in rng.sample(choices.tags, rng.randint(0, 1))],
    }
    if rng.random() < 0.7:
        form["resolved_first_call"] = "y"
    answer = client.post(f"/calls/{card_id}/card", data=form)
    assert answer.status_code in (302, 303), f"card {card_id} was not saved"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- the whole week -----------------------------------------------------------------------


def _take_messages_after_hours(session: Any) -> None:
    """Publish the clinic's flow with voicemail when closed (a real publication, by admin)."""
    version = latest_version(session)
    if version is None:
        return
    document = version.document
    schedules = [
        {
            **schedule,
            "closed_action": {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 120},
        }
        for schedule in document["schedules"]
    ]
    if schedules == document["schedules"]:
        return
    admin = session.scalar(select(User.id).where(User.login == "admin"))
    replace_document(session, cast(FlowDocument, {**document, "schedules": schedules}))
    publish(
        session,
        user_id=admin,
        comment="Демо: в нерабочее время — голосовая почта (demo: voicemail after hours)",
    )


def seed_demo_week(settings: Settings, *, today: date | None = None, seed: int = 9) -> int:
    """Make the demo week unless it is there; the number of calls made (0: already there)."""
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions() as session:
        if session.scalar(select(Call.id).where(Call.linkedid.like(f"{MARK}%")).limit(1)):
            record_sessions(session, MARK, ZONE)  # a week seeded before operator states
            session.commit()
            return 0
    # bench/ (the AGI peer) is not in the wheel: like the sandbox, the demo runs from a
    # checkout. Found before anything is written.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    importlib.import_module("bench.agi_client")
    with transaction(sessions) as session:
        _take_messages_after_hours(session)
    rng = random.Random(seed)
    calls = plan_week(today or datetime.now(ZONE).date(), rng)
    asyncio.run(_make_calls(settings, calls))
    _use_the_site(settings, calls, rng)
    with transaction(sessions) as session:
        record_sessions(session, MARK, ZONE)
    return len(calls)
