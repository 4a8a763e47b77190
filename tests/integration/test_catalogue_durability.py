"""Catalogue K2: a committed entity write survives a power cut; a job reads succeeded after it.

A power cut cannot be simulated here, so these tests check what makes a commit durable and
the order of the writes: every commit of the SQLite entity store runs at
``synchronous=FULL`` (SQLite syncs the write-ahead log before the commit returns), the job
store too, a chunk's changed files are flushed to disk before the sync records that
describe them commit, and a job's step checkpoint and its *succeeded* outcome are written
only after the entity transactions of its chunks committed. PostgreSQL's durability is the
server's ``synchronous_commit``, which brainsync must leave on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from brainsync import Brain, Settings
from brainsync.config import Durability, load_settings
from brainsync.jobs import JobState
from brainsync.store import open_store
from brainsync.sync import chunk

FILES = 120
CHUNK = 25
FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def _notes(root: Path) -> None:
    for i in range(FILES):
        folder = root / f"f{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"note-{i:03}.md").write_text(f"---\ntitle: Note {i}\n---\nBody {i}\n")


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    root = tmp_path / "brain"
    _notes(root)
    return Settings(directory=root, home=tmp_path / "state", chunk_size=CHUNK, **overrides)


def _synchronous(dbapi_conn: Any) -> int:
    cursor = dbapi_conn.cursor()
    try:
        return int(cursor.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        cursor.close()


@dataclass
class _Trace:
    """What the entity store and the job store committed, in order."""

    entity_db: str
    jobs_db: str
    steps: list[str] = field(default_factory=list)
    entity_levels: list[int] = field(default_factory=list)
    jobs_levels: list[int] = field(default_factory=list)

    def on_commit(self, conn: sa.Connection) -> None:
        if conn.engine.url.database == self.entity_db:
            self.entity_levels.append(_synchronous(conn.connection.dbapi_connection))
            self.steps.append("entity commit")

    def on_statement(
        self, conn: sa.Connection, cursor: Any, statement: str, params: Any, *_: Any
    ) -> None:
        if conn.engine.url.database != self.jobs_db:
            return
        text = " ".join(str(p) for p in (params.values() if isinstance(params, dict) else params))
        if "INTO main.operation_outputs" in statement and "brainsync.chunk" in text:
            self.steps.append("chunk checkpoint")
        elif "workflow_status" in statement and "SUCCESS" in text:
            self.steps.append("job succeeded")
        else:
            return
        self.jobs_levels.append(_synchronous(conn.connection.dbapi_connection))


@pytest.fixture
def trace(tmp_path: Path) -> Iterator[_Trace]:
    """Every engine's commits and statements (the job store's engine is DBOS's own)."""
    settings = _settings(tmp_path)
    found = _Trace(_database(settings.store_url), _database(settings.jobs_url))
    event.listen(sa.Engine, "commit", found.on_commit)
    event.listen(sa.Engine, "before_cursor_execute", found.on_statement)
    yield found
    event.remove(sa.Engine, "before_cursor_execute", found.on_statement)
    event.remove(sa.Engine, "commit", found.on_commit)


def _database(url: str) -> str:
    database = make_url(url).database
    assert database is not None
    return database


def test_k2_a_job_reads_succeeded_only_after_its_entity_commits_at_full(
    tmp_path: Path, trace: _Trace
) -> None:
    with Brain(_settings(tmp_path)) as brain:
        job = brain.submit("import").wait(timeout=120)
        assert job.state is JobState.SUCCEEDED, job.error
        assert job.result is not None and job.result.created == FILES
    flow = " ".join(step.split()[0] for step in trace.steps)  # entity, chunk, job
    assert flow.count("chunk") >= -(-FILES // CHUNK), flow
    # each chunk's checkpoint follows that chunk's entity commit; success follows them all
    assert "chunk chunk" not in flow and not flow.startswith("chunk"), flow
    assert flow.endswith("entity chunk job"), flow
    assert trace.entity_levels and set(trace.entity_levels) == {FULL}
    assert set(trace.jobs_levels) == {FULL}


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_k2_changed_files_reach_the_disk_before_their_records_commit(
    tmp_path: Path, trace: _Trace, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    flush = chunk.flush_file_system

    def flushed(folder: Path) -> None:
        trace.steps.append("files flushed")
        flush(folder)

    monkeypatch.setattr(chunk, "flush_file_system", flushed)
    with Brain(_settings(tmp_path, durability=durability)) as brain:
        assert brain.import_().created == FILES
        assert "files flushed" not in trace.steps  # an import changes no file
        for i in range(2 * CHUNK):
            brain.put_entity("note", f"f{i % 4}:note-{i:03}", text=f"Edited {i}\n")
        trace.steps.clear()
        assert brain.export().updated == 2 * CHUNK
    flow = " ".join(step.split()[0] for step in trace.steps)
    if durability == "normal":
        assert "files" not in flow
        return
    # one flush per chunk that wrote files, each right before that chunk's commit
    assert flow.count("files entity") == 2 and flow.count("files") == 2, flow


@pytest.mark.parametrize(("durability", "level"), [("full", FULL), ("normal", NORMAL)])
def test_k2_the_entity_store_syncs_as_the_setting_says(
    tmp_path: Path, durability: str, level: int
) -> None:
    config = tmp_path / "brainsync.toml"
    config.write_text(f'[brainsync]\ndurability = "{durability}"\n')
    settings = load_settings({}, {}, config)
    assert settings.durability is Durability(durability)
    path = tmp_path / "store.sqlite"
    with open_store(f"sqlite:///{path}", durable=settings.durability is Durability.FULL) as store:
        store.set_meta("probe", "1")
        engine = store._engine
        with engine.connect() as conn:
            assert _synchronous(conn.connection.dbapi_connection) == level


def test_k2_full_is_the_default_and_normal_is_a_choice(tmp_path: Path) -> None:
    assert Settings().durability is Durability.FULL
    config = tmp_path / "brainsync.toml"
    config.write_text("[brainsync]\n")
    assert load_settings({}, {}, config).durability is Durability.FULL
    env = {"BRAINSYNC_DURABILITY": "normal"}
    assert load_settings({}, env, config).durability is Durability.NORMAL
    with pytest.raises(Exception, match="durability must be full or normal"):
        Settings(durability="fast")  # type: ignore[arg-type]


def test_k2_a_default_brain_commits_entities_at_full(tmp_path: Path, trace: _Trace) -> None:
    with Brain(_settings(tmp_path)) as brain:
        assert brain.import_().created == FILES
    assert trace.entity_levels and set(trace.entity_levels) == {FULL}
    # and the file says the same to any other connection's reader
    with closing(sqlite3.connect(trace.entity_db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.postgres
def test_k2_postgres_commits_stay_synchronous(pg_url: str) -> None:
    """PostgreSQL's durability is the server's ``synchronous_commit``: never turned off."""
    with open_store(pg_url) as store:
        engine = store._engine
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() != "off"
