"""The floor's load on the site: operators polling the screen-pop, supervisors opening reports.

The site runs as in production (`gunicorn -w 4`, sync workers, webadmin.wsgi:app) on the
history's database. Each operator signs in and asks `/workspace/current` again one poll
interval after each answer, as workspace.js does; two supervisors open the reports one after
the other. Meanwhile a ringer makes a card ring at an idle operator's extension, as the
FastAGI `ringing` step does (a card opened, then its `ringing_extension` set), and times how
long until that operator's poll returns the card. Each level runs in the same run, so the
level with one operator is the baseline the others are compared with.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp
from urllib.parse import urlencode

from sqlalchemy import select, text

from bench.machine import load_average
from bench.processes import ServerProcess, bench_environment, free_port, python_module
from bench.stats import median, percentile
from models import Queue, QueueMember, Role, User
from models.session import make_engine, make_session_factory, transaction

#: gunicorn's workers, as the README's production command.
WORKERS = 4
#: The workspace's poll interval (WORKSPACE_POLL_MS): the next poll this long after an answer.
POLL_SEC = 1.0
#: A supervisor looks at a report this long before opening the next.
REPORT_THINK_SEC = 2.0
#: A ring not on the operator's screen after this long counts as not shown.
RING_DEADLINE_SEC = 15.0
#: Marks the cards the ringer makes, so they are removed afterwards.
RING_PREFIX = "bench-floor-"
_CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class FloorLevel:
    """What one number of operators polling measured."""

    operators: int
    seconds: float
    #: False: measured without the open-card indexes of migration 0010 (the poll as before).
    open_indexes: bool = True
    polls_ms: list[float] = field(default_factory=list)
    reports_ms: list[float] = field(default_factory=list)
    ring_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rings: int = 0
    rings_not_shown: int = 0
    load: str = ""

    @property
    def polls_per_sec(self) -> float:
        """Screen-pop polls answered per second."""
        return len(self.polls_ms) / self.seconds if self.seconds else 0.0


@dataclass
class FloorResult:
    """Every level of the floor's load, the first the baseline."""

    levels: list[FloorLevel] = field(default_factory=list)
    workers: int = WORKERS

    @property
    def baseline(self) -> FloorLevel | None:
        """The first level (the fewest operators, with every index)."""
        return self.levels[0] if self.levels else None


class SiteClient:
    """One person's browser, reduced to its session cookie: a new connection per request, as
    gunicorn's sync workers close each one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; its status and body (cookies kept)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, data
        finally:
            connection.close()

    def sign_in(self, login: str, password: str) -> None:
        """Sign in through the form, CSRF token and all."""
        status, page = self.request("GET", "/login")
        token = _CSRF.search(page)
        if status != 200 or token is None:
            raise RuntimeError(f"no sign-in form: HTTP {status}")
        body = urlencode(
            {"login": login, "password": password, "csrf_token": token.group(1).decode()}
        ).encode()
        status, _ = self.request(
            "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 302:
            raise RuntimeError(f"cannot sign in as {login}: HTTP {status}")


def add_floor_operators(
    url: str, count: int, password_hash: str
) -> list[tuple[str, str, str | None]]:
    """Operators with extensions 101.. up to `count` (made if missing with the bench's
    password); (login, extension, password: None for the bench's, else the demo's own)."""
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            queues = list(session.scalars(select(Queue).order_by(Queue.id)))
            existing = {
                user.extension: user
                for user in session.scalars(select(User).where(User.role == Role.OPERATOR.value))
            }
            floor = []
            for number in range(count):
                extension = str(101 + number)
                user = existing.get(extension)
                if user is None:
                    user = User(
                        login=f"op{extension}",
                        name=f"Оператор {extension}",
                        role=Role.OPERATOR.value,
                        extension=extension,
                        password_hash=password_hash,
                    )
                    user.memberships.append(
                        QueueMember(queue=queues[number % len(queues)], penalty=0)
                    )
                    session.add(user)
                # The demo's operators keep their password (their login): the site's timings
                # sign in with it.
                floor.append(
                    (user.login, extension, user.login if user.check_password(user.login) else None)
                )
            return floor
    finally:
        engine.dispose()


@contextmanager
def production_site(url: str, log_dir: Path) -> Iterator[int]:
    """`gunicorn -w 4` on the history's database for a while; its port."""
    port = free_port()
    env = bench_environment(
        DATABASE_URL=url,
        SECRET_KEY="bench-floor-secret-key",  # noqa: S106
        RECORDINGS_DIR=str(log_dir / "recordings"),
    )
    server = ServerProcess(
        "gunicorn",
        python_module(
            "gunicorn",
            "-w",
            str(WORKERS),
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "webadmin.wsgi:app",
        ),
        port,
        log_dir / "gunicorn.log",
        env,
    )
    server.start(timeout=60)
    try:
        deadline = time.monotonic() + 60
        while SiteClient(port).request("GET", "/login")[0] != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the site did not answer /login")
            time.sleep(0.2)
        yield port
    finally:
        server.stop()


class Ringer:
    """Makes cards ring at the floor's extensions, as FastAGI's `incoming` and `ringing` do."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.lock = threading.Lock()
        self.ringing: dict[str, tuple[int, float]] = {}  # extension -> (card id, rung at)
        self.shown: list[float] = []
        self.not_shown = 0
        self.serial = 0

    def ring(self, extension: str) -> None:
        """Open a card, then ring it at `extension`; the clock starts when the ring commits."""
        self.serial += 1
        linkedid = f"{RING_PREFIX}{time.time():.6f}.{self.serial}"
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            card_id = connection.scalar(
                text(
                    "INSERT INTO calls (uniqueid, linkedid, direction, status, started_at, "
                    "src_number, dst_number, queue, resolved_first_call, needs_callback, "
                    "recording_state, updated_at) VALUES (:id, :id, 'inbound', 'ringing', :now, "
                    "'+79160000000', '74951234567', 'appointments', false, false, 'pending', :now) "
                    "RETURNING id"
                ),
                {"id": linkedid, "now": now},
            )
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE calls SET ringing_extension = :extension, ringing_at = :now, "
                    "updated_at = :now WHERE id = :card AND ended_at IS NULL"
                ),
                {"extension": extension, "now": datetime.now(UTC), "card": card_id},
            )
        with self.lock:
            self.ringing[extension] = (int(card_id), time.perf_counter())

    def seen(self, extension: str, call_id: int | None) -> None:
        """An operator's poll answered `call_id`: a ring shown stops the clock."""
        with self.lock:
            ring = self.ringing.get(extension)
            if ring is None or ring[0] != call_id:
                return
            del self.ringing[extension]
            self.shown.append((time.perf_counter() - ring[1]) * 1000)
        self.hang_up(ring[0])

    def expire(self) -> None:
        """Rings past the deadline count as not shown and are hung up."""
        now = time.perf_counter()
        with self.lock:
            late = [
                (extension, ring)
                for extension, ring in self.ringing.items()
                if now - ring[1] > RING_DEADLINE_SEC
            ]
            for extension, _ring in late:
                del self.ringing[extension]
            self.not_shown += len(late)
        for _extension, ring in late:
            self.hang_up(ring[0])

    def hang_up(self, card_id: int) -> None:
        """The caller gave up: the card ends, as the hang-up route would close it."""
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE calls SET status = 'missed', ended_at = :now, ringing_extension = "
                    "NULL, "
                    "end_reason = 'caller_hangup_queue', recording_state = 'none' WHERE id = :card"
                ),
                {"now": datetime.now(UTC), "card": card_id},
            )

    def idle(self, extensions: list[str]) -> list[str]:
        """The extensions with nothing ringing now."""
        with self.lock:
            return [extension for extension in extensions if extension not in self.ringing]

    def remove_cards(self) -> None:
        """Delete every card the ringer made (the history stays as it was)."""
        with self.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM calls WHERE linkedid LIKE :prefix"), {"prefix": f"{RING_PREFIX}%"}
            )
        self.engine.dispose()


def _signed_in(
    client: SiteClient, login: str, password: str, level: FloorLevel, ready: threading.Event
) -> bool:
    """Sign in; a failure is the level's error, not a thread's traceback."""
    try:
        client.sign_in(login, password)
        return True
    except (OSError, RuntimeError) as error:
        level.errors.append(f"sign-in of {login}: {error}")
        return False
    finally:
        ready.set()


def _operator(
    port: int,
    login: str,
    password: str,
    extension: str,
    ringer: Ringer,
    level: FloorLevel,
    stop: threading.Event,
    ready: threading.Event,
    start_in: float,
) -> None:
    """One operator's workspace: poll, wait the interval after each answer, until `stop`."""
    client = SiteClient(port)
    if not _signed_in(client, login, password, level, ready) or stop.wait(start_in):
        return
    have: int | None = None
    while not stop.is_set():
        path = "/workspace/current" + (f"?have={have}" if have else "")
        started = time.perf_counter()
        status, body = client.request("GET", path, headers={"Accept": "application/json"})
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            level.errors.append(f"{path}: HTTP {status}")
        else:
            level.polls_ms.append(elapsed)
            call_id = json.loads(body).get("call_id")
            have = call_id
            ringer.seen(extension, call_id)
        stop.wait(POLL_SEC)


def _supervisor(
    port: int,
    login: str,
    password: str,
    paths: list[str],
    level: FloorLevel,
    stop: threading.Event,
    ready: threading.Event,
) -> None:
    """A supervisor opening the reports one after another, looking at each a while."""
    client = SiteClient(port)
    if not _signed_in(client, login, password, level, ready):
        return
    turn = 0
    while not stop.is_set():
        path = paths[turn % len(paths)]
        turn += 1
        started = time.perf_counter()
        status, _ = client.request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            level.errors.append(f"{path}: HTTP {status}")
        else:
            level.reports_ms.append(elapsed)
        stop.wait(REPORT_THINK_SEC)


def report_paths(today: datetime) -> list[str]:
    """The reports supervisors open on the floor: each kind over 7 and 30 days."""
    end = today.date().isoformat()
    paths: list[str] = []
    for days in (7, 30):
        start = (today - timedelta(days=days - 1)).date().isoformat()
        paths.extend(
            f"/reports/{kind}?from={start}&to={end}"
            for kind in ("queues", "operators", "categories")
        )
    return paths


#: The indexes of migration 0010 (models/calls.py).
OPEN_INDEXES = ("ix_calls_open_ringing", "ix_calls_open_operator")


@contextmanager
def without_open_indexes(url: str) -> Iterator[None]:
    """The cards without the open-card indexes for a while (the screen-pop as before 0010)."""
    from models import Base

    indexes = [
        index for index in Base.metadata.tables["calls"].indexes if index.name in OPEN_INDEXES
    ]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for index in indexes:
                index.drop(connection, checkfirst=True)
            connection.execute(text("ANALYZE calls"))
        yield
    finally:
        with engine.begin() as connection:
            for index in indexes:
                index.create(connection, checkfirst=True)
            connection.execute(text("ANALYZE calls"))
        engine.dispose()


def run_level(
    port: int,
    url: str,
    floor: list[tuple[str, str, str | None]],
    password: str,
    supervisors: list[tuple[str, str]],
    operators: int,
    seconds: float,
    ring_every: float,
    today: datetime,
) -> FloorLevel:
    """`operators` polling and the supervisors reading for `seconds`, rings meanwhile."""
    level = FloorLevel(operators, seconds)
    ringer = Ringer(url)
    stop = threading.Event()
    chosen = floor[:operators]
    ready = [threading.Event() for _ in range(operators + len(supervisors))]
    # Polls spread over the interval, as operators who opened the page at different times.
    threads = [
        threading.Thread(
            target=_operator,
            daemon=True,
            args=(
                port,
                login,
                own or password,
                extension,
                ringer,
                level,
                stop,
                ready[index],
                POLL_SEC * index / operators,
            ),
        )
        for index, (login, extension, own) in enumerate(chosen)
    ]
    paths = report_paths(today)
    threads += [
        threading.Thread(
            target=_supervisor,
            daemon=True,
            args=(
                port,
                login,
                secret,
                paths[index :: len(supervisors)] + paths,
                level,
                stop,
                ready[operators + index],
            ),
        )
        for index, (login, secret) in enumerate(supervisors)
    ]
    try:
        for thread in threads:
            thread.start()
        # Every sign-in first (scrypt each), a few polls to settle, then the measured stretch.
        deadline = time.monotonic() + 300
        for event in ready:
            if not event.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("the floor's staff could not sign in")
        stop.wait(3 * POLL_SEC)
        level.polls_ms.clear()
        level.reports_ms.clear()
        extensions = [extension for _login, extension, _own in chosen]
        rng = random.Random(operators)
        started = time.monotonic()
        end = started + seconds
        next_ring = started
        while time.monotonic() < end:
            ringer.expire()
            if time.monotonic() >= next_ring:
                idle = ringer.idle(extensions)
                if idle:
                    ringer.ring(rng.choice(idle))
                next_ring += ring_every
            time.sleep(0.02)
        # The last rings still get their polls (each is shown or expires), the floor polling on.
        while ringer.idle(extensions) != extensions:
            ringer.expire()
            time.sleep(0.02)
        level.seconds = time.monotonic() - started
        level.load = load_average()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    level.ring_ms = list(ringer.shown)
    level.rings = ringer.serial
    level.rings_not_shown = ringer.not_shown
    ringer.remove_cards()
    return level


def run_floor(
    url: str,
    levels: tuple[int, ...],
    *,
    seconds: float,
    password: str,
    password_hash: str,
    ring_every: float = 0.5,
    before: int | None = None,
    log: Callable[[str], None] = print,
) -> FloorResult:
    """Every level (operators polling) against gunicorn on the history at `url`; then, if
    `before`, that many operators without the open-card indexes."""
    from bench.site_history import ZONE

    floor = add_floor_operators(url, max(levels), password_hash)
    supervisors = [("admin", "admin"), ("supervisor2", password)]
    today = datetime.now(ZONE)
    result = FloorResult()
    with production_site(url, Path(mkdtemp(prefix="callcards-floor-"))) as port:
        runs = [(operators, True) for operators in levels]
        runs += [(before, False)] if before else []
        for operators, indexed in runs:
            if indexed:
                level = run_level(
                    port, url, floor, password, supervisors, operators, seconds, ring_every, today
                )
            else:
                with without_open_indexes(url):
                    level = run_level(
                        port,
                        url,
                        floor,
                        password,
                        supervisors,
                        operators,
                        seconds,
                        ring_every,
                        today,
                    )
                level.open_indexes = False
            result.levels.append(level)
            log(
                f"  {'' if indexed else 'without the indexes of 0010: '}"
                f"floor {operators:>3} operators: poll p50 {median(level.polls_ms):6.1f} ms "
                f"p95 {percentile(level.polls_ms, 0.95):7.1f} ms ({level.polls_per_sec:.0f}/s);"
                f" reports p95 {percentile(level.reports_ms, 0.95):7.1f} ms; ring to screen "
                f"p95 {percentile(level.ring_ms, 0.95):7.1f} ms ({len(level.ring_ms)} rings, "
                f"{level.rings_not_shown} not shown); errors {len(level.errors)}; "
                f"load {level.load}"
            )
    return result
