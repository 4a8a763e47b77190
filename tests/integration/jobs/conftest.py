"""Fixtures of the job tests: a fresh system database per test, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from jobs_fakeop import factory

from brainsync.jobs import JobService

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_server(request: pytest.FixtureRequest) -> str:
    """The server of the shared ``pg_url`` fixture when it exists, else the default."""
    try:
        url = sa.make_url(request.getfixturevalue("pg_url"))
    except pytest.FixtureLookupError:
        return PG_SERVER
    return url.set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
def system_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A throwaway DBOS system database (one per test, so jobs never leak between tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
        return
    server = sa.make_url(_pg_server(request))
    name = f"bsjobs_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def open_service(system_db_url: str) -> Iterator[Callable[..., JobService]]:
    """Open job services on the test's database; all are closed at teardown."""
    opened: list[JobService] = []

    def open_(**options: Any) -> JobService:
        options.setdefault("poll_interval_seconds", 0.05)
        options.setdefault("executor_id", f"test-{uuid.uuid4().hex[:8]}")
        options.setdefault("retry_interval_seconds", 0.01)
        options.setdefault("shutdown_timeout_seconds", 10.0)
        service = JobService(system_db_url, factory, **options)
        opened.append(service)
        return service

    yield open_
    for service in reversed(opened):
        service.close()


@pytest.fixture
def work(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Parameters of a fake job writing into a fresh directory under ``tmp_path``."""

    def params(name: str = "job", **extra: Any) -> dict[str, Any]:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        return {"root": str(root), "log": str(tmp_path / "chunks.log"), "name": name, **extra}

    return params
