"""The migrations build exactly the tables the models describe, and go down and up again to
the same schema, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from models import Base, migrate
from models.session import make_engine
from tests.conftest import create_database, drop_database

#: Differences that are right, with why. The trigram indexes of the number search exist
#: only on PostgreSQL (pg_trgm; `ddl_if(dialect="postgresql")` in the models).
EXPECTED = {
    "postgresql": set(),
    "sqlite": {
        ("add_index", "ix_calls_src_number_trgm"),
        ("add_index", "ix_calls_dst_number_trgm"),
    },
}


def unexpected(url: str) -> list[Any]:
    """The differences between the database and the models that EXPECTED does not excuse."""
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    found = differences(url)
    named = {(diff[0], getattr(diff[1], "name", None)) for diff in found if isinstance(diff, tuple)}
    assert EXPECTED[dialect] <= named, "an expected difference is gone: update EXPECTED"
    return [
        diff
        for diff in found
        if not (
            isinstance(diff, tuple)
            and (diff[0], getattr(diff[1], "name", None)) in EXPECTED[dialect]
        )
    ]


def differences(url: str) -> list[Any]:
    """What autogenerate would change to bring the database to the models (tables, columns
    with types and nullability, indexes, unique and foreign keys)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (ix_calls_started_id_desc): schema()
            # compares their definitions from sqlite_master instead.
            warnings.filterwarnings(
                "ignore",
                "autogenerate skipping metadata-specified expression-based index",
                UserWarning,
            )
            return list(
                compare_metadata(
                    MigrationContext.configure(connection, opts={"compare_type": True}),
                    Base.metadata,
                )
            )
    finally:
        engine.dispose()


#: Every index as the database itself writes it down, expression indexes included.
INDEX_DEFINITIONS = {
    "postgresql": "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "AND tablename <> 'alembic_version'",
    "sqlite": "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
}


def schema(url: str) -> dict[str, Any]:
    """The reflected schema, with what autogenerate does not compare (checks, defaults)."""
    engine = make_engine(url)
    try:
        seen = inspect(engine)
        tables: dict[str, Any] = {}
        for name in sorted(seen.get_table_names()):
            if name == "alembic_version":
                continue
            tables[name] = {
                # By name: a column a downgrade adds back comes last, which changes nothing.
                "columns": sorted(
                    (
                        column["name"],
                        str(column["type"]),
                        column["nullable"],
                        str(column.get("default")),
                    )
                    for column in seen.get_columns(name)
                ),
                "primary key": seen.get_pk_constraint(name)["constrained_columns"],
                "indexes": sorted(
                    (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                    for index in seen.get_indexes(name)
                ),
                "unique": sorted(
                    (constraint["name"], tuple(constraint["column_names"]))
                    for constraint in seen.get_unique_constraints(name)
                ),
                "foreign keys": sorted(
                    (
                        key["name"] or "",
                        tuple(key["constrained_columns"]),
                        key["referred_table"],
                        tuple(key["referred_columns"]),
                        str(key.get("options")),
                    )
                    for key in seen.get_foreign_keys(name)
                ),
                "checks": sorted(
                    (check["name"] or "", check["sqltext"])
                    for check in seen.get_check_constraints(name)
                ),
            }
        with engine.connect() as connection:
            tables["index definitions"] = sorted(
                tuple(row)
                for row in connection.exec_driver_sql(INDEX_DEFINITIONS[engine.dialect.name])
            )
        return tables
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every migration from the first to the head, in order."""
    config = migrate.alembic_config("sqlite://")
    walked = ScriptDirectory.from_config(config).walk_revisions("base", "heads")
    return [script.revision for script in reversed(list(walked))]


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the product runs on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'callcards.sqlite3'}"
        return
    name = f"callcards_test_migrations_{os.getpid()}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def test_models_and_migrations_agree_on_postgresql(database_url: str) -> None:
    assert differences(database_url) == [], (
        "a model changed without its migration (alembic revision -m ...)"
    )


def test_migrations_go_down_to_nothing_and_up_again_to_the_models(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert unexpected(empty_database) == []
    built = schema(empty_database)
    assert {"calls", "call_events", "users", "queues"} <= set(built)
    assert built["index definitions"]
    if not empty_database.startswith("sqlite"):  # an expression index autogenerate skips
        assert any("ix_calls_started_id_desc" in str(row) for row in built["index definitions"])
    migrate.downgrade(empty_database, "base")
    assert schema(empty_database) == {"index definitions": []}
    migrate.upgrade(empty_database)
    assert unexpected(empty_database) == []
    assert schema(empty_database) == built


def test_each_migration_goes_down_to_the_schema_before_it_and_up_again(empty_database: str) -> None:
    steps = revisions()
    assert len(steps) >= 8
    before = schema(empty_database)
    for revision in steps:
        migrate.upgrade(empty_database, revision)
        after = schema(empty_database)
        migrate.downgrade(empty_database, "-1")
        assert schema(empty_database) == before, f"{revision} down is not the schema before it"
        migrate.upgrade(empty_database, revision)
        assert schema(empty_database) == after, f"{revision} down and up changed the schema"
        before = after
    assert unexpected(empty_database) == []
