"""Export, import and sync as durable jobs on real files and real stores.

Catalogue rows C1 (edits during a job), C3 (two jobs on one directory), K4 (cancel),
K5 (a burst of changes is a few chunked jobs), K7 (more entities than any page) and K8
(a locked database during an import). The job store is SQLite; the entity store is each
backend in turn.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from folder_state import tracked

from brainsync import Brain, Entity, EntityKey
from brainsync.jobs import JobState
from brainsync.store import ChangeSet
from brainsync.sync.markdown import render

BrainFactory = Callable[..., Brain]


def _seed(brain: Brain, count: int, prefix: str = "n") -> list[Entity]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    made = []
    for i in range(count):
        meta = {"title": f"{prefix} {i}"}
        body = f"body {i}\n"
        when = base + timedelta(seconds=i)
        made.append(
            Entity(
                EntityKey("note", f"{prefix}{i:05d}"), render(meta, body), body, meta, when, when
            )
        )
    brain.store.apply(ChangeSet(upserts=made))
    return made


def _wait_until(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def hold_chunk(brain: Brain, monkeypatch: pytest.MonkeyPatch, index: int) -> threading.Event:
    """Make the job's chunk ``index`` (from 0) wait, before it reads anything, until the
    returned event is set: a test acts between two chunks without racing their speed."""
    release = threading.Event()
    real_run = brain.engine.runner.run
    calls = itertools.count()

    def held(items: list[dict[str, Any]], options: Any) -> Any:
        if next(calls) == index:
            assert release.wait(60), "the test never released the chunk"
        return real_run(items, options)

    monkeypatch.setattr(brain.engine.runner, "run", held)
    return release


def test_job_runs_the_same_operation_as_inline(make_brain: BrainFactory, disk: Any) -> None:
    brain = make_brain(chunk_size=7)
    _seed(brain, 40)
    job_id = brain.start("export")
    job = brain.wait(job_id, timeout=60)
    assert job.state is JobState.SUCCEEDED
    assert job.result is not None and job.result.created == 40
    assert job.progress.current == job.progress.total == 40
    assert len(disk.tree()) == 40
    assert brain.run("sync").unchanged == 40


def test_per_item_errors_do_not_stop_the_job(make_brain: BrainFactory, disk: Any) -> None:
    brain = make_brain(chunk_size=5)
    for i in range(20):
        disk.write(f"good{i:02d}.md", f"---\ntitle: ok {i}\n---\nfine\n")
    for i in range(4):
        disk.write(f"bad{i}.md", "---\ntitle: [unclosed\n---\n")
    disk.write("post/no-title.md", "---\ntags: [x]\n---\n")
    job = brain.wait(brain.start("import"), timeout=60)
    assert job.state is JobState.SUCCEEDED
    assert job.result is not None
    assert job.result.created == 20
    assert sorted(e.path for e in job.result.errors) == [
        "bad0.md",
        "bad1.md",
        "bad2.md",
        "bad3.md",
        "post/no-title.md",
    ]
    assert all(e.error for e in job.result.errors)


def test_c1_edit_during_export_job_is_never_overwritten(
    make_brain: BrainFactory, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(chunk_size=10)
    _seed(brain, 60)
    assert brain.export().created == 60
    # every entity changes in the database; the export job will write them chunk by chunk
    changed = []
    for i in range(60):
        key = f"n{i:05d}"
        changed.append(brain.put_entity("note", key, metadata={"title": f"db {i}"}, content="db\n"))
    release = hold_chunk(brain, monkeypatch, 2)
    job_id = brain.start("export")
    _wait_until(lambda: brain.jobs().status(job_id).progress.current >= 10)
    # the user edits the last file, whose chunk has not run yet
    disk.edit("n00059.md", "---\ntitle: mine\n---\nthe user's edit\n")
    release.set()
    job = brain.wait(job_id, timeout=60)
    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert disk.read("n00059.md") == b"---\ntitle: mine\n---\nthe user's edit\n"
    assert [c.path for c in job.result.conflicts] == ["n00059.md"]
    copy = job.result.conflicts[0].copy_path
    assert copy is not None and b"title: db 59" in disk.read(copy)
    assert brain.get_entity("note", "n00059").content == "the user's edit\n"


def test_c1_queued_import_then_export_keeps_the_disk_edit(
    make_brain: BrainFactory, disk: Any
) -> None:
    brain = make_brain()
    _seed(brain, 5)
    brain.export()
    disk.edit("n00002.md", "---\ntitle: edited\n---\nnew\n")
    import_id = brain.start("import", worker=True)
    export_id = brain.start("export")
    assert brain.wait(import_id, timeout=60).state is JobState.SUCCEEDED
    export = brain.wait(export_id, timeout=60)
    assert export.state is JobState.SUCCEEDED
    assert disk.read("n00002.md") == b"---\ntitle: edited\n---\nnew\n"
    assert brain.get_entity("note", "n00002").metadata == {"title": "edited"}


def test_c3_jobs_on_one_directory_run_one_after_the_other(
    make_brain: BrainFactory, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(chunk_size=10, chunk_pause_seconds=0.02)
    _seed(brain, 50)
    runs: list[tuple[str, float, float]] = []
    real_run = brain.engine.runner.run

    def timed(items: list[dict[str, Any]], options: Any) -> Any:
        started = time.monotonic()
        try:
            return real_run(items, options)
        finally:
            runs.append((options.direction.value, started, time.monotonic()))

    monkeypatch.setattr(brain.engine.runner, "run", timed)
    ids = [brain.start(kind) for kind in ("export", "sync", "import")]
    jobs = {job_id: brain.wait(job_id, timeout=90) for job_id in ids}
    assert all(job.state is JobState.SUCCEEDED for job in jobs.values())
    # never interleaved: the chunks of each job form one block in time
    runs.sort(key=lambda run: run[1])
    blocks = [kind for i, (kind, _, _) in enumerate(runs) if i == 0 or runs[i - 1][0] != kind]
    assert sorted(blocks) == ["export", "import", "sync"]
    assert all(runs[i][2] <= runs[i + 1][1] for i in range(len(runs) - 1))
    # and the result equals running them one after the other, in whatever order they ran
    created = sum(job.result.created for job in jobs.values() if job.result)
    assert created == 50
    assert len(disk.tree()) == 50
    assert brain.run("sync").unchanged == 50


def test_k4_cancel_stops_at_a_chunk_boundary_and_resume_finishes(
    make_brain: BrainFactory, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(chunk_size=10)
    _seed(brain, 100)
    release = hold_chunk(brain, monkeypatch, 3)
    job_id = brain.start("export")
    _wait_until(lambda: brain.jobs().status(job_id).progress.current >= 20)
    brain.jobs().cancel(job_id)
    release.set()
    job = brain.wait(job_id, timeout=60)
    assert job.state is JobState.CANCELLED
    written = len(disk.tree())
    assert 20 <= written < 100
    assert written % 10 == 0  # whole chunks only
    assert tracked(brain) == written  # rows consistent with files
    brain.jobs().resume(job_id)
    job = brain.wait(job_id, timeout=60)
    assert job.state is JobState.SUCCEEDED
    assert len(disk.tree()) == 100
    assert brain.run("sync").unchanged == 100


def test_k5_a_burst_of_changes_is_one_chunked_job(make_brain: BrainFactory, disk: Any) -> None:
    brain = make_brain(chunk_size=250)
    for i in range(2000):
        disk.write(f"burst/{i:04d}.md", f"note {i}\n")
    job = brain.wait(brain.start("sync"), timeout=120)
    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert job.result.created == 2000
    assert job.progress.total == 2000
    for i in range(0, 2000, 2):
        disk.edit(f"burst/{i:04d}.md", f"note {i} edited\n")
    job = brain.wait(brain.start("sync"), timeout=120)
    assert job.result is not None
    assert (job.result.updated, job.result.unchanged) == (1000, 1000)
    assert job.progress.total == 1000  # only the changed files were candidates
    assert brain.jobs().list(JobState.QUEUED) == []
    assert len(brain.jobs().list()) == 2


def test_k7_more_entities_than_any_page(
    make_brain: BrainFactory, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(chunk_size=64)
    store = brain.store
    for name in ("iter_summaries", "iter_records", "iter_synced", "iter_unsynced"):
        real = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _real=real, **k: _real(*a, **{**k, "page_size": 97})
        )
    _seed(brain, 1000)
    job = brain.wait(brain.start("export"), timeout=120)
    assert job.result is not None and job.result.created == 1000
    assert len(disk.tree()) == 1000
    for i in range(0, 1000, 3):
        (disk.root / f"n{i:05d}.md").unlink()
    job = brain.wait(brain.start("sync", {"force_deletes": True}), timeout=120)
    assert job.result is not None and job.result.deleted == 334
    assert store.count() == 666


class _Locker:
    """Holds the store's write lock from another connection, released after a delay."""

    def __init__(self, brain: Brain) -> None:
        brain.store.count()  # the schema exists before the lock is taken
        url = brain.settings.store_url
        if brain.store.dialect == "sqlite":
            self._conn: Any = sqlite3.connect(
                url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            self._conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            dsn = url.replace("postgresql+psycopg://", "postgresql://")
            self._conn = psycopg.connect(dsn)
            self._conn.execute("LOCK TABLE entities IN ACCESS EXCLUSIVE MODE")
        self._timer = threading.Timer(
            1.0,
            self._conn.commit
            if brain.store.dialect != "sqlite"
            else lambda: self._conn.execute("COMMIT"),
        )

    def __enter__(self) -> _Locker:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.join()
        self._conn.close()


def test_k8_locked_database_during_import_is_retried(make_brain: BrainFactory, disk: Any) -> None:
    brain = make_brain(chunk_size=20)
    for i in range(60):
        disk.write(f"k8/{i:02d}.md", f"---\ntitle: t{i}\n---\n")
    with _Locker(brain):
        job = brain.wait(brain.start("import"), timeout=120)
    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert job.result.created == 60 and job.result.errors == []
    assert job.result.skipped == []
    assert brain.store.count() == 60


def test_submit_returns_a_handle(make_brain: BrainFactory, disk: Any) -> None:
    brain = make_brain(chunk_size=5)
    _seed(brain, 12)
    handle = brain.submit("export")
    job = handle.wait(timeout=60)
    assert str(handle) == handle.id == job.id
    assert job.state is JobState.SUCCEEDED and handle.status().result == job.result
    assert len(disk.tree()) == 12
    queued = brain.submit("sync", {"dry_run": False}, worker=True)
    assert queued.wait(timeout=60).state is JobState.SUCCEEDED
