"""One live worker per executor id: the advisory lock."""

from __future__ import annotations

from pathlib import Path

from brainsync.jobs.lock import WorkerLock


def test_second_holder_is_refused_until_release(tmp_path: Path) -> None:
    first = WorkerLock(tmp_path, "host/a")
    second = WorkerLock(tmp_path, "host/a")
    assert first.acquire()
    assert first.acquire()  # idempotent for its holder
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    assert first.path.name == "worker-host_a.lock"


def test_other_ids_do_not_conflict(tmp_path: Path) -> None:
    with WorkerLock(tmp_path, "a") as a, WorkerLock(tmp_path, "b") as b:
        assert a.acquire() and b.acquire()


def test_workers_of_two_job_stores_do_not_exclude_each_other(tmp_path: Path) -> None:
    """Two folders side by side share a state folder but have a job store each."""
    with (
        WorkerLock(tmp_path, "host", "sqlite:///a.jobs.sqlite") as a,
        WorkerLock(tmp_path, "host", "sqlite:///b.jobs.sqlite") as b,
    ):
        assert a.acquire() and b.acquire() and a.path != b.path
        assert not WorkerLock(tmp_path, "host", "sqlite:///a.jobs.sqlite").acquire()
