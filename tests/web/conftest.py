"""Fixtures for the staff site: its own PostgreSQL database, the app, a client, sign-in."""

from __future__ import annotations

import math
import os
import shutil
import struct
import threading
import uuid
import wave
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, Table, delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from callcards.config import Settings
from callcards.demo import seed_demo
from models import Base, Call, Status, User, migrate, utcnow
from models.session import make_engine, make_session_factory, transaction
from pbx.client import PbxClient
from pbx.steps import ApplyResult
from tests.conftest import demo_database, drop_database
from webadmin import create_app

#: Tables the tests may change and that are put back as seeded after each test.
RESTORED = (
    "call_purpose",
    "call_category",
    "call_sub_category",
    "call_tag",
    "users",
    "queue_members",
    "queue_supervisors",
    *("queues", "schedules", "ivr_menus", "dids", "flow_settings", "flow_versions"),
)
#: The call flow's tables, in the order they are put back (a DID needs its schedule).
FLOW_TABLES = ("queues", "schedules", "ivr_menus", "dids", "flow_settings", "flow_versions")
TEST_SECRET_KEY = "web-tests-secret-key"


@pytest.fixture(scope="session")
def web_database_url() -> Iterator[str]:
    """A PostgreSQL database for the site's tests, migrated and seeded with the demo data."""
    name = f"callcards_test_web_{os.getpid()}"
    yield demo_database(name)
    drop_database(name)


@pytest.fixture(scope="session")
def web_engine(web_database_url: str) -> Iterator[Engine]:
    """An engine for arranging and checking data outside the app."""
    engine = make_engine(web_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_rows(web_engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """The seeded rows of the tables tests may change, to put back after each test."""
    with web_engine.connect() as connection:
        return {
            name: [
                dict(row._mapping) for row in connection.execute(select(Base.metadata.tables[name]))
            ]
            for name in RESTORED
        }


@pytest.fixture(autouse=True)
def _restore_seed(
    web_engine: Engine, seeded_rows: dict[str, list[dict[str, Any]]]
) -> Iterator[None]:
    """Every test starts from the seeded data: no cards, no audit, the demo staff and call flow."""
    yield
    tables: dict[str, Table] = {name: Base.metadata.tables[name] for name in RESTORED}
    with web_engine.begin() as connection:
        connection.execute(
            text("TRUNCATE calls, call_events, call_tags, audit_log, callback_tasks CASCADE")
        )
        for name in (
            "queue_members",
            "queue_supervisors",
            "call_sub_category",
            "call_category",
            "call_purpose",
            "call_tag",
            *reversed(FLOW_TABLES),
        ):
            connection.execute(delete(tables[name]))
        users = tables["users"]
        seeded_ids = [row["id"] for row in seeded_rows["users"]]
        connection.execute(delete(users).where(users.c.id.not_in(seeded_ids)))
        for row in seeded_rows["users"]:
            connection.execute(update(users).where(users.c.id == row["id"]).values(**row))
        for name in (
            "call_purpose",
            "call_category",
            "call_sub_category",
            "call_tag",
            *FLOW_TABLES,
            "queue_members",
            "queue_supervisors",
        ):
            if seeded_rows[name]:
                connection.execute(insert(tables[name]), seeded_rows[name])


@pytest.fixture(scope="session")
def recordings_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RECORDINGS_DIR the test app reads."""
    return tmp_path_factory.mktemp("recordings")


def asterisk_answers(
    monkeypatch: pytest.MonkeyPatch, app: Flask, result: ApplyResult
) -> list[Session]:
    """Give `app` a pbx whose queue applies answer `result` (Asterisk is not the point of the
    test); the sessions it was asked with."""
    asked: list[Session] = []

    class AsteriskAnswers(PbxClient):
        def apply_queues(self, session: Session) -> ApplyResult:
            asked.append(session)
            return result

    monkeypatch.setitem(app.extensions, "pbx", AsteriskAnswers(app.config["CALLCARDS_SETTINGS"]))
    return asked


def make_settings(url: str, recordings: Path) -> Settings:
    """Settings for a test app on the test database (uploaded prompts beside the recordings)."""
    return Settings(
        database_url=url,
        recordings_dir=recordings,
        secret_key=TEST_SECRET_KEY,
        prompts_dir=recordings.parent / "prompts",
    )


@pytest.fixture(scope="session")
def app(web_database_url: str, recordings_dir: Path) -> Flask:
    """The site on the test database (CSRF off; the CSRF tests use `csrf_app`)."""
    return create_app(
        make_settings(web_database_url, recordings_dir),
        test_config={"TESTING": True, "WTF_CSRF_ENABLED": False},
    )


@pytest.fixture(scope="session")
def csrf_app(web_database_url: str, recordings_dir: Path) -> Flask:
    """The site as in production: CSRF checked on every form."""
    return create_app(
        make_settings(web_database_url, recordings_dir), test_config={"TESTING": True}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser without cookies."""
    return app.test_client()


def login(
    client: FlaskClient, login: str, password: str | None = None, **extra: str
) -> TestResponse:
    """Sign in through the form (demo passwords equal the login)."""
    return client.post("/login", data={"login": login, "password": password or login, **extra})


@pytest.fixture
def sessions(web_engine: Engine) -> sessionmaker[Session]:
    """Sessions for arranging data the way the FastAGI server would."""
    return make_session_factory(web_engine)


def user_id(sessions: sessionmaker[Session], login_name: str) -> int:
    """The id of a user by login."""
    with sessions() as session:
        found = session.scalar(select(User.id).where(User.login == login_name))
        assert found is not None, login_name
        return found


@pytest.fixture
def make_call(sessions: sessionmaker[Session]) -> Callable[..., int]:
    """Insert a card (answered by default) and return its id; keywords set any column."""

    def make(operator: str | None = "operator1", **fields: Any) -> int:
        started = fields.pop("started_at", utcnow() - timedelta(minutes=10))
        unique = uuid.uuid4().hex[:12]
        values: dict[str, Any] = {
            "uniqueid": f"{unique}.1",
            "linkedid": f"{unique}.1",
            "queue": "reception",
            "direction": "inbound",
            "status": Status.ANSWERED.value,
            "started_at": started,
            "answered_at": started + timedelta(seconds=15),
            "ended_at": started + timedelta(seconds=135),
            "duration_sec": 135,
            "talk_sec": 120,
            "wait_sec": 15,
            "src_number": "+79161234567",
            "dst_number": "84951234567",
            "did": "84951234567",
            "did_source": "Yandex Direct",
            "did_city": "Москва",
            "ivr_path": "main>1",
            "recording_state": "ok",
        }
        values.update(fields)
        with transaction(sessions) as session:
            if operator is not None and "operator_id" not in values:
                values["operator_id"] = session.scalar(
                    select(User.id).where(User.login == operator)
                )
            call = Call(**values)
            session.add(call)
            session.flush()
            return call.id

    return make


def write_tone(path: Path, seconds: float = 3.0, rate: int = 8000) -> Path:
    """A short 440 Hz tone as 16-bit mono WAV, like a MixMonitor file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


# -- Debian's Chromium through Playwright (browser tests) -------------------------------

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def live_url(csrf_app: Flask) -> Iterator[str]:
    """The site (CSRF on, as in production) served on a free local port."""
    server = make_server("127.0.0.1", 0, csrf_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (scripts/test.sh installs it: never a skip)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/test.sh (apt-get install -y chromium)")
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # No name looked up (Chromium asks DNS for Google's hosts otherwise): the tests
            # send packets to 127.0.0.0/8 only.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, live_url: str) -> Iterator[Callable[[], Any]]:
    """Open pages in fresh browser contexts (one per user), closed after the test."""
    contexts: list[Any] = []

    def open_page() -> Any:
        context = browser.new_context(
            base_url=live_url,
            accept_downloads=True,
            viewport={"width": 1366, "height": 820},
            locale="ru-RU",
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, login: str) -> None:
    """Sign in through the form like a person."""
    page.goto("/login")
    page.fill("#login", login)
    page.fill("#password", login)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Any, name: str) -> None:
    """Keep a screenshot in artifacts/; with CALLCARDS_UPDATE_SCREENSHOTS=1 also in docs/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("CALLCARDS_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(target, DOCS_SCREENSHOTS / target.name)


# -- The site on PostgreSQL and on SQLite (hostile-input suites) ------------------------

#: CSRF off so forms reach their parsers; failed sign-ins never lock anyone out.
ANY_DATABASE_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "LOGIN_IP_FAILURES": 10**6,
    "LOGIN_LOCK_FAILURES": 10**6,
}


def _with_cards(engine: Engine) -> None:
    """An answered card of operator1 and a missed one, so card routes reach real rows."""
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        operator = session.scalar(select(User.id).where(User.login == "operator1"))
        started = utcnow() - timedelta(hours=1)
        answered, missed = (f"{uuid.uuid4().hex[:12]}.1" for _ in range(2))
        session.add_all(
            [
                Call(
                    uniqueid=answered,
                    linkedid=answered,
                    direction="inbound",
                    status=Status.ANSWERED.value,
                    queue="reception",
                    started_at=started,
                    answered_at=started + timedelta(seconds=5),
                    ended_at=started + timedelta(seconds=65),
                    operator_id=operator,
                    src_number="+79160000001",
                    recording_state="missing",
                ),
                Call(
                    uniqueid=missed,
                    linkedid=missed,
                    direction="inbound",
                    status=Status.MISSED.value,
                    queue="reception",
                    started_at=started,
                    ended_at=started + timedelta(seconds=30),
                    src_number="+79160000002",
                    recording_state="missing",
                ),
            ]
        )


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A SQLite database migrated and seeded like `callcards db upgrade` + the demo data."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'callcards.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        seed_demo(session)
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def site_on_each_database(
    request: pytest.FixtureRequest, recordings_dir: Path
) -> tuple[Flask, Engine]:
    """The site (CSRF off, so forms reach their parsers) on PostgreSQL, then on SQLite, with
    two cards; hostile sign-ins may fail there without locking the staff out."""
    if request.param == "postgresql":
        engine: Engine = request.getfixturevalue("web_engine")
    else:
        engine = request.getfixturevalue("sqlite_engine")
    _with_cards(engine)
    app = create_app(
        make_settings(engine.url.render_as_string(hide_password=False), recordings_dir),
        test_config=ANY_DATABASE_CONFIG,
    )
    return app, engine


def visit(page: Any, path: str) -> Any:
    """Open a page and insist it answered 2xx: Playwright itself does not fail on a 500."""
    response = page.goto(path)
    assert response is not None, f"{path}: no response"
    assert response.ok, f"{path} answered {response.status}"
    return response


def console_errors(page: Any) -> list[str]:
    """The page's script errors, console errors and failed requests, collected as they come.

    A failed request is named by status and path (Chromium's own console line for it does
    not say which); a test that expects one (a form answered 400) removes it by hand.
    """
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"console: {message.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            errors.append(
                f"{response.status} {response.request.method} {urlsplit(response.url).path}"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"script: {error}"))
    page.on("response", on_response)
    return errors
