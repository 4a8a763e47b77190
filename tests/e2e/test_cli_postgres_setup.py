"""PostgreSQL through the CLI: a missing database is created (or the command to create it is
named), and a server that cannot be reached is said in two lines naming the URL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_runner import SAMPLE, brainsync

pytestmark = pytest.mark.postgres

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SERVER = "postgresql://postgres@127.0.0.1:5432"
#: Nothing listens on port 1: connecting is refused at once.
UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:1/brain"
SHOWN = "postgresql://postgres:***@127.0.0.1:1/brain"


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return conn.execute(query, (name,)).fetchone() is not None


def _drop(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        conn.execute(drop)


@pytest.fixture
def new_name(pg_url: str) -> Iterator[str]:
    """A database name nobody has created (``pg_url``: skip without a server)."""
    name = f"brainsync_new_{secrets.token_hex(5)}"
    try:
        yield name
    finally:
        _drop(name)


def test_a_missing_database_is_created_by_the_first_run(tmp_path: Path, new_name: str) -> None:
    url = f"{SERVER}/{new_name}"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text((SAMPLE / "welcome.md").read_text())

    status = brainsync(tmp_path, "--dir", "notes", "--db", url, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["store_exists"] is False
    assert not _exists(new_name)  # a read-only command creates nothing

    synced = brainsync(tmp_path, "--dir", "notes", "--db", url, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["created"] == 1
    assert _exists(new_name)
    again = json.loads(
        brainsync(tmp_path, "--dir", "notes", "--db", url, "status", "--json").stdout
    )
    assert again["store_exists"] is True and again["entities"] == 1


def test_a_role_that_may_not_create_it_is_told_what_to_run(tmp_path: Path, new_name: str) -> None:
    import psycopg
    from psycopg import sql

    role = f"brainsync_nocreate_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        url = f"postgresql://{role}@127.0.0.1:5432/{new_name}"
        (tmp_path / "notes").mkdir()
        done = brainsync(tmp_path, "--dir", "notes", "--db", url, "entity", "put", "note", "a",
                         stdin="---\ntitle: A\n---\nx\n")  # fmt: skip
        assert done.returncode == 6, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2, done.stderr
        assert f"createdb -h 127.0.0.1 -p 5432 -U {role} {new_name}" in lines[1]
        assert not _exists(new_name)
        jobs = brainsync(tmp_path, "--dir", "notes", "sync", env={"BRAINSYNC_JOBS_DB": url})
        assert jobs.returncode == 7, jobs.stderr
        lines = jobs.stderr.strip().splitlines()
        assert len(lines) == 2 and f"-U {role} {new_name}`" in lines[1], jobs.stderr
        assert not _exists(new_name)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    ("setting", "what", "code"),
    [(["--db", UNREACHABLE], "store", 6), ([], "job store", 7)],
    ids=["store", "job-store"],
)
def test_an_unreachable_server_is_said_in_two_lines(
    tmp_path: Path, pg_url: str, setting: list[str], what: str, code: int
) -> None:
    (tmp_path / "notes").mkdir()
    env = {} if setting else {"BRAINSYNC_JOBS_DB": UNREACHABLE}
    commands = [["sync"], ["status"]] if setting else [["sync"], ["jobs"]]
    for command in commands:
        done = brainsync(tmp_path, "--dir", "notes", *setting, *command, env=env)
        assert done.returncode == code, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2, (command, done.stderr)
        assert lines[0].startswith(f"error: cannot connect to the {what} {SHOWN}: "), lines
        assert "s3cret" not in done.stderr and "sqlalche.me" not in done.stderr
        as_json = brainsync(tmp_path, "--dir", "notes", *setting, *command, "--json", env=env)
        error = json.loads(as_json.stdout)["error"]  # one object, nothing else on stdout
        assert error["exit_code"] == code and SHOWN in error["message"]
        assert "s3cret" not in as_json.stdout
