"""A SQLite job store keeps a write-ahead log: set once, kept, never forced on a busy store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from jobs_fakeop import factory

from brainsync.jobs import JobService, JobState
from brainsync.jobs.journal import prefer_write_ahead_log


def _mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "jobs.sqlite"


def test_a_new_job_store_runs_jobs_on_a_write_ahead_log(store: Path, tmp_path: Path) -> None:
    with JobService(f"sqlite:///{store}", factory, poll_interval_seconds=0.05) as service:
        (tmp_path / "out").mkdir()
        params = {
            "root": str(tmp_path / "out"),
            "log": str(tmp_path / "log"),
            "name": "a",
            "items": 3,
        }
        job = service.wait(service.enqueue("fake", params, lane="a"), timeout=60)
        assert job.state is JobState.SUCCEEDED
        assert _mode(store) == "wal"
    assert _mode(store) == "wal"  # stored in the file: the next process finds it so


def test_a_store_made_with_a_rollback_journal_is_switched_at_its_next_open(store: Path) -> None:
    with closing(sqlite3.connect(store)) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES (1)")
        conn.commit()
    assert _mode(store) == "delete"
    JobService(f"sqlite:///{store}", factory, start_worker=False).close()
    assert _mode(store) == "wal"
    with closing(sqlite3.connect(store)) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]


def test_a_busy_store_keeps_its_mode_and_the_open_goes_on(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("brainsync.jobs.journal._BUSY_SECONDS", 0.05)
    with closing(sqlite3.connect(store, isolation_level=None)) as holder:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
        assert prefer_write_ahead_log(f"sqlite:///{store}") is False
        holder.execute("COMMIT")
    assert _mode(store) == "delete"
    assert prefer_write_ahead_log(f"sqlite:///{store}") is True


def test_other_stores_are_left_alone(tmp_path: Path) -> None:
    assert prefer_write_ahead_log("sqlite:///:memory:") is False
    assert prefer_write_ahead_log("postgresql+psycopg://postgres@127.0.0.1:5432/x") is False
    missing = tmp_path / "no" / "such" / "dir" / "jobs.sqlite"
    assert prefer_write_ahead_log(f"sqlite:///{missing}") is False
    assert not missing.parent.exists()  # the open that follows reports it, as before


def test_a_url_with_query_options_keeps_its_mode(store: Path) -> None:
    # mode=ro or a uri=true URL opens the file in ways a plain path would not honour
    with closing(sqlite3.connect(store)) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("CREATE TABLE t (x)")
    assert prefer_write_ahead_log(f"sqlite:///{store}?mode=ro") is False
    assert prefer_write_ahead_log(f"sqlite:///file:{store}?mode=rw&uri=true") is False
    assert _mode(store) == "delete"
