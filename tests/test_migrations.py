"""The migrations build exactly the tables the models describe, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import Base, migrate
from models.session import make_engine
from tests.conftest import create_database, drop_database


def test_models_and_migrations_agree_on_postgresql(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert differences == [], "a model changed without its migration (alembic revision -m ...)"


def test_migrations_go_down_to_nothing_and_up_again() -> None:
    url = create_database("callcards_test_migrations")
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        migrate.upgrade(url)
    finally:
        drop_database("callcards_test_migrations")


def test_migrations_run_on_the_embedded_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'callcards.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
