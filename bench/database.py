"""PostgreSQL databases of the benchmarks' own: created fresh, migrated, seeded, dropped."""

from __future__ import annotations

import os
import re

from callcards.config import normalize_database_url
from callcards.demo import seed_demo
from dialplan.demo import demo_document
from dialplan.document import FlowDocument
from models import migrate
from models.flow import publish, store_document
from models.session import make_engine, make_session_factory, transaction

#: A superuser connection on the PostgreSQL the benchmarks use (to create their databases).
ADMIN_URL = os.environ.get(
    "CALLCARDS_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: A DID that goes straight to a queue, no menu: the Asterisk setup-time comparison uses it.
DIRECT_DID = "74950000000"
DIRECT_QUEUE = "appointments"
_NAME = re.compile(r"^[a-z0-9_]+$")


def database_url(name: str, admin_url: str = ADMIN_URL) -> str:
    """The URL of database `name` on the server of `admin_url` (the benchmarks' PostgreSQL)."""
    return normalize_database_url(admin_url.rsplit("/", 1)[0] + f"/{name}")


def _admin(sql: str, admin_url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def create_database(name: str, admin_url: str = ADMIN_URL) -> str:
    """An empty database `name` (dropped first if it exists); its URL."""
    drop_database(name, admin_url)
    _admin(f'CREATE DATABASE "{name}"', admin_url)
    return database_url(name, admin_url)


def drop_database(name: str, admin_url: str = ADMIN_URL) -> None:
    """Drop database `name`, closing whatever still holds it."""
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


def bench_flow() -> FlowDocument:
    """The demo clinic's flow, open whatever the hour, plus a DID straight to a queue."""
    document = demo_document()
    for schedule in document["schedules"]:
        # Otherwise a run at night or on a Sunday measures only "closed" calls.
        schedule["override"] = {"state": "open", "until": None}
    document["dids"].append(
        {
            "number": DIRECT_DID,
            "entry": {"kind": "queue", "target": DIRECT_QUEUE},
            "source": "bench",
            "city": None,
            "schedule": "clinic",
            "active": True,
        }
    )
    return document


def prepare_call_database(name: str) -> str:
    """A fresh database with the schema, the demo data and the bench flow published; its URL."""
    url = create_database(name)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session)
            store_document(session, bench_flow())
            publish(session, user_id=None, comment="bench: clinic open, direct DID")
    finally:
        engine.dispose()
    return url
