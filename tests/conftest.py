"""Fixtures shared by every test layer: throwaway databases for the store.

PostgreSQL tests use the server on 127.0.0.1:5432 (user ``postgres``, trust auth). Each
pytest process (each xdist worker too) creates its own database and drops it at the end.
When the server is unreachable those tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from brainsync.store import Store, open_store
from brainsync.store.schema import metadata

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres"


def _unavailable(reason: str) -> NoReturn:
    """Skip for lack of a server locally; fail in CI, where the server is required."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test process, as a SQLAlchemy URL."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        _unavailable("psycopg is not installed")
    name = f"brainsync_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL on {PG_HOST}:{PG_PORT} is unreachable: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def _empty_store_tables(url: str) -> None:
    """TRUNCATE the store's tables that exist in the PostgreSQL database at ``url``."""
    import psycopg
    from psycopg import sql

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    names = [table.name for table in metadata.sorted_tables]
    with psycopg.connect(dsn, autocommit=True) as conn:
        query = (
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)"
        )
        present = [row[0] for row in conn.execute(query, (names,))]
        if present:
            tables = sql.SQL(", ").join(sql.Identifier(name) for name in present)
            conn.execute(sql.SQL("TRUNCATE {}").format(tables))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on each backend (the SQLite file's folder is not made)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'brain.db'}"
    url: str = request.getfixturevalue("empty_pg_url")
    return url


@pytest.fixture
def empty_pg_url(pg_url: str) -> str:
    """The test process's PostgreSQL database with the store's tables emptied for this test
    (the database is shared by the tests of one process: what others left must not count)."""
    _empty_store_tables(pg_url)
    return pg_url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store on each backend, closed after the test."""
    with open_store(store_url) as opened:
        yield opened
